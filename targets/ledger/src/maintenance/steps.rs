//! Running due maintenance steps and timing each: [`run`] and [`MaintenanceReport`].

use std::collections::BTreeMap;
use std::time::Instant;

use serde::{Deserialize, Serialize};

use super::plan::{DueStep, Step};
use crate::capacity::Samples;
use crate::db::Db;
use crate::error::Result;
use crate::metrics::LatencySummary;
use crate::perf::Baselines;
use crate::sync_state::{self, keys};
use crate::{ops, tx};

/// What one step did.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct StepReport {
    /// The step.
    pub step: Step,
    /// Why it was due.
    pub reason: String,
    /// Whether it ran (false in a dry run).
    pub ran: bool,
    /// What it found or changed, e.g. `"reindexed captures_status_created"`.
    pub detail: String,
    /// How long it took, in microseconds (0 when it did not run).
    pub duration_us: u64,
    /// Why it failed, with what to do, if it did.
    pub error: Option<String>,
}

/// What a maintenance run did.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct MaintenanceReport {
    /// The ledger clock's time at the start.
    pub started_at_ms: i64,
    /// Whether this only planned.
    pub dry_run: bool,
    /// Each due step, in order.
    pub steps: Vec<StepReport>,
}

impl MaintenanceReport {
    /// Whether every step that ran succeeded.
    pub fn succeeded(&self) -> bool {
        self.steps.iter().all(|step| step.error.is_none())
    }
}

/// Index names `PRAGMA integrity_check` blames, e.g. in
/// `row 3 missing from index captures_status_created`.
fn damaged_indexes(problems: &[String]) -> Vec<String> {
    let mut names: Vec<String> = problems
        .iter()
        .filter_map(|line| {
            let (_, rest) = line.split_once("index ")?;
            let name: String = rest
                .chars()
                .take_while(|c| c.is_alphanumeric() || *c == '_')
                .collect();
            (!name.is_empty()).then_some(name)
        })
        .collect();
    names.sort();
    names.dedup();
    names
}

/// `PRAGMA integrity_check` lines other than `ok`.
pub(crate) fn integrity_problems(db: Db<'_>, pragma: &'static str) -> Result<Vec<String>> {
    let lines: Vec<String> = db
        .conn
        .prepare(&format!("PRAGMA {pragma}"))
        .and_then(|mut stmt| stmt.query_map([], |row| row.get(0))?.collect())
        .map_err(db.err(pragma))?;
    Ok(lines.into_iter().filter(|line| line != "ok").collect())
}

fn exec(db: Db<'_>, what: &'static str, sql: &str) -> Result<()> {
    db.conn.execute_batch(sql).map_err(db.err(what))
}

fn index_check(db: Db<'_>) -> Result<String> {
    let problems = integrity_problems(db, "integrity_check")?;
    if problems.is_empty() {
        return Ok("integrity ok".to_owned());
    }
    let indexes = damaged_indexes(&problems);
    for index in &indexes {
        exec(db, "reindex", &format!("REINDEX \"{index}\""))?;
    }
    let after = integrity_problems(db, "integrity_check")?;
    Ok(format!(
        "{} problem(s); reindexed [{}]; {} problem(s) left{}",
        problems.len(),
        indexes.join(", "),
        after.len(),
        if after.is_empty() {
            String::new()
        } else {
            "; run `ledger check --full` and restore from the last verified backup".to_owned()
        }
    ))
}

fn checkpoint(db: Db<'_>) -> Result<String> {
    let (busy, frames, done): (i64, i64, i64) = db
        .conn
        .query_row("PRAGMA wal_checkpoint(TRUNCATE)", [], |row| {
            Ok((row.get(0)?, row.get(1)?, row.get(2)?))
        })
        .map_err(db.err("checkpoint the WAL"))?;
    Ok(if busy == 1 {
        format!("blocked by readers: {done} of {frames} frames copied; retry when they finish")
    } else {
        "WAL checkpointed and truncated".to_owned()
    })
}

fn vacuum(db: Db<'_>) -> Result<String> {
    let auto_vacuum: i64 = db
        .conn
        .query_row("PRAGMA auto_vacuum", [], |row| row.get(0))
        .map_err(db.err("read auto_vacuum"))?;
    let before = crate::metrics::storage(db)?;
    if auto_vacuum == 2 {
        exec(db, "incremental vacuum", "PRAGMA incremental_vacuum")?;
    } else {
        exec(db, "vacuum", "VACUUM")?;
    }
    let after = crate::metrics::storage(db)?;
    Ok(format!(
        "{} vacuum: {} -> {} pages, {} free pages left",
        if auto_vacuum == 2 {
            "incremental"
        } else {
            "full"
        },
        before.page_count,
        after.page_count,
        after.freelist_pages
    ))
}

fn record_trends(
    db: Db<'_>,
    now_ms: i64,
    latencies: &BTreeMap<String, LatencySummary>,
) -> Result<String> {
    let bytes = crate::metrics::storage(db)?.database_bytes;
    tx::immediate(db, |db| {
        let mut samples = Samples::parse(sync_state::get(db, keys::CAPACITY_SAMPLES)?.as_deref());
        samples.push(now_ms, bytes);
        let mut baselines = Baselines::parse(sync_state::get(db, keys::PERF_BASELINE)?.as_deref());
        baselines.absorb(latencies);
        sync_state::set(db, keys::CAPACITY_SAMPLES, &to_json(&samples), now_ms)?;
        sync_state::set(db, keys::PERF_BASELINE, &to_json(&baselines), now_ms)?;
        Ok(format!(
            "{} capacity samples; baselines for {} operations",
            samples.0.len(),
            baselines.0.len()
        ))
    })
}

/// JSON text of a trend value (these always serialise).
fn to_json(value: &impl Serialize) -> String {
    serde_json::to_string(value).unwrap_or_default()
}

fn run_step(
    db: Db<'_>,
    due: &DueStep,
    now_ms: i64,
    latencies: &BTreeMap<String, LatencySummary>,
) -> Result<String> {
    match due.step {
        Step::Optimize => {
            exec(db, "optimize", "PRAGMA optimize")?;
            stamp(db, keys::MAINT_LAST_OPTIMIZE_MS, now_ms)?;
            Ok("statistics refreshed where SQLite judged it useful".to_owned())
        }
        Step::Analyze => {
            exec(db, "analyze", "ANALYZE")?;
            let rows: i64 = db
                .conn
                .query_row("SELECT count(*) FROM captures", [], |row| row.get(0))
                .map_err(db.err("count captures"))?;
            tx::immediate(db, |db| {
                sync_state::set(db, keys::MAINT_ANALYZE_ROWS, &rows.to_string(), now_ms)?;
                sync_state::set(db, keys::MAINT_LAST_ANALYZE_MS, &now_ms.to_string(), now_ms)
            })?;
            Ok(format!("analysed {rows} captures"))
        }
        Step::Checkpoint => checkpoint(db),
        Step::Vacuum => vacuum(db),
        Step::IndexCheck => {
            let detail = index_check(db)?;
            stamp(db, keys::MAINT_LAST_INDEX_CHECK_MS, now_ms)?;
            Ok(detail)
        }
        Step::RetentionPrune => {
            let cutoff = due.cutoff_ms.unwrap_or(i64::MIN);
            let pruned = ops::prune::prune_before(db, cutoff)?;
            Ok(format!("pruned {} exported captures", pruned.len()))
        }
        Step::RecordTrends => record_trends(db, now_ms, latencies),
    }
}

fn stamp(db: Db<'_>, key: &str, now_ms: i64) -> Result<()> {
    tx::immediate(db, |db| {
        sync_state::set(db, key, &now_ms.to_string(), now_ms)
    })
}

/// Run `due` in order (or only report them when `dry_run`); a failing step
/// is reported and the next one still runs.
pub(crate) fn run(
    db: Db<'_>,
    due: Vec<DueStep>,
    now_ms: i64,
    dry_run: bool,
    latencies: &BTreeMap<String, LatencySummary>,
) -> MaintenanceReport {
    let steps = due
        .into_iter()
        .map(|due| {
            if dry_run {
                return StepReport {
                    step: due.step,
                    reason: due.reason,
                    ran: false,
                    detail: "dry run".to_owned(),
                    duration_us: 0,
                    error: None,
                };
            }
            let started = Instant::now();
            let outcome = run_step(db, &due, now_ms, latencies).and_then(|detail| {
                crate::failpoint::hit(crate::failpoint::MAINTAIN_AFTER_STEP).map(|()| detail)
            });
            let duration_us = u64::try_from(started.elapsed().as_micros()).unwrap_or(u64::MAX);
            let (detail, error) = match outcome {
                Ok(detail) => (detail, None),
                Err(error) => {
                    tracing::error!(
                        step = due.step.as_str(),
                        path = %db.path.display(),
                        error = %error,
                        remedy = error.remedy(),
                        "maintenance step failed"
                    );
                    (String::new(), Some(format!("{error}; {}", error.remedy())))
                }
            };
            tracing::info!(step = due.step.as_str(), duration_us, %detail, "maintenance step done");
            StepReport {
                step: due.step,
                reason: due.reason,
                ran: true,
                detail,
                duration_us,
                error,
            }
        })
        .collect();
    MaintenanceReport {
        started_at_ms: now_ms,
        dry_run,
        steps,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn damaged_index_names_are_parsed_from_integrity_output() {
        let problems = vec![
            "row 3 missing from index captures_status_created".to_owned(),
            "wrong # of entries in index captures_status_created".to_owned(),
            "non-unique entry in index exports_audit_one_final".to_owned(),
            "Page 5: btreeInitPage() returns error code 11".to_owned(),
        ];
        assert_eq!(
            damaged_indexes(&problems),
            ["captures_status_created", "exports_audit_one_final"]
        );
    }
}
