//! SIGINT and SIGTERM, routed to the [`RunControl`] of the run in progress.
//!
//! A CI runner that cancels a job sends SIGTERM; Ctrl-C sends SIGINT. Both stop the run the same
//! way (finished iterations kept, the rest skipped with the reason, temporary directories
//! removed); the control remembers which one came, for the exit code. The signal handler only
//! writes the signal's number to a pipe (async-signal-safe); a thread reads it and stops the
//! control.

use std::io::Read;
use std::os::fd::{AsRawFd, BorrowedFd, OwnedFd};
use std::sync::atomic::{AtomicI32, Ordering};
use std::sync::{Mutex, OnceLock};

use nix::errno::Errno;
use nix::fcntl::OFlag;
use nix::sys::signal::{SaFlags, SigAction, SigHandler, SigSet, Signal, sigaction};

use super::control::{RunControl, StopSignal};

/// The pipe's write end, read by the handler; -1 until installed.
static PIPE_WRITE_END: AtomicI32 = AtomicI32::new(-1);
/// The control the next signal stops.
static TARGET: Mutex<Option<RunControl>> = Mutex::new(None);
/// The pipe and its reader thread, made once per process.
static INSTALLED: OnceLock<nix::Result<()>> = OnceLock::new();

/// Routes SIGINT and SIGTERM of this process to `control` from now on (replacing an earlier
/// control).
pub fn install_stop_signals(control: &RunControl) -> nix::Result<()> {
    *TARGET.lock().expect("stop signal target") = Some(control.clone());
    *INSTALLED.get_or_init(install_once)
}

fn install_once() -> nix::Result<()> {
    let (read_end, write_end) = nix::unistd::pipe2(OFlag::O_CLOEXEC)?;
    PIPE_WRITE_END.store(write_end.as_raw_fd(), Ordering::SeqCst);
    // The write end lives as long as the process: the handler may fire at any time.
    std::mem::forget::<OwnedFd>(write_end);
    std::thread::Builder::new()
        .name("stop-signals".into())
        .spawn(move || forward_signals(read_end))
        .map_err(|_| Errno::EAGAIN)?;
    let action = SigAction::new(
        SigHandler::Handler(on_stop_signal),
        SaFlags::SA_RESTART,
        SigSet::empty(),
    );
    for signal in [Signal::SIGINT, Signal::SIGTERM] {
        // SAFETY: the handler only reads an atomic and calls write(2), both async-signal-safe,
        // and restores errno.
        unsafe { sigaction(signal, &action) }?;
    }
    Ok(())
}

/// Reads signal numbers from the pipe and stops the current control.
fn forward_signals(read_end: OwnedFd) {
    let mut pipe = std::fs::File::from(read_end);
    let mut byte = [0u8; 1];
    while let Ok(1) = pipe.read(&mut byte) {
        let signal = if i32::from(byte[0]) == Signal::SIGTERM as i32 {
            StopSignal::Terminate
        } else {
            StopSignal::Interrupt
        };
        if let Some(control) = TARGET.lock().expect("stop signal target").as_ref() {
            control.stop(signal);
        }
    }
}

extern "C" fn on_stop_signal(signo: nix::libc::c_int) {
    let saved = Errno::last_raw();
    let fd = PIPE_WRITE_END.load(Ordering::SeqCst);
    if fd >= 0 {
        // SAFETY: `fd` is the pipe's write end, never closed (see `install_once`).
        let write_end = unsafe { BorrowedFd::borrow_raw(fd) };
        let _ = nix::unistd::write(write_end, &[signo as u8]);
    }
    Errno::set_raw(saved);
}
