//! The regression corpus (`scenarios/regressions/`): every capsule is in the smoke and default
//! runs, replays with its recorded digest, and a mutant capsule fails once its bug is gone.

use std::path::PathBuf;

use harness::scenario::Registry;

use crate::support::{run, scenarios_dir};

fn capsule_files() -> Vec<PathBuf> {
    let mut files: Vec<PathBuf> = std::fs::read_dir(scenarios_dir().join("regressions"))
        .expect("scenarios/regressions exists")
        .map(|e| e.expect("entry").path())
        .filter(|p| p.extension().is_some_and(|e| e == "toml"))
        .collect();
    files.sort();
    files
}

#[test]
fn the_corpus_runs_in_ci_smoke_and_default_runs() {
    let registry = Registry::load(&scenarios_dir(), &[]).expect("scenarios load");
    let capsules: Vec<_> = registry
        .scenarios()
        .iter()
        .filter(|s| s.family == "regressions")
        .collect();
    assert!(!capsules.is_empty(), "the regression corpus is empty");
    for s in capsules {
        assert!(s.capsule.is_some(), "{} is not a capsule", s.name);
        assert!(
            s.tags.iter().any(|t| t == "smoke"),
            "{} not in smoke",
            s.name
        );
        assert!(
            !s.tags.iter().any(|t| t == harness::cli::EXPECTED_FAIL_TAG),
            "{} is left out of the default run",
            s.name
        );
    }
    let ci = std::fs::read_to_string(scenarios_dir().join("../.ci/run")).expect(".ci/run");
    assert!(ci.contains("run --filter smoke"), "CI has no smoke run");
    assert!(ci.contains("selftest --quick"), "CI has no quick self-test");
}

#[test]
fn every_capsule_replays_with_its_digest() {
    for path in capsule_files() {
        let output = run(&["replay", path.to_str().expect("utf-8 path")]);
        let stdout = String::from_utf8_lossy(&output.stdout);
        assert!(
            output.status.success() && stdout.contains("same digest as the capsule"),
            "{}: {stdout}\n{}",
            path.display(),
            String::from_utf8_lossy(&output.stderr)
        );
    }
}

#[test]
fn a_mutant_capsule_fails_once_its_bug_is_gone() {
    let path = capsule_files()
        .into_iter()
        .find(|p| std::fs::read_to_string(p).is_ok_and(|t| t.contains("expected-failures")))
        .expect("a mutant capsule");
    let text = std::fs::read_to_string(&path).expect("read capsule");
    let fixed: String = text
        .lines()
        .filter(|l| !l.starts_with("mutant = "))
        .map(|l| format!("{l}\n"))
        .collect();
    let dir = tempfile::tempdir().expect("tempdir");
    let copy = dir.path().join("fixed.toml");
    std::fs::write(&copy, fixed).expect("write");
    let output = run(&["replay", copy.to_str().expect("utf-8 path")]);
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert_eq!(output.status.code(), Some(1), "{stdout}");
    assert!(stdout.contains("expected_failures"), "{stdout}");
}
