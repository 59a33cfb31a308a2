//! Power loss through the real binary: the self-test controls of issue 3 (configurations SQLite
//! documents as unsafe must be caught) and `--exhaustive`.

use std::collections::BTreeMap;

use super::support::{results, run, scenarios_dir, stderr};

/// What a run reported: exit code, failures per check, lost writes, crash states per iteration.
type Outcome = (Option<i32>, BTreeMap<String, u64>, u64, Vec<Option<u64>>);

/// Runs `filter` with extra arguments.
fn run_power_loss(filter: &str, extra: &[&str]) -> Outcome {
    let dir = scenarios_dir();
    let out = tempfile::tempdir().unwrap();
    let mut args = vec![
        "run",
        "--scenarios",
        dir.to_str().unwrap(),
        "--filter",
        filter,
        "--seed",
        "1",
        "--jobs",
        "2",
        "--out",
        out.path().to_str().unwrap(),
    ];
    args.extend_from_slice(extra);
    let output = run(&args);
    assert!(
        matches!(output.status.code(), Some(0 | 1)),
        "{}",
        stderr(&output)
    );
    let results = results(out.path());
    assert_eq!(results.summary.errors, 0, "{}", stderr(&output));
    let mut failures = BTreeMap::new();
    for iteration in &results.iterations {
        for check in iteration.checks.iter().filter(|c| !c.passed) {
            *failures.entry(check.name.clone()).or_default() += 1;
        }
    }
    let states = results.iterations.iter().map(|i| i.crash_states).collect();
    (
        output.status.code(),
        failures,
        results.summary.lost_acknowledged,
        states,
    )
}

#[test]
fn synchronous_off_with_a_rollback_journal_is_caught() {
    let (code, failures, lost, states) = run_power_loss(
        "power-loss-delete-extra",
        &["--set", "target.synchronous=off", "--iterations", "8"],
    );
    assert_eq!(code, Some(1), "{failures:?}");
    assert!(
        states.iter().all(Option::is_none),
        "sampled runs record no crash states"
    );
    assert!(
        lost > 0 || failures.contains_key("integrity"),
        "synchronous=OFF must lose acknowledged writes or corrupt: {failures:?}"
    );
}

#[test]
fn wal_with_synchronous_normal_loses_acknowledged_writes_but_stays_a_consistent_prefix() {
    let (code, failures, lost, _) = run_power_loss(
        "power-loss-wal-normal",
        &[
            "--set",
            r#"checks=["integrity","acknowledged_durable","prefix_consistent"]"#,
            "--iterations",
            "12",
        ],
    );
    assert_eq!(code, Some(1), "{failures:?}");
    assert!(lost > 0, "{failures:?}");
    assert_eq!(
        failures.keys().collect::<Vec<_>>(),
        ["acknowledged_durable"],
        "only durability may fail under WAL + NORMAL"
    );
}

#[test]
fn exhaustive_checks_every_crash_point_in_one_worker_and_records_the_rate() {
    let (code, failures, lost, states) = run_power_loss(
        "power-loss-wal-full",
        &[
            "--exhaustive",
            "--iterations",
            "1",
            "--set",
            "workload.operations=4",
        ],
    );
    assert_eq!(code, Some(0), "{failures:?}");
    assert_eq!(lost, 0);
    let [Some(checked)] = states[..] else {
        panic!("one exhaustive iteration must record its crash states: {states:?}")
    };
    assert!(
        checked >= 40 && checked % 4 == 0,
        "every mutation of the open and 4 operations, times the scenario's 4 modes: {checked}"
    );
}

#[test]
fn exhaustive_catches_synchronous_off() {
    let (code, failures, _, _) = run_power_loss(
        "power-loss-delete-extra",
        &[
            "--exhaustive",
            "--iterations",
            "1",
            "--set",
            "target.synchronous=off",
            "--set",
            "workload.operations=4",
        ],
    );
    assert_eq!(code, Some(1), "{failures:?}");
    assert!(
        failures.contains_key("acknowledged_durable"),
        "{failures:?}"
    );
}

/// `power-loss-ledger-defaults` runs on whatever `journal_mode` and `synchronous` the ledger
/// ships as defaults: its file sets neither, so the scenario's target is `Tuning::default()`.
/// It holds on the real defaults, and the same scenario on the same seed with `synchronous`
/// at NORMAL (what a change of the default to NORMAL would run) fails `acknowledged_durable`.
#[test]
fn the_ledger_default_pragmas_are_judged_under_power_loss() {
    let file = scenarios_dir().join("power-loss/power-loss-ledger-defaults.toml");
    let text = std::fs::read_to_string(&file).unwrap();
    let table: toml::Table = toml::from_str(&text).unwrap();
    let target = table.get("target").and_then(toml::Value::as_table);
    for key in ["journal-mode", "synchronous"] {
        assert!(
            target.is_none_or(|t| !t.contains_key(key)),
            "{} must leave {key} at the ledger's default",
            file.display()
        );
    }
    let (code, failures, lost, _) =
        run_power_loss("power-loss-ledger-defaults", &["--iterations", "6"]);
    assert_eq!((code, lost), (Some(0), 0), "{failures:?}");
    let (code, failures, lost, _) = run_power_loss(
        "power-loss-ledger-defaults",
        &["--iterations", "6", "--set", "target.synchronous=normal"],
    );
    assert_eq!(code, Some(1), "{failures:?}");
    assert!(lost > 0, "{failures:?}");
    assert!(
        failures.contains_key("acknowledged_durable"),
        "{failures:?}"
    );
}

/// Per check of the one iteration: passed, and for a failure "failed in X of Y checked states"
/// (the quoted examples may differ: the recorded method quotes no state identical to one
/// already judged); with the crash states and the lost writes.
fn exhaustive_verdicts(extra: &[&str]) -> ExhaustiveVerdicts {
    exhaustive_run(extra).0
}

/// What [`exhaustive_verdicts`] compares.
type ExhaustiveVerdicts = (Vec<(String, bool, String)>, Option<u64>, u64);

/// [`exhaustive_verdicts`] and the iteration's figures.
fn exhaustive_run(extra: &[&str]) -> (ExhaustiveVerdicts, std::collections::BTreeMap<String, f64>) {
    let dir = scenarios_dir();
    let out = tempfile::tempdir().unwrap();
    let mut args = vec![
        "run",
        "--scenarios",
        dir.to_str().unwrap(),
        "--filter",
        "power-loss-wal-full",
        "--exhaustive",
        "--iterations",
        "1",
        "--seed",
        "1",
        "--shrink-budget",
        "0",
        "--out",
        out.path().to_str().unwrap(),
    ];
    args.extend_from_slice(extra);
    let output = run(&args);
    assert!(
        matches!(output.status.code(), Some(0 | 1)),
        "{}",
        stderr(&output)
    );
    let results = results(out.path());
    assert_eq!(results.summary.errors, 0, "{}", stderr(&output));
    let iteration = &results.iterations[0];
    let checks = iteration
        .checks
        .iter()
        .map(|c| {
            let counted = c.detail.split(':').next().unwrap_or_default().to_owned();
            (c.name.clone(), c.passed, counted)
        })
        .collect();
    (
        (checks, iteration.crash_states, iteration.lost_acknowledged),
        iteration.figures.clone(),
    )
}

/// The recorded write log (with its states identical as read judged once) gives the verdicts
/// of re-running the workload to every crash point: on the real ledger over the smoke workload
/// (40 operations), and on the power-loss mutants (12 operations): one that loses
/// acknowledged writes, one that splits an export's transaction, one that leaves files out of
/// their directory.
#[test]
fn crash_states_from_the_write_log_match_the_rerun_method() {
    for mutant in [
        "",
        "target.mutant=durability-off",
        "target.mutant=export-split-transaction",
        "target.mutant=no-dir-fsync",
    ] {
        let mut extra = Vec::new();
        if !mutant.is_empty() {
            extra.extend(["--set", "workload.operations=12", "--set", mutant]);
        }
        let (recorded, figures) = exhaustive_run(&extra);
        assert!(
            figures
                .get("crash_states_identical_as_read")
                .is_some_and(|n| *n > 0.0),
            "{mutant}: {figures:?}"
        );
        extra.extend(["--set", "fault.crash-states=rerun"]);
        let rerun = exhaustive_verdicts(&extra);
        assert_eq!(recorded, rerun, "{mutant}");
        assert!(recorded.1.is_some_and(|states| states > 40), "{recorded:?}");
        assert_eq!(
            recorded.0.iter().all(|(_, passed, _)| *passed),
            mutant.is_empty(),
            "{recorded:?}"
        );
    }
}
