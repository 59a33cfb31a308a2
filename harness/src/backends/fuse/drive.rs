//! The drive loop on a FUSE mount ([`run_pass`], [`count_mutations`]): the ledger opens its
//! database with SQLite's default VFS (no shim) and its vault inside the mount, so the mount
//! observes every system call. When the power goes (the mount fails every request after the
//! cut), the operation in flight gets no `OpFinished` (its outcome is unknown) and the pass
//! stops: the cut is the planned stop of the workload, and the mount's cache is frozen as it
//! left it.

use std::path::Path;

use ledger::{Ledger, LedgerError};

use super::daemon::FuseMount;
use crate::backends::vfs::seed_sqlite_prng;
use crate::engine::{
    CheckedDatabase, IterationJob, Sink, WorkerError, WorkerMessage, apply_workload_pragmas,
    drive_options, ledger_config_at, scratch_target,
};
use crate::workload::{CaptureIds, execute};

/// Mounts a fresh caching file system for one pass at `dir/mnt` (durable state in
/// `dir/backing`), crash images seeded by the job.
///
/// # Errors
/// [`WorkerError::Plan`] with the reason the mount was refused.
pub fn mount_for(job: &IterationJob, dir: &Path) -> Result<FuseMount, WorkerError> {
    crate::engine::fresh_dir(dir)?;
    FuseMount::mount(&dir.join("mnt"), &dir.join("backing"), job.seed)
        .map_err(|reason| WorkerError::Plan(format!("no FUSE: {reason}")))
}

/// Runs the workload uncut on a fresh mount in `scratch` (removed afterwards) and returns the
/// durable mutations the mount observed: the range crash points are drawn from.
///
/// # Errors
/// The mount was refused or the pass failed.
pub fn count_mutations(job: &IterationJob, scratch: &Path) -> Result<u64, WorkerError> {
    let mount = mount_for(job, scratch)?;
    let target = scratch_target(job, mount.mountpoint());
    run_pass(job, &target, &mount, &mut |_| Ok(()))?;
    let mutations = mount.mutations();
    drop(mount);
    let _ = std::fs::remove_dir_all(scratch);
    Ok(mutations)
}

/// One pass of the workload on `target` (inside `mount`): opens the ledger with the default
/// VFS, runs the plan until it ends or the mount's power is cut, reporting operations.
///
/// # Errors
/// The ledger did not open (other than because of the cut), or `sink` failed.
pub fn run_pass(
    job: &IterationJob,
    target: &CheckedDatabase,
    mount: &FuseMount,
    sink: &mut Sink<'_>,
) -> Result<(), WorkerError> {
    seed_sqlite_prng(job.seed);
    let mut config = ledger_config_at(job, &target.db_path, &target.vault_dir);
    config.vfs = None;
    // As on the VFS backend: after the cut every call fails, retries would only sleep.
    config.tuning.retry = ledger::RetryPolicy::disabled();
    let mut ledger = match Ledger::open_with(&config, drive_options(job)) {
        Ok(ledger) => ledger,
        Err(_) if mount.has_crashed() => return Ok(()),
        Err(e) => return Err(e.into()),
    };
    if let Err(e) = apply_workload_pragmas(job, &ledger) {
        if mount.has_crashed() {
            close_after_cut(ledger);
            return Ok(());
        }
        return Err(e);
    }
    let mut ids = CaptureIds::default();
    for (index, op) in job.plan.iter().enumerate() {
        sink(WorkerMessage::OpStarted { index })?;
        let outcome = execute(&mut ledger, op, &mut ids);
        if mount.has_crashed() {
            close_after_cut(ledger);
            return Ok(());
        }
        sink(WorkerMessage::OpFinished { index, outcome })?;
    }
    match ledger.close() {
        Err(_) if mount.has_crashed() => Ok(()),
        other => other.map_err(WorkerError::from),
    }
}

/// Drops the ledger after a cut: every request fails, so closing changes nothing durable.
fn close_after_cut(ledger: Ledger) {
    let _: Result<(), LedgerError> = ledger.close();
}
