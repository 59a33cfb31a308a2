//! After a run: shrink the first failing iteration of each scenario ([`shrink_failures`]) and,
//! with `--capsules DIR`, freeze each minimal case as a regression capsule.

use std::collections::BTreeSet;
use std::path::Path;

use reports::{IterationStatus, RunResults};

use crate::engine::IterationOutcome;
use crate::engine::shrink_run::shrink_failure;
use crate::engine::{RunControl, RunPlan};
use crate::scenario::capsule::{CapsuleSource, write_capsule};

/// Shrinks the first failing iteration of each scenario with at most `budget` tries, records
/// the minimal case in `results` (`shrunk`) and, when `capsules` is set, writes its capsule.
pub(super) fn shrink_failures(
    plan: &RunPlan,
    outcomes: &[IterationOutcome],
    budget: usize,
    capsules: Option<&Path>,
    results: &mut RunResults,
    control: &RunControl,
) -> anyhow::Result<()> {
    let work_root = tempfile::Builder::new()
        .prefix("resilience-shrink-")
        .tempdir()?;
    let mut failed: Vec<&IterationOutcome> = outcomes
        .iter()
        .filter(|o| o.result.status == IterationStatus::Failed)
        .collect();
    failed.sort_by(|a, b| {
        (&a.result.scenario, a.result.iteration).cmp(&(&b.result.scenario, b.result.iteration))
    });
    let mut done: BTreeSet<&str> = BTreeSet::new();
    for outcome in failed {
        let name = outcome.result.scenario.as_str();
        let Some(scenario) = plan.scenarios.iter().find(|s| s.name == name) else {
            continue;
        };
        if !done.insert(name) || control.is_interrupted() {
            continue;
        }
        let job = plan.job(scenario, outcome.result.iteration, work_root.path());
        let Some(mut shrunk) = shrink_failure(
            &plan.worker_exe,
            &job,
            &outcome.result,
            budget,
            work_root.path(),
            control,
        ) else {
            continue;
        };
        eprintln!(
            "shrunk {name}#{}: {} -> {} operations in {} tries ({})",
            outcome.result.iteration,
            shrunk.case.operations_before,
            shrunk.case.operations,
            shrunk.case.tries,
            shrunk.case.failure.name
        );
        if let Some(dir) = capsules {
            let mut frozen = scenario.clone();
            if frozen.target.mutant.is_some() {
                frozen.expected_failures = shrunk
                    .failing
                    .iter()
                    .map(|name| serde_json::from_value(serde_json::Value::String(name.clone())))
                    .collect::<Result<_, _>>()?;
            }
            let path = write_capsule(
                dir,
                &CapsuleSource {
                    scenario: &frozen,
                    iteration: outcome.result.iteration,
                    base_seed: plan.base_seed,
                    seed: shrunk.job.seed,
                    operations: shrunk.job.plan.clone(),
                    digest: shrunk.case.trace_digest.clone(),
                    finding: format!("{} failed.", shrunk.failing.join(", ")),
                },
            )?;
            eprintln!("capsule: {}", path.display());
            shrunk.case.capsule = Some(path.display().to_string());
        }
        if let Some(it) = results
            .iterations
            .iter_mut()
            .find(|i| i.scenario == name && i.iteration == outcome.result.iteration)
        {
            it.shrunk = Some(shrunk.case);
        }
    }
    Ok(())
}
