#![warn(missing_docs)]
#![forbid(unsafe_code)]
//! A fault-injecting SQLite VFS ([`FaultVfs`]) that wraps the default `unix` VFS.
//!
//! Register it under a name, open a connection with that VFS name, add rules:
//! I/O errors ([`FaultRule`]), short writes, bit flips on read
//! ([`BitFlipRule`]) and power loss ([`CrashTrigger`], [`CrashMode`]).
//!
//! ```no_run
//! use harness::backends::vfs::{FaultRule, FaultVfs, FileKind, IoOp, Trigger, VfsOptions};
//! use rusqlite::{Connection, OpenFlags};
//!
//! let vfs = FaultVfs::register("doc-faults", VfsOptions::default()).unwrap();
//! let conn = Connection::open_with_flags_and_vfs("/tmp/doc.db", OpenFlags::default(), vfs.name()).unwrap();
//! vfs.add_rule(FaultRule::new(IoOp::Sync, Trigger::Nth(1)).on(FileKind::Wal)).unwrap();
//! # drop(conn);
//! ```
//!
//! # Power-loss model
//! With [`VfsOptions::track_power_loss`], the VFS keeps, per file (main DB,
//! WAL, journals; never `-shm`, which SQLite rebuilds), its durable content
//! and the writes and truncates since its last `xSync`, and per directory
//! entry whether its creation or deletion reached the disk:
//! - A file that existed when first opened is durable as found on disk.
//! - A file the shim creates has a pending entry until its directory is
//!   synced. As the unix VFS does (`UNIXFILE_DIRSYNC`), the first successful
//!   sync of a journal or WAL opened with `SQLITE_OPEN_CREATE`, and of any
//!   file the shim created (including a main DB: lenient, since the unix VFS
//!   never syncs the directory for it and applications must), syncs the
//!   directory, which makes every pending change in it durable.
//! - `xDelete` is durable at once only when SQLite passes `syncDir`.
//! - After a cut, every call fails (reads, opens, deletes, locks, closes),
//!   so closing the connection does not change the disk. Pure queries
//!   (sector size, device characteristics), `xShmBarrier`, `xUnfetch` and
//!   the release of file descriptors and mappings still run.
//!
//! Memory-mapped reads (with [`VfsOptions::forward_fetch`]) bypass `xRead`,
//! so bit flips only reach reads that SQLite does not map.
//!
//! The VFS is built on the `vfs-shim` crate, which holds all of its unsafe
//! code: nothing here needs any.

mod bitflip;
mod controller;
mod events;
mod hooks;
mod options;
mod power_loss;
mod rules;
mod write_log;

use std::path::Path;
use std::sync::Arc;

use controller::Controller;
pub use events::{FaultEvent, FaultEventKind, IoCounts};
pub use options::{CrashTrigger, VfsError, VfsOptions};
pub use power_loss::{CrashImageStats, CrashMode, ImageFiles, mode_label};
pub use rules::{BitFlipRule, FaultError, FaultRule, FileKind, IoOp, Trigger, ioerr_code};
pub use write_log::{LogReplay, WriteLog, write_image_files};

/// Seeds SQLite's own process-wide PRNG from `seed`.
///
/// SQLite writes random bytes into files (the WAL header salts, fresh at every
/// WAL restart), so identical crash-image bytes for the same seed need this
/// too. It affects every connection in the process: call it in the worker,
/// before the workload of each iteration.
pub fn seed_sqlite_prng(seed: u64) {
    let folded = (seed ^ (seed >> 32)) as u32 as i32;
    vfs_shim::seed_prng(if folded == 0 { 1 } else { folded });
}

/// A registered fault VFS; a cheap handle (clone it freely).
///
/// The VFS stays registered until the process exits (SQLite may hold pointers to it).
#[derive(Debug, Clone)]
pub struct FaultVfs {
    name: Arc<str>,
    ctrl: Arc<Controller>,
}

impl FaultVfs {
    /// Registers a new VFS named `name` wrapping the default VFS (not as default).
    ///
    /// # Errors
    /// [`VfsError::NameTaken`] when the name is in use in this process, or the SQLite error.
    pub fn register(name: &str, options: VfsOptions) -> Result<FaultVfs, VfsError> {
        let forward_fetch = options.forward_fetch;
        let ctrl = Arc::new(Controller::new(options));
        hooks::register(name, Arc::clone(&ctrl), forward_fetch)?;
        Ok(FaultVfs {
            name: Arc::from(name),
            ctrl,
        })
    }

    /// The VFS name to pass to `Connection::open_with_flags_and_vfs`.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// Adds an I/O error rule.
    ///
    /// # Errors
    /// [`VfsError::InvalidRule`] when the rule's error does not fit its op or it can never match.
    pub fn add_rule(&self, rule: FaultRule) -> Result<(), VfsError> {
        self.ctrl.add_rule(rule)
    }

    /// Adds a bit-flip-on-read rule.
    ///
    /// # Errors
    /// [`VfsError::InvalidRule`] for a file kind that is never read or `bits = 0`.
    pub fn add_bit_flip(&self, rule: BitFlipRule) -> Result<(), VfsError> {
        self.ctrl.add_bit_flip(rule)
    }

    /// Removes every error and bit-flip rule: faults stop, connections work again.
    /// An armed or happened power cut is not affected.
    pub fn clear_rules(&self) {
        self.ctrl.clear_rules();
    }

    /// Forgets everything: rules, events, counts, the power-loss model and the
    /// cut (the seed is kept and restarted). Lets one registered VFS serve many
    /// iterations; call it with no connection open through this VFS.
    pub fn reset(&self) {
        self.ctrl.reset();
    }

    /// Seeds every probabilistic decision of this VFS: probability triggers,
    /// flipped bits, crash images. SQLite's own randomness (WAL salts) is
    /// seeded separately by [`seed_sqlite_prng`].
    pub fn set_seed(&self, seed: u64) {
        self.ctrl.set_seed(seed);
    }

    /// Arms a power cut.
    pub fn arm_power_loss(&self, trigger: CrashTrigger) {
        self.ctrl.arm(trigger);
    }

    /// Cuts the power now: every later call fails.
    pub fn power_cut_now(&self) {
        self.ctrl.cut_now();
    }

    /// Whether the power has been cut.
    pub fn has_crashed(&self) -> bool {
        self.ctrl.has_crashed()
    }

    /// After a power cut, writes what a disk would hold after reboot into `dest`
    /// (created if missing): every tracked file durably present in its directory,
    /// with its durable content plus the unsynced pieces `mode` keeps. Never `-shm`.
    /// The same seed and workload give the same bytes.
    ///
    /// # Errors
    /// [`VfsError::NoPowerCut`], [`VfsError::NotTracking`], or an I/O error naming the path.
    pub fn write_crash_image(
        &self,
        dest: &Path,
        mode: CrashMode,
    ) -> Result<CrashImageStats, VfsError> {
        let (files, stats) = self.ctrl.crash_image(mode)?;
        write_image_files(dest, &files)?;
        Ok(stats)
    }

    /// Starts recording the write log: every change to the power-loss model from now on,
    /// tagged with the durable mutations made before it ([`WriteLog`]). Needs
    /// [`VfsOptions::track_power_loss`]; [`FaultVfs::reset`] stops it.
    pub fn record_write_log(&self) {
        self.ctrl.record_write_log();
    }

    /// Stops recording and returns the write log, with the durable mutations made so far and
    /// the seed crash images draw from.
    pub fn take_write_log(&self) -> WriteLog {
        self.ctrl.take_write_log()
    }

    /// Every injected fault, in order.
    pub fn events(&self) -> Vec<FaultEvent> {
        self.ctrl.events()
    }

    /// Calls per operation kind so far.
    pub fn io_counts(&self) -> IoCounts {
        self.ctrl.counts()
    }
}
