//! The runner with real worker processes: determinism, process kills, worker failures,
//! interruption.

use std::time::{Duration, Instant};

use reports::IterationStatus;

use super::support::{resilience, results, run, scenarios_dir, stderr, write};

fn digests(out: &std::path::Path) -> Vec<(String, u32, String)> {
    let mut d: Vec<_> = results(out)
        .iterations
        .into_iter()
        .map(|i| (i.scenario, i.iteration, i.trace_digest))
        .collect();
    d.sort();
    d
}

#[test]
fn the_same_seed_gives_the_same_trace_digests() {
    let dir = scenarios_dir();
    let out: Vec<tempfile::TempDir> = (0..3).map(|_| tempfile::tempdir().unwrap()).collect();
    for (out, seed) in out.iter().zip(["11", "11", "12"]) {
        let output = run(&[
            "run",
            "--scenarios",
            dir.to_str().unwrap(),
            "--filter",
            "baseline",
            "--iterations",
            "3",
            "--seed",
            seed,
            "--out",
            out.path().to_str().unwrap(),
        ]);
        assert_eq!(output.status.code(), Some(0), "{}", stderr(&output));
    }
    let first = digests(out[0].path());
    assert_eq!(first.len(), 9);
    assert_eq!(first, digests(out[1].path()));
    assert_ne!(first, digests(out[2].path()));
}

#[test]
fn killed_writers_lose_nothing_acknowledged() {
    let dir = scenarios_dir();
    let out = tempfile::tempdir().unwrap();
    let output = run(&[
        "run",
        "--scenarios",
        dir.to_str().unwrap(),
        "--filter",
        "kill-writer*",
        "--iterations",
        "15",
        "--seed",
        "5",
        "--out",
        out.path().to_str().unwrap(),
    ]);
    assert_eq!(output.status.code(), Some(0), "{}", stderr(&output));
    let r = results(out.path());
    assert_eq!(r.summary.iterations, 45);
    assert_eq!(r.summary.lost_acknowledged, 0);
    assert_eq!(r.summary.faults_injected, 45, "every iteration was killed");
    assert!(
        r.iterations.iter().any(|i| i.operations < 60),
        "some kills land mid-workload"
    );
    assert!(r.complete);
}

#[test]
fn a_hung_worker_is_killed_and_reported_as_an_error() {
    let dir = tempfile::tempdir().unwrap();
    write(
        dir.path(),
        "hangs/stopped.toml",
        "name = \"stopped\"\ndescription = \"writer stopped and never resumed\"\ntimeout-secs = 1\nchecks = [\"integrity\"]\n\n[fault]\nkind = \"process-stop\"\n",
    );
    let out = tempfile::tempdir().unwrap();
    let output = run(&[
        "run",
        "--scenarios",
        dir.path().to_str().unwrap(),
        "--seed",
        "1",
        "--out",
        out.path().to_str().unwrap(),
    ]);
    assert_eq!(output.status.code(), Some(1), "{}", stderr(&output));
    let r = results(out.path());
    let it = &r.iterations[0];
    assert_eq!(it.status, IterationStatus::Error);
    assert!(
        it.error
            .as_deref()
            .unwrap_or_default()
            .contains("hung: killed after 1s"),
        "{:?}",
        it.error
    );
    assert!(
        out.path().join("failures/stopped-0/job.json").exists(),
        "failing iterations keep their files"
    );
}

#[test]
fn a_writer_stopped_and_resumed_goes_on_without_loss() {
    let dir = tempfile::tempdir().unwrap();
    write(
        dir.path(),
        "pauses/resumed.toml",
        "name = \"resumed\"\ndescription = \"writer paused\"\niterations = 3\nchecks = [\"integrity\", \"acknowledged_durable\", \"no_partial\"]\n\n[fault]\nkind = \"process-stop\"\nresume-after-ms = 50\n",
    );
    let out = tempfile::tempdir().unwrap();
    let output = run(&[
        "run",
        "--scenarios",
        dir.path().to_str().unwrap(),
        "--seed",
        "1",
        "--out",
        out.path().to_str().unwrap(),
    ]);
    assert_eq!(output.status.code(), Some(0), "{}", stderr(&output));
    let r = results(out.path());
    assert_eq!(r.summary.passed, 3);
    assert_eq!(r.summary.faults_injected, 3);
    assert!(
        r.iterations.iter().all(|i| i.operations == 60),
        "a resumed writer finishes its workload"
    );
}

/// What a long run left after `signal` stopped it once three iterations had finished.
struct StoppedRun {
    status: std::process::ExitStatus,
    results: reports::RunResults,
    junit: String,
    /// Entries left in the run's `TMPDIR`.
    temp_left: Vec<std::path::PathBuf>,
    _out: tempfile::TempDir,
}

fn stop_a_long_run(signal: nix::sys::signal::Signal) -> StoppedRun {
    let out = tempfile::tempdir().unwrap();
    let temp = tempfile::tempdir().unwrap();
    let dir = scenarios_dir();
    let mut child = resilience()
        .args([
            "run",
            "--scenarios",
            dir.to_str().unwrap(),
            "--filter",
            "kill-writer",
            "--iterations",
            "100000",
        ])
        .args(["--seed", "3", "--out", out.path().to_str().unwrap()])
        .env("TMPDIR", temp.path())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let results_path = out.path().join("results.json");
    let deadline = Instant::now() + Duration::from_secs(60);
    while Instant::now() < deadline {
        if results_path.exists() && results(out.path()).iterations.len() >= 3 {
            break;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    nix::sys::signal::kill(nix::unistd::Pid::from_raw(child.id() as i32), signal).unwrap();
    let status = child.wait().unwrap();
    let temp_left = std::fs::read_dir(temp.path())
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    StoppedRun {
        status,
        results: results(out.path()),
        junit: std::fs::read_to_string(out.path().join("junit.xml")).unwrap_or_default(),
        temp_left,
        _out: out,
    }
}

/// Both stop signals keep what finished, record the rest as skipped with the signal's name,
/// remove the run's temporary directory and write a junit.xml that counts the skipped case.
fn assert_stopped_cleanly(run: &StoppedRun, signal_name: &str) {
    let r = &run.results;
    assert!(r.complete && r.interrupted);
    assert!(r.summary.iterations >= 3);
    assert!(
        r.iterations
            .iter()
            .all(|i| i.status == IterationStatus::Passed),
        "interrupted iterations are skipped, not failed"
    );
    assert!(!r.skipped.is_empty());
    let reason = format!("interrupted by {signal_name}");
    assert!(
        r.skipped.iter().all(|s| s.reason == reason),
        "{:?}",
        r.skipped
    );
    assert!(
        run.temp_left.is_empty(),
        "temporary files left: {:?}",
        run.temp_left
    );
    assert!(run.junit.contains("skipped=\"1\""), "{}", run.junit);
    assert!(run.junit.contains(&reason), "{}", run.junit);
}

#[test]
fn ctrl_c_stops_the_run_and_keeps_what_finished() {
    let run = stop_a_long_run(nix::sys::signal::Signal::SIGINT);
    assert_eq!(run.status.code(), Some(130));
    assert_stopped_cleanly(&run, "SIGINT");
}

/// A CI runner that cancels a job sends SIGTERM: the run stops like on Ctrl-C, exit code 143.
#[test]
fn sigterm_stops_the_run_like_ctrl_c_and_exits_143() {
    let run = stop_a_long_run(nix::sys::signal::Signal::SIGTERM);
    assert_eq!(run.status.code(), Some(143));
    assert_stopped_cleanly(&run, "SIGTERM");
}

/// `fault_response` fails when the ledger cannot react to memory pressure: with the adaptive
/// cache a small ledger already sits at the cache floor, so nothing shrinks; the scenario as
/// written (a fixed cache) passes.
#[test]
fn fault_response_fails_when_the_cache_cannot_shrink() {
    let dir = scenarios_dir();
    let base = [
        "run",
        "--scenarios",
        dir.to_str().unwrap(),
        "--filter",
        "pressure-cache-shrink",
        "--iterations",
        "1",
        "--seed",
        "1",
    ];
    let good = tempfile::tempdir().unwrap();
    let output = run(&[&base[..], &["--out", good.path().to_str().unwrap()]].concat());
    assert_eq!(output.status.code(), Some(0), "{}", stderr(&output));
    let broken = tempfile::tempdir().unwrap();
    let output = run(&[
        &base[..],
        &[
            "--set",
            "target.adaptive-cache=true",
            "--out",
            broken.path().to_str().unwrap(),
        ],
    ]
    .concat());
    assert_eq!(output.status.code(), Some(1), "{}", stderr(&output));
    let r = results(broken.path());
    let failed = r.iterations[0].first_failure().expect("a check failed");
    assert_eq!(failed.name, "fault_response");
    assert!(failed.detail.contains("never shrank"), "{}", failed.detail);
}
