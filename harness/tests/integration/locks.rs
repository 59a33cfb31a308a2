//! The lock-contention family: green on the real ledger, red (caught by `contention_absorbed`)
//! with the `no-begin-immediate` mutant and with retry disabled, and a hung writer is reported
//! and cleaned up with nothing left running.

use std::path::Path;

use reports::IterationStatus;

use crate::support::{resilience, results, scenarios_dir, stderr, write};

/// Runs `resilience run` over the repository's scenarios with `args`, its temporary files
/// under `tmp` (so the processes it starts can be found by their paths).
fn run_in(tmp: &Path, out: &Path, args: &[&str]) -> std::process::Output {
    let dir = scenarios_dir();
    resilience()
        .env("TMPDIR", tmp)
        .args(["run", "--scenarios", dir.to_str().unwrap(), "--seed", "1"])
        .args(["--out", out.to_str().unwrap()])
        .args(args)
        .output()
        .expect("resilience runs")
}

/// Processes whose command line or environment mentions `tmp` (workers of a run started by
/// [`run_in`]: exec'd ones name their job file, forked ones and their fork servers inherited
/// `TMPDIR`).
fn left_running(tmp: &Path) -> Vec<String> {
    let needle = tmp.to_str().unwrap();
    let mut found = Vec::new();
    for entry in std::fs::read_dir("/proc").unwrap().flatten() {
        let Ok(cmdline) = std::fs::read(entry.path().join("cmdline")) else {
            continue;
        };
        let environ = std::fs::read(entry.path().join("environ")).unwrap_or_default();
        let text = String::from_utf8_lossy(&cmdline).replace('\0', " ");
        if text.contains(needle) || String::from_utf8_lossy(&environ).contains(needle) {
            found.push(text);
        }
    }
    found
}

#[test]
fn the_family_holds_on_the_real_ledger_with_lock_wait_figures() {
    let (tmp, out) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    let output = run_in(
        tmp.path(),
        out.path(),
        &["--filter", "lock-contention", "--iterations", "1"],
    );
    assert_eq!(output.status.code(), Some(0), "{}", stderr(&output));
    let r = results(out.path());
    assert_eq!(r.iterations.len(), 5);
    assert_eq!(r.summary.lost_acknowledged, 0);
    for it in &r.iterations {
        assert_eq!(it.checks[0].name, "contention_absorbed", "{}", it.scenario);
        for figure in [
            "lock_wait_p50_us",
            "lock_wait_p95_us",
            "lock_wait_p99_us",
            "retries",
        ] {
            assert!(it.figures.contains_key(figure), "{}: {figure}", it.scenario);
        }
    }
    let by_name = |name: &str| r.iterations.iter().find(|i| i.scenario == name).unwrap();
    let stopped = by_name("lock-holder-stopped");
    assert!(
        stopped.figures["retries"] > 0.0,
        "retries absorbed the stop"
    );
    assert!(stopped.figures["holder_held_ms"] >= 400.0);
    let past = by_name("lock-holder-stopped-past-budget");
    assert!(
        past.figures["lock_errors_surfaced"] > 0.0,
        "past the budget writers gave up, cleanly"
    );
    let reader = by_name("lock-long-reader-checkpoint");
    assert!(
        reader.figures["checkpoints_blocked"] > 0.0,
        "the reader pinned the WAL"
    );
    assert!(
        left_running(tmp.path()).is_empty(),
        "{:?}",
        left_running(tmp.path())
    );
}

#[test]
fn no_begin_immediate_is_caught_by_contention_absorbed() {
    let (tmp, out) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    let output = run_in(
        tmp.path(),
        out.path(),
        &[
            "--filter",
            "lock-writer-processes,lock-writer-threads,lock-holder-stopped",
            "--iterations",
            "1",
            "--set",
            "target.mutant=no-begin-immediate",
        ],
    );
    assert_eq!(output.status.code(), Some(1), "{}", stderr(&output));
    let r = results(out.path());
    assert_eq!(r.iterations.len(), 3);
    for it in &r.iterations {
        assert_eq!(it.status, IterationStatus::Failed, "{}", it.scenario);
        let failed = it.first_failure().expect("a check failed");
        assert_eq!(failed.name, "contention_absorbed", "{}", it.scenario);
        assert!(failed.detail.contains("lock_timeout"), "{}", failed.detail);
    }
    assert_eq!(
        r.summary.lost_acknowledged, 0,
        "busy errors, not lost writes"
    );
}

#[test]
fn disabling_retry_alone_fails_the_stopped_holder() {
    let (tmp, out) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    let output = run_in(
        tmp.path(),
        out.path(),
        &[
            "--filter",
            "lock-holder-stopped",
            "--iterations",
            "1",
            "--set",
            "target.retry.max-attempts=1",
        ],
    );
    assert_eq!(output.status.code(), Some(1), "{}", stderr(&output));
    let r = results(out.path());
    let it = &r.iterations[0];
    let failed = it.first_failure().expect("a check failed");
    assert_eq!(failed.name, "contention_absorbed");
    assert!(
        failed.detail.contains("begin transaction"),
        "{}",
        failed.detail
    );
    assert_eq!(it.figures["retries"], 0.0);
}

#[test]
fn a_writer_hung_behind_a_stopped_holder_is_reported_and_nothing_is_left_running() {
    let scenarios = tempfile::tempdir().unwrap();
    write(
        scenarios.path(),
        "lock-contention/hung.toml",
        r#"
name = "hung"
description = "a holder stopped past the writers' bound, behind a 60 s busy timeout"
checks = ["integrity", "acknowledged_durable", "no_partial"]

[target]
busy-timeout-ms = 60000

[workload]
operations = 10

[fault]
kind = "lock-contention"
writers = 2
stopped-holder = { stop-ms = 30000 }
writer-bound-ms = 1500
"#,
    );
    let (tmp, out) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    let output = resilience()
        .env("TMPDIR", tmp.path())
        .args(["run", "--scenarios", scenarios.path().to_str().unwrap()])
        .args(["--seed", "1", "--out", out.path().to_str().unwrap()])
        .output()
        .expect("resilience runs");
    assert_eq!(output.status.code(), Some(1), "{}", stderr(&output));
    let r = results(out.path());
    let it = &r.iterations[0];
    assert_eq!(it.status, IterationStatus::Failed, "{:?}", it.error);
    let failed = it.first_failure().expect("a check failed");
    assert_eq!(failed.name, "contention_absorbed");
    assert!(failed.detail.contains("hung"), "{}", failed.detail);
    assert!(failed.detail.contains("holder"), "{}", failed.detail);
    assert!(
        left_running(tmp.path()).is_empty(),
        "{:?}",
        left_running(tmp.path())
    );
}
