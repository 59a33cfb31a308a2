//! The `locks` family: writer processes or threads on one database, a lock holder stopped with
//! `SIGSTOP`, a long reader during checkpoints ([`LockContention`]). Nothing acknowledged is
//! lost, and contention within the budget never surfaces as a busy error
//! (`contention_absorbed`, judged in the drive from what the writers reported).
//!
//! The writers and the holder are processes of their own: the worker phases `lock-writer` and
//! `lock-holder` ([`WORKER_PHASES`]).

mod actors;
mod drive;
mod hang;
pub mod plan;

use plan::LockContention;

use crate::engine::{Family, IterationJob, Sink, WorkerError, WorkerPhase};
use crate::oracle::CheckName;
use crate::scenario::{Scenario, WorkloadSpec};
use crate::workload::Operation;

/// The processes a contention drive starts: writers and the lock holder.
pub const WORKER_PHASES: &[WorkerPhase] = &[
    WorkerPhase {
        name: "lock-writer",
        run: |input| Ok(actors::writer_worker(input)?),
    },
    WorkerPhase {
        name: "lock-holder",
        run: |input| Ok(actors::holder_worker(input)?),
    },
];

impl Family for LockContention {
    fn name(&self) -> &'static str {
        "locks"
    }

    fn validate(&self, _scenario: &Scenario) -> Result<(), String> {
        LockContention::validate(self)
    }

    fn is_deterministic(&self) -> bool {
        false
    }

    /// Every writer's plan, concatenated: the trace and the model cover all of them.
    fn workload_plan(&self, spec: &WorkloadSpec, seed: u64) -> Option<Vec<Operation>> {
        Some(self.plan(spec, seed))
    }

    fn drive(&self, job: &IterationJob, sink: &mut Sink<'_>) -> Result<(), WorkerError> {
        drive::drive(job, self, sink)
    }

    fn drive_checks(&self, _scenario: &Scenario) -> Vec<CheckName> {
        vec![CheckName::ContentionAbsorbed]
    }
}
