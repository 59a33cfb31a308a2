//! The fail-point family and the held process faults, with real worker processes: the crash at
//! every fail point goes red on the planted `export-split-transaction` bug and stays green on
//! the real ledger; a kill held inside a backup lands there.

use std::path::Path;

use reports::IterationStatus;

use crate::support::{results, run, scenarios_dir, stderr};

/// Runs one scenario of the repository's tree for one iteration, with `extra` arguments.
fn run_one(name: &str, out: &Path, extra: &[&str]) -> reports::RunResults {
    let scenarios = scenarios_dir();
    let mut args = vec![
        "run",
        "--scenarios",
        scenarios.to_str().expect("utf-8 path"),
        "--filter",
        name,
        "--seed",
        "1",
        "--iterations",
        "1",
        "--jobs",
        "1",
        "--out",
        out.to_str().expect("utf-8 path"),
    ];
    args.extend_from_slice(extra);
    let output = run(&args);
    assert!(
        output.status.code().is_some(),
        "resilience ended by a signal: {}",
        stderr(&output)
    );
    results(out)
}

#[test]
fn the_crash_sweep_passes_on_the_real_ledger_and_crashes_at_every_point() {
    let out = tempfile::tempdir().expect("temp dir");
    let results = run_one("crash-at-each-point", out.path(), &[]);
    let iteration = &results.iterations[0];
    assert_eq!(
        iteration.status,
        IterationStatus::Passed,
        "{:?} {:?}",
        iteration.error,
        iteration.checks
    );
    let total = ledger::failpoint::every().len() as f64;
    assert_eq!(iteration.figures["failpoints_total"], total);
    assert_eq!(iteration.figures["failpoints_crashed"], total);
    assert_eq!(iteration.lost_acknowledged, 0);
}

#[test]
fn the_crash_sweep_catches_an_export_that_commits_its_audit_row_apart() {
    let out = tempfile::tempdir().expect("temp dir");
    let results = run_one(
        "crash-at-each-point",
        out.path(),
        &[
            "--set",
            "target.mutant=export-split-transaction",
            "--shrink-budget",
            "0",
        ],
    );
    let iteration = &results.iterations[0];
    assert_eq!(
        iteration.status,
        IterationStatus::Failed,
        "{:?}",
        iteration.error
    );
    let failed: Vec<&str> = iteration
        .checks
        .iter()
        .filter(|c| !c.passed)
        .map(|c| c.name.as_str())
        .collect();
    assert!(failed.contains(&"state_machine"), "{failed:?}");
    let state_machine = iteration
        .checks
        .iter()
        .find(|c| c.name == "state_machine")
        .expect("state_machine ran");
    assert!(
        state_machine
            .detail
            .contains("crash at ledger::export::before_commit"),
        "{}",
        state_machine.detail
    );
}

#[test]
fn a_kill_held_inside_a_backup_lands_there_and_loses_nothing() {
    let out = tempfile::tempdir().expect("temp dir");
    let results = run_one("kill-during-backup", out.path(), &[]);
    let iteration = &results.iterations[0];
    assert_eq!(
        iteration.status,
        IterationStatus::Passed,
        "{:?} {:?}",
        iteration.error,
        iteration.checks
    );
    assert_eq!(iteration.figures["signal_inside_operation"], 1.0);
    assert_eq!(iteration.lost_acknowledged, 0);
}

/// The checks of one scenario's first iteration that failed, under a planted bug.
fn failing_checks_under(scenario: &str, mutant: &str) -> Vec<String> {
    let out = tempfile::tempdir().expect("temp dir");
    let set = format!("target.mutant={mutant}");
    let results = run_one(
        scenario,
        out.path(),
        &["--set", &set, "--shrink-budget", "0"],
    );
    let iteration = &results.iterations[0];
    assert_eq!(
        iteration.status,
        IterationStatus::Failed,
        "{mutant} under {scenario}: {:?}",
        iteration.error
    );
    iteration
        .checks
        .iter()
        .filter(|c| !c.passed)
        .map(|c| c.name.clone())
        .collect()
}

#[test]
fn exported_once_catches_a_stray_temp_file_after_a_crash_in_the_vault_write() {
    let failed = failing_checks_under("crash-at-each-point", "vault-temp-per-attempt");
    assert_eq!(failed, ["exported_once"]);
}

#[test]
fn prune_backed_up_catches_a_backup_trusted_before_it_was_verified() {
    let failed = failing_checks_under("crash-at-each-point", "backup-verified-before-check");
    assert_eq!(failed, ["prune_backed_up"]);
}

#[test]
fn backups_restore_catches_a_restore_that_loses_a_capture() {
    let failed = failing_checks_under("kill-during-maintenance", "restore-drops-newest-capture");
    assert_eq!(failed, ["backups_restorable"]);
}
