//! Exhaustive power loss (`run --exhaustive`): every crash point of an iteration, in one worker.
//!
//! A counting pass learns the workload's durable mutations (writes, syncs, truncates of the
//! main DB, WAL and journal) and reports its operations (the trace of the uncut run). Then for
//! each mutation `n`, in a fresh directory: reset the VFS, arm a cut before mutation `n`, run the
//! workload, write one image per crash mode, reopen each with the default VFS through the
//! ledger's normal open, and judge it against the model of what that pass acknowledged. The
//! verdicts are folded into one per check; the worker reports how many crash states it checked
//! and how long that took.

use std::path::Path;
use std::time::Instant;

use super::plan::PowerLoss;
use super::vault::VaultModel;
use super::write_images;
use crate::backends::vfs::{CrashTrigger, FaultVfs};
use crate::backends::vfs_drive::{Pass, count_mutations, register_vfs, run_pass};
use crate::engine::{
    IterationJob, Sink, Verdicts, WorkerError, WorkerMessage, evidence_of_crash_image,
    execution_from, fresh_dir, iteration_dir, scratch_target,
};

/// Checks every crash point × crash mode of the job's workload in this process, reporting the
/// uncut run's trace, the folded verdicts and the crash states checked through `sink`.
///
/// # Errors
/// [`WorkerError`] when a pass, a scratch directory or an image fails.
pub fn check_every_crash_point(
    job: &IterationJob,
    power: &PowerLoss,
    sink: &mut Sink<'_>,
) -> Result<(), WorkerError> {
    let mut cycles = CrashCycles::prepare(job, power, sink)?;
    let started = Instant::now();
    let mut lost_total = 0;
    for point in 1..=cycles.mutations() {
        lost_total += cycles.check(point)?;
    }
    let elapsed_us = started.elapsed().as_micros() as u64;
    let CrashCycles {
        power,
        mutations,
        mut verdicts,
        ..
    } = cycles;
    sink(WorkerMessage::Fault {
        during_operation: None,
        description: format!(
            "exhaustive power loss: {mutations} crash point(s) x {} crash mode(s) = {} crash states checked",
            power.modes.len(),
            verdicts.states()
        ),
    })?;
    verdicts.lost = lost_total;
    for message in verdicts.messages(true) {
        sink(message)?;
    }
    sink(WorkerMessage::CrashStates {
        checked: verdicts.states(),
        elapsed_us,
    })
}

/// A power-loss workload made ready for crash cycles: the fault VFS registered, the uncut run
/// reported, the durable mutations counted. Each [`CrashCycles::check`] is one crash point:
/// rerun the workload cut before that mutation, write one image per crash mode, reopen and
/// judge each. The crash-cycle bench times exactly this.
pub struct CrashCycles {
    job: IterationJob,
    power: PowerLoss,
    vfs: FaultVfs,
    mutations: u64,
    verdicts: Verdicts,
    scratch: tempfile::TempDir,
}

impl CrashCycles {
    /// Registers the VFS, runs the workload uncut (its messages go to `sink`: they are the
    /// iteration's trace) and counts its durable mutations.
    ///
    /// # Errors
    /// [`WorkerError`] when the VFS cannot be registered, a scratch directory cannot be made or
    /// a pass cannot report.
    pub fn prepare(
        job: &IterationJob,
        power: &PowerLoss,
        sink: &mut Sink<'_>,
    ) -> Result<CrashCycles, WorkerError> {
        let power = power.clone();
        let vfs = register_vfs(power.vfs_options())?;
        let dir = iteration_dir(job);
        let uncut = dir.join("uncut");
        fresh_dir(&uncut)?;
        vfs.reset();
        vfs.set_seed(job.seed);
        run_pass(
            job,
            &scratch_target(job, &uncut),
            &vfs,
            Pass::PowerCut,
            sink,
        )?;
        let _ = std::fs::remove_dir_all(&uncut);
        let mutations = count_mutations(job, &vfs, &dir.join("counting-pass"))?;
        Ok(CrashCycles {
            job: job.clone(),
            power,
            vfs,
            mutations,
            verdicts: Verdicts::new(&job.scenario.checks),
            scratch: fast_scratch(&dir)?,
        })
    }

    /// Durable mutations of the uncut workload: crash points are `1..=mutations()`.
    pub fn mutations(&self) -> u64 {
        self.mutations
    }

    /// Crash states judged so far (points × modes).
    pub fn states(&self) -> u64 {
        self.verdicts.states()
    }

    /// Checks crash point `point`: cut before that durable mutation, one image per crash mode,
    /// each reopened through the ledger's normal open and judged against the model of what the
    /// cut pass acknowledged. The images are independent files, so they are judged on one
    /// thread each. Returns the most acknowledged writes any image lost.
    ///
    /// # Errors
    /// [`WorkerError`] when the scratch directory or an image cannot be written.
    pub fn check(&mut self, point: u64) -> Result<u64, WorkerError> {
        let job = &self.job;
        let state = self.scratch.path().join("crash-state");
        fresh_dir(&state)?;
        self.vfs.reset();
        self.vfs.set_seed(job.seed);
        self.vfs
            .arm_power_loss(CrashTrigger::BeforeNthMutation(point));
        let mut messages = Vec::new();
        let target = scratch_target(job, &state);
        VaultModel::follow(&target.vault_dir);
        let ran = run_pass(job, &target, &self.vfs, Pass::PowerCut, &mut |m| {
            messages.push(m);
            Ok(())
        });
        let vault_model = VaultModel::stop();
        ran?;
        if !self.vfs.has_crashed() {
            self.vfs.power_cut_now();
        }
        let (execution, _) = execution_from(&job.plan, &messages);
        let images = write_images(
            job,
            &self.power,
            &self.vfs,
            &state,
            (&target.vault_dir, vault_model.as_ref()),
            &mut |_| Ok(()),
        )?;
        let judged = std::thread::scope(|scope| {
            let reopening: Vec<_> = images
                .iter()
                .map(|image| scope.spawn(|| evidence_of_crash_image(job, &execution, image)))
                .collect();
            reopening
                .into_iter()
                .map(|thread| {
                    thread
                        .join()
                        .unwrap_or_else(|panic| std::panic::resume_unwind(panic))
                })
                .collect::<Vec<_>>()
        });
        let mut lost_here = 0;
        for (image, evidence) in images.iter().zip(judged) {
            let label = format!("cut before mutation {point}, {}", image.label);
            lost_here = lost_here.max(self.verdicts.add(&label, &evidence));
        }
        Ok(lost_here)
    }
}

/// A scratch directory for crash states: on tmpfs (`/dev/shm`) when the machine has one, so the
/// real fsyncs of the vault and of the reopened images cost nothing; else beside the iteration.
pub(super) fn fast_scratch(dir: &Path) -> Result<tempfile::TempDir, WorkerError> {
    let shm = Path::new("/dev/shm");
    let base = if shm.is_dir() { shm } else { dir };
    tempfile::Builder::new()
        .prefix("resilience-crash-")
        .tempdir_in(base)
        .map_err(|source| WorkerError::Scratch {
            path: base.display().to_string(),
            source,
        })
}
