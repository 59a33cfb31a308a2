//! [`launch`]: starts the worker process of one phase, forked by this thread's fork server or
//! exec'd, and [`Waiter::wait`] for its end.
//!
//! Each thread that runs iterations (a pool slot) keeps one [`ForkServer`], started at its
//! first worker and ended with the thread. A server that died is replaced before the next
//! worker; when no server can fork, the worker is exec'd as without one. Either way the worker
//! is in a process group of its own named by its pid, with stdout and stderr piped to the
//! supervisor, and its end is known as an exit code or a signal.

use std::cell::RefCell;
use std::io;
use std::os::fd::OwnedFd;
use std::os::unix::process::CommandExt;
use std::path::Path;
use std::process::{Child, Command, ExitStatus, Stdio};

use super::control::RunControl;
use super::fork_server::ForkServer;

thread_local! {
    /// This thread's fork server, while it is idle (a running worker's [`Waiter`] holds it).
    static SERVER: RefCell<Option<ForkServer>> = const { RefCell::new(None) };
}

/// A started worker: its process group, its output, and how to learn how it ended.
pub(super) struct Launched {
    /// The worker's pid, also its process group's id.
    pub pgid: u32,
    /// The read end of the worker's stdout.
    pub stdout: OwnedFd,
    /// The read end of the worker's stderr.
    pub stderr: OwnedFd,
    /// How to wait for its end.
    pub waiter: Waiter,
}

/// Who learns how a worker ended: the supervisor itself (exec) or the fork server (fork).
pub(super) enum Waiter {
    /// An exec'd child of the supervisor.
    Exec(Child),
    /// A child of this fork server.
    Forked(ForkServer),
}

impl Waiter {
    /// Waits until the worker ended; `None` when that cannot be known (the fork server died
    /// before reporting it: the server is then replaced at the next worker).
    pub fn wait(self) -> Option<ExitStatus> {
        match self {
            Waiter::Exec(mut child) => child.wait().ok(),
            Waiter::Forked(mut server) => {
                let status = server.wait().ok()?;
                SERVER.set(Some(server));
                Some(status)
            }
        }
    }
}

/// Starts `exe __worker PHASE INPUT`, forked by this thread's fork server when `control` uses
/// one (started, or replaced once when it died), else (or when no server can fork) exec'd.
pub(super) fn launch(
    exe: &Path,
    phase: &str,
    input: &Path,
    control: &RunControl,
) -> io::Result<Launched> {
    if control.uses_fork_server() {
        for _ in 0..2 {
            let idle = SERVER.take().filter(|server| server.exe() == exe);
            let Ok(mut server) = idle.map_or_else(|| ForkServer::start(exe), Ok) else {
                break;
            };
            if let Ok(forked) = server.fork(phase, input) {
                control.note_forked();
                return Ok(Launched {
                    pgid: forked.pid,
                    stdout: forked.stdout.into(),
                    stderr: forked.stderr.into(),
                    waiter: Waiter::Forked(server),
                });
            }
        }
    }
    exec(exe, phase, input)
}

fn exec(exe: &Path, phase: &str, input: &Path) -> io::Result<Launched> {
    let mut child = Command::new(exe)
        .args(["__worker", phase])
        .arg(input)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .process_group(0)
        .spawn()?;
    let stdout = child.stdout.take().expect("stdout is piped");
    let stderr = child.stderr.take().expect("stderr is piped");
    Ok(Launched {
        pgid: child.id(),
        stdout: stdout.into(),
        stderr: stderr.into(),
        waiter: Waiter::Exec(child),
    })
}

/// The pid of this thread's idle fork server, if it has one (for tests that kill it).
pub fn thread_fork_server_pid() -> Option<u32> {
    SERVER.with_borrow(|server| server.as_ref().map(ForkServer::pid))
}

/// Ends this thread's idle fork server, if it has one: it reaps its last child and exits. A
/// pool thread's server ends with the thread; the main thread calls this before the process
/// exits, so no server outlives the command and every child's CPU time is accounted for.
pub fn end_thread_fork_server() {
    drop(SERVER.take());
}
