//! [`shrink_failure`]: minimises a failing iteration by re-running smaller plans in workers.
//!
//! A candidate is the job with fewer operations (same seed, same fault plan); it "still
//! fails" when its first failing check is the original's. Only deterministic fault plans are
//! shrunk (a timing-dependent kill would make the predicate flaky). The power-loss crash point
//! is drawn from the seed over the candidate's own counting pass, so removing operations can
//! move it; a candidate is kept only when it fails the same way, so the result still fails.

use std::path::Path;

use reports::results::ShrunkCase;
use reports::{CheckResult, IterationResult, IterationStatus};

use super::control::RunControl;
use super::job::IterationJob;
use super::outcome::IterationOutcome;
use super::shrink::shrink_plan;
use super::supervisor::run_iteration;
use crate::workload::Operation;

/// A minimised failure: the report's summary and the minimal job (for a capsule).
#[derive(Debug)]
pub struct Shrunk {
    /// What the report shows.
    pub case: ShrunkCase,
    /// The minimal job.
    pub job: IterationJob,
    /// Every check the minimal case fails.
    pub failing: Vec<String>,
}

/// Shrinks the failing iteration `job` (whose result is `original`) with at most `budget`
/// candidate runs, each in its own directory under `work_root`. `None` when the iteration did
/// not fail a check, its fault is timing-dependent, or the budget is 0.
pub fn shrink_failure(
    exe: &Path,
    job: &IterationJob,
    original: &IterationResult,
    budget: usize,
    work_root: &Path,
    control: &RunControl,
) -> Option<Shrunk> {
    let first = original.first_failure()?.name.clone();
    if budget == 0 || original.status != IterationStatus::Failed || !job.scenario.is_deterministic()
    {
        return None;
    }
    let mut attempt = 0usize;
    let mut run = |plan: &[Operation]| -> Option<IterationOutcome> {
        if control.is_interrupted() {
            return None;
        }
        attempt += 1;
        let mut candidate = job.clone();
        candidate.plan = plan.to_vec();
        let dir = work_root.join(format!("shrink-{}-{attempt}", job.scenario.name));
        candidate.db_path = dir.join("ledger.db");
        candidate.vault_dir = dir.join("vault");
        std::fs::create_dir_all(&dir).ok()?;
        let outcome = run_iteration(exe, &candidate, &dir, control);
        let _ = std::fs::remove_dir_all(&dir);
        Some(outcome)
    };
    let fails_the_same_way = |outcome: &IterationOutcome| {
        outcome.result.status == IterationStatus::Failed
            && outcome.result.first_failure().map(|c| &c.name) == Some(&first)
    };
    let outcome = shrink_plan(&job.plan, budget, &mut |plan| {
        run(plan).is_some_and(|o| fails_the_same_way(&o))
    });
    let last = run(&outcome.plan).filter(|o| fails_the_same_way(o))?;
    let failure: CheckResult = last.result.first_failure()?.clone();
    let failing = last
        .result
        .checks
        .iter()
        .filter(|c| !c.passed)
        .map(|c| c.name.clone())
        .collect();
    let mut minimal = job.clone();
    minimal.plan = outcome.plan;
    Some(Shrunk {
        case: ShrunkCase {
            operations_before: job.plan.len() as u64,
            operations: minimal.plan.len() as u64,
            tries: outcome.tries as u64,
            budget_spent: outcome.budget_spent,
            failure,
            trace_digest: last.result.trace_digest,
            capsule: None,
            replay: None,
            files: None,
        },
        job: minimal,
        failing,
    })
}
