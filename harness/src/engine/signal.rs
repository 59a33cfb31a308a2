//! Signals the supervisor sends to a drive worker's process group: [`SignalPlan`] (what and
//! when, decided by a family before the worker starts) and [`kill_group`].

use std::time::Duration;

use nix::sys::signal::{Signal, killpg};
use nix::unistd::Pid;
use serde::{Deserialize, Serialize};

/// The seeded decision: kill after operation `operation` started, `delay_us` later.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct KillPoint {
    /// Index of the operation during which the kill is sent.
    pub operation: usize,
    /// Delay after that operation started.
    pub delay_us: u64,
}

/// What the supervisor does to the writer, and at which point.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SignalPlan {
    /// When.
    pub point: KillPoint,
    /// What.
    pub action: SignalAction,
    /// Signal when the worker reports it holds at its fail point, not at `point`.
    pub on_hold: bool,
}

/// The signal a [`SignalPlan`] sends.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SignalAction {
    /// `SIGKILL`: the worker dies; the check phase judges what it left.
    Kill,
    /// `SIGSTOP`, then `SIGCONT` after the duration (never when `None`).
    Stop(Option<Duration>),
}

impl SignalPlan {
    /// Sends the signal to the process group `pgid`; a stop with a resume time spawns a thread
    /// that sends `SIGCONT` later.
    pub fn deliver(&self, pgid: u32) -> String {
        match self.action {
            SignalAction::Kill => {
                let _ = kill_group(pgid);
                if self.on_hold {
                    "kill -9 of the writer while it held at its fail point".to_owned()
                } else {
                    format!(
                        "kill -9 of the writer {}us after operation {} started",
                        self.point.delay_us, self.point.operation
                    )
                }
            }
            SignalAction::Stop(resume) => {
                let _ = killpg(Pid::from_raw(pgid as i32), Signal::SIGSTOP);
                if let Some(after) = resume {
                    std::thread::spawn(move || {
                        std::thread::sleep(after);
                        let _ = killpg(Pid::from_raw(pgid as i32), Signal::SIGCONT);
                    });
                }
                let when = if self.on_hold {
                    "while it held at its fail point".to_owned()
                } else {
                    format!(
                        "{}us after operation {} started",
                        self.point.delay_us, self.point.operation
                    )
                };
                format!(
                    "SIGSTOP of the writer {when}, {}",
                    resume.map_or("never resumed".to_owned(), |d| format!(
                        "SIGCONT {}ms later",
                        d.as_millis()
                    ))
                )
            }
        }
    }
}

/// Sends SIGKILL to the process group `pgid` (the worker and anything it started).
pub fn kill_group(pgid: u32) -> nix::Result<()> {
    killpg(Pid::from_raw(pgid as i32), Signal::SIGKILL)
}
