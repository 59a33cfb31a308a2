//! `faults_observable` on a disk-error scenario: green on the real ledger (every error that
//! reached a caller is in its `errors_log`), red under the `error-never-logged` mutant.

use crate::support::{results, run};

/// Runs `eio-write-persistent` with `extra` arguments; returns the exit code and the
/// `faults_observable` verdicts (passed, detail).
fn run_scenario(extra: &[&str]) -> (Option<i32>, Vec<(bool, String)>) {
    let dir = tempfile::tempdir().expect("tempdir");
    let out = dir.path().to_str().expect("utf-8").to_owned();
    let mut args = vec![
        "run",
        "--filter",
        "eio-write-persistent",
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
