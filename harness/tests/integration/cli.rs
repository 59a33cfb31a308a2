//! The command line as a user meets it: list, filters, bad files, overrides, exit codes.

use std::process::Stdio;

use super::support::{resilience, run, scenarios_dir, stderr, write};

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
    let err = stderr(&output);
    assert!(err.contains("did you mean: kill-writer"), "{err}");
    assert!(!err.contains("filter"), "{err}");
}

/// `resilience list | head -1`: the reader goes away before the list is written; the list
/// ends quietly with exit 0 instead of panicking on the broken pipe.
#[test]
fn list_into_a_closed_pipe_exits_quietly() {
    let dir = scenarios_dir();
    let mut child = resilience()
        .args(["list", "--all", "--scenarios", dir.to_str().unwrap()])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("resilience runs");
    drop(child.stdout.take());
    let output = child.wait_with_output().unwrap();
    let err = stderr(&output);
    assert!(
        !err.contains("panicked") && !err.contains("Broken pipe"),
        "{err}"
    );
    assert_eq!(output.status.code(), Some(0), "{err}");
}

#[test]
fn list_says_how_many_scenarios_it_hides_and_all_shows_them() {
    let dir = tempfile::tempdir().unwrap();
    let scenario = |name: &str, tags: &str| {
        format!(
            "name = \"{name}\"\ndescription = \"d\"\ntags = [{tags}]\nchecks = [\"integrity\"]\n"
        )
    };
    write(dir.path(), "a/shown.toml", &scenario("shown", "\"smoke\""));
    write(
        dir.path(),
        "a/gap.toml",
        &scenario("gap", "\"expected-fail\""),
    );
    write(
        dir.path(),
        "perf/slowpoke.toml",
        &scenario("slowpoke", "\"slow\""),
    );
    let scenarios = dir.path().to_str().unwrap();

    let output = run(&["list", "--scenarios", scenarios]);
    assert_eq!(output.status.code(), Some(0), "{}", stderr(&output));
    let text = String::from_utf8_lossy(&output.stdout);
    assert!(text.contains("shown") && !text.contains("gap") && !text.contains("slowpoke"));
    let err = stderr(&output);
    assert!(
        err.contains("2 more scenario(s) hidden")
            && err.contains("1 `slow`")
            && err.contains("1 `expected-fail`")
            && err.contains("list --all"),
        "{err}"
    );

    let output = run(&["list", "--all", "--scenarios", scenarios]);
    assert_eq!(output.status.code(), Some(0), "{}", stderr(&output));
    let text = String::from_utf8_lossy(&output.stdout);
    let gap = text
        .lines()
        .find(|l| l.starts_with("gap "))
        .expect("gap listed");
    assert!(gap.contains("expected-fail"), "{gap}");
    assert!(
        text.lines()
            .any(|l| l.starts_with("slowpoke ") && l.contains("slow"))
    );
    assert!(!stderr(&output).contains("hidden"), "{}", stderr(&output));
}

/// A value some scenarios refuse is an error only for the selected ones, and said once.
#[test]
fn a_bad_override_is_reported_once_and_only_for_the_selected_scenarios() {
    let dir = tempfile::tempdir().unwrap();
    let scenario = |name: &str| {
        format!(
            "name = \"{name}\"\ndescription = \"d\"\ntags = [\"smoke\"]\nchecks = [\"integrity\"]\n"
        )
    };
    for name in ["kill-one", "kill-two", "other"] {
        write(dir.path(), &format!("fam/{name}.toml"), &scenario(name));
    }
    let output = run(&[
        "run",
        "--scenarios",
        dir.path().to_str().unwrap(),
        "--filter",
        "kill-*",
        "--set",
        "target.synchronous=sometimes",
        "--out",
        dir.path().join("out").to_str().unwrap(),
    ]);
    assert_eq!(output.status.code(), Some(2));
    let err = stderr(&output);
    assert_eq!(err.matches("unknown variant").count(), 1, "{err}");
    assert!(
        err.contains("in 2 selected scenarios: kill-one, kill-two"),
        "{err}"
    );
    assert!(
        !err.contains("other"),
        "an unselected scenario is not named: {err}"
    );
}

#[test]
fn an_output_directory_that_cannot_be_created_is_bad_input() {
    let dir = tempfile::tempdir().unwrap();
    let blocker = dir.path().join("a-file");
    std::fs::write(&blocker, "not a directory").unwrap();
    let out = blocker.join("out");
    let scenarios = scenarios_dir();
    let output = run(&[
        "run",
        "--scenarios",
        scenarios.to_str().unwrap(),
        "--filter",
        "baseline-mixed-pipeline",
        "--out",
        out.to_str().unwrap(),
    ]);
    assert_eq!(output.status.code(), Some(2), "{}", stderr(&output));
    let err = stderr(&output);
    assert!(
        err.contains("cannot create output directory") && err.contains("--out"),
        "{err}"
    );
}

#[test]
fn replay_of_a_name_that_does_not_exist_speaks_of_the_scenario_not_a_filter() {
    let dir = scenarios_dir();
    let output = run(&[
        "replay",
        "--scenarios",
        dir.to_str().unwrap(),
        "nosuchscenario",
    ]);
    assert_eq!(output.status.code(), Some(2));
    let err = stderr(&output);
    assert!(
        err.contains("no scenario is named `nosuchscenario`"),
        "{err}"
    );
    assert!(!err.contains("filter"), "{err}");
}

/// Without `--scenarios` the binary finds `scenarios/` from where it is run (here a scratch
/// directory, not the checkout), and `RESILIENCE_SCENARIOS` names another; the binary holds no
/// path of the machine that built it.
#[test]
fn the_scenarios_directory_is_found_at_run_time() {
    let scenario = |name: &str| {
        format!("name = \"{name}\"\ndescription = \"d\"\ntags = []\nchecks = [\"integrity\"]\n")
    };
    let cwd = tempfile::tempdir().unwrap();
    write(
        cwd.path(),
        "scenarios/a/from-cwd.toml",
        &scenario("from-cwd"),
    );
    std::fs::create_dir_all(cwd.path().join("deeper/still")).unwrap();
    let other = tempfile::tempdir().unwrap();
    write(other.path(), "a/from-env.toml", &scenario("from-env"));

    let list_from = |dir: &std::path::Path, env: Option<&std::path::Path>| {
        let mut command = resilience();
        command.arg("list").current_dir(dir);
        command.env_remove("RESILIENCE_SCENARIOS");
        if let Some(env) = env {
            command.env("RESILIENCE_SCENARIOS", env);
        }
        let output = command.output().unwrap();
        assert!(output.status.success(), "{}", stderr(&output));
        String::from_utf8(output.stdout).unwrap()
    };
    assert!(list_from(&cwd.path().join("deeper/still"), None).contains("from-cwd"));
    let listed = list_from(cwd.path(), Some(other.path()));
    assert!(listed.contains("from-env") && !listed.contains("from-cwd"));

    let binary = std::fs::read(env!("CARGO_BIN_EXE_resilience")).unwrap();
    for built_in in [scenarios_dir(), scenarios_dir().canonicalize().unwrap()] {
        let built_in = built_in.to_str().unwrap().as_bytes();
        assert!(
            !binary.windows(built_in.len()).any(|w| w == built_in),
            "the binary embeds {}",
            String::from_utf8_lossy(built_in)
        );
    }
}
