//! The golden test: what the harness does at fixed seeds, recorded before a behaviour-preserving
//! move and required unchanged after it.
//!
//! Deterministic scenarios: per iteration, the trace digest, each check's verdict,
//! `faults_injected`, `lost_acknowledged`, the figure names and `crash_states`. Scenarios whose
//! faults depend on timing: per scenario, the set of verdicts and of figure names over several
//! seeds. Perf scenarios are left out: their verdicts are ratios measured on a noisy machine
//! (the perf tests cover them). The runs go through the `resilience` binary, so the test holds
//! whatever the code's layout.
//!
//! After an intended change of behaviour, review the diff and accept it with
//! `cargo insta review` (or `INSTA_UPDATE=always`).

use std::collections::{BTreeMap, BTreeSet};
use std::fmt::Write as _;
use std::path::Path;

use harness::scenario::{Registry, Scenario};
use reports::{IterationResult, RunResults};

use super::support::{results, run, scenarios_dir};

/// The seed of the deterministic part.
const DETERMINISTIC_SEED: u64 = 7;
/// The seeds of the timing-dependent part.
const TIMING_SEEDS: [u64; 3] = [1, 2, 3];
/// Iterations per scenario.
const ITERATIONS: &str = "2";

fn scenarios() -> Vec<Scenario> {
    Registry::load(&scenarios_dir(), &[])
        .expect("scenarios load")
        .scenarios()
        .iter()
        .filter(|s| s.perf.is_none() && s.capsule.is_none())
        .cloned()
        .collect()
}

/// Runs the named scenarios at `seed` with [`ITERATIONS`] each and no shrinking.
fn run_named(names: &[&str], seed: u64, out: &Path) -> RunResults {
    let filter = names.join(",");
    let output = run(&[
        "run",
        "--filter",
        &filter,
        "--seed",
        &seed.to_string(),
        "--iterations",
        ITERATIONS,
        "--shrink-budget",
        "0",
        "--out",
        out.to_str().expect("utf-8 temp path"),
    ]);
    let code = output.status.code();
    assert!(
        matches!(code, Some(0 | 1)),
        "the run ended with {code:?}: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    results(out)
}

fn verdicts(iteration: &IterationResult) -> String {
    iteration
        .checks
        .iter()
        .map(|c| format!("{}={}", c.name, if c.passed { "pass" } else { "FAIL" }))
        .collect::<Vec<_>>()
        .join(" ")
}

fn figure_names(iteration: &IterationResult) -> String {
    iteration
        .figures
        .keys()
        .cloned()
        .collect::<Vec<_>>()
        .join(",")
}

fn deterministic_digest(results: &RunResults) -> String {
    let mut iterations: Vec<&IterationResult> = results.iterations.iter().collect();
    iterations.sort_by(|a, b| (&a.scenario, a.iteration).cmp(&(&b.scenario, b.iteration)));
    let mut text = String::new();
    for it in iterations {
        writeln!(
            text,
            "{} #{} {:?} digest={} faults={} lost={} crash_states={:?} figures=[{}]\n  {}",
            it.scenario,
            it.iteration,
            it.status,
            it.trace_digest,
            it.faults_injected,
            it.lost_acknowledged,
            it.crash_states,
            figure_names(it),
            verdicts(it)
        )
        .expect("write to a string");
    }
    text
}

/// Figures whose presence depends on where a kill lands in time, not on the code: a rotation
/// killed before, during or after its deletions (with work directories on tmpfs, none of the 24
/// rotations of seeds 1-3 were cut mid-way in this test's run at low load, 7 and 3 of 24 in a
/// run of that scenario alone). They are left out of the timing record.
const FIGURES_SET_BY_TIMING: &[&str] = &["killed_mid_rotation"];

#[derive(Default)]
struct SeenAcrossSeeds {
    verdicts: BTreeSet<String>,
    figures: BTreeSet<String>,
    statuses: BTreeSet<String>,
}

fn timing_digest(runs: &[RunResults]) -> String {
    let mut seen: BTreeMap<String, SeenAcrossSeeds> = BTreeMap::new();
    for results in runs {
        for it in &results.iterations {
            let entry = seen.entry(it.scenario.clone()).or_default();
            entry.statuses.insert(format!("{:?}", it.status));
            for check in &it.checks {
                let verdict = if check.passed { "pass" } else { "FAIL" };
                entry.verdicts.insert(format!("{}={verdict}", check.name));
            }
            entry.figures.extend(
                it.figures
                    .keys()
                    .filter(|name| !FIGURES_SET_BY_TIMING.contains(&name.as_str()))
                    .cloned(),
            );
        }
    }
    let mut text = String::new();
    for (scenario, seen) in seen {
        let join = |set: &BTreeSet<String>| set.iter().cloned().collect::<Vec<_>>().join(" ");
        writeln!(
            text,
            "{scenario} {}\n  checks: {}\n  figures: [{}]",
            join(&seen.statuses),
            join(&seen.verdicts),
            join(&seen.figures)
        )
        .expect("write to a string");
    }
    text
}

#[test]
fn deterministic_scenarios_match_the_golden_record() {
    let scenarios = scenarios();
    let names: Vec<&str> = scenarios
        .iter()
        .filter(|s| s.is_deterministic())
        .map(|s| s.name.as_str())
        .collect();
    assert!(
        names.len() >= 40,
        "only {} deterministic scenarios",
        names.len()
    );
    let out = tempfile::tempdir().expect("temp dir");
    let results = run_named(&names, DETERMINISTIC_SEED, out.path());
    insta::assert_snapshot!("deterministic", deterministic_digest(&results));
}

#[test]
fn timing_dependent_scenarios_match_the_golden_record() {
    let scenarios = scenarios();
    let names: Vec<&str> = scenarios
        .iter()
        .filter(|s| !s.is_deterministic())
        .map(|s| s.name.as_str())
        .collect();
    assert!(
        names.len() >= 10,
        "only {} timing-dependent scenarios",
        names.len()
    );
    let runs: Vec<RunResults> = TIMING_SEEDS
        .iter()
        .map(|&seed| {
            let out = tempfile::tempdir().expect("temp dir");
            run_named(&names, seed, out.path())
        })
        .collect();
    insta::assert_snapshot!("timing_dependent", timing_digest(&runs));
}
