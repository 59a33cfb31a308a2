//! The FUSE backend through the real binary: it runs here (never a skip), leaves no mount and
//! no daemon behind, and catches the `no-dir-fsync` mutant from observed system calls alone;
//! where FUSE cannot run (a user other than root without `fusermount3` on the `PATH`) its
//! iterations are skipped with the reason and counted, never passed.

use std::path::Path;
use std::sync::Mutex;

use super::support::{resilience, results, scenarios_dir, stderr};

/// The FUSE tests run one at a time, so the daemon check sees only its own run's daemons.
static ONE_AT_A_TIME: Mutex<()> = Mutex::new(());

/// Runs `power-loss-wal-full-fuse` with `extra` arguments, its work files (and mounts) below a
/// temporary directory of its own; returns the exit code, the results, stderr and the caching
/// mounts left below that directory.
fn run_fuse(extra: &[&str]) -> (Option<i32>, reports::RunResults, String, Vec<String>) {
    let out = tempfile::tempdir().unwrap();
    let work = tempfile::tempdir().unwrap();
    let output = resilience()
        .args(fuse_run_args(out.path()))
        .args(["--jobs", "2", "--shrink-budget", "0"])
        .args(extra)
        .env("TMPDIR", work.path())
        .output()
        .expect("resilience runs");
    let left = caching_mounts_below(work.path());
    (
        output.status.code(),
        results(out.path()),
        stderr(&output),
        left,
    )
}

/// `run` of `power-loss-wal-full-fuse` at seed 1, results in `out`.
fn fuse_run_args(out: &Path) -> Vec<String> {
    let dir = scenarios_dir();
    [
        "run",
        "--scenarios",
        dir.to_str().unwrap(),
        "--filter",
        "power-loss-wal-full-fuse",
        "--seed",
        "1",
        "--out",
        out.to_str().unwrap(),
    ]
    .map(str::to_owned)
    .to_vec()
}

/// Caching mounts in `/proc/mounts` below `dir`.
fn caching_mounts_below(dir: &Path) -> Vec<String> {
    let prefix = format!("resilience-cache {}", dir.display());
    std::fs::read_to_string("/proc/mounts")
        .unwrap()
        .lines()
        .filter(|line| line.starts_with(&prefix))
        .map(str::to_owned)
        .collect()
}

/// FUSE daemons of the binary under test still running.
fn daemons_of_this_binary() -> Vec<String> {
    let exe = Path::new(env!("CARGO_BIN_EXE_resilience"));
    let mut found = Vec::new();
    for entry in std::fs::read_dir("/proc").unwrap().flatten() {
        let Ok(cmdline) = std::fs::read(entry.path().join("cmdline")) else {
            continue;
        };
        let args: Vec<String> = cmdline
            .split(|b| *b == 0)
            .map(|a| String::from_utf8_lossy(a).into_owned())
            .collect();
        if args.first().is_some_and(|a| Path::new(a) == exe)
            && args.iter().any(|a| a == "fuse-daemon")
        {
            found.push(args.join(" "));
        }
    }
    found
}

/// `nobody`'s user and group id.
const NOBODY: u32 = 65_534;

/// Run as a user other than root (as `nobody` when the test runs as root, since root mounts
/// without `fusermount3`) with nothing on the `PATH`.
#[test]
fn without_fusermount_the_fuse_iterations_are_skipped_with_the_reason_never_passed() {
    use std::os::unix::fs::PermissionsExt;
    use std::os::unix::process::CommandExt;
    let out = tempfile::tempdir().unwrap();
    let work = tempfile::tempdir().unwrap();
    for dir in [out.path(), work.path()] {
        std::fs::set_permissions(dir, std::fs::Permissions::from_mode(0o777)).unwrap();
    }
    let no_programs = tempfile::tempdir().unwrap();
    let mut command = resilience();
    command
        .args(fuse_run_args(out.path()))
        .args(["--iterations", "2"])
        .env("PATH", no_programs.path())
        .env("TMPDIR", work.path());
    if nix::unistd::geteuid().is_root() {
        command.uid(NOBODY).gid(NOBODY);
    }
    let output = command.output().expect("resilience runs");
    let results = results(out.path());
    assert_eq!(results.summary.passed, 0, "{}", stderr(&output));
    assert_eq!(results.summary.iterations, 0);
    assert_eq!(results.skipped.len(), 1, "{:?}", results.skipped);
    assert_eq!(results.skipped[0].count, 2);
    assert!(
        results.skipped[0]
            .reason
            .starts_with("no FUSE: no fusermount3"),
        "{:?}",
        results.skipped
    );
    let junit = std::fs::read_to_string(out.path().join("junit.xml")).unwrap();
    assert!(
        junit.contains("2 iteration(s) not run: no FUSE: no fusermount3"),
        "{junit}"
    );
}

#[test]
fn the_fuse_backend_runs_here_and_leaves_no_mount_and_no_daemon() {
    let _one = ONE_AT_A_TIME.lock().unwrap_or_else(|p| p.into_inner());
    let (code, results, stderr, left) = run_fuse(&["--iterations", "3"]);
    assert_eq!(code, Some(0), "{stderr}");
    assert!(
        results.skipped.is_empty(),
        "FUSE must run on this machine and in CI: {:?}",
        results.skipped
    );
    assert_eq!(results.summary.passed, 3, "{stderr}");
    assert!(left.is_empty(), "{left:?}");
    assert!(
        daemons_of_this_binary().is_empty(),
        "{:?}",
        daemons_of_this_binary()
    );
}

#[test]
fn no_dir_fsync_is_caught_on_fuse_from_observed_system_calls_alone() {
    let _one = ONE_AT_A_TIME.lock().unwrap_or_else(|p| p.into_inner());
    let (code, results, stderr, left) =
        run_fuse(&["--iterations", "4", "--set", "target.mutant=no-dir-fsync"]);
    assert_eq!(code, Some(1), "{stderr}");
    assert_eq!(results.summary.errors, 0, "{stderr}");
    assert!(results.summary.failed > 0, "{stderr}");
    // The vault model (fed by the ledger's fs_events) never ran: its line is absent.
    for iteration in &results.iterations {
        for event in &iteration.timeline {
            assert!(!format!("{event:?}").contains("unsynced vault entries"));
        }
    }
    assert!(left.is_empty(), "{left:?}");
}
