//! Automated maintenance, driven by the ledger's clock: [`MaintenancePolicy`]
//! says when each [`Step`] is due, [`plan`] lists what is due and why, and
//! [`run`] does it and reports each step's outcome and duration in a
//! [`MaintenanceReport`].

mod plan;
mod steps;

use serde::{Deserialize, Serialize};

pub use plan::{DueStep, Step};
pub use steps::{MaintenanceReport, StepReport};

pub(crate) use plan::plan;
pub(crate) use steps::{integrity_problems, run};

/// Thresholds of automated maintenance; the `[target.maintenance]` table of a scenario.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case", deny_unknown_fields, default)]
pub struct MaintenancePolicy {
    /// `PRAGMA optimize` at least this often (also run on close), in milliseconds.
    pub optimize_interval_ms: i64,
    /// `ANALYZE` when `captures` grew or shrank by this fraction since the last one
    /// (or was never analysed and holds at least `analyze-min-rows`).
    pub analyze_change_fraction: f64,
    /// Below this many captures statistics are not worth gathering.
    pub analyze_min_rows: u64,
    /// `wal_checkpoint(TRUNCATE)` when the WAL is larger than this, in bytes.
    pub checkpoint_wal_bytes: u64,
    /// `incremental_vacuum` (or `VACUUM`) when free pages exceed this fraction of the file.
    pub vacuum_free_fraction: f64,
    /// Index check (`PRAGMA integrity_check`, then `REINDEX` of a bad index) this often, in ms.
    pub index_check_interval_ms: i64,
    /// Retention: terminal captures older than this many days (and older
    /// than the last verified backup) are pruned.
    pub retention_days: u32,
    /// The database size capacity planning measures against, in bytes.
    pub capacity_limit_bytes: u64,
    /// Health alerts when an operation's p95 is this fraction above its baseline (0.5 = 50 %).
    pub regression_threshold: f64,
}

impl Default for MaintenancePolicy {
    fn default() -> MaintenancePolicy {
        MaintenancePolicy {
            optimize_interval_ms: 86_400_000,
            analyze_change_fraction: 0.2,
            analyze_min_rows: 100,
            checkpoint_wal_bytes: 64 * 1024 * 1024,
            vacuum_free_fraction: 0.25,
            index_check_interval_ms: 86_400_000,
            retention_days: 90,
            capacity_limit_bytes: 10 * 1024 * 1024 * 1024,
            regression_threshold: 0.5,
        }
    }
}
