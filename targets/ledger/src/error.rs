//! Typed failures of every ledger operation: [`LedgerError`].
//!
//! Every SQLite failure keeps rusqlite's [`rusqlite::ErrorCode`] and the
//! extended result code, so a caller can judge whether an error was expected
//! under the fault it injected.

use std::path::PathBuf;

use crate::capture::CaptureId;
use crate::config::JournalMode;
use crate::status::Status;

/// A ledger failure.
#[derive(Debug, thiserror::Error)]
pub enum LedgerError {
    /// The database could not be opened or created.
    #[error("failed to open ledger database {path}: {source}")]
    Open {
        /// The database file.
        path: PathBuf,
        /// What SQLite said.
        #[source]
        source: rusqlite::Error,
    },
    /// A statement failed.
    #[error("failed to {operation} in ledger database {path}: {source}")]
    Sqlite {
        /// What the ledger was doing, e.g. `"insert capture"`.
        operation: &'static str,
        /// The database file.
        path: PathBuf,
        /// What SQLite said.
        #[source]
        source: rusqlite::Error,
    },
    /// A vault file could not be written, synced or renamed into place.
    #[error("failed to write vault file {path}: {source}")]
    Vault {
        /// The file being written.
        path: PathBuf,
        /// The I/O error.
        #[source]
        source: std::io::Error,
    },
    /// Other file-system work failed (creating or syncing a directory).
    #[error("failed to create or sync {path}: {source}")]
    Io {
        /// The directory or file.
        path: PathBuf,
        /// The I/O error.
        #[source]
        source: std::io::Error,
    },
    /// No capture has this id.
    #[error("failed to find capture {id}: no such capture")]
    NotFound {
        /// The id asked for.
        id: CaptureId,
    },
    /// The state machine forbids this move.
    #[error("failed to move capture {id} from {from} to {to}: illegal transition")]
    IllegalTransition {
        /// The capture.
        id: CaptureId,
        /// Its current status.
        from: Status,
        /// The status asked for.
        to: Status,
    },
    /// The transcript's hash already belongs to another capture.
    #[error(
        "failed to record transcription of capture {id}: same content as capture {existing}; export it as a duplicate"
    )]
    DuplicateContent {
        /// The capture being transcribed.
        id: CaptureId,
        /// The capture that already has this content hash.
        existing: CaptureId,
    },
    /// The database was written by a newer version of this code.
    #[error(
        "failed to use ledger database: its schema version {found} is newer than the {supported} this build supports; upgrade the ledger"
    )]
    Migration {
        /// `PRAGMA user_version` found.
        found: i64,
        /// The newest version this code knows.
        supported: i64,
    },
    /// SQLite did not switch to the requested journal mode.
    #[error(
        "failed to set journal mode {requested:?} on {path}: sqlite kept {actual:?}; check the VFS supports it"
    )]
    JournalMode {
        /// The database file.
        path: PathBuf,
        /// The mode asked for.
        requested: JournalMode,
        /// The mode SQLite reported.
        actual: String,
    },
    /// Stored data does not make sense (e.g. an unknown status string).
    #[error("failed to read ledger database {path}: corrupt data: {detail}")]
    Corrupt {
        /// The database file.
        path: PathBuf,
        /// What was wrong.
        detail: String,
        /// Captures known to be unreadable, by id (empty when none could be listed).
        unreadable: Vec<String>,
    },
    /// A lock stayed held by someone else through every wait and retry.
    #[error(
        "failed to {operation} in ledger database {}: still locked after {} attempts over {} ms ({diagnosis}): {source}",
        diagnosis.path.display(), diagnosis.attempts, diagnosis.waited_ms
    )]
    LockTimeout {
        /// What the ledger was doing, e.g. `"begin transaction"`.
        operation: &'static str,
        /// The database, the attempts, and what is known about the lock
        /// (boxed: keeps every `Result` small).
        diagnosis: Box<crate::lock::LockDiagnosis>,
        /// What SQLite said on the last attempt.
        #[source]
        source: rusqlite::Error,
    },
    /// A backup, verification, rotation, archive or restore failed.
    #[error(transparent)]
    Backup(#[from] crate::backup::BackupError),
    /// The database file was replaced or changed under this connection (e.g.
    /// restored by another process); a read refuses to serve stale state.
    #[error(
        "failed to read ledger database {path}: {reason}; call Ledger::refresh (or any write) to reopen it"
    )]
    Stale {
        /// The database file.
        path: PathBuf,
        /// What changed.
        reason: String,
    },
    /// A fail point (feature `failpoints`) returned an error.
    #[error("failed at fail point {name}: injected error")]
    FailPoint {
        /// The fail point, e.g. `ledger::export::after_vault_write`.
        name: String,
    },
    /// The tuning names a mutant ([`crate::mutants`]) that is not built.
    #[cfg(feature = "mutants")]
    #[error("failed to open with mutant `{name}`: {reason}")]
    Mutant {
        /// The name in `target.mutant`.
        name: String,
        /// Why it was refused.
        reason: &'static str,
    },
}

impl LedgerError {
    fn rusqlite_source(&self) -> Option<&rusqlite::Error> {
        match self {
            LedgerError::Open { source, .. }
            | LedgerError::Sqlite { source, .. }
            | LedgerError::LockTimeout { source, .. } => Some(source),
            _ => None,
        }
    }

    /// SQLite's primary result code class, for errors that came from SQLite.
    pub fn sqlite_code(&self) -> Option<rusqlite::ErrorCode> {
        self.rusqlite_source()?.sqlite_error_code()
    }

    /// SQLite's extended result code, for errors that came from SQLite.
    pub fn extended_code(&self) -> Option<i32> {
        match self.rusqlite_source()? {
            rusqlite::Error::SqliteFailure(error, _) => Some(error.extended_code),
            _ => None,
        }
    }

    /// Whether the error came from `COMMIT` itself.
    ///
    /// The ledger rolls back and reports failure, but after a crash SQLite's
    /// recovery may still find the transaction (e.g. WAL frames written before
    /// a failed fsync), so its durable outcome is unknown.
    pub fn is_commit_failure(&self) -> bool {
        matches!(
            self,
            LedgerError::Sqlite { operation, .. } | LedgerError::LockTimeout { operation, .. }
                if *operation == crate::tx::COMMIT
        )
    }

    /// What a person should do about this error, in one sentence.
    pub fn remedy(&self) -> &'static str {
        match self {
            LedgerError::Open { .. } => {
                "check that the path exists, is writable and is a ledger database"
            }
            LedgerError::Sqlite { .. } => match self.sqlite_code() {
                Some(rusqlite::ErrorCode::DiskFull) => "free disk space, then retry",
                Some(rusqlite::ErrorCode::DatabaseCorrupt | rusqlite::ErrorCode::NotADatabase) => {
                    "run `ledger check --full` and restore from the last verified backup"
                }
                Some(rusqlite::ErrorCode::DatabaseBusy | rusqlite::ErrorCode::DatabaseLocked) => {
                    "another process holds the database; retry or raise busy-timeout-ms"
                }
                Some(rusqlite::ErrorCode::SystemIoFailure) => {
                    "check the disk and the kernel log, then retry"
                }
                _ => "retry; if it persists run `ledger check --full`",
            },
            LedgerError::LockTimeout { .. } => {
                "find the process holding the database (e.g. `fuser` on the db and -wal files) or raise busy-timeout-ms"
            }
            LedgerError::Vault { .. } | LedgerError::Io { .. } => {
                "check the directory exists, is writable and the disk has space"
            }
            LedgerError::NotFound { .. }
            | LedgerError::IllegalTransition { .. }
            | LedgerError::DuplicateContent { .. } => {
                "fix the caller: the request does not fit the capture's state"
            }
            LedgerError::Migration { .. } => "upgrade the ledger binary",
            LedgerError::JournalMode { .. } => {
                "use a file system and VFS that support the journal mode"
            }
            LedgerError::Corrupt { .. } => {
                "run `ledger check --full` and restore from the last verified backup"
            }
            LedgerError::FailPoint { .. } => "disable the fail point",
            #[cfg(feature = "mutants")]
            LedgerError::Mutant { .. } => "name a built mutant (see ledger::mutants::CATALOGUE)",
            LedgerError::Backup(_) => {
                "read the message: it names the backup file and what to do with it"
            }
            LedgerError::Stale { .. } => {
                "call Ledger::refresh (or any write) to reopen the database"
            }
        }
    }

    /// The captures a [`LedgerError::Corrupt`] names unreadable (none for other errors).
    pub fn unreadable_captures(&self) -> &[String] {
        match self {
            LedgerError::Corrupt { unreadable, .. } => unreadable,
            _ => &[],
        }
    }

    /// A stable short name for the variant.
    pub fn kind(&self) -> &'static str {
        match self {
            LedgerError::Open { .. } => "open",
            LedgerError::Sqlite { .. } => "sqlite",
            LedgerError::Vault { .. } => "vault",
            LedgerError::Io { .. } => "io",
            LedgerError::NotFound { .. } => "not_found",
            LedgerError::IllegalTransition { .. } => "illegal_transition",
            LedgerError::DuplicateContent { .. } => "duplicate_content",
            LedgerError::Migration { .. } => "migration",
            LedgerError::JournalMode { .. } => "journal_mode",
            LedgerError::Corrupt { .. } => "corrupt",
            LedgerError::LockTimeout { .. } => "lock_timeout",
            LedgerError::FailPoint { .. } => "fail_point",
            #[cfg(feature = "mutants")]
            LedgerError::Mutant { .. } => "mutant",
            LedgerError::Backup(_) => "backup",
            LedgerError::Stale { .. } => "stale",
        }
    }
}

/// The ledger's result type.
pub type Result<T, E = LedgerError> = std::result::Result<T, E>;

#[cfg(test)]
mod tests {
    use super::*;

    fn busy() -> rusqlite::Error {
        rusqlite::Error::SqliteFailure(
            rusqlite::ffi::Error {
                code: rusqlite::ErrorCode::DatabaseBusy,
                extended_code: 517,
            },
            None,
        )
    }

    #[test]
    fn sqlite_errors_keep_both_codes() {
        let error = LedgerError::Sqlite {
            operation: "insert capture",
            path: "x.db".into(),
            source: busy(),
        };
        assert_eq!(error.sqlite_code(), Some(rusqlite::ErrorCode::DatabaseBusy));
        assert_eq!(error.extended_code(), Some(517));
        assert_eq!(error.kind(), "sqlite");
        let message = error.to_string();
        assert!(
            message.contains("insert capture") && message.contains("x.db"),
            "{message}"
        );
    }

    #[test]
    fn other_errors_have_no_sqlite_code() {
        let error = LedgerError::NotFound { id: "X".into() };
        assert_eq!(error.sqlite_code(), None);
        assert_eq!(error.extended_code(), None);
        assert_eq!(error.kind(), "not_found");
    }
}
