//! The resilience harness: drives the staging ledger under injected faults and checks what
//! survived against a model of what it acknowledged.
//!
//! A [`scenario::Scenario`] (a TOML file) says what to run; the [`runner`] runs each iteration
//! in worker processes; the [`workload`] generates and executes operations; the [`oracle`]
//! judges the result; [`faults`] holds the fault layers; [`trace`] records what happened.
#![warn(missing_docs)]

pub mod cli;
pub mod faults;
pub mod oracle;
pub mod perf;
pub mod runner;
pub mod scenario;
pub mod selftest;
pub mod trace;
pub mod workload;
