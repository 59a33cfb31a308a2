//! `__worker exhaustive JOB`: every crash point of a power-loss iteration, in one process.
//!
//! A counting pass learns the workload's durable mutations (writes, syncs, truncates of the
//! main DB, WAL and journal) and reports its operations (the trace of the uncut run). Then for
//! each mutation `n`, in a fresh directory: reset the VFS, arm a cut before mutation `n`, run the
//! workload, write one image per crash mode, reopen each with the default VFS through the
//! ledger's normal open, and judge it against the model of what that pass acknowledged. The
//! verdicts are folded into one per check; the worker reports how many crash states it checked
//! and how long that took.

use std::io;
use std::path::Path;
use std::time::Instant;

use super::job::{IterationJob, WorkerMessage, execution_from};
use super::verdicts::Verdicts;
use super::vfs_drive::{
    count_mutations, fresh_dir, iteration_dir, register_vfs, run_pass, scratch_target, write_images,
};
use super::worker::{WorkerError, evidence_after_reopen_at, read_json, report};
use crate::faults::vault_power::VaultModel;
use crate::faults::vfs::CrashTrigger;
use crate::faults::{FaultPlan, PowerLoss};

/// Exhaustive phase: reads the job, checks every crash state, reports on stdout.
pub fn exhaustive(job_path: &Path) -> Result<(), WorkerError> {
    let job: IterationJob = read_json(job_path)?;
    let mut out = io::stdout().lock();
    exhaustive_job(&job, &mut |message| report(&mut out, &message))
}

/// Checks every crash point × crash mode of the job's workload in this process.
pub fn exhaustive_job(
    job: &IterationJob,
    sink: &mut dyn FnMut(WorkerMessage) -> Result<(), WorkerError>,
) -> Result<(), WorkerError> {
    if let FaultPlan::Alloc(alloc) = &job.scenario.fault {
        return super::mem_drive::sweep(job, alloc, sink);
    }
    let power = match &job.scenario.fault {
        FaultPlan::PowerLoss(power) => power.clone(),
        _ => PowerLoss::default(),
    };
    let vfs = register_vfs(power.vfs_options())?;
    let dir = iteration_dir(job);
    let uncut = dir.join("uncut");
    fresh_dir(&uncut)?;
    vfs.reset();
    vfs.set_seed(job.seed);
    run_pass(job, &scratch_target(job, &uncut), &vfs, None, sink)?;
    let _ = std::fs::remove_dir_all(&uncut);
    let mutations = count_mutations(job, &vfs, &dir.join("counting-pass"))?;
    let started = Instant::now();
    let mut verdicts = Verdicts::new(&job.scenario.checks);
    let mut lost_total = 0;
    let scratch = fast_scratch(&dir)?;
    let state = scratch.path().join("crash-state");
    for point in 1..=mutations {
        fresh_dir(&state)?;
        vfs.reset();
        vfs.set_seed(job.seed);
        vfs.arm_power_loss(CrashTrigger::BeforeNthMutation(point));
        let mut messages = Vec::new();
        let target = scratch_target(job, &state);
        VaultModel::follow(&target.vault_dir);
        let ran = run_pass(job, &target, &vfs, None, &mut |m| {
            messages.push(m);
            Ok(())
        });
        let vault_model = VaultModel::stop();
        ran?;
        if !vfs.has_crashed() {
            vfs.power_cut_now();
        }
        let (execution, _) = execution_from(&job.plan, &messages);
        let images = write_images(
            job,
            &power,
            &vfs,
            &state,
            (&target.vault_dir, vault_model.as_ref()),
            &mut |_| Ok(()),
        )?;
        let mut lost_here = 0;
        for image in &images {
            let evidence = evidence_after_reopen_at(job, &execution, image);
            let label = format!("cut before mutation {point}, {}", image.label);
            lost_here = lost_here.max(verdicts.add(&label, &evidence));
        }
        lost_total += lost_here;
    }
    drop(scratch);
    let elapsed_us = started.elapsed().as_micros() as u64;
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

/// A scratch directory for crash states: on tmpfs (`/dev/shm`) when the machine has one, so the
/// real fsyncs of the vault and of the reopened images cost nothing; else beside the iteration.
fn fast_scratch(dir: &Path) -> Result<tempfile::TempDir, WorkerError> {
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
