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
        "--window-size=1400,1000",
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
        "Failures: 2 iterations, 1 cause",
        "resilience replay stopped --seed 4 --iteration 0",
    ] {
        assert!(dom.contains(text), "the rendered page shows `{text}`");
    }
    assert!(!dom.contains("<script>alert"), "scenario text stays text");
}

/// What the probe script measures in the page as laid out by Chromium at 1,400 px.
const PROBE: &str = r#"<script>
(() => {
  const root = document.documentElement;
  const matrix = document.querySelector('#matrix');
  const table = matrix.querySelector('table');
  const bottom = (selector) => {
    const e = document.querySelector(selector);
    return e ? e.getBoundingClientRect().bottom : -1;
  };
  const probe = {
    page_scroll_width: root.scrollWidth,
    page_client_width: root.clientWidth,
    matrix_scroll_width: matrix.scrollWidth,
    matrix_client_width: matrix.clientWidth,
    table_right: table.getBoundingClientRect().right,
    matrix_right: matrix.getBoundingClientRect().right,
    window_height: window.innerHeight,
    groups: document.querySelectorAll('#failures article').length,
    whys: [...document.querySelectorAll('#failures .why')].map(e => e.innerText),
    first_why_bottom: bottom('#failures .why'),
    first_minimal_replay_bottom: bottom('#failures .shrunk pre'),
    visible_text: document.body.innerText,
  };
  const out = document.createElement('pre');
  out.id = 'probe';
  out.textContent = JSON.stringify(probe);
  document.body.appendChild(out);
})();
</script>"#;

/// Opens a copy of `report` with [`PROBE`] added in headless Chromium at 1,400 x 1,000 px and
/// returns what it measured. (The report itself has no script; only this copy does.)
fn probe_in_chromium(report: &Path, scratch: &Path) -> serde_json::Value {
    let html = std::fs::read_to_string(report).expect("report.html exists");
    let probed = scratch.join("probed.html");
    std::fs::write(&probed, html.replace("</body>", &format!("{PROBE}</body>"))).unwrap();
    let output = chromium(&scratch.join("probe-profile"))
        .arg("--dump-dom")
        .arg(format!("file://{}", probed.display()))
        .output()
        .expect("chromium runs (apt-get install chromium)");
    let dom = String::from_utf8_lossy(&output.stdout);
    let start = dom.find("<pre id=\"probe\">").expect("the probe ran") + "<pre id=\"probe\">".len();
    let json = &dom[start..start + dom[start..].find("</pre>").unwrap()];
    let json = json
        .replace("&lt;", "<")
        .replace("&gt;", ">")
        .replace("&amp;", "&");
    serde_json::from_str(&json).expect("the probe wrote JSON")
}

fn number(probe: &serde_json::Value, key: &str) -> f64 {
    probe[key]
        .as_f64()
        .unwrap_or_else(|| panic!("{key} in {probe}"))
}

/// Asserts that neither the page nor the matrix needs a horizontal scrollbar.
fn assert_fits(probe: &serde_json::Value) {
    assert!(
        number(probe, "page_scroll_width") <= number(probe, "page_client_width"),
        "the page scrolls sideways: {probe}"
    );
    assert!(
        number(probe, "matrix_scroll_width") <= number(probe, "matrix_client_width")
            && number(probe, "table_right") <= number(probe, "matrix_right") + 0.5,
        "the matrix overflows: {probe}"
    );
}

/// Every absolute path the page names under the temporary directory, and every
/// `failures/...` or `capsules/...` path (relative to `out`), exists after the run.
fn assert_named_paths_exist(page: &str, out: &Path) {
    let tmp = std::env::temp_dir().display().to_string();
    let ends = |c: char| c.is_whitespace() || "\"'<>:;,()&".contains(c);
    let mut checked = 0;
    for (at, _) in page.match_indices(&format!("{tmp}/")) {
        let path = &page[at..];
        let path = &path[..path.find(ends).unwrap_or(path.len())];
        assert!(
            Path::new(path).exists(),
            "the report names {path}, which does not exist"
        );
        checked += 1;
    }
    for prefix in ["failures/", "capsules/"] {
        for (at, _) in page.match_indices(prefix) {
            let preceded_by_slash = page[..at].ends_with('/');
            let path = &page[at..];
            let path = &path[..path.find(ends).unwrap_or(path.len())];
            if preceded_by_slash || path.contains('<') || path == prefix {
                continue;
            }
            assert!(
                out.join(path).exists(),
                "the report names {path}, not in {}",
                out.display()
            );
            checked += 1;
        }
    }
    assert!(checked > 0, "the page names the files of its failures");
}

/// The failing run a new user tries (a planted durability bug under power loss in WAL mode),
/// opened at 1,400 px: failures grouped by cause, each with one line of why; the matrix fits;
/// the why and the minimal case's replay command are on the first screen; every path the page
/// names exists after the run.
#[test]
#[ignore = "needs Debian's chromium; .ci/run installs it and runs this test"]
fn the_report_renders_in_a_real_browser_triage_first_at_1400_px() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("out");
    durability_off_run(&out, 5);
    let r = results(&out);
    let causes: BTreeSet<(String, String)> = r
        .not_passed()
        .iter()
        .map(|i| (i.scenario.clone(), i.first_failure().unwrap().name.clone()))
        .collect();

    let probe = probe_in_chromium(&out.join("report.html"), dir.path());
    assert_fits(&probe);
    assert_eq!(
        probe["groups"].as_u64(),
        Some(causes.len() as u64),
        "one block per (scenario, first failing check): {causes:?}"
    );
    let whys = probe["whys"].as_array().unwrap();
    assert_eq!(whys.len(), causes.len(), "{probe}");
    let visible = probe["visible_text"].as_str().unwrap();
    for why in whys {
        let line = why.as_str().unwrap().trim_start_matches("Why: ");
        assert!(!line.contains('\n'), "one line: {line}");
        assert_eq!(
            visible.matches(line).count(),
            1,
            "the why `{line}` is said once on the page as first shown (details collapsed)"
        );
    }
    let height = number(&probe, "window_height");
    let minimal = number(&probe, "first_minimal_replay_bottom");
    assert!(
        minimal > 0.0 && minimal <= height && number(&probe, "first_why_bottom") <= height,
        "what failed, why and the minimal case's replay command fit the first screen: {probe}"
    );
    assert!(visible.contains("planted bug durability-off"), "{visible}");
    let html = std::fs::read_to_string(out.join("report.html")).unwrap();
    assert!(
        !html.contains("/resilience-"),
        "no temporary directory of the harness is named"
    );
    assert_named_paths_exist(&html, &out);
}

/// A default-sized matrix (a dozen families, fourteen checks with long names) fits 1,400 px.
#[test]
#[ignore = "needs Debian's chromium; .ci/run installs it and runs this test"]
fn the_report_renders_in_a_real_browser_with_a_wide_matrix_that_fits() {
    use reports::events::{RunStarted, ScenarioInfo};
    use reports::{CheckResult, IterationResult, IterationStatus, RunResults};
    let families = [
        "backup",
        "baseline",
        "bit-flips",
        "corruption",
        "disk-errors",
        "failpoints",
        "lock-contention",
        "memory-pressure",
        "power-loss",
        "process-crash",
        "regressions",
        "torn-writes",
    ];
    let checks = [
        "acknowledged_durable",
        "backups_restorable",
        "contention_absorbed",
        "corruption_accounted",
        "exported_once",
        "fault_response",
        "integrity",
        "no_partial",
        "prefix_consistent",
        "prune_backed_up",
        "reads_match_model",
        "recovery_complete",
        "state_machine",
        "checksums_catch_flips",
    ];
    let mut started = RunStarted::example();
    started.scenarios = families
        .iter()
        .map(|f| ScenarioInfo {
            name: format!("{f}-scenario"),
            family: (*f).into(),
            tags: vec![],
            description: "d".into(),
            planned_iterations: 1,
        })
        .collect();
    let mut r = RunResults::new(&started);
    for (i, family) in families.iter().enumerate() {
        let mut it = IterationResult::new(
            &format!("{family}-scenario"),
            family,
            0,
            if i == 0 {
                IterationStatus::Failed
            } else {
                IterationStatus::Passed
            },
        );
        it.checks = checks
            .iter()
            .map(|c| CheckResult {
                name: (*c).into(),
                passed: i != 0,
                detail: String::new(),
            })
            .collect();
        for _ in 0..120 {
            r.push(it.clone());
        }
    }
    let dir = tempfile::tempdir().unwrap();
    let report = dir.path().join("report.html");
    std::fs::write(&report, reports::html::render(&r, &[])).unwrap();
    assert_fits(&probe_in_chromium(&report, dir.path()));
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

/// Where GitHub runs the nightly workflow.
const WORKFLOW: &str = ".github/workflows/nightly.yml";

/// The shard count is written once, in `env.SHARDS`: the matrix is generated from it and the
/// merge takes every shard's directory by pattern, so changing it is a one-line edit.
#[test]
fn the_nightly_workflow_states_the_shard_count_once() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
    let text = std::fs::read_to_string(root.join(WORKFLOW)).expect("the nightly workflow exists");
    let docs = yaml_rust2::YamlLoader::load_from_str(&text).expect("the workflow is valid YAML");
    let shards = docs[0]["env"]["SHARDS"]
        .as_str()
        .expect("env.SHARDS is the shard count");
    let count: u32 = shards.parse().expect("SHARDS is a number");
    assert!(count >= 2, "{count}");
    let matrix = &docs[0]["jobs"]["shard"]["strategy"]["matrix"]["shard"];
    assert!(
        matrix
            .as_str()
            .is_some_and(|m| m.contains("fromJSON(needs.build.outputs.shards)")),
        "the matrix is generated from SHARDS: {matrix:?}"
    );
    let mentions = text.matches("SHARDS").count();
    let literal = text
        .lines()
        .filter(|l| !l.trim_start().starts_with('#'))
        .filter(|l| l.contains(&format!("\"{count}\"")) || l.contains(&format!(": {count}")))
        .count();
    assert_eq!(literal, 1, "the count {count} is written once:\n{text}");
    assert!(mentions >= 2, "SHARDS is defined and used");
    for k in 1..=count {
        assert!(
            !text.contains(&format!("out/shard-{k} ")),
            "the merge names shard {k} by hand"
        );
    }
    assert!(!text.contains("|| echo"), "a shard's failure is not hidden");
    assert!(
        text.contains("if: ${{ !cancelled() }}"),
        "merge runs unless cancelled"
    );
}

/// The nightly workflow parses as YAML, and every `resilience` command in it is one the CLI
/// accepts (with the workflow's own `env` values substituted, other variables as `1`).
/// `ci/nightly-local.sh` is run end to end by `.ci/run`.
#[test]
fn the_nightly_workflow_names_commands_that_exist() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
    let text = std::fs::read_to_string(root.join(WORKFLOW)).expect("the nightly workflow exists");
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
    let mut argv = vec![args[0]];
    if !args.contains(&"--scenarios") {
        argv.extend(["--scenarios", scenarios.to_str().unwrap()]);
    }
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

/// After a failing run, what results.json and the report name exists: each failing
/// iteration's files under `failures/<scenario>-<iteration>/` (not the temporary directory
/// they were made in), and the minimal case's files, capsule and replay command.
#[test]
fn a_failing_run_names_only_files_that_exist() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("out");
    durability_off_run(&out, 2);
    let text = std::fs::read_to_string(out.join("results.json")).unwrap();
    assert!(
        !text.contains("/resilience-"),
        "a temporary path is named: {text}"
    );
    let r = results(&out);
    let failing = r.not_passed();
    assert!(!failing.is_empty());
    for it in &failing {
        let files = it
            .files
            .as_deref()
            .expect("a failing iteration's files are kept");
        assert_eq!(files, format!("failures/{}-{}/", it.scenario, it.iteration));
        assert!(out.join(files).join("ledger.db").exists(), "{files}");
    }
    let shrunk = failing
        .iter()
        .find_map(|i| i.shrunk.as_ref())
        .expect("the first failure was shrunk");
    let capsule = shrunk
        .capsule
        .as_deref()
        .expect("a capsule is always written");
    assert!(
        capsule.starts_with("capsules/") && out.join(capsule).exists(),
        "{capsule}"
    );
    let minimal = shrunk
        .files
        .as_deref()
        .expect("the minimal case's files are kept");
    assert!(out.join(minimal).join("ledger.db").exists(), "{minimal}");
    let replay = shrunk
        .replay
        .as_deref()
        .expect("the minimal case has a replay command");
    assert_eq!(
        replay,
        format!("resilience replay {}", out.join(capsule).display())
    );
    let html = std::fs::read_to_string(out.join("report.html")).unwrap();
    assert!(html.contains(replay) && !html.contains("/resilience-"));
    assert_named_paths_exist(&html, &out);
}

/// The issue's failing run: `power-loss-wal-full` with the `durability-off` planted bug, seed 1,
/// `iterations` iterations, outputs in `out`; it must exit 1.
fn durability_off_run(out: &std::path::Path, iterations: u32) {
    let scenarios = scenarios_dir();
    let output = run(&[
        "run",
        "--scenarios",
        scenarios.to_str().unwrap(),
        "--filter",
        "power-loss-wal-full",
        "--set",
        "target.mutant=durability-off",
        "--iterations",
        &iterations.to_string(),
        "--seed",
        "1",
        "--out",
        out.to_str().unwrap(),
    ]);
    assert_eq!(output.status.code(), Some(1), "{}", stderr(&output));
}
