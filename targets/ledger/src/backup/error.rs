//! Typed failures of backup, verification, rotation, WAL archiving and restore: [`BackupError`].
//!
//! Every variant names the file or directory involved and what to do about
//! it. [`crate::LedgerError::Backup`] carries a `BackupError` so the ledger's
//! entry points keep one error type.

use std::path::PathBuf;

/// A backup or restore failure.
#[derive(Debug, thiserror::Error)]
pub enum BackupError {
    /// File-system work on a backup, manifest, segment or restore target failed.
    #[error("failed to {action} {path}: {source}; check free space and permissions, then retry")]
    Io {
        /// What was being done, e.g. `"fsync backup file"`.
        action: &'static str,
        /// The file or directory.
        path: PathBuf,
        /// The I/O error.
        #[source]
        source: std::io::Error,
    },
    /// SQLite failed while reading a source, writing a backup or checking a copy.
    #[error("failed to {operation} for {path}: {source}")]
    Sqlite {
        /// What was being done, e.g. `"step the online backup"`.
        operation: &'static str,
        /// The database file.
        path: PathBuf,
        /// What SQLite said.
        #[source]
        source: rusqlite::Error,
    },
    /// A backup's manifest (`<backup>.json`) is missing or unreadable.
    #[error(
        "failed to read backup manifest {path}: {detail}; delete this backup or take a new one"
    )]
    Manifest {
        /// The manifest file.
        path: PathBuf,
        /// What was wrong.
        detail: String,
    },
    /// A backup did not pass verification.
    #[error(
        "backup {path} failed verification: {detail}; do not restore from it, take a new backup"
    )]
    VerificationFailed {
        /// The backup file.
        path: PathBuf,
        /// The first check that failed.
        detail: String,
    },
    /// The live WAL file does not look like an SQLite WAL.
    #[error(
        "failed to read WAL {path}: {detail}; take a new backup to start a fresh archive lineage"
    )]
    WalFormat {
        /// The `-wal` file.
        path: PathBuf,
        /// What was wrong.
        detail: String,
    },
    /// An archive segment is damaged (bad checksum, bad header, truncated).
    #[error(
        "WAL archive segment {path} is damaged: {detail}; restore to a point before it or from a newer backup"
    )]
    Segment {
        /// The segment file.
        path: PathBuf,
        /// What was wrong.
        detail: String,
    },
    /// The WAL archive is missing transactions between two points.
    #[error(
        "gap in WAL archive {dir}: {detail}; restore to a point before the gap or from a backup taken after it"
    )]
    ArchiveGap {
        /// The archive directory.
        dir: PathBuf,
        /// Which segments or transactions are missing.
        detail: String,
    },
    /// WAL archiving was asked for on a connection that still checkpoints by itself.
    #[error(
        "WAL archiving is not enabled on {path}: {detail}; call Ledger::enable_wal_archive after opening"
    )]
    ArchiveNotEnabled {
        /// The database file.
        path: PathBuf,
        /// Why archiving cannot run.
        detail: String,
    },
    /// No backup (and archive) can reach the requested restore point.
    #[error("no backup in {dir} can restore {target}: {detail}")]
    NoRestorePoint {
        /// The backup directory.
        dir: PathBuf,
        /// The restore target, as text.
        target: String,
        /// Why not, and what exists instead.
        detail: String,
    },
    /// The restore destination already exists.
    #[error(
        "restore target {path} already exists; restore into a new path or move the file away first"
    )]
    TargetExists {
        /// The destination asked for.
        path: PathBuf,
    },
    /// The restored database did not pass its post-restore checks.
    #[error(
        "restore from {snapshot} into {path} failed its check: {detail}; the backup is not restorable, use an older one"
    )]
    RestoreCheckFailed {
        /// The snapshot restored from.
        snapshot: PathBuf,
        /// The (temporary) restored file.
        path: PathBuf,
        /// What failed (integrity check, logical hash, open).
        detail: String,
    },
    /// A fail point (feature `failpoints`) returned an error.
    #[error("failed at fail point {name}: injected error")]
    FailPoint {
        /// The fail point, e.g. `ledger::restore::before_rename`.
        name: &'static str,
    },
    /// Retention pruning refused: no verified backup, or escalation paused it.
    #[error("retention pruning of {path} refused: {detail}")]
    PruneRefused {
        /// The ledger database.
        path: PathBuf,
        /// Why, and what to do.
        detail: String,
    },
}

impl BackupError {
    /// An [`BackupError::Io`] builder for `map_err`.
    pub(crate) fn io(
        action: &'static str,
        path: impl Into<PathBuf>,
    ) -> impl FnOnce(std::io::Error) -> BackupError {
        let path = path.into();
        move |source| BackupError::Io {
            action,
            path,
            source,
        }
    }

    /// A [`BackupError::Sqlite`] builder for `map_err`.
    pub(crate) fn sqlite(
        operation: &'static str,
        path: impl Into<PathBuf>,
    ) -> impl FnOnce(rusqlite::Error) -> BackupError {
        let path = path.into();
        move |source| BackupError::Sqlite {
            operation,
            path,
            source,
        }
    }
}
