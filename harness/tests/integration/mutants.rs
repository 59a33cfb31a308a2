//! Planted bugs of the data-safety mechanisms, each caught by the scenario named in its
//! catalogue entry (`caught_by`), with the real ledger green on the same scenario and seed.

use super::support::{results, run, scenarios_dir, stderr};

/// Runs `scenario` (seed 1, `iterations`) with `extra` arguments; the exit code and results.
fn run_scenario(scenario: &str, iterations: &str, extra: &[&str]) -> (i32, reports::RunResults) {
    let dir = scenarios_dir();
    let out = tempfile::tempdir().unwrap();
    let args = [
        &[
            "run",
            "--scenarios",
            dir.to_str().unwrap(),
            "--filter",
            scenario,
            "--iterations",
            iterations,
            "--seed",
            "1",
            "--shrink-budget",
            "0",
            "--out",
            out.path().to_str().unwrap(),
        ][..],
        extra,
    ]
    .concat();
    let output = run(&args);
    let code = output.status.code().unwrap_or(-1);
    assert!(code == 0 || code == 1, "{}", stderr(&output));
    (code, results(out.path()))
}

/// The real ledger passes `scenario`; with `mutant` planted some iteration fails `check`.
fn caught(mutant: &str, scenario: &str, iterations: &str, check: &str) {
    let (code, real) = run_scenario(scenario, iterations, &[]);
    assert_eq!(
        code, 0,
        "the real ledger fails {scenario}: {:?}",
        real.summary
    );
    let set = format!("target.mutant={mutant}");
    let (code, broken) = run_scenario(scenario, iterations, &["--set", &set]);
    assert_eq!(code, 1, "{mutant} survived {scenario}");
    let failed: Vec<&str> = broken
        .iterations
        .iter()
        .flat_map(|i| i.checks.iter().filter(|c| !c.passed))
        .map(|c| c.name.as_str())
        .collect();
    assert!(
        failed.contains(&check),
        "{mutant}: failing checks {failed:?}"
    );
}

#[test]
fn unverified_page_checksums_are_caught_by_bit_flips() {
    caught(
        "checksums-not-verified",
        "bit-flip-wal",
        "2",
        "fault_response",
    );
}

#[test]
fn a_cache_that_ignores_pressure_is_caught_by_pressure_cache_shrink() {
    caught(
        "cache-never-shrinks",
        "pressure-cache-shrink",
        "1",
        "fault_response",
    );
}

#[test]
fn ignoring_wal_damage_is_caught_by_corrupt_wal_frame() {
    caught(
        "wal-damage-ignored",
        "corrupt-wal-frame",
        "3",
        "corruption_accounted",
    );
}

#[test]
fn a_missing_directory_fsync_is_caught_by_power_loss_through_the_vault_model() {
    caught("no-dir-fsync", "power-loss-wal-full", "3", "state_machine");
}

#[test]
fn a_blind_retry_after_an_ambiguous_commit_is_caught_by_ambiguous_commit_journal() {
    caught(
        "blind-retry",
        "ambiguous-commit-journal",
        "4",
        "state_machine",
    );
}

#[test]
fn table_damage_filed_as_index_damage_is_caught_by_corrupt_table_page_archived() {
    caught(
        "table-damage-called-index",
        "corrupt-table-page-archived",
        "10",
        "corruption_accounted",
    );
}

#[test]
fn a_restore_that_skips_an_archive_segment_is_caught_by_corrupt_table_page_archived() {
    caught(
        "restore-skips-segment",
        "corrupt-table-page-archived",
        "10",
        "acknowledged_durable",
    );
}

#[test]
fn a_damaged_header_left_unrebuilt_is_caught_by_corrupt_header_archived() {
    caught(
        "header-damage-not-rebuilt",
        "corrupt-header-archived",
        "2",
        "integrity",
    );
}

#[test]
fn a_restore_from_an_older_backup_is_caught_by_corrupt_table_page_archive_restarted() {
    caught(
        "restore-from-older-backup",
        "corrupt-table-page-archive-restarted",
        "2",
        "acknowledged_durable",
    );
}

#[test]
fn an_index_repair_reading_every_page_unverified_is_caught_by_its_bit_flip_capsule() {
    caught(
        "repair-verification-off",
        "regression-bit-flip-main-db-538eed44",
        "1",
        "integrity",
    );
}
