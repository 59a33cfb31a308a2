//! The fork server: a warm worker process that forks a child for each worker phase, instead of
//! a fresh `exec` of the binary per phase.
//!
//! An exec costs dynamic loading, the CPU-feature probes of glibc and `std` and a fresh heap for
//! every drive and check worker (see `docs/performance.md`). A [`ForkServer`] is started once by
//! exec (`resilience __fork-server`) and stays single-threaded: it initialises no SQLite, no
//! allocator wrapper and no thread, so each child starts from the state a fresh worker starts
//! from (only the CPU-feature caches are filled once, with the answers any process gets). For
//! each request, [`serve`] forks a child that runs the phase exactly as
//! `__worker PHASE INPUT` would: in a process group of its own, stdin on `/dev/null`, stdout
//! and stderr on the pipes the supervisor passed (`SCM_RIGHTS`), ending with the worker
//! command's exit code (101 after a panic, as `main` does).
//!
//! The server reports the child's pid as soon as it exists, so the supervisor signals and kills
//! its group as it would an exec'd worker's, then the child's wait status (exit code, signal,
//! core dump) once it ended. The child is left a zombie until the supervisor's next message, so
//! its pid (and its group id) cannot be reused while the supervisor may still signal the group.
//!
//! Protocol, over a `SOCK_SEQPACKET` socket pair whose server end is the server's stdin:
//! - request: `PHASE`, a NUL byte, `INPUT`, with two descriptors: stdout's and stderr's write
//!   ends;
//! - reply `P` and the pid (`i32`, little endian) once forked, or `E` and a message when the
//!   fork failed;
//! - reply `S` and the raw wait status (`i32`, little endian) once the child ended.
//!
//! Closing the socket ends the server.

use std::fs::File;
use std::io::{self, IoSlice, IoSliceMut, PipeReader, Read};
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd, RawFd};
use std::os::unix::ffi::OsStrExt;
use std::os::unix::net::UnixStream;
use std::os::unix::process::{CommandExt, ExitStatusExt};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::time::Duration;

use nix::sys::prctl::set_pdeathsig;
use nix::sys::signal::Signal;
use nix::sys::socket::{
    AddressFamily, ControlMessage, ControlMessageOwned, MsgFlags, SockFlag, SockType, recvmsg,
    sendmsg, socketpair,
};
use nix::sys::wait::{Id, WaitPidFlag, WaitStatus, waitid, waitpid};
use nix::unistd::{
    ForkResult, Pid, dup2_stderr, dup2_stdin, dup2_stdout, fork, getpid, getppid, setpgid,
};

/// The hidden subcommand that runs [`serve`].
pub const SERVE_COMMAND: &str = "__fork-server";

/// How long the supervisor waits for the server to say it forked (a fork takes milliseconds;
/// a server that does not answer is replaced).
const FORK_REPLY_TIMEOUT: Duration = Duration::from_secs(30);

/// A forked worker as the supervisor sees it: its pid (also its process group) and the read
/// ends of its stdout and stderr.
#[derive(Debug)]
pub struct Forked {
    /// The child's pid, and the id of its process group.
    pub pid: u32,
    /// The child's stdout.
    pub stdout: PipeReader,
    /// The child's stderr.
    pub stderr: PipeReader,
}

/// The supervisor's handle on one fork server process.
#[derive(Debug)]
pub struct ForkServer {
    exe: PathBuf,
    process: Child,
    socket: UnixStream,
}

impl ForkServer {
    /// Starts a fork server: `exe __fork-server`, in a process group of its own (a Ctrl-C on
    /// the terminal reaches the supervisor only, as with exec'd workers).
    ///
    /// # Errors
    /// The socket pair or the process could not be made.
    pub fn start(exe: &Path) -> io::Result<ForkServer> {
        let (ours, theirs) = socketpair(
            AddressFamily::Unix,
            SockType::SeqPacket,
            None,
            SockFlag::SOCK_CLOEXEC,
        )
        .map_err(io::Error::from)?;
        let process = Command::new(exe)
            .arg(SERVE_COMMAND)
            .stdin(Stdio::from(theirs))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .process_group(0)
            .spawn()?;
        Ok(ForkServer {
            exe: exe.to_owned(),
            process,
            socket: UnixStream::from(ours),
        })
    }

    /// The binary this server runs.
    pub fn exe(&self) -> &Path {
        &self.exe
    }

    /// The server process's pid.
    pub fn pid(&self) -> u32 {
        self.process.id()
    }

    /// Forks a child that runs `__worker PHASE INPUT`; returns its pid and output pipes.
    ///
    /// # Errors
    /// The server is gone, did not answer in time, or could not fork: nothing ran, and the
    /// server should be replaced.
    pub fn fork(&mut self, phase: &str, input: &Path) -> io::Result<Forked> {
        let (stdout, stdout_w) = io::pipe()?;
        let (stderr, stderr_w) = io::pipe()?;
        let mut request = phase.as_bytes().to_vec();
        request.push(0);
        request.extend_from_slice(input.as_os_str().as_bytes());
        let fds = [stdout_w.as_raw_fd(), stderr_w.as_raw_fd()];
        sendmsg::<()>(
            self.socket.as_raw_fd(),
            &[IoSlice::new(&request)],
            &[ControlMessage::ScmRights(&fds)],
            MsgFlags::MSG_NOSIGNAL,
            None,
        )
        .map_err(io::Error::from)?;
        // Only the child keeps the write ends: the pipes reach end of file when it is gone.
        drop((stdout_w, stderr_w));
        let reply = self.receive(Some(FORK_REPLY_TIMEOUT))?;
        match reply.split_first() {
            Some((b'P', pid)) => {
                let pid = read_i32(pid)?;
                Ok(Forked {
                    pid: pid as u32,
                    stdout,
                    stderr,
                })
            }
            Some((b'E', message)) => Err(io::Error::other(format!(
                "the fork server could not fork: {}",
                String::from_utf8_lossy(message)
            ))),
            _ => Err(unexpected(&reply)),
        }
    }

    /// Waits until the last forked child ended; its wait status as an exec'd worker's would be.
    ///
    /// # Errors
    /// The server ended before reporting it (the status is lost; replace the server).
    pub fn wait(&mut self) -> io::Result<ExitStatus> {
        let reply = self.receive(None)?;
        match reply.split_first() {
            Some((b'S', raw)) => Ok(ExitStatus::from_raw(read_i32(raw)?)),
            _ => Err(unexpected(&reply)),
        }
    }

    fn receive(&mut self, timeout: Option<Duration>) -> io::Result<Vec<u8>> {
        self.socket.set_read_timeout(timeout)?;
        let mut buf = [0u8; 1024];
        let read = self.socket.read(&mut buf)?;
        if read == 0 {
            return Err(io::Error::new(
                io::ErrorKind::UnexpectedEof,
                "the fork server ended",
            ));
        }
        Ok(buf[..read].to_vec())
    }
}

impl Drop for ForkServer {
    /// Ends the server: closing the socket is its signal to reap its last child and exit, so
    /// every child's CPU time reaches the supervisor's own children's time (what `time`
    /// reports). A server that does not exit within [`EXIT_GRACE`] is killed: a server that
    /// stopped answering cannot block the supervisor.
    fn drop(&mut self) {
        let _ = self.socket.shutdown(std::net::Shutdown::Both);
        let deadline = std::time::Instant::now() + EXIT_GRACE;
        while matches!(self.process.try_wait(), Ok(None)) {
            if std::time::Instant::now() >= deadline {
                let _ = self.process.kill();
                let _ = self.process.wait();
                return;
            }
            std::thread::sleep(Duration::from_millis(1));
        }
    }
}

/// How long a server told to end may take to reap its last child and exit.
const EXIT_GRACE: Duration = Duration::from_secs(5);

fn read_i32(bytes: &[u8]) -> io::Result<i32> {
    let bytes: [u8; 4] = bytes.try_into().map_err(|_| unexpected(bytes))?;
    Ok(i32::from_le_bytes(bytes))
}

/// Fills the CPU-feature caches of `std` (used by the CRC32C of the ledger's checksums and by
/// `memchr`) and of `sha2` once, so children inherit them instead of each probing again with
/// `cpuid`, which traps to the hypervisor in a VM. The answers are the machine's, the same in
/// every process.
fn probe_cpu_features() {
    #[cfg(target_arch = "x86_64")]
    let _ = std::arch::is_x86_feature_detected!("sse4.2");
    let _ = <sha2::Sha256 as sha2::Digest>::digest([]);
}

fn unexpected(reply: &[u8]) -> io::Error {
    io::Error::new(
        io::ErrorKind::InvalidData,
        format!("unexpected reply from the fork server: {reply:?}"),
    )
}

/// The server loop of `__fork-server`: reads requests on stdin (the socket), forks a child per
/// request that runs `run(phase, input)` and exits with its code, reports the child's pid and
/// then its wait status. Returns when the supervisor closes the socket.
///
/// Must be called in a single-threaded process: each child goes on from a copy of it.
///
/// # Errors
/// The socket failed (the supervisor is gone).
pub fn serve(run: &dyn Fn(&str, &Path) -> i32) -> io::Result<()> {
    probe_cpu_features();
    let socket: RawFd = 0;
    let server = getpid();
    let mut zombie: Option<Pid> = None;
    loop {
        let request = receive_request(socket);
        // The supervisor is done with the last child (its group can no longer be signalled
        // by mistake): reap it before anything else.
        if let Some(pid) = zombie.take() {
            let _ = waitpid(pid, None);
        }
        let Some((data, fds)) = request? else {
            return Ok(());
        };
        let Some((phase, input)) = parse_request(&data, fds.len()) else {
            send(socket, b'E', b"malformed request")?;
            continue;
        };
        // SAFETY: this process is single-threaded (the server starts no thread), so the child
        // may run any code after the fork.
        match unsafe { fork() } {
            Ok(ForkResult::Child) => run_child(server, &phase, &input, fds, run),
            Ok(ForkResult::Parent { child }) => {
                // Also set by the child: whichever runs first, the group exists before the
                // supervisor learns the pid.
                let _ = setpgid(child, child);
                drop(fds);
                send(socket, b'P', &child.as_raw().to_le_bytes())?;
                let status = wait_without_reaping(child);
                zombie = Some(child);
                send(socket, b'S', &status.to_le_bytes())?;
            }
            Err(e) => send(socket, b'E', e.desc().as_bytes())?,
        }
    }
}

/// One request: its bytes and descriptors; `None` when the supervisor closed the socket.
fn receive_request(socket: RawFd) -> io::Result<Option<(Vec<u8>, Vec<OwnedFd>)>> {
    let mut buf = vec![0u8; 64 * 1024];
    let mut cmsg = nix::cmsg_space!([RawFd; 2]);
    let (bytes, fds) = loop {
        let mut iov = [IoSliceMut::new(&mut buf)];
        match recvmsg::<()>(
            socket,
            &mut iov,
            Some(cmsg.as_mut_slice()),
            MsgFlags::MSG_CMSG_CLOEXEC,
        ) {
            Ok(message) => {
                let mut fds = Vec::new();
                for control in message.cmsgs().map_err(io::Error::from)? {
                    if let ControlMessageOwned::ScmRights(received) = control {
                        // SAFETY: the kernel just installed these descriptors in this
                        // process; nothing else owns them.
                        fds.extend(
                            received
                                .into_iter()
                                .map(|fd| unsafe { OwnedFd::from_raw_fd(fd) }),
                        );
                    }
                }
                break (message.bytes, fds);
            }
            Err(nix::errno::Errno::EINTR) => continue,
            Err(e) => return Err(e.into()),
        }
    };
    if bytes == 0 && fds.is_empty() {
        return Ok(None);
    }
    buf.truncate(bytes);
    Ok(Some((buf, fds)))
}

/// `PHASE \0 INPUT` with exactly two descriptors.
fn parse_request(data: &[u8], fds: usize) -> Option<(String, PathBuf)> {
    let split = data.iter().position(|b| *b == 0)?;
    let phase = std::str::from_utf8(&data[..split]).ok()?.to_owned();
    let input = PathBuf::from(std::ffi::OsStr::from_bytes(&data[split + 1..]));
    (fds == 2).then_some((phase, input))
}

fn send(socket: RawFd, tag: u8, body: &[u8]) -> io::Result<()> {
    let mut message = vec![tag];
    message.extend_from_slice(body);
    sendmsg::<()>(
        socket,
        &[IoSlice::new(&message)],
        &[],
        MsgFlags::MSG_NOSIGNAL,
        None,
    )
    .map(drop)
    .map_err(io::Error::from)
}

/// Waits until `child` ended and returns its raw wait status, leaving it a zombie.
fn wait_without_reaping(child: Pid) -> i32 {
    loop {
        match waitid(Id::Pid(child), WaitPidFlag::WEXITED | WaitPidFlag::WNOWAIT) {
            Ok(WaitStatus::Exited(_, code)) => return (code & 0xff) << 8,
            Ok(WaitStatus::Signaled(_, signal, core)) => {
                return signal as i32 | if core { 0x80 } else { 0 };
            }
            Ok(_) | Err(nix::errno::Errno::EINTR) => continue,
            // Cannot happen for our own child; reported as a kill so it is never a pass.
            Err(_) => return nix::sys::signal::Signal::SIGKILL as i32,
        }
    }
}

/// The child: its own process group, killed when its server dies, stdin `/dev/null` (which
/// also closes the server's socket on fd 0), stdout and stderr on the supervisor's pipes; then
/// the phase, and exit.
///
/// The server dies only when the supervisor gives up on it (it did not answer a fork request in
/// time, or did not exit when told to); the supervisor then runs the job's worker again, so a
/// late child of the dead server must not run beside it.
fn run_child(
    server: Pid,
    phase: &str,
    input: &Path,
    fds: Vec<OwnedFd>,
    run: &dyn Fn(&str, &Path) -> i32,
) -> ! {
    let _ = setpgid(Pid::from_raw(0), Pid::from_raw(0));
    if set_pdeathsig(Signal::SIGKILL).is_err() || getppid() != server {
        std::process::exit(ORPHANED_EXIT_CODE);
    }
    let wired = File::open("/dev/null").is_ok_and(|null| {
        dup2_stdin(&null).is_ok() && dup2_stdout(&fds[0]).is_ok() && dup2_stderr(&fds[1]).is_ok()
    });
    drop(fds);
    if !wired {
        std::process::exit(WIRING_FAILED_EXIT_CODE);
    }
    let code = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| run(phase, input)))
        .unwrap_or(PANIC_EXIT_CODE);
    std::process::exit(code)
}

/// The child found its server already dead (or could not tie its life to the server's): it
/// runs nothing, and nobody waits for this code.
const ORPHANED_EXIT_CODE: i32 = 4;

/// The exit code of a Rust program whose `main` panicked.
const PANIC_EXIT_CODE: i32 = 101;

/// The child could not wire its standard streams: the harness's own failure (`resilience`
/// exit code 3); the supervisor sees it as a worker that ended abnormally.
const WIRING_FAILED_EXIT_CODE: i32 = 3;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_request_is_a_phase_and_an_input_with_two_descriptors() {
        assert_eq!(
            parse_request(b"drive\0/tmp/x/job.json", 2),
            Some(("drive".to_owned(), PathBuf::from("/tmp/x/job.json")))
        );
        assert_eq!(parse_request(b"drive\0/tmp/x/job.json", 1), None);
        assert_eq!(parse_request(b"drive", 2), None);
    }
}
