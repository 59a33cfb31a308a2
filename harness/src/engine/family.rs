//! [`Family`]: the one interface through which a fault family reaches the engine.
//!
//! The engine runs every iteration the same way (a drive worker, then a check worker, judged by
//! what they reported) and asks the scenario's family at each point where families differ: what
//! it validates, whether its traces are deterministic, the workload it shapes, the signal the
//! supervisor sends, the drive itself, a whole-iteration override, which aborts are crashes it
//! planned, and which checks it judges during the drive. Every method but [`Family::name`] has
//! a default that suits a family without that feature.
//!
//! Worker phases a family adds for the processes its drive starts ([`WorkerPhase`]) are not a
//! method: a phase runs before any plan is read, so each family module declares them as a
//! `WORKER_PHASES` constant and `families::worker_phases()` lists them for the CLI.

use std::path::Path;
use std::process::ExitStatus;

use super::control::RunControl;
use super::drive::{Sink, WorkerError, run_plain};
use super::job::{IterationJob, WorkerMessage};
use super::outcome::IterationOutcome;
use super::signal::SignalPlan;
use crate::oracle::CheckName;
use crate::scenario::{Scenario, WorkloadSpec};
use crate::workload::Operation;

/// A worker phase a family adds (`__worker <name> INPUT`), for the processes its drive starts.
#[derive(Debug, Clone, Copy)]
pub struct WorkerPhase {
    /// The phase's name on the command line.
    pub name: &'static str,
    /// Runs the phase on its input file.
    pub run: fn(&Path) -> anyhow::Result<()>,
}

/// Where an iteration runs: what a whole-iteration override needs.
#[derive(Clone, Copy)]
pub struct IterationContext<'a> {
    /// The binary re-executed as a worker.
    pub exe: &'a Path,
    /// The iteration.
    pub job: &'a IterationJob,
    /// Its directory (the database's parent).
    pub dir: &'a Path,
    /// The run's interrupt flag and live process groups.
    pub control: &'a RunControl,
}

/// A fault family: one folder under `families/`, implemented by the data of its plan.
pub trait Family: Send + Sync {
    /// The family's name in documentation and errors (`power-loss`, `locks`, ...).
    fn name(&self) -> &'static str;

    /// Checks what serde cannot (rules that never fire, unknown fail points, empty lists).
    ///
    /// # Errors
    /// A message naming what is wrong.
    fn validate(&self, _scenario: &Scenario) -> Result<(), String> {
        Ok(())
    }

    /// True when the same seed always gives the same trace (no timing-dependent fault).
    fn is_deterministic(&self) -> bool {
        true
    }

    /// The iteration's plan when the family shapes it, or `None` for the generated workload.
    fn workload_plan(&self, _spec: &WorkloadSpec, _seed: u64) -> Option<Vec<Operation>> {
        None
    }

    /// The signal the supervisor sends to the drive worker, if the plan has one.
    fn signal_plan(&self, _seed: u64, _operations: usize) -> Option<SignalPlan> {
        None
    }

    /// The drive phase: executes the job's plan under the family's faults, reporting each
    /// operation, fault, crash image, figure and drive-phase verdict through `sink`.
    ///
    /// # Errors
    /// The worker could not do its job (as opposed to a check that failed).
    fn drive(&self, job: &IterationJob, sink: &mut Sink<'_>) -> Result<(), WorkerError> {
        run_plain(job, sink)
    }

    /// Why this family's iterations cannot run on this machine (e.g. no FUSE), if they cannot:
    /// the pool then records them as skipped with this reason, never as passed.
    fn unavailable(&self) -> Option<String> {
        None
    }

    /// True when the job's drive worker also checks every case it makes (exhaustive crash
    /// points, the allocation sweep): it runs [`Family::drive_and_check`] in the `exhaustive`
    /// phase, and no check worker follows.
    fn checks_in_drive(&self, _job: &IterationJob) -> bool {
        false
    }

    /// Drives and checks every case of the job in one worker (see [`Family::checks_in_drive`]).
    ///
    /// # Errors
    /// The worker could not do its job.
    fn drive_and_check(&self, job: &IterationJob, sink: &mut Sink<'_>) -> Result<(), WorkerError> {
        let _ = sink;
        Err(WorkerError::Plan(format!(
            "the {} family has no exhaustive phase (scenario {})",
            self.name(),
            job.scenario.name
        )))
    }

    /// Runs the whole iteration its own way (perf measurements, the fail-point sweep), or
    /// `None` to let the engine run its drive and check workers.
    fn run_iteration(&self, _context: &IterationContext<'_>) -> Option<IterationOutcome> {
        None
    }

    /// Worker phases the family's drive starts as processes of their own.
    fn worker_phases(&self) -> &'static [WorkerPhase] {
        &[]
    }

    /// A description of a crash the plan caused on purpose (a fail point's abort, an
    /// allocation failure under `RLIMIT_AS`), judged like `kill -9`; `None` when the worker's
    /// end was not planned.
    fn planned_crash(
        &self,
        _status: Option<ExitStatus>,
        _messages: &[WorkerMessage],
        _stderr: &str,
    ) -> Option<String> {
        None
    }

    /// True when a planned crash is already in the trace (the worker reported it before it
    /// aborted), so the supervisor does not add it again.
    fn reports_own_crash(&self) -> bool {
        false
    }

    /// True when the engine can tell from the drive worker's end how its ledger shut down (a
    /// planned kill, crash images, or a drive that finished): the restart part of
    /// `faults_observable` then judges the recovery the reopened ledger reports.
    fn knows_shutdown(&self) -> bool {
        false
    }

    /// Checks the family's drive judges itself and always reports, beyond what the scenario
    /// lists (their verdicts come from the drive worker).
    fn drive_checks(&self, _scenario: &Scenario) -> Vec<CheckName> {
        Vec::new()
    }
}
