//! The fork server gives the results exec'd workers give: a worker killed by its plan, one that
//! aborts, one that hangs and one that exits with an error code end the same way either way,
//! and a fork server that died is replaced without losing the next iteration.

use std::os::unix::process::{CommandExt, ExitStatusExt};
use std::path::Path;

use harness::engine::fork_server::ForkServer;
use harness::engine::{RunControl, RunPlan, run, run_iteration, thread_fork_server_pid};
use harness::scenario::Registry;
use reports::IterationStatus;

use super::support::write;

/// A process kill (crash), a fail point's abort and a writer stopped for good (hang); the kill
/// and the stop land while the writer holds inside its third stage, so the stop always hangs
/// it (a seeded kill point can come after a short workload already ended).
const SCENARIOS: [(&str, &str); 3] = [
    (
        "crash/killed.toml",
        "name = \"killed\"\ndescription = \"kill -9 of the writer\"\niterations = 2\nchecks = [\"integrity\", \"acknowledged_durable\", \"no_partial\"]\n\n[workload]\noperations = 30\n\n[fault]\nkind = \"process-kill\"\nhold-at = \"ledger::stage::before_commit\"\nhold-at-hit = 3\n",
    ),
    (
        "abort/aborted.toml",
        "name = \"aborted\"\ndescription = \"the writer aborts at a fail point\"\niterations = 2\nchecks = [\"integrity\", \"acknowledged_durable\", \"no_partial\"]\n\n[workload]\noperations = 30\n\n[fault]\nkind = \"failpoints\"\n\n[fault.actions]\n\"ledger::stage::before_commit\" = \"panic\"\n",
    ),
    (
        "hang/stopped.toml",
        "name = \"stopped\"\ndescription = \"writer stopped and never resumed\"\ntimeout-secs = 1\nchecks = [\"integrity\"]\n\n[workload]\noperations = 30\n\n[fault]\nkind = \"process-stop\"\nhold-at = \"ledger::stage::before_commit\"\nhold-at-hit = 3\n",
    ),
];

/// What a run reported per iteration: scenario, iteration, status, verdicts, the first line of
/// the error, and the digest where the faults are deterministic.
type Seen = (
    String,
    u32,
    IterationStatus,
    Vec<(String, bool)>,
    Option<String>,
    Option<String>,
);

fn run_all(dir: &Path, control: &RunControl) -> Vec<Seen> {
    let registry = Registry::load(dir, &[]).expect("scenarios load");
    let scenarios = registry.scenarios().to_vec();
    let deterministic: Vec<String> = scenarios
        .iter()
        .filter(|s| s.is_deterministic())
        .map(|s| s.name.clone())
        .collect();
    let plan = RunPlan {
        jobs: 2,
        ..RunPlan::new(scenarios, 4, env!("CARGO_BIN_EXE_resilience").into())
    };
    let (_, outcomes) = run(&plan, &mut [], control).expect("the run runs");
    let mut seen: Vec<Seen> = outcomes
        .into_iter()
        .map(|o| {
            let r = o.result;
            let digest = deterministic
                .contains(&r.scenario)
                .then(|| r.trace_digest.clone());
            let checks = r
                .checks
                .iter()
                .map(|c| (c.name.clone(), c.passed))
                .collect();
            let error = r
                .error
                .map(|e| e.lines().next().unwrap_or_default().to_owned());
            (r.scenario, r.iteration, r.status, checks, error, digest)
        })
        .collect();
    seen.sort_by(|a, b| (&a.0, a.1).cmp(&(&b.0, b.1)));
    seen
}

#[test]
fn crashed_aborted_and_hung_workers_end_the_same_forked_or_exec_d() {
    let dir = tempfile::tempdir().unwrap();
    for (path, text) in SCENARIOS {
        write(dir.path(), path, text);
    }
    let forking = RunControl::new();
    assert!(forking.uses_fork_server());
    let forked = run_all(dir.path(), &forking);
    let exec = RunControl::new().with_exec_workers();
    let exec_d = run_all(dir.path(), &exec);
    assert_eq!(forked, exec_d);
    assert_eq!(exec.workers_forked(), 0);
    // Drive and check workers of the passing iterations, the drive of the hung one.
    assert_eq!(forking.workers_forked(), 9);

    let status = |name: &str| {
        forked
            .iter()
            .filter(|s| s.0 == name)
            .map(|s| s.2)
            .collect::<Vec<_>>()
    };
    assert_eq!(status("killed"), [IterationStatus::Passed; 2]);
    assert_eq!(status("aborted"), [IterationStatus::Passed; 2]);
    assert_eq!(status("stopped"), [IterationStatus::Error]);
    let hung = forked.iter().find(|s| s.0 == "stopped").unwrap();
    assert!(
        hung.4
            .as_deref()
            .unwrap_or_default()
            .contains("hung: killed after 1s"),
        "{hung:?}"
    );
}

#[test]
fn a_forked_worker_exits_with_the_code_an_exec_d_one_does() {
    let exe = Path::new(env!("CARGO_BIN_EXE_resilience"));
    let mut server = ForkServer::start(exe).expect("the server starts");
    let mut forked = server
        .fork("no-such-phase", Path::new("/nonexistent/job.json"))
        .expect("the server forks");
    let mut stderr = String::new();
    std::io::Read::read_to_string(&mut forked.stderr, &mut stderr).unwrap();
    let status = server.wait().expect("the server reports the end");
    let exec_d = std::process::Command::new(exe)
        .args(["__worker", "no-such-phase", "/nonexistent/job.json"])
        .output()
        .unwrap();
    assert_eq!(status.code(), Some(2));
    assert_eq!(status.code(), exec_d.status.code());
    assert_eq!(stderr, String::from_utf8_lossy(&exec_d.stderr));
    assert!(stderr.contains("unknown worker phase"), "{stderr}");
}

/// A fork server and its forked `check` worker, which blocks opening its input: `check.json` in
/// the returned directory, a FIFO nobody writes.
fn fork_a_blocked_check(
    exe: &Path,
) -> (
    tempfile::TempDir,
    ForkServer,
    harness::engine::fork_server::Forked,
) {
    let dir = tempfile::tempdir().unwrap();
    let fifo = dir.path().join("check.json");
    nix::unistd::mkfifo(&fifo, nix::sys::stat::Mode::S_IRWXU).unwrap();
    let mut server = ForkServer::start(exe).expect("the server starts");
    let forked = server.fork("check", &fifo).expect("the server forks");
    (dir, server, forked)
}

/// A worker killed by a signal nobody planned (here SIGABRT while it blocks opening its input, a
/// FIFO nobody writes) is reported with that signal, forked or exec'd.
#[test]
fn a_forked_worker_killed_by_a_signal_reports_the_signal() {
    use nix::sys::signal::{Signal, killpg};
    use nix::unistd::Pid;
    let exe = Path::new(env!("CARGO_BIN_EXE_resilience"));
    let (dir, mut server, forked) = fork_a_blocked_check(exe);
    let fifo = dir.path().join("check.json");
    std::thread::sleep(std::time::Duration::from_millis(200));
    killpg(Pid::from_raw(forked.pid as i32), Signal::SIGABRT).unwrap();
    let status = server.wait().expect("the server reports the end");
    let mut exec_d = std::process::Command::new(exe)
        .args(["__worker", "check"])
        .arg(&fifo)
        .process_group(0)
        .spawn()
        .unwrap();
    std::thread::sleep(std::time::Duration::from_millis(200));
    killpg(Pid::from_raw(exec_d.id() as i32), Signal::SIGABRT).unwrap();
    let exec_status = exec_d.wait().unwrap();
    assert_eq!(status.signal(), Some(Signal::SIGABRT as i32), "{status:?}");
    assert_eq!(status.signal(), exec_status.signal());
    assert_eq!(status.code(), None);
}

/// A server the supervisor gives up on (it answered a fork request too late) is killed and the
/// job's worker runs again: the dead server's child must not run on beside it. Here the child
/// blocks opening a FIFO nobody writes; killing its server kills it too.
#[test]
fn a_forked_worker_dies_with_its_server() {
    let (_dir, server, forked) = fork_a_blocked_check(Path::new(env!("CARGO_BIN_EXE_resilience")));
    nix::sys::signal::kill(
        nix::unistd::Pid::from_raw(server.pid() as i32),
        nix::sys::signal::Signal::SIGKILL,
    )
    .unwrap();
    let alive = || {
        std::fs::read_to_string(format!("/proc/{}/stat", forked.pid))
            .ok()
            .and_then(|stat| {
                stat.rsplit(')')
                    .next()
                    .map(|rest| rest.trim_start().to_owned())
            })
            .is_some_and(|rest| !rest.starts_with('Z') && !rest.starts_with('X'))
    };
    let mut polls = 0;
    while alive() && polls < 1_000 {
        std::thread::sleep(std::time::Duration::from_millis(10));
        polls += 1;
    }
    assert!(
        !alive(),
        "the child {} outlived its killed server",
        forked.pid
    );
}

#[test]
fn a_dead_fork_server_is_replaced_and_the_next_iteration_is_a_result() {
    let dir = tempfile::tempdir().unwrap();
    write(dir.path(), SCENARIOS[0].0, SCENARIOS[0].1);
    let registry = Registry::load(dir.path(), &[]).expect("scenarios load");
    let scenario = registry.scenarios()[0].clone();
    let exe = Path::new(env!("CARGO_BIN_EXE_resilience"));
    let plan = RunPlan::new(vec![scenario.clone()], 9, exe.into());
    let control = RunControl::new();
    let work = tempfile::tempdir().unwrap();
    let mut servers = Vec::new();
    for iteration in 0..2 {
        let job = plan.job(&scenario, iteration, work.path());
        let iteration_dir = job.db_path.parent().unwrap().to_owned();
        std::fs::create_dir_all(&iteration_dir).unwrap();
        let outcome = run_iteration(exe, &job, &iteration_dir, &control);
        assert_eq!(
            outcome.result.status,
            IterationStatus::Passed,
            "{:?}",
            outcome.result.error
        );
        let server = thread_fork_server_pid().expect("this thread has a fork server");
        servers.push(server);
        nix::sys::signal::kill(
            nix::unistd::Pid::from_raw(server as i32),
            nix::sys::signal::Signal::SIGKILL,
        )
        .unwrap();
    }
    assert_ne!(servers[0], servers[1], "the killed server was replaced");
    assert_eq!(control.workers_forked(), 4);
}
