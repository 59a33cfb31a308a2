//! Power loss on the FUSE backend (`backend = "fuse"`): a counting pass on a fresh mount learns
//! how many durable mutations (writes, truncates, syncs, creates, renames, unlinks) the workload
//! makes as system calls; the cut is armed before a seeded one of them; the workload runs on a
//! second mount until the power goes; one crash image per mode is built from that mount's cache
//! and reported for the check phase, which judges them exactly as it judges the VFS's images.
//! The vault lives inside the mount: what survives of it comes from the observed calls, never
//! from the ledger's own `fs_events`.

use std::path::Path;

use super::plan::{PowerLoss, mode_label};
use crate::backends::fuse::FuseMount;
use crate::backends::fuse::drive::{count_mutations, mount_for, run_pass};
use crate::engine::{
    CheckedDatabase, IterationJob, Sink, WorkerError, WorkerMessage, fresh_dir, iteration_dir,
    scratch_target,
};

/// The FUSE drive: counting pass, armed cut, the cut pass, one crash image per mode.
///
/// # Errors
/// [`WorkerError`] when a mount is refused, a pass fails or an image cannot be written.
pub fn drive_on_fuse(
    job: &IterationJob,
    power: &PowerLoss,
    sink: &mut Sink<'_>,
) -> Result<(), WorkerError> {
    let dir = iteration_dir(job);
    let mutations = count_mutations(job, &dir.join("fuse-counting-pass"))?;
    let point = power.crash_point(job.seed, mutations);
    let mount = mount_for(job, &dir.join("fuse"))?;
    mount.arm_cut(point);
    sink(WorkerMessage::Fault {
        during_operation: None,
        description: format!(
            "power cut armed before file-system mutation {point} of {mutations} (FUSE backend, counting pass)"
        ),
    })?;
    let target = scratch_target(job, mount.mountpoint());
    run_pass(job, &target, &mount, sink)?;
    if !mount.has_crashed() {
        mount.cut_now();
        sink(WorkerMessage::Fault {
            during_operation: None,
            description: "the workload ended before the armed cut: power cut at the end".into(),
        })?;
    }
    let images = write_fuse_images(job, power, &mount, &dir, sink)?;
    drop(mount);
    for image in images {
        sink(WorkerMessage::CrashImage(image))?;
    }
    Ok(())
}

/// Writes one crash image per mode from `mount`'s cache into `dir/crash-<mode>/` and reports
/// each image's make-up as a fault line. Returns the images to check.
///
/// # Errors
/// [`WorkerError::Scratch`] when an image cannot be written, or the backing directory failed.
pub fn write_fuse_images(
    job: &IterationJob,
    power: &PowerLoss,
    mount: &FuseMount,
    dir: &Path,
    sink: &mut Sink<'_>,
) -> Result<Vec<CheckedDatabase>, WorkerError> {
    if let Some(error) = mount.backing_error() {
        return Err(WorkerError::Plan(format!(
            "the FUSE backing directory failed: {error}"
        )));
    }
    let mut images = Vec::with_capacity(power.modes.len());
    for mode in &power.modes {
        let label = mode_label(*mode);
        let image_dir = dir.join(format!("crash-{label}"));
        fresh_dir(&image_dir)?;
        let stats = mount
            .write_crash_image(&image_dir, *mode)
            .map_err(|source| WorkerError::Scratch {
                path: image_dir.display().to_string(),
                source,
            })?;
        let mut image = scratch_target(job, &image_dir);
        image.label = label.clone();
        sink(WorkerMessage::Fault {
            during_operation: None,
            description: format!(
                "crash image {label}: {} file(s), {} of {} unsynced sector piece(s) kept, {} of {} directory change(s) kept",
                stats.files,
                stats.kept_pieces,
                stats.kept_pieces + stats.dropped_pieces,
                stats.dir_changes_kept,
                stats.dir_changes_kept + stats.dir_changes_dropped
            ),
        })?;
        images.push(image);
    }
    Ok(images)
}
