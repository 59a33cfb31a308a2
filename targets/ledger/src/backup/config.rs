//! Where backups go and how they are taken, kept and escalated: [`BackupConfig`].

use std::path::PathBuf;
use std::time::Duration;

use serde::{Deserialize, Serialize};

use super::escalation::EscalationPolicy;
use super::rotation::RetentionPolicy;

/// Everything the backup entry points need to know.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case", deny_unknown_fields, default)]
pub struct BackupConfig {
    /// The backup directory: snapshots `ledger-<UTC stamp>.db`, their
    /// manifests `<snapshot>.json`, and the WAL archive in `wal/`.
    pub dir: PathBuf,
    /// Pages copied per step of the online backup.
    pub pages_per_step: i32,
    /// Pause between steps, so the source's other users get the disk.
    pub step_pause: Duration,
    /// Verify each new backup right after taking it (integrity check,
    /// logical hash, restore test). `false` = verification skipped.
    pub verify: bool,
    /// Whether the live WAL is archived for point-in-time recovery (needs
    /// [`crate::Ledger::enable_wal_archive`] on the writing connection).
    pub archive: bool,
    /// Consecutive verification failures → health level.
    pub escalation: EscalationPolicy,
    /// How many hourly, daily and weekly backups rotation keeps.
    pub retention: RetentionPolicy,
    /// The SQLite VFS the backup file is written through (under the
    /// checksum shim); `None` = the default VFS. A test harness names its
    /// fault-injecting VFS here to fail or cut power at the destination.
    pub dest_vfs: Option<String>,
}

impl BackupConfig {
    /// Defaults with backups in `dir`: 256 pages per step, 1 ms pauses,
    /// verification on, WAL archiving off.
    pub fn new(dir: impl Into<PathBuf>) -> BackupConfig {
        BackupConfig {
            dir: dir.into(),
            ..BackupConfig::default()
        }
    }

    /// The WAL archive directory, `<dir>/wal`.
    pub fn archive_dir(&self) -> PathBuf {
        self.dir.join("wal")
    }
}

impl Default for BackupConfig {
    fn default() -> BackupConfig {
        BackupConfig {
            dir: PathBuf::from("backups"),
            pages_per_step: 256,
            step_pause: Duration::from_millis(1),
            verify: true,
            archive: false,
            escalation: EscalationPolicy::default(),
            retention: RetentionPolicy::default(),
            dest_vfs: None,
        }
    }
}
