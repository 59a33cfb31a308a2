//! [`WorkerOutput`]: a worker's stdout, line by line, and the tail of its stderr, read in the
//! supervisor's own thread with `poll` (no reader threads, no channel: one wake-up per line
//! the worker flushes, not three).

use std::collections::VecDeque;
use std::fs::File;
use std::io::{self, Read};
use std::os::fd::{AsFd, OwnedFd};
use std::time::Instant;

use nix::errno::Errno;
use nix::poll::{PollFd, PollFlags, PollTimeout, poll};

/// What one [`WorkerOutput::fill`] found.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Fill {
    /// More output came (possibly no complete line yet).
    Read,
    /// The deadline passed first.
    TimedOut,
    /// Stdout reached end of file: every writer is gone; its last lines are queued.
    Closed,
}

/// The read ends of a worker's stdout and stderr.
pub(super) struct WorkerOutput {
    stdout: Option<File>,
    stderr: Option<File>,
    /// Bytes of stdout after its last newline.
    partial: Vec<u8>,
    /// The last bytes of stderr (at least `keep`).
    stderr_tail: Vec<u8>,
    keep: usize,
}

impl WorkerOutput {
    /// Reads `stdout` and `stderr`, keeping the last `keep` bytes of stderr.
    pub(super) fn new(stdout: OwnedFd, stderr: OwnedFd, keep: usize) -> WorkerOutput {
        WorkerOutput {
            stdout: Some(File::from(stdout)),
            stderr: Some(File::from(stderr)),
            partial: Vec::new(),
            stderr_tail: Vec::new(),
            keep,
        }
    }

    /// Waits until stdout or stderr has output, stdout ends, or `deadline` (`None`: no
    /// deadline) passes; complete stdout lines go to `lines` (and the unfinished last one when
    /// stdout ends), in order.
    pub(super) fn fill(&mut self, deadline: Option<Instant>, lines: &mut VecDeque<String>) -> Fill {
        let Some(stdout) = &self.stdout else {
            return Fill::Closed;
        };
        let timeout = match deadline {
            None => PollTimeout::NONE,
            Some(deadline) => {
                let left = deadline.saturating_duration_since(Instant::now());
                if left.is_zero() {
                    return Fill::TimedOut;
                }
                // Rounded up, so an early wake-up never spins.
                let millis = left.as_micros().div_ceil(1000);
                PollTimeout::try_from(millis).unwrap_or(PollTimeout::MAX)
            }
        };
        let mut fds = vec![PollFd::new(stdout.as_fd(), PollFlags::POLLIN)];
        if let Some(stderr) = &self.stderr {
            fds.push(PollFd::new(stderr.as_fd(), PollFlags::POLLIN));
        }
        match poll(&mut fds, timeout) {
            Ok(0) => return Fill::TimedOut,
            Ok(_) | Err(Errno::EINTR) => {}
            Err(_) => return self.read_stdout(lines),
        }
        let ready = |fd: &PollFd<'_>| fd.revents().is_some_and(|r| !r.is_empty());
        let (stdout_ready, stderr_ready) = (ready(&fds[0]), fds.get(1).is_some_and(ready));
        drop(fds);
        if stderr_ready {
            self.read_stderr_once();
        }
        if stdout_ready {
            return self.read_stdout(lines);
        }
        Fill::Read
    }

    /// One read of stdout: its complete lines queued, or its end.
    fn read_stdout(&mut self, lines: &mut VecDeque<String>) -> Fill {
        let Some(stdout) = &mut self.stdout else {
            return Fill::Closed;
        };
        let mut buf = [0u8; 64 * 1024];
        let read = loop {
            match stdout.read(&mut buf) {
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                other => break other.unwrap_or(0),
            }
        };
        if read == 0 {
            self.stdout = None;
            if !self.partial.is_empty() {
                let last = std::mem::take(&mut self.partial);
                lines.push_back(String::from_utf8_lossy(&last).into_owned());
            }
            return Fill::Closed;
        }
        self.partial.extend_from_slice(&buf[..read]);
        let mut start = 0;
        while let Some(end) = self.partial[start..].iter().position(|b| *b == b'\n') {
            let line = &self.partial[start..start + end];
            lines.push_back(String::from_utf8_lossy(line).into_owned());
            start += end + 1;
        }
        self.partial.drain(..start);
        Fill::Read
    }

    /// One read of stderr, keeping its tail; closes it at its end.
    fn read_stderr_once(&mut self) {
        let Some(stderr) = &mut self.stderr else {
            return;
        };
        let mut buf = [0u8; 16 * 1024];
        match stderr.read(&mut buf) {
            Ok(0) => self.stderr = None,
            Ok(read) => {
                self.stderr_tail.extend_from_slice(&buf[..read]);
                let excess = self.stderr_tail.len().saturating_sub(self.keep);
                self.stderr_tail.drain(..excess);
            }
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(_) => self.stderr = None,
        }
    }

    /// Reads stderr to its end and returns its last bytes as text.
    pub(super) fn stderr_tail(mut self) -> String {
        while self.stderr.is_some() {
            self.read_stderr_once();
        }
        String::from_utf8_lossy(&self.stderr_tail).into_owned()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;

    #[test]
    fn lines_come_whole_in_order_and_the_last_unfinished_one_at_the_end() {
        let (out_r, mut out_w) = io::pipe().unwrap();
        let (err_r, mut err_w) = io::pipe().unwrap();
        let mut output = WorkerOutput::new(out_r.into(), err_r.into(), 4);
        out_w.write_all(b"one\ntw").unwrap();
        err_w.write_all(b"0123456789").unwrap();
        drop(err_w);
        let mut lines = VecDeque::new();
        let deadline = Some(Instant::now() + std::time::Duration::from_secs(5));
        while lines.is_empty() {
            assert_eq!(output.fill(deadline, &mut lines), Fill::Read);
        }
        out_w.write_all(b"o\nthree").unwrap();
        drop(out_w);
        while output.fill(deadline, &mut lines) != Fill::Closed {}
        assert_eq!(lines, ["one", "two", "three"]);
        assert_eq!(output.stderr_tail(), "6789");
    }

    #[test]
    fn a_silent_worker_times_out() {
        let (out_r, _out_w) = io::pipe().unwrap();
        let (err_r, _err_w) = io::pipe().unwrap();
        let mut output = WorkerOutput::new(out_r.into(), err_r.into(), 4);
        let deadline = Some(Instant::now() + std::time::Duration::from_millis(20));
        let mut lines = VecDeque::new();
        assert_eq!(output.fill(deadline, &mut lines), Fill::TimedOut);
    }
}
