//! The outputs a person and a CI system read: the HTML report in a real browser, JUnit, shard
//! merging, and the nightly workflow file.

use std::collections::BTreeSet;
use std::path::Path;
use std::process::Command;

use super::support::{results, run, scenarios_dir, stderr, write};

/// A run with iterations that could not be judged (a writer stopped and never resumed) and a
/// description carrying markup, so the report has a failure section to render.
fn failing_run(out: &Path) {
    let dir = out.join("scenarios");
    write(
        &dir,
        "hangs/stopped.toml",
        "name = \"stopped\"\ndescription = \"writer stopped <script>alert(1)</script>\"\ntimeout-secs = 1\niterations = 2\nchecks = [\"integrity\"]\n\n[fault]\nkind = \"process-stop\"\n",
    );
    let output = run(&[
        "run",
        "--scenarios",
        dir.to_str().unwrap(),
        "--seed",
        "4",
        "--out",
        out.join("out").to_str().unwrap(),
    ]);
    assert_eq!(output.status.code(), Some(1), "{}", stderr(&output));
}

/// Chromium with the flags this machine needs (no sandbox as root, no background networking).
fn chromium(profile: &Path) -> Command {
    let mut cmd = Command::new("chromium");
    cmd.args([
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-quic",
        "--no-first-run",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        "--enable-logging=stderr",
        "--v=0",
        "--window-size=1200,1600",
    ]);
    cmd.arg(format!("--user-data-dir={}", profile.display()));
    cmd
}

#[test]
#[ignore = "needs Debian's chromium; .ci/run installs it and runs this test"]
fn the_report_renders_in_a_real_browser_without_console_errors() {
    let dir = tempfile::tempdir().unwrap();
    failing_run(dir.path());
    let report = dir.path().join("out/report.html");
    let url = format!("file://{}", report.display());
    let shot = dir.path().join("report.png");
    let output = chromium(&dir.path().join("profile"))
        .arg(format!("--screenshot={}", shot.display()))
        .arg(&url)
        .output()
        .expect("chromium runs (apt-get install chromium)");
    assert!(output.status.success(), "{}", stderr(&output));
    let png = std::fs::read(&shot).expect("a screenshot was written");
    assert!(
        png.len() > 10_000 && png.starts_with(b"\x89PNG"),
        "a real picture, {} bytes",
        png.len()
    );
    let log = stderr(&output);
    assert!(
        !log.contains("CONSOLE") && !log.contains("Uncaught"),
        "console messages: {log}"
    );

    let dom = chromium(&dir.path().join("profile2"))
        .arg("--dump-dom")
        .arg(&url)
        .output()
        .unwrap();
    let dom = String::from_utf8_lossy(&dom.stdout);
    for text in [
        "Summary",
        "iterations",
        "Failures (2)",
        "resilience replay stopped --seed 4 --iteration 0",
    ] {
        assert!(dom.contains(text), "the rendered page shows `{text}`");
    }
    assert!(!dom.contains("<script>alert"), "scenario text stays text");
}

#[test]
fn junit_names_each_failing_iteration_with_its_replay_command() {
    let dir = tempfile::tempdir().unwrap();
    failing_run(dir.path());
    let xml = std::fs::read_to_string(dir.path().join("out/junit.xml")).unwrap();
    assert!(
        xml.contains("<testcase name=\"stopped\" classname=\"resilience.hangs\""),
        "{xml}"
    );
    assert!(xml.contains("2 of 2 iterations did not pass"), "{xml}");
    assert!(
        xml.contains("resilience replay stopped --seed 4 --iteration 1"),
        "{xml}"
    );
}

fn iteration_set(out: &Path) -> BTreeSet<(String, u32, String, String)> {
    results(out)
        .iterations
        .into_iter()
        .map(|i| {
            (
                i.scenario,
                i.iteration,
                i.trace_digest,
                format!("{:?}", i.status),
            )
        })
        .collect()
}

#[test]
fn four_merged_shards_equal_one_unsharded_run() {
    let dir = tempfile::tempdir().unwrap();
    let scenarios = scenarios_dir();
    let common = [
        "--scenarios",
        scenarios.to_str().unwrap(),
        "--filter",
        "baseline",
        "--iterations",
        "4",
        "--seed",
        "21",
    ];
    let whole = dir.path().join("whole");
    let output = run(&[&["run"], &common[..], &["--out", whole.to_str().unwrap()]].concat());
    assert_eq!(output.status.code(), Some(0), "{}", stderr(&output));
    let mut shard_dirs = Vec::new();
    for k in 1..=4 {
        let out = dir.path().join(format!("shard-{k}"));
        let shard = format!("{k}/4");
        let output = run(&[
            &["run"],
            &common[..],
            &["--shard", &shard, "--out", out.to_str().unwrap()],
        ]
        .concat());
        assert_eq!(output.status.code(), Some(0), "{}", stderr(&output));
        shard_dirs.push(out);
    }
    let merged = dir.path().join("merged");
    let mut args = vec!["report", "merge"];
    args.extend(shard_dirs.iter().map(|d| d.to_str().unwrap()));
    args.extend(["--out", merged.to_str().unwrap()]);
    let output = run(&args);
    assert_eq!(output.status.code(), Some(0), "{}", stderr(&output));
    assert_eq!(iteration_set(&merged), iteration_set(&whole));
    assert_eq!(results(&merged).summary, results(&whole).summary);
    assert!(merged.join("report.html").exists() && merged.join("junit.xml").exists());

    let output = run(&[
        "report",
        "merge",
        shard_dirs[0].to_str().unwrap(),
        "--out",
        merged.to_str().unwrap(),
    ]);
    assert_eq!(output.status.code(), Some(2));
    assert!(
        stderr(&output).contains("missing shard(s) 2/4, 3/4, 4/4"),
        "{}",
        stderr(&output)
    );
}

/// The nightly workflow parses as YAML, and every `resilience` command in it is one the CLI
/// accepts (with the workflow's own `env` values substituted, other variables as `1`).
/// `ci/nightly-local.sh` is run end to end by `.ci/run`.
#[test]
fn the_nightly_workflow_names_commands_that_exist() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
    let text = std::fs::read_to_string(root.join("ci/nightly.yml")).expect("ci/nightly.yml exists");
    let docs = yaml_rust2::YamlLoader::load_from_str(&text).expect("the workflow is valid YAML");
    let env: Vec<(String, String)> = docs[0]["env"]
        .as_hash()
        .into_iter()
        .flatten()
        .filter_map(|(k, v)| Some((k.as_str()?.to_owned(), v.as_str()?.to_owned())))
        .collect();
    let jobs = &docs[0]["jobs"];
    assert!(
        jobs["build"].as_hash().is_some()
            && jobs["shard"].as_hash().is_some()
            && jobs["merge"].as_hash().is_some()
    );
    let mut commands = Vec::new();
    for (_, job) in jobs.as_hash().unwrap() {
        for step in job["steps"].as_vec().into_iter().flatten() {
            if let Some(script) = step["run"].as_str() {
                commands.extend(
                    script
                        .lines()
                        .map(str::trim)
                        .filter(|l| l.contains("resilience "))
                        .map(str::to_owned),
                );
            }
        }
    }
    let local = std::fs::read_to_string(root.join("ci/nightly-local.sh"))
        .expect("ci/nightly-local.sh exists");
    commands.extend(
        local
            .lines()
            .map(str::trim)
            .filter(|l| l.contains("resilience\" ") || l.contains("resilience "))
            .map(str::to_owned),
    );
    assert!(
        commands.iter().any(|c| c.contains("report merge")),
        "{commands:?}"
    );
    assert!(
        commands.iter().any(|c| c.contains("--shard")),
        "{commands:?}"
    );
    for command in &commands {
        let words: Vec<String> = command
            .split_whitespace()
            .skip_while(|w| !w.trim_matches('"').ends_with("resilience"))
            .skip(1)
            .take_while(|w| !matches!(*w, "\\" | "|" | "||" | "&&" | ">" | "2>&1"))
            .filter(|w| !w.starts_with('>'))
            .map(|w| substitute_variables(w.trim_matches('"'), &env))
            .collect();
        let mut argv = vec!["resilience".to_owned()];
        argv.extend(words);
        if let Err(e) = harness::cli::Cli::try_parse_from_args(&argv) {
            panic!("`{command}` is not a valid resilience command: {e}");
        }
    }
}

/// Replaces shell variables (`$X`, `${X}`) with their value in `env`, or `1` when unknown, so
/// `"$SHARD/$SHARDS"` reads as `1/4`, a value of the same shape.
fn substitute_variables(word: &str, env: &[(String, String)]) -> String {
    let mut out = String::new();
    let mut chars = word.chars().peekable();
    while let Some(c) = chars.next() {
        if c != '$' {
            out.push(c);
            continue;
        }
        let mut name = String::new();
        if chars.next_if_eq(&'{').is_some() {
            for c in chars.by_ref() {
                if c == '}' {
                    break;
                }
                name.push(c);
            }
        } else {
            while let Some(c) = chars.next_if(|c| c.is_ascii_alphanumeric() || *c == '_') {
                name.push(c);
            }
        }
        match env.iter().find(|(k, _)| *k == name) {
            Some((_, value)) => out.push_str(value),
            None => out.push('1'),
        }
    }
    out
}

/// A run against a configuration SQLite documents as unsafe (rollback journal with
/// `synchronous=OFF`) fails under power loss; the report's failure section shows the replay
/// command, and running it reproduces the failure with the same trace digest.
#[test]
fn a_reported_failure_replays_with_the_same_digest() {
    let dir = tempfile::tempdir().unwrap();
    let scenarios = scenarios_dir();
    let out = dir.path().join("out");
    let output = run(&[
        "run",
        "--scenarios",
        scenarios.to_str().unwrap(),
        "--filter",
        "power-loss-delete-full",
        "--set",
        "target.synchronous=off",
        "--iterations",
        "6",
        "--seed",
        "31",
        "--out",
        out.to_str().unwrap(),
    ]);
    assert_eq!(output.status.code(), Some(1), "{}", stderr(&output));
    let r = results(&out);
    let failed = r.not_passed()[0].clone();
    assert!(
        failed.replay.contains("--set target.synchronous=off"),
        "{}",
        failed.replay
    );
    let html = std::fs::read_to_string(out.join("report.html")).unwrap();
    assert!(
        html.contains(&failed.replay),
        "the report shows the replay command"
    );

    let args: Vec<&str> = failed.replay.split_whitespace().skip(1).collect();
    let mut argv = vec![args[0], "--scenarios", scenarios.to_str().unwrap()];
    argv.extend(&args[1..]);
    let replay = run(&argv);
    assert_eq!(replay.status.code(), Some(1), "{}", stderr(&replay));
    let stdout = String::from_utf8_lossy(&replay.stdout);
    assert!(
        stdout.contains(&format!("trace digest {}", failed.trace_digest)),
        "replay gives the same digest {}:\n{stdout}",
        failed.trace_digest
    );
}
