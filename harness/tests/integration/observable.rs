//! `faults_observable`: green on the real ledger, red under each planted bug of what the ledger
//! tells: on a disk-error scenario (every error that reached a caller is in its `errors_log`;
//! `error-never-logged`), and on fail points with backups (health carries the backup
//! escalation and sees verified backups; `health-ignores-backup-failures`,
//! `health-reads-stale-backup-key`); on a killed writer (one recovery reported per unclean
//! shutdown, none after a clean close, a capacity forecast that follows growth;
//! `recovery-reported-every-open`, `capacity-forecast-frozen`); under memory pressure (cache
//! shrinks counted as seen; `shrink-counted-every-poll`).

use crate::support::{results, run};

/// Runs `eio-write-persistent` with `extra` arguments; returns the exit code and the
/// `faults_observable` verdicts (passed, detail).
fn run_scenario(extra: &[&str]) -> (Option<i32>, Vec<(bool, String)>) {
    run_named("eio-write-persistent", "5", "3", extra)
}

/// Runs `scenario` at `seed` for `iterations`; the exit code and the `faults_observable`
/// verdicts (passed, detail).
fn run_named(
    scenario: &str,
    seed: &str,
    iterations: &str,
    extra: &[&str],
) -> (Option<i32>, Vec<(bool, String)>) {
    let dir = tempfile::tempdir().expect("tempdir");
    let out = dir.path().to_str().expect("utf-8").to_owned();
    let mut args = vec![
        "run",
        "--filter",
        scenario,
        "--seed",
        seed,
        "--iterations",
        iterations,
        "--shrink-budget",
        "0",
        "--out",
        &out,
    ];
    args.extend_from_slice(extra);
    let output = run(&args);
    let results = results(dir.path());
    let verdicts = results
        .iterations
        .iter()
        .flat_map(|i| i.checks.iter().filter(|c| c.name == "faults_observable"))
        .map(|c| (c.passed, c.detail.clone()))
        .collect();
    (output.status.code(), verdicts)
}

#[test]
fn every_error_that_reached_a_caller_is_logged_by_the_real_ledger() {
    let (code, verdicts) = run_scenario(&[]);
    assert_eq!(code, Some(0), "{verdicts:?}");
    assert_eq!(verdicts.len(), 3, "judged in every iteration");
    assert!(verdicts.iter().all(|(passed, _)| *passed), "{verdicts:?}");
}

#[test]
fn error_never_logged_is_caught() {
    let (code, verdicts) = run_scenario(&["--set", "target.mutant=error-never-logged"]);
    assert_eq!(code, Some(1), "{verdicts:?}");
    assert!(
        verdicts.iter().any(|(passed, detail)| !passed
            && detail.contains("reach a caller before a later acknowledged write")),
        "{verdicts:?}"
    );
}

/// `seeded-actions` (fail points, backups among the operations) at seed 1, 6 iterations.
fn run_backups(extra: &[&str]) -> (Option<i32>, Vec<(bool, String)>) {
    run_named("seeded-actions", "1", "6", extra)
}

#[test]
fn health_carries_the_backup_escalation_of_the_real_ledger() {
    let (code, verdicts) = run_backups(&[]);
    assert_eq!(code, Some(0), "{verdicts:?}");
    assert_eq!(verdicts.len(), 6, "judged in every iteration");
}

/// `backup-verify-fails` (every backup fails before its verification) at seed 1, 4 iterations.
fn run_failing_backups(extra: &[&str]) -> (Option<i32>, Vec<(bool, String)>) {
    run_named("backup-verify-fails", "1", "4", extra)
}

#[test]
fn health_shows_the_escalation_of_failing_backups_on_the_real_ledger() {
    let (code, verdicts) = run_failing_backups(&[]);
    assert_eq!(code, Some(0), "{verdicts:?}");
    assert_eq!(verdicts.len(), 4, "judged in every iteration");
}

#[test]
fn health_ignores_backup_failures_is_caught_in_every_iteration() {
    let (code, verdicts) =
        run_failing_backups(&["--set", "target.mutant=health-ignores-backup-failures"]);
    assert_eq!(code, Some(1), "{verdicts:?}");
    assert_eq!(verdicts.len(), 4, "judged in every iteration");
    assert!(
        verdicts
            .iter()
            .all(|(passed, detail)| !passed && detail.contains("must show in health as")),
        "{verdicts:?}"
    );
}

#[test]
fn health_reads_stale_backup_key_is_caught() {
    let (code, verdicts) = run_backups(&["--set", "target.mutant=health-reads-stale-backup-key"]);
    assert_eq!(code, Some(1), "{verdicts:?}");
    assert!(
        verdicts.iter().any(|(passed, detail)| !passed
            && detail.contains("the trace has a verified backup, health says")),
        "{verdicts:?}"
    );
}

/// `lock-busy-no-timeout` (every lock busy for two operations, no busy handler: each call is
/// retried until its attempts run out) at seed 10, 2 iterations.
fn run_retried(extra: &[&str]) -> (Option<i32>, Vec<(bool, String)>) {
    run_named("lock-busy-no-timeout", "10", "2", extra)
}

#[test]
fn the_real_ledger_counts_every_retry_the_drive_saw() {
    let (code, verdicts) = run_retried(&[]);
    assert_eq!(code, Some(0), "{verdicts:?}");
    assert_eq!(verdicts.len(), 2, "judged in every iteration");
}

#[test]
fn retries_not_counted_is_caught() {
    let (code, verdicts) = run_retried(&["--set", "target.mutant=retries-not-counted"]);
    assert_eq!(code, Some(1), "{verdicts:?}");
    assert!(
        verdicts.iter().all(|(passed, detail)| !passed
            && detail.contains("the drive saw the ledger retry 5 time(s), its metrics count 0")),
        "{verdicts:?}"
    );
}

/// The figures of every iteration of `scenario` at seed 10, 2 iterations.
fn figures(scenario: &str) -> Vec<std::collections::BTreeMap<String, f64>> {
    let dir = tempfile::tempdir().expect("tempdir");
    let out = dir.path().to_str().expect("utf-8").to_owned();
    let output = run(&[
        "run",
        "--filter",
        scenario,
        "--seed",
        "10",
        "--iterations",
        "2",
        "--shrink-budget",
        "0",
        "--out",
        &out,
    ]);
    assert_eq!(output.status.code(), Some(0), "{scenario} passes");
    results(dir.path())
        .iterations
        .into_iter()
        .map(|i| i.figures)
        .collect()
}

#[test]
fn busy_waits_equal_the_locks_the_vfs_answered_busy() {
    for figures in figures("lock-busy-sprinkled") {
        assert!(figures["busy_answers"] >= 10.0, "{figures:?}");
        assert_eq!(
            figures["busy_handler_calls"], figures["busy_answers"],
            "{figures:?}"
        );
    }
}

/// `latency-after-maintain` (every WAL sync waits 80 ms once maintenance has folded the
/// baselines) at seed 10, 2 iterations.
fn run_slowed(extra: &[&str]) -> (Option<i32>, Vec<(bool, String)>) {
    run_named("latency-after-maintain", "10", "2", extra)
}

#[test]
fn injected_latency_fires_the_real_ledgers_regression_alert() {
    let (code, verdicts) = run_slowed(&[]);
    assert_eq!(code, Some(0), "{verdicts:?}");
    assert_eq!(verdicts.len(), 2, "judged in every iteration");
}

#[test]
fn regression_never_fires_is_caught() {
    let (code, verdicts) = run_slowed(&["--set", "target.mutant=regression-never-fires"]);
    assert_eq!(code, Some(1), "{verdicts:?}");
    assert_eq!(verdicts.len(), 2, "judged in every iteration");
    assert!(
        verdicts.iter().any(|(passed, detail)| !passed
            && detail.contains("were delayed 80 ms")
            && detail.contains("health raised no regression alert")),
        "{verdicts:?}"
    );
}

/// The exit code, the `faults_observable` verdicts and the figures of each iteration.
type KilledRun = (
    Option<i32>,
    Vec<(bool, String)>,
    Vec<std::collections::BTreeMap<String, f64>>,
);

/// `kill-writer` (`kill -9` of the writer at a seeded operation) at seed 5, 3 iterations.
fn run_killed(extra: &[&str]) -> KilledRun {
    let dir = tempfile::tempdir().expect("tempdir");
    let out = dir.path().to_str().expect("utf-8").to_owned();
    let mut args = vec![
        "run",
        "--filter",
        "kill-writer",
        "--seed",
        "5",
        "--iterations",
        "3",
        "--shrink-budget",
        "0",
        "--out",
        &out,
    ];
    args.extend_from_slice(extra);
    let output = run(&args);
    let results = results(dir.path());
    let verdicts = results
        .iterations
        .iter()
        .flat_map(|i| i.checks.iter().filter(|c| c.name == "faults_observable"))
        .map(|c| (c.passed, c.detail.clone()))
        .collect();
    let figures = results.iterations.into_iter().map(|i| i.figures).collect();
    (output.status.code(), verdicts, figures)
}

#[test]
fn the_real_ledger_reports_each_recovery_once_and_a_forecast_that_follows_growth() {
    let (code, verdicts, figures) = run_killed(&[]);
    assert_eq!(code, Some(0), "{verdicts:?}");
    assert_eq!(verdicts.len(), 3, "judged in every iteration");
    assert!(
        figures
            .iter()
            .any(|f| f.get("recoveries_at_reopen") == Some(&1.0)),
        "a kill left a WAL to recover from in some iteration: {figures:?}"
    );
}

#[test]
fn recovery_reported_every_open_is_caught_in_every_iteration() {
    let (code, verdicts, _) = run_killed(&["--set", "target.mutant=recovery-reported-every-open"]);
    assert_eq!(code, Some(1), "{verdicts:?}");
    assert_eq!(verdicts.len(), 3, "judged in every iteration");
    assert!(
        verdicts.iter().all(|(passed, detail)| !passed
            && detail.contains("after a clean close the next open reported 1 recovery(ies)")),
        "{verdicts:?}"
    );
}

#[test]
fn capacity_forecast_frozen_is_caught_in_every_iteration() {
    let (code, verdicts, _) = run_killed(&["--set", "target.mutant=capacity-forecast-frozen"]);
    assert_eq!(code, Some(1), "{verdicts:?}");
    assert_eq!(verdicts.len(), 3, "judged in every iteration");
    assert!(
        verdicts
            .iter()
            .all(|(passed, detail)| !passed && detail.contains("capacity forecast after staging")),
        "{verdicts:?}"
    );
}

/// `pressure-cache-shrink` (memory pressure from operation 10 to 30) at seed 5, 2 iterations.
fn run_pressed(extra: &[&str]) -> (Option<i32>, Vec<(bool, String)>) {
    run_named("pressure-cache-shrink", "5", "2", extra)
}

#[test]
fn the_real_ledger_counts_each_cache_shrink_under_pressure() {
    let (code, verdicts) = run_pressed(&[]);
    assert_eq!(code, Some(0), "{verdicts:?}");
    assert_eq!(verdicts.len(), 2, "judged in every iteration");
}

#[test]
fn shrink_counted_every_poll_is_caught_in_every_iteration() {
    let (code, verdicts) = run_pressed(&["--set", "target.mutant=shrink-counted-every-poll"]);
    assert_eq!(code, Some(1), "{verdicts:?}");
    assert_eq!(verdicts.len(), 2, "judged in every iteration");
    assert!(
        verdicts.iter().all(|(passed, detail)| !passed
            && detail.contains("the drive saw 1 cache shrink(s) under memory pressure")),
        "{verdicts:?}"
    );
}
