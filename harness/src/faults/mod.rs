//! Fault layers the harness injects into the ledger, and [`FaultPlan`], the data that says which.
//!
//! A plan is data in the scenario file; each layer interprets its own variant in its own file.
//! What the ledger must survive, per layer:
//! - [`FaultPlan::ProcessKill`] (`process.rs`): `kill -9` of the writing worker at a seeded
//!   operation; nothing acknowledged may be lost, nothing partial may be visible after reopening.
//! - [`FaultPlan::ProcessStop`] (`process.rs`): `SIGSTOP` of the writer, resumed later (it must
//!   go on as if nothing happened) or never (the supervisor's timeout must end it).
//! - The disk layer ([`vfs`]), a SQLite VFS wrapping the default one, injects I/O errors on
//!   read, write, sync, truncate, lock, open, delete, shm-map and fetch (once, Nth, from the Nth
//!   on, or with a seeded probability); short (torn) writes that keep only the first k 512-byte
//!   sectors; bit flips in the data a read returns (the file stays intact); and power loss: a cut
//!   before the Nth mutation, then crash images that drop, keep or tear every write and
//!   directory change not yet synced. The plans that use it: [`FaultPlan::Disk`] (`disk.rs`)
//!   and [`FaultPlan::PowerLoss`] (`power.rs`), each documenting what must be survived.
//! - [`FaultPlan::Corruption`] (`corruption.rs`): damage to an index page, a table page, a WAL
//!   frame or the header, applied to the files at rest after the workload; index damage must be
//!   repaired, table damage reported as `corrupt` and never served, and every acknowledged
//!   capture stays intact or is named missing.
//! - [`FaultPlan::Alloc`] (`alloc.rs`, unsafe in `alloc_raw.rs`): SQLite's allocator fails the
//!   Nth allocation (once or from then on, or every N in a sweep), heap limits, `RLIMIT_AS`;
//!   every operation succeeds or fails cleanly, nothing acknowledged is lost.
//! - [`FaultPlan::MemoryPressure`] (`memory.rs`): a fake memory probe raised and lowered at
//!   fixed operations; the ledger shrinks its cache and leaves mmap, and loses nothing.
//! - [`FaultPlan::LockContention`] (`locks.rs`): writer processes or threads on one database,
//!   a lock holder stopped with `SIGSTOP`, a long reader during checkpoints; nothing
//!   acknowledged is lost, and contention within the budget never surfaces as a busy error.
//! - [`FaultPlan::FailPoints`] (`failpoints.rs`): actions at the ledger's named fail points
//!   (return, panic, sleep, pause, counted and seeded-probability chains), or a crash at every
//!   point in turn; a crash loses nothing acknowledged, an export happens exactly once, and a
//!   prune deletes only what a verified backup holds.

pub mod alloc;
pub mod alloc_raw;
pub mod corruption;
pub mod disk;
pub mod failpoints;
pub mod locks;
pub mod memory;
pub mod power;
pub mod process;
pub mod vault_power;
pub mod vfs;

use serde::{Deserialize, Serialize};

pub use alloc::AllocFaults;
pub use corruption::{Corruption, CorruptionTarget};
pub use disk::DiskFaults;
pub use failpoints::FailPoints;
pub use locks::LockContention;
pub use memory::MemoryPressure;
pub use power::PowerLoss;
pub use process::{ProcessKill, ProcessStop, SignalPlan};
pub use vfs::VfsOptions;

/// What a scenario injects.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "kebab-case", deny_unknown_fields)]
pub enum FaultPlan {
    /// No fault: the baseline every check must hold on.
    #[default]
    None,
    /// `kill -9` the worker while it writes, at a seeded operation and delay.
    ProcessKill(ProcessKill),
    /// `SIGSTOP` the worker while it writes; `SIGCONT` later or never.
    ProcessStop(ProcessStop),
    /// I/O errors and bit flips from the fault VFS during the whole drive phase.
    Disk(DiskFaults),
    /// A power cut before a seeded durable mutation; the check runs on the crash images.
    PowerLoss(PowerLoss),
    /// Damage to the files at rest between the drive and the check phase.
    Corruption(Corruption),
    /// Allocation failures, heap limits and `RLIMIT_AS` in the drive worker.
    Alloc(AllocFaults),
    /// Memory pressure raised and lowered through a fake probe.
    MemoryPressure(MemoryPressure),
    /// Several writers on one database, a stopped lock holder, a long reader.
    LockContention(LockContention),
    /// Actions at the ledger's fail points (feature `failpoints`), or a crash at each in turn.
    #[serde(rename = "failpoints")]
    FailPoints(FailPoints),
}

impl FaultPlan {
    /// True when the same seed always gives the same trace (no timing-dependent fault).
    pub fn is_deterministic(&self) -> bool {
        match self {
            FaultPlan::None
            | FaultPlan::Disk(_)
            | FaultPlan::PowerLoss(_)
            | FaultPlan::Corruption(_) => true,
            FaultPlan::MemoryPressure(_) => true,
            FaultPlan::Alloc(alloc) => alloc.rlimit_as_headroom.is_none(),
            FaultPlan::ProcessKill(_) | FaultPlan::ProcessStop(_) => false,
            FaultPlan::LockContention(_) => false,
            FaultPlan::FailPoints(_) => true,
        }
    }

    /// The options of the fault VFS the drive worker opens the ledger through, or `None` when
    /// the plan does not use the disk layer.
    pub fn vfs_options(&self) -> Option<VfsOptions> {
        match self {
            FaultPlan::Disk(disk) => Some(disk.vfs_options()),
            FaultPlan::PowerLoss(power) => Some(power.vfs_options()),
            FaultPlan::None
            | FaultPlan::ProcessKill(_)
            | FaultPlan::ProcessStop(_)
            | FaultPlan::Corruption(_) => None,
            FaultPlan::Alloc(_) | FaultPlan::MemoryPressure(_) => None,
            FaultPlan::LockContention(_) => None,
            FaultPlan::FailPoints(_) => None,
        }
    }

    /// Checks what serde cannot (rules that can never fire, empty mode lists).
    ///
    /// # Errors
    /// A message naming what is wrong.
    pub fn validate(&self) -> Result<(), String> {
        match self {
            FaultPlan::Disk(disk) => disk.validate().map_err(|e| e.to_string()),
            FaultPlan::PowerLoss(power) => power.validate().map_err(|e| e.to_string()),
            FaultPlan::Corruption(corruption) => corruption.validate(),
            FaultPlan::None => Ok(()),
            FaultPlan::ProcessKill(kill) => {
                process::validate_hold(kill.hold_at.as_deref(), kill.hold_at_hit)
            }
            FaultPlan::ProcessStop(stop) => {
                process::validate_hold(stop.hold_at.as_deref(), stop.hold_at_hit)
            }
            FaultPlan::Alloc(alloc) => alloc.validate(),
            FaultPlan::MemoryPressure(pressure) => pressure.validate(),
            FaultPlan::LockContention(locks) => locks.validate(),
            FaultPlan::FailPoints(points) => points.validate(),
        }
    }

    /// True for a power-loss plan asking for every crash point (`--exhaustive`).
    pub fn is_exhaustive(&self) -> bool {
        matches!(self, FaultPlan::PowerLoss(p) if p.exhaustive)
            || matches!(self, FaultPlan::Alloc(a) if a.sweep)
    }

    /// The signal the supervisor sends to the drive worker, if the plan has one.
    pub fn signal_plan(&self, seed: u64, operations: usize) -> Option<SignalPlan> {
        match self {
            FaultPlan::None
            | FaultPlan::Disk(_)
            | FaultPlan::PowerLoss(_)
            | FaultPlan::Corruption(_) => None,
            FaultPlan::Alloc(_) | FaultPlan::MemoryPressure(_) => None,
            FaultPlan::ProcessKill(kill) => Some(kill.choose(seed, operations)),
            FaultPlan::ProcessStop(stop) => Some(stop.choose(seed, operations)),
            FaultPlan::LockContention(_) => None,
            FaultPlan::FailPoints(_) => None,
        }
    }

    /// The iteration's plan when the fault shapes it (lock contention: every writer's plan),
    /// or `None` for the generated workload as is.
    pub fn workload_plan(
        &self,
        spec: &crate::scenario::WorkloadSpec,
        seed: u64,
    ) -> Option<Vec<crate::workload::Operation>> {
        match self {
            FaultPlan::LockContention(locks) => Some(locks.plan(spec, seed)),
            _ => None,
        }
    }
}
