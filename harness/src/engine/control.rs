//! [`RunControl`]: what Ctrl-C, SIGTERM and the time budget share with the running iterations.
//!
//! Live worker process groups are registered here so an interrupt can kill them all at once,
//! leaving no process behind.

use std::collections::BTreeSet;
use std::sync::atomic::{AtomicU8, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use super::signal::kill_group;

/// Environment variable that turns the fork server off: every worker is exec'd.
pub const NO_FORK_SERVER_ENV: &str = "RESILIENCE_NO_FORK_SERVER";

/// The reason of iterations a time budget left unstarted.
pub const TIME_BUDGET_SPENT: &str = "time budget spent";

/// The signal that stopped a run. Both stop it the same way; only the exit code and the
/// recorded reason differ.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StopSignal {
    /// `SIGINT` (Ctrl-C).
    Interrupt,
    /// `SIGTERM` (what a CI runner sends when it cancels a job).
    Terminate,
}

impl StopSignal {
    /// The signal's name, as recorded in the reason of skipped iterations.
    pub fn name(self) -> &'static str {
        match self {
            StopSignal::Interrupt => "SIGINT",
            StopSignal::Terminate => "SIGTERM",
        }
    }

    /// The conventional exit code of a process stopped by this signal (128 + its number).
    pub fn exit_code(self) -> i32 {
        match self {
            StopSignal::Interrupt => 130,
            StopSignal::Terminate => 143,
        }
    }

    fn encode(self) -> u8 {
        match self {
            StopSignal::Interrupt => 1,
            StopSignal::Terminate => 2,
        }
    }

    fn decode(code: u8) -> Option<StopSignal> {
        match code {
            1 => Some(StopSignal::Interrupt),
            2 => Some(StopSignal::Terminate),
            _ => None,
        }
    }
}

/// Shared stop flag and the set of live worker process groups.
#[derive(Debug, Clone, Default)]
pub struct RunControl {
    /// 0 while running, else the encoded [`StopSignal`] that stopped the run.
    stopped_by: Arc<AtomicU8>,
    live_groups: Arc<Mutex<BTreeSet<u32>>>,
    /// Workers are exec'd, never forked by a fork server.
    exec_workers: bool,
    /// Workers forked by fork servers so far.
    forked: Arc<AtomicU64>,
}

impl RunControl {
    /// A control with nothing running; workers are forked by fork servers unless the
    /// environment sets `RESILIENCE_NO_FORK_SERVER` (to anything but `0`).
    pub fn new() -> RunControl {
        let off = std::env::var_os(NO_FORK_SERVER_ENV).is_some_and(|v| !v.is_empty() && v != "0");
        RunControl {
            exec_workers: off,
            ..RunControl::default()
        }
    }

    /// The same control with every worker exec'd (no fork server).
    pub fn with_exec_workers(mut self) -> RunControl {
        self.exec_workers = true;
        self
    }

    /// Whether workers are forked by a fork server (else exec'd).
    pub fn uses_fork_server(&self) -> bool {
        !self.exec_workers
    }

    /// Counts a worker a fork server forked.
    pub(super) fn note_forked(&self) {
        self.forked.fetch_add(1, Ordering::Relaxed);
    }

    /// How many workers of this run fork servers forked (the rest were exec'd).
    pub fn workers_forked(&self) -> u64 {
        self.forked.load(Ordering::Relaxed)
    }

    /// Stops the run as Ctrl-C does: no new iteration starts and every live worker is killed.
    pub fn interrupt(&self) {
        self.stop(StopSignal::Interrupt);
    }

    /// Stops the run on `signal`: no new iteration starts and every live worker is killed.
    /// The first signal is the one remembered.
    pub fn stop(&self, signal: StopSignal) {
        let _ = self.stopped_by.compare_exchange(
            0,
            signal.encode(),
            Ordering::SeqCst,
            Ordering::SeqCst,
        );
        for pgid in self.live_groups.lock().expect("live group set").iter() {
            let _ = kill_group(*pgid);
        }
    }

    /// True once the run was interrupted.
    pub fn is_interrupted(&self) -> bool {
        self.stopped_by().is_some()
    }

    /// The signal that stopped the run, if one did.
    pub fn stopped_by(&self) -> Option<StopSignal> {
        StopSignal::decode(self.stopped_by.load(Ordering::SeqCst))
    }

    /// Why iterations that never started were skipped: the stop signal, else the time budget.
    pub fn skip_reason(&self) -> String {
        match self.stopped_by() {
            Some(signal) => format!("interrupted by {}", signal.name()),
            None => TIME_BUDGET_SPENT.to_owned(),
        }
    }

    /// Registers a worker's process group.
    pub fn register(&self, pgid: u32) {
        self.live_groups
            .lock()
            .expect("live group set")
            .insert(pgid);
        if self.is_interrupted() {
            let _ = kill_group(pgid);
        }
    }

    /// Forgets a worker's process group once it is reaped.
    pub fn unregister(&self, pgid: u32) {
        self.live_groups
            .lock()
            .expect("live group set")
            .remove(&pgid);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_first_stop_signal_is_remembered_with_its_exit_code() {
        let control = RunControl::new();
        assert_eq!(control.stopped_by(), None);
        assert_eq!(control.skip_reason(), "time budget spent");
        control.stop(StopSignal::Terminate);
        control.interrupt();
        assert_eq!(control.stopped_by(), Some(StopSignal::Terminate));
        assert_eq!(control.stopped_by().map(StopSignal::exit_code), Some(143));
        assert_eq!(control.skip_reason(), "interrupted by SIGTERM");
    }
}
