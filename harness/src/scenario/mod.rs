//! Scenarios: the file format ([`Scenario`]), `--set` overrides, the registry of scenario files
//! and the filter that selects among them.

pub mod capsule;
mod file;
mod filter;
mod overrides;
mod registry;

pub use file::{Capsule, Scenario, ScenarioError, WorkloadKind, WorkloadSpec};
pub use filter::{Filter, FilterError};
pub use overrides::{Override, OverrideError, OverridesRejected, Rejection, apply_overrides};
pub use registry::{Registry, RegistryError};
