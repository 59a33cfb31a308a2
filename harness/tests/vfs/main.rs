//! Integration tests of the fault-injecting VFS, against the real bundled SQLite.

mod common;
mod corruption;
mod determinism;
mod errors;
mod ledger_faults;
mod pass_through;
mod power_loss;
mod throughput;
