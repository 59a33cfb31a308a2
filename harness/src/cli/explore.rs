//! `resilience explore`: the default set, then fresh seeds until the budget is spent; failures
//! grouped by signature, each new signature shrunk into a capsule candidate under
//! `<out>/candidates/`; results.json, junit.xml, report.html and job-summary.md.

use std::path::Path;
use std::time::{Duration, Instant};

use anyhow::Context;
use reports::explore::Signature;
use reports::html::HtmlReporter;
use reports::json::JsonReporter;
use reports::junit::JunitReporter;

use super::shrink::{ShrinkCase, ShrinkOutputs, shrink_failures};
use super::{ExploreArgs, UsageError, create_out_dir, load_registry, revision};
use crate::engine::signature::{CAPSULE_MARK, group, known_ids};
use crate::engine::{ExploreLimits, ExploreProgress, RunControl, RunPlan, explore as run_explore};

/// How often the in-progress results.json is rewritten during exploration.
const RESULTS_REWRITE: Duration = Duration::from_secs(30);
/// How often a progress line is printed.
const PROGRESS_EVERY: Duration = Duration::from_secs(10);
/// Where candidates go, under `--out`.
const CANDIDATES: &str = "candidates";
/// The job summary's file name, under `--out`.
pub const JOB_SUMMARY: &str = "job-summary.md";

pub(super) fn explore(args: &ExploreArgs) -> anyhow::Result<i32> {
    let scenarios_dir = args.scenarios.dir()?;
    let registry = load_registry(&args.scenarios)?;
    let scenarios = super::with_overrides(
        &args.scenarios,
        &super::select(&registry, args.filter.as_deref())?,
    )?;
    if args.max_iterations == Some(0) {
        return Err(UsageError("--max-iterations must be at least 1".into()).into());
    }
    let base_seed = args.seed.unwrap_or_else(rand::random);
    let jobs = args.jobs.unwrap_or_else(default_jobs);
    create_out_dir(&args.out)?;
    let mut plan = RunPlan::new(
        scenarios,
        base_seed,
        std::env::current_exe().context("cannot find the resilience binary to re-execute")?,
    );
    plan.jobs = jobs;
    plan.keep_failures_in = Some(args.out.join("failures"));
    plan.command = std::env::args().collect();
    plan.filter = args.filter.clone();
    plan.shard = args.shard;
    plan.revision = revision(&scenarios_dir);
    plan.replay_args = args.scenarios.replay_args();
    let limits = ExploreLimits {
        time_budget: args.time_budget,
        max_iterations: args.max_iterations,
    };
    eprintln!(
        "resilience explore: {} scenario(s), seed {base_seed}, {jobs} job(s){}, budget {}, outputs in {}",
        plan.scenarios.len(),
        plan.shard
            .map(|s| format!(", shard {s}"))
            .unwrap_or_default(),
        describe_limits(&limits),
        args.out.display()
    );
    let control = RunControl::new();
    crate::engine::install_stop_signals(&control)
        .context("cannot install the SIGINT and SIGTERM handlers")?;
    let mut json = JsonReporter::new(args.out.join("results.json")).rewrite_every(RESULTS_REWRITE);
    let mut junit = JunitReporter::new(args.out.join("junit.xml"));
    let mut html = HtmlReporter::new(args.out.join("report.html"), Vec::new());
    let mut last_line = Instant::now();
    let mut progress = |p: &ExploreProgress| {
        if p.rounds == 0 || last_line.elapsed() >= PROGRESS_EVERY {
            last_line = Instant::now();
            eprintln!(
                "explore: {} iterations in {}s ({:.1}/s), round {}, {} not passed, {} coverage keys",
                p.iterations,
                p.elapsed.as_secs(),
                p.iterations as f64 / p.elapsed.as_secs_f64().max(0.001),
                p.rounds,
                p.not_passed,
                p.coverage_keys
            );
        }
    };
    let explored = run_explore(
        &plan,
        limits,
        &mut [&mut json, &mut junit, &mut html],
        &control,
        &mut progress,
    )?;
    let mut results = json
        .results()
        .cloned()
        .context("the exploration recorded no results")?;

    let known = known_ids(&scenarios_dir.join("regressions"), args.history.as_deref())
        .context("cannot read the known signatures")?;
    let mut signatures = group(&explored.not_passed, &known);
    if args.shrink_budget > 0 {
        write_candidates(
            &plan,
            &explored.not_passed,
            &mut signatures,
            args,
            &mut results,
            &control,
        )?;
    }
    let mut stats = explored.stats;
    stats.signatures = signatures;
    let (new, known_count) = (stats.new_signatures(), stats.known_signatures());
    results.explore = Some(stats);
    reports::json::write_atomically(&args.out.join("results.json"), &results)
        .context("cannot write results.json")?;
    reports::write_file_atomically(
        &args.out.join("report.html"),
        reports::html::render(&results, &[]).as_bytes(),
    )
    .context("cannot write report.html")?;
    reports::write_file_atomically(
        &args.out.join(JOB_SUMMARY),
        reports::explore::job_summary(&results).as_bytes(),
    )
    .context("cannot write the job summary")?;
    if let Some(history) = &args.history {
        reports::explore::append_new_signatures(
            history,
            results.explore.as_ref().map_or(&[][..], |e| &e.signatures),
        )
        .with_context(|| format!("cannot append to {}", history.display()))?;
    }

    let summary = &explored.summary;
    let skipped: u64 = results.skipped.iter().map(|s| s.count).sum();
    eprintln!(
        "resilience explore: {} iterations ({} default set, {} fresh): {} passed, {} failed, {} errors; \
         {} lost acknowledged; {skipped} skipped; signatures: {new} new, {known_count} known",
        summary.iterations,
        results.explore.as_ref().map_or(0, |e| e.default_iterations),
        results.explore.as_ref().map_or(0, |e| e.fresh_iterations),
        summary.passed,
        summary.failed,
        summary.errors,
        summary.lost_acknowledged,
    );
    super::run::report_paths(&args.out);
    Ok(super::run::exit_code(
        "resilience explore",
        &control,
        summary,
    ))
}

fn describe_limits(limits: &ExploreLimits) -> String {
    match (limits.time_budget, limits.max_iterations) {
        (Some(t), Some(n)) => format!("{} or {n} iterations", humantime::format_duration(t)),
        (Some(t), None) => humantime::format_duration(t).to_string(),
        (None, Some(n)) => format!("{n} iterations"),
        (None, None) => "none".to_owned(),
    }
}

/// Shrinks the first failure of each new signature and writes it as a capsule candidate under
/// `<out>/candidates/`, carrying its signature id so that, once copied into
/// `scenarios/regressions/`, the signature counts as known.
fn write_candidates(
    plan: &RunPlan,
    not_passed: &[reports::IterationResult],
    signatures: &mut [Signature],
    args: &ExploreArgs,
    results: &mut reports::RunResults,
    control: &RunControl,
) -> anyhow::Result<()> {
    let mut cases = Vec::new();
    let mut of_case = Vec::new();
    for (index, sig) in signatures.iter().enumerate().filter(|(_, s)| !s.known) {
        let Some(first) = not_passed
            .iter()
            .find(|it| it.scenario == sig.scenario && it.iteration == sig.first_iteration)
        else {
            continue;
        };
        cases.push(ShrinkCase {
            result: first,
            note: Some(format!("{CAPSULE_MARK}{}.", sig.id)),
        });
        of_case.push(index);
    }
    let candidates_dir = args.out.join(CANDIDATES);
    let written = shrink_failures(
        plan,
        &cases,
        args.shrink_budget,
        &ShrinkOutputs {
            out: &args.out,
            capsules: Some(&candidates_dir),
        },
        results,
        control,
    )?;
    for (index, path) in of_case.into_iter().zip(written) {
        if let Some(path) = path {
            let sig = &mut signatures[index];
            sig.candidate = Some(
                Path::new(CANDIDATES)
                    .join(path.file_name().unwrap_or_default())
                    .display()
                    .to_string(),
            );
            sig.candidate_replay = Some(format!("resilience replay {}", path.display()));
        }
    }
    Ok(())
}

/// One more job than CPUs: some iterations wait on timers rather than run (a writer stopped
/// past a lock budget, injected latency, retry back-off, a kill's timer), and a night is a time
/// budget. Two shards of `ci/nightly-local.sh` on 2 CPUs kept them 90 % busy with 2 jobs each
/// and 98 % with 3.
fn default_jobs() -> usize {
    std::thread::available_parallelism().map_or(1, |n| n.get()) + 1
}
