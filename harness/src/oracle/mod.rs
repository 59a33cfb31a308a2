//! The oracle: what must hold after a workload, a fault and a reopen.
//!
//! [`AckModel`] replays what the ledger acknowledged; [`LedgerSnapshot`] is what the database
//! holds; each check in [`checks`] compares them and returns a verdict whose name comes from
//! [`CheckName`]. The oracle sees operations and outcomes only, never how a fault was caused.

pub mod after_recovery;
pub mod backups;
pub mod checks;
pub mod contention;
pub mod corruption;
mod model;
mod snapshot;

pub use after_recovery::{AfterRecovery, VerifiedBackup};
pub use checks::{CheckName, Evidence, Verdict};
pub use corruption::{CorruptionEvidence, Served};
pub use model::{AckModel, CaptureState, Execution, OpRecord};
pub use snapshot::{LedgerSnapshot, SnapshotError};
