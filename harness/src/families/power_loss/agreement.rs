//! `backend = "both"`: the same workload and the same cut on the fault VFS and on the FUSE
//! backend, and the `backends_agree` check on what each leaves durable.
//!
//! The cut is the one place both backends can share: before a seeded operation, when the
//! previous one has returned (crash points inside an operation are numbered differently by
//! the two backends, see `docs/durability.md`). Each backend runs the workload in its own
//! directory until that operation starts, then the power goes; one image per crash mode
//! (`drop` and `keep`, the modes without random choices) is built by each, the two are
//! compared file by file, and every image is also handed to the check phase.

use rand::{RngExt, SeedableRng};
use rand_chacha::ChaCha8Rng;

use super::fuse::write_fuse_images;
use super::plan::PowerLoss;
use super::vault::VaultModel;
use super::write_images;
use crate::backends::fuse::drive::{mount_for, run_pass as run_fuse_pass};
use crate::backends::vfs_drive::{Pass, register_vfs, run_pass as run_vfs_pass};
use crate::engine::{
    CheckedDatabase, IterationJob, Sink, WorkerError, WorkerMessage, fresh_dir, iteration_dir,
    scratch_target,
};
use crate::oracle::agreement::{BackendComparison, ComparedCut, read_tree};
use crate::oracle::{CheckName, DriveEvidence, judge_in_drive};

/// Mixed into the iteration seed to draw the operation the cut comes before.
const CUT_OPERATION_SALT: u64 = 0xA62E_E000_0000_0001;

/// The operation both backends are cut before: `0..operations` (0 = right after the open).
pub fn cut_operation(seed: u64, operations: usize) -> usize {
    let mut rng = ChaCha8Rng::seed_from_u64(seed ^ CUT_OPERATION_SALT);
    rng.random_range(0..operations.max(1))
}

/// Runs both backends to the same cut, judges `backends_agree` and reports every image.
///
/// # Errors
/// [`WorkerError`] when a pass, a mount or an image fails.
pub fn drive_on_both(
    job: &IterationJob,
    power: &PowerLoss,
    sink: &mut Sink<'_>,
) -> Result<(), WorkerError> {
    let dir = iteration_dir(job);
    let cut = cut_operation(job.seed, job.plan.len());
    sink(WorkerMessage::Fault {
        during_operation: None,
        description: format!("power cut before operation {cut} on the VFS and the FUSE backend"),
    })?;
    let vfs_images = vfs_side(job, power, cut, &dir.join("vfs"), sink)?;
    let fuse_images = fuse_side(job, power, cut, &dir.join("fuse-side"), sink)?;
    let mut comparison = BackendComparison::default();
    for (vfs, fuse) in vfs_images.iter().zip(&fuse_images) {
        let read = |image: &CheckedDatabase| {
            let root = image.db_path.parent().expect("an image has a directory");
            read_tree(root).map_err(|source| WorkerError::Scratch {
                path: root.display().to_string(),
                source,
            })
        };
        comparison.cuts.push(ComparedCut {
            label: format!("cut before operation {cut}, {}", vfs.label),
            vfs: read(vfs)?,
            fuse: read(fuse)?,
        });
    }
    let evidence = DriveEvidence::Backends(comparison);
    sink(judge_in_drive(CheckName::BackendsAgree, &evidence).into())?;
    for (backend, images) in [("vfs", vfs_images), ("fuse", fuse_images)] {
        for mut image in images {
            image.label = format!("{backend} {}", image.label);
            sink(WorkerMessage::CrashImage(image))?;
        }
    }
    Ok(())
}

/// The VFS side: the pass in `dir`, cut when operation `cut` starts, images in `dir`.
fn vfs_side(
    job: &IterationJob,
    power: &PowerLoss,
    cut: usize,
    dir: &std::path::Path,
    sink: &mut Sink<'_>,
) -> Result<Vec<CheckedDatabase>, WorkerError> {
    fresh_dir(dir)?;
    let vfs = register_vfs(power.vfs_options())?;
    vfs.reset();
    vfs.set_seed(job.seed);
    let live = dir.join("live");
    fresh_dir(&live)?;
    let target = scratch_target(job, &live);
    VaultModel::follow(&target.vault_dir);
    let ran = run_vfs_pass(job, &target, &vfs, Pass::PowerCut, &mut |message| {
        if matches!(message, WorkerMessage::OpStarted { index } if index == cut) {
            vfs.power_cut_now();
        }
        Ok(())
    });
    let vault_model = VaultModel::stop();
    ran?;
    if !vfs.has_crashed() {
        vfs.power_cut_now();
    }
    let vault = (target.vault_dir.as_path(), vault_model.as_ref());
    let images = write_images(job, power, &vfs, dir, vault, &mut |_| Ok(()))?;
    let _ = sink;
    Ok(images)
}

/// The FUSE side: the pass on a fresh mount, cut when operation `cut` starts, images in `dir`.
fn fuse_side(
    job: &IterationJob,
    power: &PowerLoss,
    cut: usize,
    dir: &std::path::Path,
    sink: &mut Sink<'_>,
) -> Result<Vec<CheckedDatabase>, WorkerError> {
    fresh_dir(dir)?;
    let mount = mount_for(job, &dir.join("fuse"))?;
    let target = scratch_target(job, mount.mountpoint());
    run_fuse_pass(job, &target, &mount, &mut |message| {
        if matches!(message, WorkerMessage::OpStarted { index } if index == cut) {
            mount.cut_now();
        }
        sink(message)
    })?;
    if !mount.has_crashed() {
        mount.cut_now();
    }
    let images = write_fuse_images(job, power, &mount, dir, &mut |_| Ok(()))?;
    drop(mount);
    Ok(images)
}
