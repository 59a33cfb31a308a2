//! [`WorkerError`]: a worker that could not do its job (as opposed to a check that failed).

use std::io;

use ledger::LedgerError;

use crate::backends::vfs::VfsError;

/// A worker that could not do its job (as opposed to a check that failed).
#[derive(Debug, thiserror::Error)]
pub enum WorkerError {
    /// The job file could not be read.
    #[error("cannot read job {path}: {source}")]
    Job {
        /// The job file.
        path: String,
        /// What went wrong.
        #[source]
        source: io::Error,
    },
    /// The ledger could not be opened before the workload.
    #[error("ledger did not open: {0}")]
    Open(#[from] LedgerError),
    /// stdout is gone (the supervisor died).
    #[error("cannot report to the supervisor: {0}")]
    Report(#[source] io::Error),
    /// The fault VFS could not be registered, took a bad rule, or could not write an image.
    #[error("fault VFS: {0}")]
    Vfs(#[from] VfsError),
    /// The family could not apply its plan (e.g. the fail crate refused an action).
    #[error("{0}")]
    Plan(String),
    /// A scratch directory (counting pass, crash state) could not be made or copied.
    #[error("cannot prepare {path}: {source}")]
    Scratch {
        /// The directory.
        path: String,
        /// What went wrong.
        #[source]
        source: io::Error,
    },
    /// A step of the family's own drive (a child's archive, restore or rotation, a drill's
    /// set-up) failed where it had to succeed.
    #[error("{0}")]
    Step(String),
}
