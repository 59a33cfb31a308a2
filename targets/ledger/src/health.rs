//! Checks and the health report: [`CheckReport`], [`HealthReport`] and its
//! [`HealthStatus`], each problem with what to do about it.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::backup::{BackupHealth, BackupRecord};
use crate::capacity::{self, Forecast, Samples};
use crate::db::Db;
use crate::error::Result;
use crate::maintenance::{DueStep, MaintenancePolicy, Step};
use crate::metrics::{LatencySummary, MetricsSnapshot};
use crate::open::OpenReport;
use crate::perf::{Baselines, RegressionAlert};
use crate::plans::{self, PlanWarning};
use crate::sync_state::{self, keys};

/// Days of capacity left below which the ledger is unhealthy.
const CRITICAL_DAYS_LEFT: f64 = 7.0;
/// Days of capacity left below which health warns.
const WARNING_DAYS_LEFT: f64 = 30.0;

/// The outcome of [`crate::Ledger::check`].
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CheckReport {
    /// Whether `integrity_check` (full) or `quick_check` ran.
    pub full: bool,
    /// Lines other than `ok` the integrity pragma returned.
    pub integrity_problems: Vec<String>,
    /// Rows `PRAGMA foreign_key_check` reports.
    pub foreign_key_violations: u64,
    /// Audit rows whose capture is gone.
    pub orphan_audit_rows: u64,
    /// Queries whose plan does not use their index.
    pub plan_warnings: Vec<PlanWarning>,
}

impl CheckReport {
    /// Whether the data is sound (plan warnings do not count).
    pub fn data_ok(&self) -> bool {
        self.integrity_problems.is_empty()
            && self.foreign_key_violations == 0
            && self.orphan_audit_rows == 0
    }
}

fn count(db: Db<'_>, what: &'static str, sql: &str) -> Result<u64> {
    let n: i64 = db
        .conn
        .query_row(sql, [], |row| row.get(0))
        .map_err(db.err(what))?;
    Ok(u64::try_from(n).unwrap_or(0))
}

/// Run the integrity, foreign-key, orphan and plan checks.
pub(crate) fn check(db: Db<'_>, full: bool) -> Result<CheckReport> {
    let pragma = if full {
        "integrity_check"
    } else {
        "quick_check"
    };
    Ok(CheckReport {
        full,
        integrity_problems: crate::maintenance::integrity_problems(db, pragma)?,
        foreign_key_violations: count(
            db,
            "check foreign keys",
            "SELECT count(*) FROM pragma_foreign_key_check",
        )?,
        orphan_audit_rows: count(
            db,
            "count orphan audit rows",
            "SELECT count(*) FROM exports_audit a
             WHERE NOT EXISTS (SELECT 1 FROM captures c WHERE c.id = a.capture_id)",
        )?,
        plan_warnings: plans::check(db),
    })
}

/// Overall verdict; `ledger health` exits 1 on `Unhealthy`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum HealthStatus {
    /// Nothing to do.
    Healthy,
    /// Works, but something needs attention (see the problems).
    Degraded,
    /// Data is damaged or about to run out of room: act now.
    Unhealthy,
}

/// One thing wrong, and what to do.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Problem {
    /// `Degraded` (a warning) or `Unhealthy`.
    pub severity: HealthStatus,
    /// What is wrong, with the figures.
    pub what: String,
    /// What to do.
    pub remedy: String,
}

/// Everything `ledger health` shows.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct HealthReport {
    /// The worst severity among the problems.
    pub status: HealthStatus,
    /// The problems, worst first.
    pub problems: Vec<Problem>,
    /// `PRAGMA user_version`.
    pub schema_version: i64,
    /// Quick integrity, foreign keys, orphans, plans.
    pub checks: CheckReport,
    /// What opening found (crash recovery).
    pub open: OpenReport,
    /// Operations slower than their baseline.
    pub regressions: Vec<RegressionAlert>,
    /// Growth per day and days left before the configured limit.
    pub capacity: Forecast,
    /// Maintenance due now.
    pub maintenance_due: Vec<DueStep>,
    /// All metrics.
    pub metrics: MetricsSnapshot,
}

fn problem(severity: HealthStatus, what: String, remedy: &str) -> Problem {
    Problem {
        severity,
        what,
        remedy: remedy.to_owned(),
    }
}

fn capacity_problem(forecast: &Forecast) -> Option<Problem> {
    if forecast.current_bytes >= forecast.limit_bytes {
        return Some(problem(
            HealthStatus::Unhealthy,
            format!(
                "database is {} bytes, at or past its {} byte limit",
                forecast.current_bytes, forecast.limit_bytes
            ),
            "prune after a verified backup, vacuum, or raise capacity-limit-bytes",
        ));
    }
    let days = forecast.days_left?;
    let severity = if days < CRITICAL_DAYS_LEFT {
        HealthStatus::Unhealthy
    } else if days < WARNING_DAYS_LEFT {
        HealthStatus::Degraded
    } else {
        return None;
    };
    Some(problem(
        severity,
        format!(
            "at {:.0} bytes/day the database reaches its {} byte limit in {days:.1} days",
            forecast.growth_bytes_per_day.unwrap_or(0.0),
            forecast.limit_bytes
        ),
        "plan more space or shorter retention",
    ))
}

/// What the backup record says needs attention: no verified backup, and the
/// escalation of consecutive verification failures, naming the failed backup.
fn backup_problems(backup: &BackupRecord) -> Vec<Problem> {
    let mut found = Vec::new();
    if backup.last_verified_snapshot_at_ms.is_none() {
        found.push(problem(
            HealthStatus::Degraded,
            "no verified backup recorded".to_owned(),
            "take and verify a backup; retention pruning waits for one",
        ));
    }
    if_mutant!(HealthIgnoresBackupFailures, {
        return found;
    });
    let consequence = match backup.health {
        BackupHealth::Healthy => return found,
        BackupHealth::Warn | BackupHealth::Degraded => "retention pruning continues",
        BackupHealth::PruningPaused => "retention pruning is paused until a backup verifies",
    };
    found.push(problem(
        HealthStatus::Degraded,
        format!(
            "backup status {}: {} backup verification(s) failed in a row, the last of {} at {}; {consequence}",
            backup.health.as_str(),
            backup.consecutive_failures,
            backup.last_failure_path.as_deref().unwrap_or("an unknown file"),
            backup
                .last_failure_at_ms
                .map_or_else(|| "an unknown time".to_owned(), crate::backup::utc_text),
        ),
        "see `ledger backups list`; take a new backup with `ledger backup` and find why verification fails",
    ));
    found
}

fn problems(report: &HealthReport) -> Vec<Problem> {
    let mut found = Vec::new();
    let checks = &report.checks;
    if !checks.integrity_problems.is_empty() {
        found.push(problem(
            HealthStatus::Unhealthy,
            format!(
                "integrity check failed: {}",
                checks.integrity_problems.join("; ")
            ),
            "run `ledger maintain` (REINDEX for index damage), else restore from the last verified backup",
        ));
    }
    if checks.foreign_key_violations > 0 || checks.orphan_audit_rows > 0 {
        found.push(problem(
            HealthStatus::Unhealthy,
            format!(
                "{} foreign key violations, {} audit rows without their capture",
                checks.foreign_key_violations, checks.orphan_audit_rows
            ),
            "restore from the last verified backup and report a bug",
        ));
    }
    found.extend(capacity_problem(&report.capacity));
    for warning in &checks.plan_warnings {
        found.push(problem(
            HealthStatus::Degraded,
            warning.to_string(),
            "run `ledger maintain` (it refreshes the planner's statistics with ANALYZE while a query ignores its index); if it persists recreate the index (reopen the ledger)",
        ));
    }
    for alert in &report.regressions {
        found.push(problem(
            HealthStatus::Degraded,
            alert.to_string(),
            "compare with the plan warnings and WAL size; run `ledger maintain`",
        ));
    }
    found.extend(backup_problems(&report.metrics.backup));
    if report
        .maintenance_due
        .iter()
        .any(|due| due.step == Step::Checkpoint)
    {
        found.push(problem(
            HealthStatus::Degraded,
            format!("WAL is {} bytes", report.metrics.storage.wal_bytes),
            "run `ledger maintain` to checkpoint it; look for long readers if it stays large",
        ));
    }
    found.sort_by_key(|p| std::cmp::Reverse(p.severity));
    found
}

/// Put the report together from the snapshot and what the database says.
pub(crate) fn assemble(
    db: Db<'_>,
    policy: &MaintenancePolicy,
    open: &OpenReport,
    metrics: MetricsSnapshot,
    latencies: BTreeMap<String, LatencySummary>,
    maintenance_due: Vec<DueStep>,
) -> Result<HealthReport> {
    let baselines = Baselines::parse(sync_state::get(db, keys::PERF_BASELINE)?.as_deref());
    let mut samples = Samples::parse(sync_state::get(db, keys::CAPACITY_SAMPLES)?.as_deref());
    let frozen = mutant!(CapacityForecastFrozen, true, false);
    let current_bytes = if frozen {
        samples.0.last().map_or(0, |(_, bytes)| *bytes)
    } else {
        metrics.storage.database_bytes
    };
    if !frozen {
        samples.push(metrics.taken_at_ms, current_bytes);
    }
    let mut report = HealthReport {
        status: HealthStatus::Healthy,
        problems: Vec::new(),
        schema_version: crate::schema::user_version(db)?,
        checks: check(db, false)?,
        open: open.clone(),
        regressions: baselines.regressions(&latencies, policy.regression_threshold),
        capacity: capacity::forecast(&samples, current_bytes, policy.capacity_limit_bytes),
        maintenance_due,
        metrics,
    };
    report.problems = problems(&report);
    report.status = report
        .problems
        .iter()
        .map(|p| p.severity)
        .max()
        .unwrap_or(HealthStatus::Healthy);
    Ok(report)
}
