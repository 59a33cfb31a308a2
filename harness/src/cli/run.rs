//! `resilience run`: the scenario set, in workers, with results, JUnit, HTML and history.

use std::path::Path;

use anyhow::Context;
use reports::Summary;
use reports::history::{self, HistoryEntry, TREND_RUNS};
use reports::html::HtmlReporter;
use reports::json::JsonReporter;
use reports::junit::JunitReporter;
use reports::progress::ProgressReporter;

use super::{
    RunArgs, UsageError, create_out_dir, exit_codes, load_registry, revision, select,
    with_overrides,
};
use crate::engine::{RunControl, RunPlan, run as run_plan};

pub(super) fn run(args: &RunArgs) -> anyhow::Result<i32> {
    let registry = load_registry(&args.scenarios)?;
    let mut scenarios =
        with_overrides(&args.scenarios, &select(&registry, args.filter.as_deref())?)?;
    if let Some(n) = args.iterations {
        if n == 0 {
            return Err(UsageError("--iterations must be at least 1".into()).into());
        }
        for s in &mut scenarios {
            s.iterations = n;
        }
    }
    if args.exhaustive {
        mark_exhaustive(&mut scenarios)?;
    }
    let base_seed = args.seed.unwrap_or_else(rand::random);
    let jobs = args
        .jobs
        .unwrap_or_else(|| std::thread::available_parallelism().map_or(1, |n| n.get()));
    create_out_dir(&args.out)?;
    let earlier = match &args.history {
        Some(dir) => history::read_last(dir, TREND_RUNS)
            .with_context(|| format!("cannot read the history in {}", dir.display()))?,
        None => Vec::new(),
    };
    crate::perf::regression::attach_history(&mut scenarios, &earlier);
    let plan = RunPlan {
        scenarios,
        base_seed,
        only_iteration: None,
        jobs,
        time_budget: args.time_budget,
        worker_exe: std::env::current_exe()
            .context("cannot find the resilience binary to re-execute")?,
        keep_failures_in: Some(args.out.join("failures")),
        command: std::env::args().collect(),
        filter: args.filter.clone(),
        shard: args.shard,
        revision: revision(&args.scenarios.dir()?),
        replay_args: args.scenarios.replay_args(),
    };
    eprintln!(
        "resilience: {} scenario(s), seed {base_seed}, {jobs} job(s){}, outputs in {}",
        plan.scenarios.len(),
        plan.shard
            .map(|s| format!(", shard {s}"))
            .unwrap_or_default(),
        args.out.display()
    );
    let control = RunControl::new();
    crate::engine::install_stop_signals(&control)
        .context("cannot install the SIGINT and SIGTERM handlers")?;
    let mut json = JsonReporter::new(args.out.join("results.json"));
    let mut junit = JunitReporter::new(args.out.join("junit.xml"));
    let trend_history = earlier.clone();
    let mut html = HtmlReporter::new(args.out.join("report.html"), earlier);
    let mut progress = ProgressReporter::new();
    let (summary, outcomes) = run_plan(
        &plan,
        &mut [&mut progress, &mut json, &mut junit, &mut html],
        &control,
    )?;
    let mut final_results = json.results().cloned();
    if summary.failed > 0
        && args.shrink_budget > 0
        && let Some(results) = &mut final_results
    {
        let started = std::time::Instant::now();
        super::shrink::shrink_failures(
            &plan,
            &super::shrink::first_failure_per_scenario(&outcomes),
            args.shrink_budget,
            &super::shrink::ShrinkOutputs {
                out: &args.out,
                capsules: args.capsules.as_deref(),
            },
            results,
            &control,
        )?;
        results.shrink_wall_time_ms = started.elapsed().as_millis() as u64;
        reports::json::write_atomically(&args.out.join("results.json"), results)
            .context("cannot write results.json")?;
        reports::write_file_atomically(
            &args.out.join("report.html"),
            reports::html::render(results, &trend_history).as_bytes(),
        )
        .context("cannot write report.html")?;
    }
    if let (Some(dir), Some(results)) = (&args.history, &final_results) {
        history::append(dir, &HistoryEntry::from_results(results))
            .with_context(|| format!("cannot append to the history in {}", dir.display()))?;
    }
    eprintln!(
        "resilience: {} iterations: {} passed, {} failed, {} errors; {} operations, {} acknowledged, \
         {} lost acknowledged ({} more lost where durability is not promised)",
        summary.iterations,
        summary.passed,
        summary.failed,
        summary.errors,
        summary.operations,
        summary.acknowledged,
        summary.lost_acknowledged,
        summary.lost_where_not_promised,
    );
    if let Some(results) = &final_results {
        if let Some(line) = super::repairs::line(results) {
            eprintln!("resilience: {line}");
        }
        for skipped in &results.skipped {
            eprintln!(
                "resilience: {} iteration(s) of {} skipped: {}",
                skipped.count, skipped.scenario, skipped.reason
            );
        }
    }
    report_paths(&args.out);
    Ok(exit_code("resilience", &control, &summary))
}

/// The exit code of a finished run: the signal's when one stopped it (said on stderr, after
/// `program`), else whether every check passed.
pub(super) fn exit_code(program: &str, control: &RunControl, summary: &Summary) -> i32 {
    if let Some(signal) = control.stopped_by() {
        eprintln!(
            "{program}: interrupted by {}; finished iterations are in the results",
            signal.name()
        );
        signal.exit_code()
    } else if summary.all_passed() {
        exit_codes::OK
    } else {
        exit_codes::CHECK_FAILED
    }
}

/// Tells where the outputs are.
pub(super) fn report_paths(out: &Path) {
    eprintln!(
        "resilience: {}, {}, {}",
        out.join("results.json").display(),
        out.join("junit.xml").display(),
        out.join("report.html").display()
    );
}

/// Least per-worker timeout of an exhaustive iteration, which checks hundreds of crash states.
const EXHAUSTIVE_TIMEOUT_SECS: u64 = 600;

/// `--exhaustive`: every selected power-loss scenario checks every crash point.
fn mark_exhaustive(scenarios: &mut [crate::scenario::Scenario]) -> anyhow::Result<()> {
    let mut marked = 0;
    for s in scenarios.iter_mut() {
        if let crate::families::FaultPlan::PowerLoss(power) = &mut s.fault {
            power.exhaustive = true;
            s.timeout_secs = s.timeout_secs.max(EXHAUSTIVE_TIMEOUT_SECS);
            marked += 1;
        }
    }
    if marked == 0 {
        return Err(super::UsageError(
            "--exhaustive applies to power-loss scenarios, and the selection has none; \
             add e.g. --filter power-loss"
                .into(),
        )
        .into());
    }
    Ok(())
}
