//! The `clock/` family: green on the real ledger (ledger time never goes back), and the
//! `wall-clock-time` mutant (the ledger records the raw clock) caught by it.

use crate::support::{results, run};

/// Runs the clock family with `extra` arguments; returns the exit code, the failing checks and
/// their details.
fn run_family(extra: &[&str]) -> (Option<i32>, Vec<(String, String)>) {
    let dir = tempfile::tempdir().expect("tempdir");
    let out = dir.path().to_str().expect("utf-8").to_owned();
    let mut args = vec![
        "run",
        "--filter",
        "clock",
        "--seed",
        "15",
        "--iterations",
        "2",
        "--shrink-budget",
        "0",
        "--out",
        &out,
    ];
    args.extend_from_slice(extra);
    let output = run(&args);
    let results = results(dir.path());
    assert_eq!(
        results.iterations.len(),
        6,
        "three clock scenarios, two iterations each"
    );
    let failing = results
        .iterations
        .iter()
        .flat_map(|i| i.checks.iter().filter(|c| !c.passed))
        .map(|c| (c.name.clone(), c.detail.clone()))
        .collect();
    (output.status.code(), failing)
}

#[test]
fn the_clock_family_is_green_on_the_real_ledger() {
    let (code, failing) = run_family(&[]);
    assert_eq!(code, Some(0), "failing checks: {failing:?}");
}

#[test]
fn wall_clock_time_is_caught() {
    let (code, failing) = run_family(&["--set", "target.mutant=wall-clock-time"]);
    assert_eq!(code, Some(1), "{failing:?}");
    assert!(
        failing
            .iter()
            .any(|(name, detail)| name == "backups_restorable"
                && detail.contains("rotation deleted the newest verified backup")),
        "{failing:?}"
    );
}
