//! After a run: shrink the first failing iteration of each scenario ([`shrink_failures`]),
//! keep the minimal case's files next to the original's, and freeze it as a regression
//! capsule (in `--capsules DIR`, else in the output directory's `capsules/`), so the report
//! can name a command that reproduces it.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

use reports::{IterationResult, IterationStatus, RunResults};

use crate::engine::EXPECTED_FAILURES;
use crate::engine::shrink_run::{Shrunk, shrink_failure};
use crate::engine::{IterationOutcome, RunControl, RunPlan, run_iteration};
use crate::oracle::CheckName;
use crate::scenario::Scenario;
use crate::scenario::capsule::{CapsuleSource, write_capsule};

/// Where the run's outputs go, and where capsules go.
pub(super) struct ShrinkOutputs<'a> {
    /// The run's output directory (`--out`).
    pub out: &'a Path,
    /// `--capsules DIR`, if given; otherwise capsules go to `<out>/capsules`.
    pub capsules: Option<&'a Path>,
}

/// The first failed iteration of each scenario, in (scenario, iteration) order: what `run`
/// shrinks.
pub(super) fn first_failure_per_scenario(outcomes: &[IterationOutcome]) -> Vec<ShrinkCase<'_>> {
    let mut failed: Vec<&IterationOutcome> = outcomes
        .iter()
        .filter(|o| o.result.status == IterationStatus::Failed)
        .collect();
    failed.sort_by(|a, b| {
        (&a.result.scenario, a.result.iteration).cmp(&(&b.result.scenario, b.result.iteration))
    });
    let mut done: BTreeSet<&str> = BTreeSet::new();
    failed
        .into_iter()
        .filter(|o| done.insert(o.result.scenario.as_str()))
        .map(|o| ShrinkCase {
            result: &o.result,
            note: None,
        })
        .collect()
}

/// One failing iteration to shrink, and a sentence its capsule's description adds.
pub(super) struct ShrinkCase<'a> {
    /// The failing iteration.
    pub result: &'a IterationResult,
    /// Added to the capsule's finding (e.g. the failure's signature).
    pub note: Option<String>,
}

/// Shrinks each case with at most `budget` tries and records the minimal case in `results`
/// (`shrunk`): its capsule, replay command and files. Returns, per case, the capsule written
/// (`None` when the case could not be shrunk: timing-dependent, or interrupted).
pub(super) fn shrink_failures(
    plan: &RunPlan,
    cases: &[ShrinkCase<'_>],
    budget: usize,
    outputs: &ShrinkOutputs<'_>,
    results: &mut RunResults,
    control: &RunControl,
) -> anyhow::Result<Vec<Option<PathBuf>>> {
    let work_root = tempfile::Builder::new()
        .prefix("resilience-shrink-")
        .tempdir_in(crate::engine::work_dir())?;
    let mut written = Vec::new();
    for case in cases {
        written.push(None);
        let name = case.result.scenario.as_str();
        let Some(scenario) = plan.scenarios.iter().find(|s| s.name == name) else {
            continue;
        };
        if control.is_interrupted() {
            continue;
        }
        let iteration = case.result.iteration;
        let job = plan.job(scenario, iteration, work_root.path());
        let Some(mut shrunk) = shrink_failure(
            &plan.worker_exe,
            &job,
            case.result,
            budget,
            work_root.path(),
            control,
        ) else {
            continue;
        };
        eprintln!(
            "shrunk {name}#{iteration}: {} -> {} operations in {} tries ({})",
            shrunk.case.operations_before,
            shrunk.case.operations,
            shrunk.case.tries,
            shrunk.case.failure.name
        );
        keep_minimal_files(
            plan,
            &mut shrunk,
            outputs.out,
            &format!("{name}-{iteration}"),
            control,
        );
        let dir = outputs
            .capsules
            .map_or_else(|| outputs.out.join("capsules"), Path::to_owned);
        let path = write_capsule(
            &dir,
            &CapsuleSource {
                scenario: &frozen(scenario, &shrunk)?,
                iteration,
                base_seed: plan.base_seed,
                seed: shrunk.job.seed,
                operations: shrunk.job.plan.clone(),
                digest: shrunk.case.trace_digest.clone(),
                finding: match &case.note {
                    Some(note) => format!("{} failed. {note}", shrunk.failing.join(", ")),
                    None => format!("{} failed.", shrunk.failing.join(", ")),
                },
            },
        )?;
        eprintln!("capsule: {}", path.display());
        *written.last_mut().expect("pushed above") = Some(path.clone());
        shrunk.case.replay = Some(format!("resilience replay {}", path.display()));
        shrunk.case.capsule = Some(relative_to(&path, outputs.out).display().to_string());
        if let Some(it) = results
            .iterations
            .iter_mut()
            .find(|i| i.scenario == name && i.iteration == iteration)
        {
            it.shrunk = Some(shrunk.case);
        }
    }
    Ok(written)
}

/// The scenario a capsule freezes: with a planted bug, the checks the minimal case fails are
/// the expected failures (the capsule proves the bug is still caught).
fn frozen(scenario: &Scenario, shrunk: &Shrunk) -> anyhow::Result<Scenario> {
    let mut frozen = scenario.clone();
    if frozen.target.mutant.is_some() {
        frozen.expected_failures = expected_failures(&scenario.expected_failures, &shrunk.failing)?;
    }
    Ok(frozen)
}

/// A capsule's expected failures. A scenario that already lists some failed when its
/// failures differed from that list (the `expected_failures` verdict): the capsule keeps the
/// list, so it fails the same way. Otherwise the checks that failed become the list.
fn expected_failures(listed: &[CheckName], failing: &[String]) -> anyhow::Result<Vec<CheckName>> {
    if !listed.is_empty() {
        return Ok(listed.to_vec());
    }
    failing
        .iter()
        .filter(|name| name.as_str() != EXPECTED_FAILURES)
        .map(|name| {
            serde_json::from_value(serde_json::Value::String(name.clone()))
                .map_err(|e| anyhow::anyhow!("failing check {name:?}: {e}"))
        })
        .collect()
}

/// Runs the minimal case once more in `<out>/failures/<case>-minimal/` and keeps its files
/// there: the candidates' own directories were temporary. Its failure detail then names
/// files that exist (relative to `out`). Left as shrinking found it when the re-run does
/// not fail the same way (a timing-dependent case) or its directory cannot be made.
fn keep_minimal_files(
    plan: &RunPlan,
    shrunk: &mut Shrunk,
    out: &Path,
    case: &str,
    control: &RunControl,
) {
    let relative = PathBuf::from("failures").join(format!("{case}-minimal"));
    let dir = out.join(&relative);
    if std::fs::create_dir_all(&dir).is_err() {
        return;
    }
    let mut job = shrunk.job.clone();
    job.db_path = dir.join("ledger.db");
    job.vault_dir = dir.join("vault");
    let rerun = run_iteration(&plan.worker_exe, &job, &dir, control);
    let same = rerun.result.trace_digest == shrunk.case.trace_digest;
    match rerun
        .result
        .checks
        .iter()
        .find(|c| c.name == shrunk.case.failure.name && !c.passed)
    {
        Some(failure) if same => {
            let mut failure = failure.clone();
            failure.detail = failure
                .detail
                .replace(&dir.display().to_string(), &relative.display().to_string());
            shrunk.case.failure = failure;
            shrunk.case.files = Some(format!("{}/", relative.display()));
        }
        _ => {
            let _ = std::fs::remove_dir_all(&dir);
        }
    }
}

/// `path` relative to `base` when it is inside it, else `path` itself.
fn relative_to(path: &Path, base: &Path) -> PathBuf {
    path.strip_prefix(base)
        .map_or_else(|_| path.to_owned(), Path::to_owned)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_planted_bug_capsule_expects_the_checks_that_failed() {
        let failing = vec!["integrity".to_owned(), "recovery_complete".to_owned()];
        assert_eq!(
            expected_failures(&[], &failing).unwrap(),
            vec![CheckName::Integrity, CheckName::RecoveryComplete]
        );
    }

    #[test]
    fn a_capsule_of_a_capsule_keeps_its_expected_failures() {
        let failing = vec![EXPECTED_FAILURES.to_owned()];
        assert_eq!(
            expected_failures(&[CheckName::RecoveryComplete], &failing).unwrap(),
            vec![CheckName::RecoveryComplete]
        );
    }

    #[test]
    fn the_expected_failures_verdict_is_not_a_check_to_expect() {
        let failing = vec!["integrity".to_owned(), EXPECTED_FAILURES.to_owned()];
        assert_eq!(
            expected_failures(&[], &failing).unwrap(),
            vec![CheckName::Integrity]
        );
    }
}
