//! The `clock` family ([`ClockPlan`], `[fault] kind = "clock"`): the wall clock the ledger reads
//! through its clock seam (`ledger::Clock`) steps **backwards**, steps **forwards** (an NTP
//! step) and **stalls** at seeded operations, during a workload with backups, WAL archiving
//! after every operation, rotation after every backup, retention pruning guarded by backups,
//! and point-in-time restores at the end.
//!
//! # What "time" means when the clock went backwards
//!
//! The ledger never records or compares the raw clock: it uses *ledger time*
//! (`ledger::ledger_time`), the clock's reading but never earlier than a time it already
//! recorded, `max(clock now, latest recorded)`. So ledger time is non-decreasing: after a
//! backwards step it stands at the latest recorded time until the clock catches up, a forward
//! step is followed (indistinguishable from time passing), a stall stalls it. Backups are
//! strictly ordered on top of that (a backup's time is after every backup in its directory),
//! and archive commit times never go back, even across processes (the archive keeps its last
//! commit time). A point-in-time restore to `T` therefore gives the state after the last
//! transaction whose archive commit time, *as the ledger's own clock recorded it*, is at or
//! before `T`; with a non-decreasing ledger time that is always a prefix of what was archived.
//!
//! # What must hold (and how it is judged)
//!
//! - **No acknowledged write lost**: the check phase judges the live database after the drive
//!   (`acknowledged_durable`, `no_partial`, `integrity`, `state_machine`, as the scenario lists).
//! - **Rotation never deletes the newest verified backup**: after every rotation (with the
//!   plan's retention, by default none, so rotation keeps only what it must), the newest backup
//!   the ledger reported verified (in the order they were taken, not by their recorded time) is
//!   still listed verified.
//! - **A prune never removes what no verified backup holds**: every capture a guarded prune
//!   removed is held by a verified backup taken before the prune (`oracle::backups`).
//! - **Every verified backup restores** to the model at its snapshot point.
//! - **Point-in-time restore**: for seeded times `T` (recorded times, one millisecond either
//!   side, and past the end), restoring to `T` equals the model after the last operation whose
//!   recorded time (archive commit or backup time, as the ledger reported it) is at or before
//!   `T`. Only `T` at or after the oldest backup rotation left are asked for: before it there is
//!   no snapshot to start from.
//!
//! All but the first are `backups_restorable`, judged in the drive from what the drive gathered
//! (the same evidence the `backup` family gathers: restore problems, reported backups and
//! prunes, the model); no new check was needed.
//!
//! # The schedule
//!
//! [`ClockPlan::schedule`] draws `steps` distinct operations (never the first) from the
//! iteration seed and a kind of step for each from `kinds`: `back` (1 to `max-back-minutes`),
//! `forward` (1 to `max-forward-minutes`), `stall` (the clock stops for 1 to
//! `max-stall-operations` operations). Each step is a fault line in the trace before its
//! operation. The wall clock ([`wall::WallClock`]) starts at the drive's usual start and
//! advances ten minutes per reading when not stalled. One ledger, one thread, seeded ids: the
//! same seed gives the same trace (the family is deterministic).
//!
//! With `prune-every = N` the generated workload gets a guarded prune of every exported capture
//! (`days = 0`) after every N operations, so prunes meet captures changed just after a backup
//! whose clock then stepped back.
//!
//! # The mutant it catches
//!
//! `wall-clock-time` (`ledger::mutants`): ledger time is the raw clock. After a backwards step
//! a newer backup is dated before an older one, so rotation keeps the older one as "newest
//! verified" and deletes the newer; rows changed after a backup are dated before it, so a
//! guarded prune may delete them; archive commit times go back, so a point-in-time restore
//! misplaces transactions. Measured with
//! `resilience run --filter clock --seed 3 --iterations 6 --shrink-budget 0 --set
//! target.mutant=wall-clock-time`: 14 of the 18 iterations fail `backups_restorable`, all 14
//! with a rotation that deleted the newest verified backup, 5 with a point-in-time restore that
//! differs, 1 with a prune of a capture no verified backup held; the same command without the
//! mutant passes all 18.
//!
//! # Limits
//!
//! - A point-in-time restore reaches the times the archive recorded: each operation is archived
//!   right after it, so each has its own commit time, and `T` is judged against those (and the
//!   backups' times), not against the clock reading inside the operation.
//! - One ledger handle drives the workload. Two handles open on one database at once each keep
//!   their own latest time (see `ledger::ledger_time`); this family does not exercise that.
//! - The check phase reopens the database with its own clock a year later, so the clock steps
//!   of the drive do not reach it.

mod drive;
pub mod plan;
pub mod wall;

use plan::ClockPlan;

use crate::engine::{Family, IterationJob, Sink, WorkerError};
use crate::oracle::CheckName;
use crate::scenario::{Scenario, WorkloadSpec};
use crate::workload::{Operation, generate};

impl Family for ClockPlan {
    fn name(&self) -> &'static str {
        "clock"
    }

    fn validate(&self, _scenario: &Scenario) -> Result<(), String> {
        ClockPlan::validate(self)
    }

    fn workload_plan(&self, spec: &WorkloadSpec, seed: u64) -> Option<Vec<Operation>> {
        Some(self.with_prunes(generate(spec, seed)))
    }

    fn drive(&self, job: &IterationJob, sink: &mut Sink<'_>) -> Result<(), WorkerError> {
        drive::drive(self, job, sink)
    }

    fn drive_checks(&self, _scenario: &Scenario) -> Vec<CheckName> {
        vec![CheckName::BackupsRestorable]
    }
}
