//! Deciding what maintenance is due, without changing anything: [`plan`].

use serde::{Deserialize, Serialize};

use super::MaintenancePolicy;
use crate::db::Db;
use crate::error::Result;
use crate::sync_state::{self, keys};

const MS_PER_DAY: i64 = 86_400_000;

/// One maintenance step.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Step {
    /// `PRAGMA optimize`.
    Optimize,
    /// `ANALYZE`.
    Analyze,
    /// `PRAGMA wal_checkpoint(TRUNCATE)`.
    Checkpoint,
    /// `PRAGMA incremental_vacuum` (auto_vacuum = incremental) or `VACUUM`.
    Vacuum,
    /// `PRAGMA integrity_check`, then `REINDEX` of each index it names.
    IndexCheck,
    /// Delete terminal captures older than the retention and the last verified backup.
    RetentionPrune,
    /// Record a capacity sample and fold this process's latencies into the baselines.
    RecordTrends,
}

impl Step {
    /// The step's stable name.
    pub fn as_str(self) -> &'static str {
        match self {
            Step::Optimize => "optimize",
            Step::Analyze => "analyze",
            Step::Checkpoint => "checkpoint",
            Step::Vacuum => "vacuum",
            Step::IndexCheck => "index_check",
            Step::RetentionPrune => "retention_prune",
            Step::RecordTrends => "record_trends",
        }
    }
}

/// A step that is due, and why.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DueStep {
    /// The step.
    pub step: Step,
    /// Why it is due, e.g. `"WAL is 70000000 bytes (limit 67108864)"`.
    pub reason: String,
    /// For retention pruning: delete terminal captures updated before this (unix ms).
    pub cutoff_ms: Option<i64>,
}

fn due(step: Step, reason: String) -> DueStep {
    DueStep {
        step,
        reason,
        cutoff_ms: None,
    }
}

fn since(last: Option<i64>, now_ms: i64, interval_ms: i64) -> Option<String> {
    match last {
        None => Some("never ran".to_owned()),
        Some(last) if now_ms.saturating_sub(last) >= interval_ms => Some(format!(
            "last ran {} ms ago (interval {interval_ms} ms)",
            now_ms - last
        )),
        Some(_) => None,
    }
}

fn captures_count(db: Db<'_>) -> Result<u64> {
    let n: i64 = db
        .conn
        .query_row("SELECT count(*) FROM captures", [], |row| row.get(0))
        .map_err(db.err("count captures"))?;
    Ok(u64::try_from(n).unwrap_or(0))
}

/// Why `ANALYZE` is due whatever the row counts: a hot query ignores its index while the
/// planner has statistics (`sqlite_stat1`), which may describe tables far smaller than they are
/// now (gathered when they were near empty); `None` without statistics or plan warnings.
fn stale_statistics(db: Db<'_>) -> Option<String> {
    let has_stats = db
        .conn
        .query_row(
            "SELECT count(*) FROM sqlite_schema WHERE name = 'sqlite_stat1'",
            [],
            |row| row.get::<_, i64>(0),
        )
        .is_ok_and(|n| n > 0);
    if !has_stats {
        return None;
    }
    let queries: Vec<String> = crate::plans::check(db)
        .into_iter()
        .map(|warning| warning.query)
        .collect();
    (!queries.is_empty()).then(|| {
        format!(
            "{} ignore their index while the planner's statistics may be stale",
            queries.join(", ")
        )
    })
}

/// The steps due at `now_ms` under `policy`, in the order they should run.
pub(crate) fn plan(db: Db<'_>, policy: &MaintenancePolicy, now_ms: i64) -> Result<Vec<DueStep>> {
    let mut steps = Vec::new();
    let storage = crate::metrics::storage(db)?;
    if let Some(reason) = since(
        sync_state::get_i64(db, keys::MAINT_LAST_INDEX_CHECK_MS)?,
        now_ms,
        policy.index_check_interval_ms,
    ) {
        steps.push(due(Step::IndexCheck, reason));
    }
    let rows = captures_count(db)?;
    let analyzed_rows = sync_state::get_i64(db, keys::MAINT_ANALYZE_ROWS)?;
    let analyze_reason = match analyzed_rows.map(|n| u64::try_from(n).unwrap_or(0)) {
        None if rows >= policy.analyze_min_rows => Some(format!("never analysed, {rows} captures")),
        Some(before) if rows >= policy.analyze_min_rows => {
            let change = rows.abs_diff(before) as f64 / before.max(1) as f64;
            (change > policy.analyze_change_fraction)
                .then(|| format!("captures went from {before} to {rows} since the last ANALYZE"))
        }
        _ => None,
    };
    let analyze_reason = analyze_reason.or_else(|| stale_statistics(db));
    if let Some(reason) = analyze_reason {
        steps.push(due(Step::Analyze, reason));
    }
    if let Some(verified_at) = sync_state::get_i64(db, keys::BACKUP_LAST_VERIFIED_AT_MS)? {
        let retention_cutoff = now_ms.saturating_sub(i64::from(policy.retention_days) * MS_PER_DAY);
        let cutoff = retention_cutoff.min(verified_at);
        steps.push(DueStep {
            step: Step::RetentionPrune,
            reason: format!(
                "last verified backup at {verified_at}; pruning exported captures older than {} days and than that backup",
                policy.retention_days
            ),
            cutoff_ms: Some(cutoff),
        });
    }
    if storage.free_fraction > policy.vacuum_free_fraction {
        steps.push(due(
            Step::Vacuum,
            format!(
                "{} of {} pages free ({:.0} %, limit {:.0} %)",
                storage.freelist_pages,
                storage.page_count,
                storage.free_fraction * 100.0,
                policy.vacuum_free_fraction * 100.0
            ),
        ));
    }
    if storage.wal_bytes > policy.checkpoint_wal_bytes {
        steps.push(due(
            Step::Checkpoint,
            format!(
                "WAL is {} bytes (limit {})",
                storage.wal_bytes, policy.checkpoint_wal_bytes
            ),
        ));
    }
    if let Some(reason) = since(
        sync_state::get_i64(db, keys::MAINT_LAST_OPTIMIZE_MS)?,
        now_ms,
        policy.optimize_interval_ms,
    ) {
        steps.push(due(Step::Optimize, reason));
    }
    steps.push(due(Step::RecordTrends, "every run".to_owned()));
    Ok(steps)
}

#[cfg(test)]
mod tests {
    use super::*;
    use rusqlite::Connection;
    use std::path::Path;

    fn migrated() -> Connection {
        let conn = Connection::open_in_memory().expect("db");
        crate::schema::migrate(Db::new(&conn, Path::new(":memory:"))).expect("schema");
        conn
    }

    fn names(steps: &[DueStep]) -> Vec<Step> {
        steps.iter().map(|s| s.step).collect()
    }

    #[test]
    fn a_fresh_database_needs_index_check_optimize_and_trends_only() {
        let conn = migrated();
        let db = Db::new(&conn, Path::new(":memory:"));
        let steps = plan(db, &MaintenancePolicy::default(), 1_000).expect("plan");
        assert_eq!(
            names(&steps),
            [Step::IndexCheck, Step::Optimize, Step::RecordTrends]
        );
    }

    #[test]
    fn daily_steps_come_back_after_a_day() {
        let conn = migrated();
        let db = Db::new(&conn, Path::new(":memory:"));
        for key in [
            keys::MAINT_LAST_INDEX_CHECK_MS,
            keys::MAINT_LAST_OPTIMIZE_MS,
        ] {
            sync_state::set(db, key, "1000", 1000).expect("set");
        }
        let policy = MaintenancePolicy::default();
        assert_eq!(
            names(&plan(db, &policy, 1_000 + MS_PER_DAY - 1).expect("plan")),
            [Step::RecordTrends]
        );
        assert_eq!(
            names(&plan(db, &policy, 1_000 + MS_PER_DAY).expect("plan")),
            [Step::IndexCheck, Step::Optimize, Step::RecordTrends]
        );
    }

    #[test]
    fn retention_waits_for_a_verified_backup_and_never_passes_it() {
        let conn = migrated();
        let db = Db::new(&conn, Path::new(":memory:"));
        let now = 400 * MS_PER_DAY;
        let policy = MaintenancePolicy::default();
        assert!(!names(&plan(db, &policy, now).expect("plan")).contains(&Step::RetentionPrune));
        let backup_at = 200 * MS_PER_DAY;
        sync_state::set(
            db,
            keys::BACKUP_LAST_VERIFIED_AT_MS,
            &backup_at.to_string(),
            1,
        )
        .expect("set");
        let steps = plan(db, &policy, now).expect("plan");
        let prune = steps
            .iter()
            .find(|s| s.step == Step::RetentionPrune)
            .expect("due");
        assert_eq!(prune.cutoff_ms, Some(backup_at));
        let recent = 399 * MS_PER_DAY;
        sync_state::set(db, keys::BACKUP_LAST_VERIFIED_AT_MS, &recent.to_string(), 2).expect("set");
        let steps = plan(db, &policy, now).expect("plan");
        let prune = steps
            .iter()
            .find(|s| s.step == Step::RetentionPrune)
            .expect("due");
        assert_eq!(prune.cutoff_ms, Some(now - 90 * MS_PER_DAY));
    }

    #[test]
    fn analyze_is_due_when_rows_changed_enough() {
        let conn = migrated();
        let db = Db::new(&conn, Path::new(":memory:"));
        conn.execute_batch(
            "WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 150)
             INSERT INTO captures SELECT 'c' || i, 'email', 'x', NULL, 'staged', '{}', i, i FROM n",
        )
        .expect("rows");
        let policy = MaintenancePolicy::default();
        assert!(names(&plan(db, &policy, 1).expect("plan")).contains(&Step::Analyze));
        sync_state::set(db, keys::MAINT_ANALYZE_ROWS, "140", 1).expect("set");
        assert!(!names(&plan(db, &policy, 1).expect("plan")).contains(&Step::Analyze));
        sync_state::set(db, keys::MAINT_ANALYZE_ROWS, "100", 1).expect("set");
        assert!(names(&plan(db, &policy, 1).expect("plan")).contains(&Step::Analyze));
    }
}
