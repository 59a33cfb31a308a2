//! What is known when a lock could not be had: [`LockDiagnosis`].

use std::path::Path;

use serde::{Deserialize, Serialize};

use crate::db::Db;

/// The state around a lock timeout, so a person can act on it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LockDiagnosis {
    /// The database file.
    pub path: std::path::PathBuf,
    /// Attempts made.
    pub attempts: u32,
    /// Time from the first attempt to the last failure, in milliseconds.
    pub waited_ms: u64,
    /// Whether this connection itself had a transaction open when the
    /// operation started (a caller's own long transaction).
    pub own_transaction_open: bool,
    /// Size of the `-wal` file in bytes (a large WAL means checkpoints are
    /// being starved by long readers).
    pub wal_bytes: u64,
    /// Result of a passive checkpoint attempt: `(busy, wal frames, frames checkpointed)`;
    /// `None` when it could not run.
    pub checkpoint: Option<(i64, i64, i64)>,
}

impl LockDiagnosis {
    /// Gather what is known about `db` after a lock timeout.
    pub(crate) fn gather(
        db: Db<'_>,
        own_transaction_open: bool,
        attempts: u32,
        waited_ms: u64,
    ) -> LockDiagnosis {
        let checkpoint = db
            .conn
            .query_row("PRAGMA wal_checkpoint(PASSIVE)", [], |row| {
                Ok((row.get(0)?, row.get(1)?, row.get(2)?))
            })
            .ok();
        LockDiagnosis {
            path: db.path.to_path_buf(),
            attempts,
            waited_ms,
            own_transaction_open,
            wal_bytes: crate::metrics::wal_bytes(db.path),
            checkpoint,
        }
    }

    /// The advice that follows from the facts.
    fn advice(&self) -> &'static str {
        if self.own_transaction_open {
            "this connection had its own transaction open: commit or roll it back before writing"
        } else if matches!(self.checkpoint, Some((1, _, _))) {
            "another connection holds the write lock and readers block checkpoints: find the long transaction"
        } else {
            "another connection or process holds the write lock: find it (e.g. `fuser` on the db and -wal files) or raise busy-timeout-ms"
        }
    }
}

impl std::fmt::Display for LockDiagnosis {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "own transaction open: {}; WAL {} bytes; ",
            self.own_transaction_open, self.wal_bytes
        )?;
        match self.checkpoint {
            Some((busy, frames, done)) => write!(
                f,
                "checkpoint {}: {done} of {frames} frames copied; ",
                if busy == 1 { "blocked" } else { "ran" }
            )?,
            None => f.write_str("checkpoint state unknown; ")?,
        }
        f.write_str(self.advice())
    }
}

/// Whether `<path>-wal` and `<path>-shm` exist, and the WAL's size.
pub(crate) fn leftover_files(path: &Path) -> (Option<u64>, bool) {
    let with_suffix = |suffix: &str| crate::sidecar::sidecar(path, suffix);
    let wal = std::fs::metadata(with_suffix("-wal")).ok().map(|m| m.len());
    let shm = with_suffix("-shm").exists();
    (wal, shm)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn display_names_the_facts_and_what_to_do() {
        let diagnosis = LockDiagnosis {
            path: "l.db".into(),
            attempts: 3,
            waited_ms: 10,
            own_transaction_open: false,
            wal_bytes: 4096,
            checkpoint: Some((1, 10, 4)),
        };
        let text = diagnosis.to_string();
        assert!(text.contains("WAL 4096 bytes"), "{text}");
        assert!(
            text.contains("checkpoint blocked: 4 of 10 frames"),
            "{text}"
        );
        assert!(text.contains("long transaction"), "{text}");
        let own = LockDiagnosis {
            own_transaction_open: true,
            checkpoint: None,
            ..diagnosis
        };
        assert!(own.to_string().contains("commit or roll it back"));
    }

    #[test]
    fn leftover_files_are_seen() {
        let dir = tempfile::tempdir().expect("temp dir");
        let db = dir.path().join("x.db");
        assert_eq!(leftover_files(&db), (None, false));
        std::fs::write(dir.path().join("x.db-wal"), [0u8; 32]).expect("wal");
        std::fs::write(dir.path().join("x.db-shm"), [0u8; 8]).expect("shm");
        assert_eq!(leftover_files(&db), (Some(32), true));
    }
}
