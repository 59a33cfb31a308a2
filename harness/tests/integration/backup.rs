//! The `backup/` family: green on the real ledger, and each backup mutant caught by it.

use crate::support::{results, run};

/// Runs the backup family with `extra` arguments; returns the exit code and the failing checks.
fn run_family(extra: &[&str]) -> (Option<i32>, Vec<String>) {
    let dir = tempfile::tempdir().expect("tempdir");
    let out = dir.path().to_str().expect("utf-8").to_owned();
    let mut args = vec![
        "run",
        "--filter",
        "backup",
        "--seed",
        "10",
        "--iterations",
        "2",
        "--shrink-budget",
        "0",
        "--out",
        &out,
    ];
    args.extend_from_slice(extra);
    let output = run(&args);
    let failing = results(dir.path())
        .iterations
        .iter()
        .flat_map(|i| i.checks.iter().filter(|c| !c.passed))
        .map(|c| c.name.clone())
        .collect();
    (output.status.code(), failing)
}

#[test]
fn the_backup_family_is_green_on_the_real_ledger() {
    let (code, failing) = run_family(&[]);
    assert_eq!(code, Some(0), "failing checks: {failing:?}");
}

#[test]
fn backup_verified_unchecked_is_caught() {
    let (code, failing) = run_family(&["--set", "target.mutant=backup-verified-unchecked"]);
    assert_eq!(code, Some(1));
    assert!(
        failing.iter().any(|c| c == "backups_restorable")
            && failing.iter().any(|c| c == "fault_response"),
        "{failing:?}"
    );
}

#[test]
fn prune_ignores_backup_is_caught() {
    let (code, failing) = run_family(&["--set", "target.mutant=prune-ignores-backup"]);
    assert_eq!(code, Some(1));
    assert!(failing.iter().any(|c| c == "fault_response"), "{failing:?}");
}
