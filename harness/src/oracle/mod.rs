//! The oracle: what must hold after a workload, a fault and a reopen.
//!
//! [`AckModel`] replays what the ledger acknowledged; [`LedgerSnapshot`] is what the database
//! holds; each check in the one table of [`checks`] compares them and returns a verdict whose
//! name comes from [`CheckName`]. The oracle sees operations, outcomes and evidence, never how
//! a fault was caused, and imports no family.

pub mod after_recovery;
pub mod agreement;
pub mod backups;
pub mod checks;
pub mod contention;
pub mod corruption;
pub mod counters;
pub mod fault_response;
pub mod latency;
mod model;
pub mod observable;
pub mod pressure;
pub mod repairs;
pub mod restart;
mod snapshot;

pub use after_recovery::{AfterRecovery, VerifiedBackup};
pub use checks::{
    CHECKS, CheckName, CheckSpec, DriveEvidence, Evidence, Phase, Verdict, judge_in_drive,
};
pub use corruption::{CorruptionEvidence, InjectedDamage, ObjectKind, Served};
pub use counters::DriveCounters;
pub use model::{AckModel, CaptureState, Execution, OpRecord};
pub use observable::SurfacedErrors;
pub use snapshot::{LedgerSnapshot, Part, SnapshotError};
