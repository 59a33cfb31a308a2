//! The resilience harness: drives the staging ledger under injected faults and checks what
//! survived against a model of what it acknowledged.
//!
//! A [`scenario::Scenario`] (a TOML file) says what to run; the [`engine`] runs each iteration
//! in worker processes and reaches the scenario's fault family (one folder each under
//! [`families`]) only through [`engine::Family`]; [`backends`] are where the files live while
//! faults are injected (the fault VFS); the [`workload`] generates and executes operations; the
//! [`oracle`] judges the result from one table of checks; [`trace`] records what happened;
//! [`perf`] measures the performance claims as ratios.
#![warn(missing_docs)]

pub mod backends;
pub mod cli;
pub mod engine;
pub mod families;
pub mod oracle;
pub mod perf;
pub mod scenario;
pub mod selftest;
pub mod trace;
pub mod workload;
