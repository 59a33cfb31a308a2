//! The command line as a user meets it: list, filters, bad files, overrides, exit codes.

use super::support::{run, scenarios_dir, stderr, write};

#[test]
fn list_shows_every_scenario_with_family_and_tags() {
    let dir = scenarios_dir();
    let output = run(&["list", "--scenarios", dir.to_str().unwrap()]);
    assert!(output.status.success(), "{}", stderr(&output));
    let text = String::from_utf8(output.stdout).unwrap();
    let line = text
        .lines()
        .find(|l| l.starts_with("kill-writer "))
        .expect("kill-writer listed");
    assert!(
        line.contains("process-crash") && line.contains("smoke"),
        "{line}"
    );
    assert!(
        text.lines()
            .any(|l| l.starts_with("baseline-mixed-pipeline ") && l.contains("baseline"))
    );
}

#[test]
fn a_filter_matching_nothing_exits_2_and_suggests_close_names() {
    let dir = scenarios_dir();
    let output = run(&[
        "run",
        "--scenarios",
        dir.to_str().unwrap(),
        "--filter",
        "proces-crash",
    ]);
    assert_eq!(output.status.code(), Some(2));
    let err = stderr(&output);
    assert!(
        err.contains("matches no scenario") && err.contains("process-crash"),
        "{err}"
    );
}

#[test]
fn a_typo_in_a_scenario_file_names_file_line_and_column() {
    let dir = tempfile::tempdir().unwrap();
    write(
        dir.path(),
        "baseline/typo.toml",
        "name = \"typo\"\ndescription = \"d\"\nchecks = [\"integrity\"]\n\n[target]\njournal_mode = \"wal\"\n",
    );
    let output = run(&["list", "--scenarios", dir.path().to_str().unwrap()]);
    assert_eq!(output.status.code(), Some(2));
    let err = stderr(&output);
    assert!(
        err.contains("baseline/typo.toml:6:1: unknown field `journal_mode`"),
        "{err}"
    );
    assert!(
        err.contains("journal-mode"),
        "the message lists the valid keys: {err}"
    );
}

#[test]
fn a_bad_override_is_refused_with_the_reason() {
    let dir = scenarios_dir();
    let output = run(&[
        "run",
        "--scenarios",
        dir.to_str().unwrap(),
        "--filter",
        "baseline-mixed-pipeline",
        "--set",
        "target.synchronous=sometimes",
    ]);
    assert_eq!(output.status.code(), Some(2));
    let err = stderr(&output);
    assert!(
        err.contains("--set target.synchronous=sometimes") && err.contains("unknown variant"),
        "{err}"
    );
}

#[test]
fn replay_of_an_unknown_scenario_exits_2_with_suggestions() {
    let dir = scenarios_dir();
    let output = run(&[
        "replay",
        "--scenarios",
        dir.to_str().unwrap(),
        "kill-writr",
        "--seed",
        "1",
    ]);
    assert_eq!(output.status.code(), Some(2));
    assert!(
        stderr(&output).contains("kill-writer"),
        "{}",
        stderr(&output)
    );
}
