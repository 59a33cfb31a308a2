//! The `backup` family: a backup drill around the workload (a scenario's `[backup]` table,
//! [`BackupSpec`]): backups during concurrent writes, a failing or full destination, a damaged
//! backup, power loss during a backup or a rotation, `kill -9` during archiving or a restore,
//! retention during a restore, and the disaster-recovery drill. Every backup the ledger reports
//! verified restores to the model at its snapshot point, and a prune never removes what no
//! verified backup holds (`backups_restorable`, judged in the drive); the drill's own
//! expectations of the ledger's answers are `fault_response`.
//!
//! Drills that kill a backup step run it in a process of its own: the worker phase
//! `backup-step` ([`WORKER_PHASES`]).

mod crash;
mod drive;
pub mod plan;
mod step;

use plan::{BackupDrill, BackupSpec};

use drive::BackupRun;

use crate::engine::{
    Family, IterationJob, Sink, WorkerError, WorkerPhase, fresh_dir, iteration_dir,
};
use crate::oracle::CheckName;
use crate::scenario::Scenario;

/// The process a drill kills: one backup-side step.
pub const WORKER_PHASES: &[WorkerPhase] = &[WorkerPhase {
    name: "backup-step",
    run: |input| Ok(step::backup_step(input)?),
}];

impl Family for BackupSpec {
    fn name(&self) -> &'static str {
        "backup"
    }

    fn validate(&self, _scenario: &Scenario) -> Result<(), String> {
        BackupSpec::validate(self)
    }

    fn is_deterministic(&self) -> bool {
        self.drill.is_deterministic()
    }

    fn drive(&self, job: &IterationJob, sink: &mut Sink<'_>) -> Result<(), WorkerError> {
        let scratch = iteration_dir(job).join("backup-scratch");
        fresh_dir(&scratch)?;
        let run = BackupRun::new(job, self, sink);
        match self.drill {
            BackupDrill::ConcurrentWrites => drive::concurrent_writes(run, &scratch),
            BackupDrill::DestFaults => drive::dest_faults(run, &scratch),
            BackupDrill::CorruptBackup => drive::corrupt_backup(run, &scratch),
            BackupDrill::Drill => crash::drill(run, &scratch),
            BackupDrill::PowerLossBackup => crash::power_loss_backup(run, &scratch),
            BackupDrill::PowerLossRotation => crash::power_loss_rotation(run, &scratch),
            BackupDrill::KillArchive => crash::kill_archive(run, &scratch),
            BackupDrill::KillRestore => crash::kill_restore(run, &scratch),
            BackupDrill::RetentionDuringRestore => crash::retention_during_restore(run, &scratch),
        }
    }

    fn drive_checks(&self, _scenario: &Scenario) -> Vec<CheckName> {
        let mut checks = vec![CheckName::BackupsRestorable];
        if self.drill != BackupDrill::Drill {
            checks.push(CheckName::FaultResponse);
        }
        checks
    }
}
