//! `crash-at-each`: one iteration crashes the ledger at every fail point in turn ([`run`]).
//!
//! The points come from [`ledger::failpoint::every`], never from a list kept here, so a new fail
//! point is swept as soon as the ledger has it. Each point gets its own directory, its own drive
//! worker (armed with `panic` at that point alone, so it aborts there: see `prepare.rs`) and
//! its own check worker, through the ordinary [`run_iteration`]. The iteration's verdicts fold
//! the per-point ones (a check fails when it failed after any crash, its detail naming the
//! point). A point the workload never reached is a harness error: the sweep would otherwise
//! claim a crash it never made.

use std::collections::BTreeMap;
use std::path::Path;
use std::time::Instant;

use reports::{CheckResult, IterationStatus};

use super::plan::FailPoints;
use crate::engine::{IterationJob, IterationOutcome, RunControl, base_result, run_iteration};
use crate::families::FaultPlan;
use crate::oracle::Execution;
use crate::trace::Trace;

/// Most per-point problems kept in one check's detail.
const MAX_DETAILS: usize = 6;

/// Runs the sweep for `job` in `dir`.
pub(super) fn run(
    exe: &Path,
    job: &IterationJob,
    dir: &Path,
    control: &RunControl,
) -> IterationOutcome {
    let started = Instant::now();
    let points = ledger::failpoint::every();
    let mut checks: Vec<CheckResult> = Vec::new();
    let mut details: BTreeMap<String, Vec<String>> = BTreeMap::new();
    let mut errors = Vec::new();
    let mut not_reached = Vec::new();
    let mut notes = Vec::new();
    let mut failing_timeline = Vec::new();
    let mut totals = (0u64, 0u64, 0u64);
    let mut crashed = 0u64;
    let mut any_failed = false;
    for (k, point) in points.iter().enumerate() {
        if control.is_interrupted() {
            errors.push("interrupted before every fail point was swept".to_owned());
            break;
        }
        let sub_dir = dir.join(format!("point-{k:02}"));
        if let Err(e) = std::fs::create_dir_all(&sub_dir) {
            errors.push(format!("cannot create {}: {e}", sub_dir.display()));
            break;
        }
        let mut sub = job.clone();
        sub.db_path = sub_dir.join("ledger.db");
        sub.vault_dir = sub_dir.join("vault");
        sub.scenario.fault = FaultPlan::FailPoints(FailPoints::crash_at(point));
        let outcome = run_iteration(exe, &sub, &sub_dir, control);
        let result = outcome.result;
        let reached = result.faults_injected > 0;
        if reached {
            crashed += 1;
        } else if result.error.is_none() {
            not_reached.push(*point);
        }
        notes.push((
            None,
            format!(
                "crash at {point}: {} ({}), trace {}",
                if reached { "crashed" } else { "not reached" },
                format!("{:?}", result.status).to_lowercase(),
                result.trace_digest
            ),
        ));
        totals.0 += result.operations;
        totals.1 += result.acknowledged;
        totals.2 += result.lost_acknowledged;
        if let Some(e) = &result.error {
            errors.push(format!("at {point}: {e}"));
        }
        if result.status == IterationStatus::Failed {
            any_failed = true;
            if failing_timeline.is_empty() {
                failing_timeline = result.timeline.clone();
            }
        }
        for check in result.checks {
            if !check.passed {
                details
                    .entry(check.name.clone())
                    .or_default()
                    .push(format!("crash at {point}: {}", check.detail));
            }
            match checks.iter_mut().find(|c| c.name == check.name) {
                Some(folded) => folded.passed &= check.passed,
                None => checks.push(CheckResult {
                    detail: String::new(),
                    ..check
                }),
            }
        }
    }
    for check in &mut checks {
        if let Some(problems) = details.get(&check.name) {
            let mut detail: Vec<String> = problems.iter().take(MAX_DETAILS).cloned().collect();
            if problems.len() > MAX_DETAILS {
                detail.push(format!("and {} more", problems.len() - MAX_DETAILS));
            }
            check.detail = detail.join("; ");
        }
    }
    if !not_reached.is_empty() {
        errors.push(format!(
            "the workload never reached fail point(s) {}: extend the workload so every point is \
             crashed at",
            not_reached.join(", ")
        ));
    }
    let trace = Trace::new(&Execution::default(), &notes);
    let status = if !errors.is_empty() {
        IterationStatus::Error
    } else if any_failed {
        IterationStatus::Failed
    } else {
        IterationStatus::Passed
    };
    let figures = BTreeMap::from([
        ("failpoints_total".to_owned(), points.len() as f64),
        ("failpoints_crashed".to_owned(), crashed as f64),
    ]);
    let result = reports::IterationResult {
        operations: totals.0,
        acknowledged: totals.1,
        faults_injected: crashed,
        lost_acknowledged: totals.2,
        timeline: if status == IterationStatus::Passed {
            Vec::new()
        } else if failing_timeline.is_empty() {
            trace.timeline()
        } else {
            failing_timeline
        },
        error: (!errors.is_empty()).then(|| errors.join("\n")),
        figures,
        ..base_result(job, &trace, started, status, checks)
    };
    IterationOutcome { result, trace }
}
