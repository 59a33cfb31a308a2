//! One self-test: [`SelftestPlan`] and [`run_selftest`], which fills the kill matrix.

use std::path::PathBuf;
use std::str::FromStr;

use ledger::mutants::{CATALOGUE, MutantSpec};
use reports::json::JsonReporter;
use reports::results::{IterationResult, IterationStatus, RunResults};
use reports::selftest::{KillMatrix, KillRow, KillVerdict};

use crate::engine::{RunControl, RunError, RunPlan, run};
use crate::scenario::{Filter, Override, Registry, Scenario};

/// What a self-test runs.
#[derive(Debug, Clone)]
pub struct SelftestPlan {
    /// Directory holding one folder per scenario family.
    pub scenarios_dir: PathBuf,
    /// Base seed of every run (fixed, so a self-test replays).
    pub base_seed: u64,
    /// Iterations per scenario for each mutant.
    pub mutant_iterations: u32,
    /// Iterations per scenario for the real ledger.
    pub real_iterations: u32,
    /// Only the real ledger's scenarios matching this filter (`None`: every family but
    /// `expected-fail`).
    pub real_filter: Option<String>,
    /// Iterations running at once.
    pub jobs: usize,
    /// The binary to re-execute as a worker.
    pub worker_exe: PathBuf,
    /// Output directory: each mutant's results under `mutants/`, the real run's `results.json`.
    pub out: PathBuf,
    /// Source revision, for the record.
    pub revision: String,
}

/// A self-test that could not be carried out.
#[derive(Debug, thiserror::Error)]
pub enum SelftestError {
    /// The scenarios could not be loaded.
    #[error("cannot load scenarios: {0}")]
    Registry(String),
    /// A run could not be carried out.
    #[error(transparent)]
    Run(#[from] RunError),
}

/// Runs every catalogued mutant against its families, then the real ledger; returns the real
/// run's results with the matrix in `selftest`.
///
/// # Errors
/// When scenarios cannot be loaded or a run cannot write its results.
pub fn run_selftest(
    plan: &SelftestPlan,
    control: &RunControl,
) -> Result<RunResults, SelftestError> {
    let plain = load(plan, &[])?;
    let mut matrix = KillMatrix::default();
    for spec in CATALOGUE {
        for family in spec.caught_by {
            let row = kill_row(plan, &plain, spec, family, control)?;
            eprintln!(
                "selftest: {:<38} {:<22} {}",
                spec.name,
                family,
                row.verdict.label()
            );
            matrix.rows.push(row);
        }
    }
    let mut scenarios = match &plan.real_filter {
        Some(expression) => select(&plain, expression),
        None => plain
            .scenarios()
            .iter()
            .filter(|s| !s.tags.iter().any(|t| t == crate::cli::EXPECTED_FAIL_TAG))
            .cloned()
            .collect(),
    };
    for s in &mut scenarios {
        s.iterations = s.iterations.min(plan.real_iterations);
    }
    let mut json = JsonReporter::new(plan.out.join("results.json"));
    let (_, outcomes) = run(
        &run_plan(plan, scenarios, Some("selftest: the real ledger".into())),
        &mut [&mut json],
        control,
    )?;
    matrix.real_iterations = outcomes.len() as u64;
    matrix.false_alarms = outcomes
        .iter()
        .filter(|o| o.result.status != IterationStatus::Passed)
        .map(|o| format!("{}#{}", o.result.scenario, o.result.iteration))
        .collect();
    let mut results = json
        .results()
        .cloned()
        .ok_or_else(|| SelftestError::Registry("the real run recorded nothing".into()))?;
    results.selftest = Some(matrix);
    Ok(results)
}

/// Loads the registry with `overrides`.
fn load(plan: &SelftestPlan, overrides: &[Override]) -> Result<Registry, SelftestError> {
    Registry::load(&plan.scenarios_dir, overrides)
        .map_err(|e| SelftestError::Registry(e.to_string()))
}

/// The scenarios `expression` selects (none when it matches nothing).
fn select(registry: &Registry, expression: &str) -> Vec<Scenario> {
    Filter::parse(expression)
        .and_then(|f| f.select(registry.scenarios()))
        .map(|v| v.into_iter().cloned().collect())
        .unwrap_or_default()
}

/// One mutant against one family.
fn kill_row(
    plan: &SelftestPlan,
    plain: &Registry,
    spec: &MutantSpec,
    family: &str,
    control: &RunControl,
) -> Result<KillRow, SelftestError> {
    let mut row = KillRow {
        mutant: spec.name.to_owned(),
        description: spec.description.to_owned(),
        family: family.to_owned(),
        verdict: KillVerdict::NoFamilyYet,
        first_failing_check: None,
        iterations: 0,
        failed: 0,
        replay: None,
    };
    if select(plain, family).is_empty() {
        return Ok(row);
    }
    if spec.mutant.is_none() {
        row.verdict = KillVerdict::NotBuilt;
        return Ok(row);
    }
    let set = format!("target.mutant={}", spec.name);
    let overrides = [Override::from_str(&set).map_err(|e| SelftestError::Registry(e.to_string()))?];
    let mut scenarios = select(&load(plan, &overrides)?, family);
    for s in &mut scenarios {
        s.iterations = s.iterations.min(plan.mutant_iterations);
    }
    let out = plan
        .out
        .join("mutants")
        .join(format!("{}--{family}", spec.name));
    let mut json = JsonReporter::new(out.join("results.json"));
    let mut run_plan = run_plan(plan, scenarios, Some(family.to_owned()));
    run_plan.keep_failures_in = None;
    run_plan.replay_args = vec!["--set".to_owned(), set.clone()];
    let (_, outcomes) = run(&run_plan, &mut [&mut json], control)?;
    let mut results: Vec<&IterationResult> = outcomes.iter().map(|o| &o.result).collect();
    results.sort_by(|a, b| (&a.scenario, a.iteration).cmp(&(&b.scenario, b.iteration)));
    row.iterations = results.len() as u64;
    row.failed = results
        .iter()
        .filter(|r| r.status == IterationStatus::Failed)
        .count() as u64;
    let first = results.iter().find(|r| r.status == IterationStatus::Failed);
    row.verdict = if first.is_some() {
        KillVerdict::Caught
    } else {
        KillVerdict::Missed
    };
    row.first_failing_check = first
        .and_then(|r| r.checks.iter().find(|c| !c.passed))
        .map(|c| c.name.clone());
    row.replay = first.map(|r| r.replay.clone());
    Ok(row)
}

/// A run plan over `scenarios` with the self-test's seed, jobs and worker.
fn run_plan(plan: &SelftestPlan, scenarios: Vec<Scenario>, filter: Option<String>) -> RunPlan {
    RunPlan {
        scenarios,
        base_seed: plan.base_seed,
        only_iteration: None,
        jobs: plan.jobs,
        time_budget: None,
        worker_exe: plan.worker_exe.clone(),
        keep_failures_in: Some(plan.out.join("failures")),
        command: std::env::args().collect(),
        filter,
        shard: None,
        revision: plan.revision.clone(),
        replay_args: Vec::new(),
    }
}
