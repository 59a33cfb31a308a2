//! Where the ledger lives and how SQLite is tuned: [`Config`] and [`Tuning`].

use std::path::PathBuf;

use serde::{Deserialize, Serialize};

use crate::maintenance::MaintenancePolicy;
use crate::retry::RetryPolicy;

/// SQLite journal mode (`PRAGMA journal_mode`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "kebab-case")]
pub enum JournalMode {
    /// Write-ahead log (the default).
    #[default]
    Wal,
    /// Rollback journal, deleted at commit.
    Delete,
    /// Rollback journal, truncated at commit.
    Truncate,
    /// Rollback journal, header zeroed at commit.
    Persist,
}

impl JournalMode {
    /// The pragma value, as SQLite reports it back (`"wal"`, `"delete"`, ...).
    pub fn as_str(self) -> &'static str {
        match self {
            JournalMode::Wal => "wal",
            JournalMode::Delete => "delete",
            JournalMode::Truncate => "truncate",
            JournalMode::Persist => "persist",
        }
    }
}

/// SQLite sync level (`PRAGMA synchronous`).
///
/// The durability contract (an acknowledged write survives power loss) holds
/// with `Full` (the default) or `Extra`; `Normal` in WAL mode may lose the
/// most recent acknowledged writes on power loss and is an explicit choice.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "kebab-case")]
pub enum Synchronous {
    /// No syncs at all: unsafe under power loss.
    Off,
    /// Sync at checkpoints only (WAL).
    Normal,
    /// Sync at every commit (the default).
    #[default]
    Full,
    /// `Full` plus a directory sync when a rollback journal is unlinked.
    Extra,
}

impl Synchronous {
    /// The pragma value (`"off"`, `"normal"`, `"full"`, `"extra"`).
    pub fn as_str(self) -> &'static str {
        match self {
            Synchronous::Off => "off",
            Synchronous::Normal => "normal",
            Synchronous::Full => "full",
            Synchronous::Extra => "extra",
        }
    }
}

/// Pragmas and knobs; deserialised from a scenario file's `[target]` table by the harness.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case", deny_unknown_fields, default)]
pub struct Tuning {
    /// `PRAGMA journal_mode`; the value SQLite returns must match.
    pub journal_mode: JournalMode,
    /// `PRAGMA synchronous`.
    pub synchronous: Synchronous,
    /// `PRAGMA busy_timeout`, in milliseconds.
    pub busy_timeout_ms: u32,
    /// `PRAGMA cache_size` (negative = KiB, positive = pages).
    pub cache_size: i64,
    /// `PRAGMA mmap_size`, in bytes (0 disables memory mapping).
    pub mmap_size: i64,
    /// `PRAGMA foreign_keys`.
    pub foreign_keys: bool,
    /// Retry of transient failures (`[target.retry]`).
    pub retry: RetryPolicy,
    /// Automated maintenance thresholds (`[target.maintenance]`).
    pub maintenance: MaintenancePolicy,
    /// Keep a checksum of every page and verify it on every read
    /// ([`crate::checksum`]); an existing database is migrated by `VACUUM`.
    pub page_checksums: bool,
    /// Choose `cache_size` from memory, database size and workload
    /// ([`crate::memory::adaptive_cache`]), with `cache_size` as the ceiling.
    pub adaptive_cache: bool,
    /// How often (clock ms) the memory probe is polled between operations.
    pub memory_poll_interval_ms: u32,
    /// How long (clock ms) pressure must be gone before cache and mmap are restored.
    pub pressure_calm_ms: u32,
    /// `PRAGMA quick_check` every this many clock ms (0 = only on unclean open).
    pub quick_check_interval_ms: u32,
    /// `PRAGMA integrity_check` every this many clock ms (0 = never scheduled).
    pub integrity_check_interval_ms: u32,
    /// A planted bug ([`crate::mutants::CATALOGUE`] name) for the harness's
    /// self-test; only with the `mutants` feature (without it, `mutant` is an
    /// unknown key).
    #[cfg(feature = "mutants")]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub mutant: Option<String>,
    /// The WAL archive ([`crate::backup::BackupConfig::archive_dir`]; relative
    /// to the database's directory) that repairs damaged WAL frames at open
    /// ([`crate::integrity::wal_break`]).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub wal_archive_dir: Option<PathBuf>,
}

impl Default for Tuning {
    fn default() -> Tuning {
        Tuning {
            journal_mode: JournalMode::Wal,
            synchronous: Synchronous::Full,
            busy_timeout_ms: 5000,
            cache_size: -64_000,
            mmap_size: 268_435_456,
            foreign_keys: true,
            retry: RetryPolicy::default(),
            maintenance: MaintenancePolicy::default(),
            page_checksums: true,
            adaptive_cache: true,
            memory_poll_interval_ms: 1_000,
            pressure_calm_ms: 60_000,
            quick_check_interval_ms: 3_600_000,
            integrity_check_interval_ms: 86_400_000,
            #[cfg(feature = "mutants")]
            mutant: None,
            wal_archive_dir: None,
        }
    }
}

/// Everything [`crate::Ledger::open`] needs to know.
#[derive(Debug, Clone)]
pub struct Config {
    /// The database file.
    pub path: PathBuf,
    /// Where Markdown exports go (created on open if missing).
    pub vault_dir: PathBuf,
    /// SQLite VFS name to open through (the harness registers its own); `None` = default.
    pub vfs: Option<String>,
    /// Pragmas.
    pub tuning: Tuning,
}

impl Config {
    /// A config with default tuning and the default VFS.
    pub fn new(path: impl Into<PathBuf>, vault_dir: impl Into<PathBuf>) -> Config {
        Config {
            path: path.into(),
            vault_dir: vault_dir.into(),
            vfs: None,
            tuning: Tuning::default(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tuning_deserialises_kebab_case_with_defaults() {
        let tuning: Tuning =
            serde_json::from_str(r#"{"journal-mode":"truncate","busy-timeout-ms":0}"#)
                .expect("valid tuning");
        assert_eq!(tuning.journal_mode, JournalMode::Truncate);
        assert_eq!(tuning.busy_timeout_ms, 0);
        assert_eq!(tuning.synchronous, Synchronous::Full);
        assert_eq!(tuning.mmap_size, 268_435_456);
    }

    #[test]
    fn nested_retry_and_maintenance_tables_have_defaults() {
        let tuning: Tuning = serde_json::from_str(
            r#"{"retry":{"max-attempts":1},"maintenance":{"retention-days":30}}"#,
        )
        .expect("valid tuning");
        assert_eq!(tuning.retry, RetryPolicy::disabled());
        assert_eq!(tuning.maintenance.retention_days, 30);
        assert_eq!(
            tuning.maintenance.optimize_interval_ms,
            MaintenancePolicy::default().optimize_interval_ms
        );
        assert!(serde_json::from_str::<Tuning>(r#"{"retry":{"attempts":1}}"#).is_err());
    }

    #[test]
    fn tuning_rejects_unknown_fields() {
        assert!(serde_json::from_str::<Tuning>(r#"{"journal":"wal"}"#).is_err());
    }

    #[test]
    fn config_new_uses_defaults() {
        let config = Config::new("a.db", "vault");
        assert_eq!(config.tuning, Tuning::default());
        assert!(config.vfs.is_none());
    }
}
