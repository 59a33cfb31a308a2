//! The fault families, one folder each, and [`FaultPlan`], the data in a scenario's `[fault]`
//! table that says which.
//!
//! Each family implements [`crate::engine::Family`] on the data of its plan, so the engine
//! reaches a family only through that trait ([`FaultPlan::family`] is the one match that
//! lists them). What each family injects and what must hold, in short:
//! - `baseline` ([`FaultPlan::None`]): no fault; every check must hold.
//! - `process` ([`FaultPlan::ProcessKill`], [`FaultPlan::ProcessStop`]): `kill -9` or `SIGSTOP`
//!   of the writing worker at a seeded operation (or while it holds at a fail point); nothing
//!   acknowledged is lost, nothing partial is visible after reopening.
//! - `disk` ([`FaultPlan::Disk`]): I/O errors, short (torn) writes and bit flips from the fault
//!   VFS; every operation succeeds or fails cleanly, flipped pages are caught by checksums.
//! - `power-loss` ([`FaultPlan::PowerLoss`]): a cut before a seeded durable mutation, then crash
//!   images that drop, keep or tear every unsynced write; what was acknowledged survives.
//! - `corruption` ([`FaultPlan::Corruption`]): damage at rest; repaired, or named and never
//!   served wrong.
//! - `memory` ([`FaultPlan::Alloc`], [`FaultPlan::MemoryPressure`]): allocation failures, heap
//!   limits, `RLIMIT_AS`, memory pressure through a fake probe.
//! - `locks` ([`FaultPlan::LockContention`]): writer processes or threads, a stopped lock holder,
//!   a long reader; contention within the budget never surfaces as a busy error.
//! - `failpoints` ([`FaultPlan::FailPoints`]): actions at the ledger's fail points, or a crash at
//!   each in turn; an export happens exactly once, a prune deletes only what a backup holds.
//! - `backup` (a scenario's `[backup]` table): backup drills under faults; every verified backup
//!   restores to the model at its snapshot point.
//! - `perf` (a scenario's `[perf]` table): the ledger's performance claims as interleaved A/B
//!   ratios.
//! - `clock` ([`FaultPlan::Clock`]): the wall clock steps back, forward and stalls during
//!   backups, archiving, rotation, guarded prunes and point-in-time restores; ledger time never
//!   goes back, rotation keeps the newest verified backup, restores to a time T equal the model
//!   at the last operation recorded at or before T.

pub mod backup;
pub mod baseline;
pub mod clock;
pub mod corruption;
pub mod disk;
pub mod failpoints;
pub mod locks;
pub mod memory;
pub mod perf;
pub mod power_loss;
pub mod process;

use serde::{Deserialize, Serialize};

use crate::engine::{Family, WorkerPhase};
use baseline::Baseline;
use corruption::plan::Corruption;
use disk::plan::DiskFaults;
use failpoints::plan::FailPoints;
use locks::plan::LockContention;
use memory::alloc::AllocFaults;
use memory::pressure::MemoryPressure;
use power_loss::plan::PowerLoss;
use process::plan::{ProcessKill, ProcessStop};

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
    /// The wall clock steps backwards, forwards and stalls during backups, archiving, rotation,
    /// guarded prunes and point-in-time restores.
    Clock(clock::plan::ClockPlan),
}

impl FaultPlan {
    /// The family that runs this plan.
    pub fn family(&self) -> &dyn Family {
        match self {
            FaultPlan::None => &Baseline,
            FaultPlan::ProcessKill(plan) => plan,
            FaultPlan::ProcessStop(plan) => plan,
            FaultPlan::Disk(plan) => plan,
            FaultPlan::PowerLoss(plan) => plan,
            FaultPlan::Corruption(plan) => plan,
            FaultPlan::Alloc(plan) => plan,
            FaultPlan::MemoryPressure(plan) => plan,
            FaultPlan::LockContention(plan) => plan,
            FaultPlan::FailPoints(plan) => plan,
            FaultPlan::Clock(plan) => plan,
        }
    }
}

/// Worker phases the families add for the processes their drives start; the CLI dispatches
/// `__worker PHASE INPUT` through [`crate::engine::run_phase`] with these.
pub fn worker_phases() -> Vec<WorkerPhase> {
    [
        locks::WORKER_PHASES,
        backup::WORKER_PHASES,
        perf::WORKER_PHASES,
        power_loss::WORKER_PHASES,
    ]
    .concat()
}

/// Prepares a worker process before anything initialises SQLite: the counting allocator of
/// the memory family (disarmed until a plan arms it).
///
/// # Errors
/// SQLite refused the allocator.
pub fn prepare_worker_process() -> anyhow::Result<()> {
    memory::alloc_raw::install()?;
    Ok(())
}
