//! [`RunControl`]: what Ctrl-C and the time budget share with the running iterations.
//!
//! Live worker process groups are registered here so an interrupt can kill them all at once,
//! leaving no process behind.

use std::collections::BTreeSet;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};

use super::signal::kill_group;

/// Shared stop flag and the set of live worker process groups.
#[derive(Debug, Clone, Default)]
pub struct RunControl {
    interrupted: Arc<AtomicBool>,
    live_groups: Arc<Mutex<BTreeSet<u32>>>,
}

impl RunControl {
    /// A control with nothing running.
    pub fn new() -> RunControl {
        RunControl::default()
    }

    /// Installs a Ctrl-C handler that interrupts this run. Call once per process.
    pub fn install_ctrlc(&self) -> Result<(), ctrlc::Error> {
        let control = self.clone();
        ctrlc::set_handler(move || control.interrupt())
    }

    /// Stops the run: no new iteration starts and every live worker is killed.
    pub fn interrupt(&self) {
        self.interrupted.store(true, Ordering::SeqCst);
        for pgid in self.live_groups.lock().expect("live group set").iter() {
            let _ = kill_group(*pgid);
        }
    }

    /// True once the run was interrupted.
    pub fn is_interrupted(&self) -> bool {
        self.interrupted.load(Ordering::SeqCst)
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
