//! The `power-loss` family: a power cut before a seeded durable mutation ([`PowerLoss`]); the
//! check phase judges crash images that drop, keep or tear every write and directory change
//! not yet synced, each with a copy of the vault as the vault model says the cut left it.
//!
//! A counting pass runs the workload uncut in a scratch directory to learn how many durable
//! mutations it makes; the cut is armed before a seeded one of them; the operation during
//! which the power goes gets no `OpFinished` (it is in flight: its outcome is unknown) and the
//! workload stops. With `exhaustive` (`run --exhaustive`), one worker checks every crash point
//! instead ([`exhaustive`]).

pub mod agreement;
pub mod as_read;
pub mod exhaustive;
pub mod fuse;
pub mod plan;
pub mod recorded;
pub mod vault;

use std::path::Path;

use plan::{Backend, PowerLoss, mode_label};
use vault::VaultModel;

use crate::backends::vfs::{CrashTrigger, FaultVfs};
use crate::backends::vfs_drive::{Pass, count_mutations, register_vfs, run_pass};
use crate::engine::{
    CheckedDatabase, Family, IterationJob, Sink, WorkerError, WorkerMessage, WorkerPhase,
    fresh_dir, iteration_dir, scratch_target,
};
use crate::oracle::CheckName;
use crate::scenario::Scenario;

/// The FUSE backend's daemon: the process that serves the mount the drive's ledger runs on.
pub const WORKER_PHASES: &[WorkerPhase] = &[WorkerPhase {
    name: crate::backends::fuse::daemon::PHASE,
    run: crate::backends::fuse::daemon::serve,
}];

impl Family for PowerLoss {
    fn name(&self) -> &'static str {
        "power-loss"
    }

    fn validate(&self, _scenario: &Scenario) -> Result<(), String> {
        PowerLoss::validate(self).map_err(|e| e.to_string())
    }

    fn drive(&self, job: &IterationJob, sink: &mut Sink<'_>) -> Result<(), WorkerError> {
        match self.backend {
            Backend::Fuse => return fuse::drive_on_fuse(job, self, sink),
            Backend::Both => return agreement::drive_on_both(job, self, sink),
            Backend::Vfs => {}
        }
        let vfs = register_vfs(self.vfs_options())?;
        drive_power_loss(job, self, &vfs, sink)
    }

    fn knows_shutdown(&self) -> bool {
        true
    }

    fn checks_in_drive(&self, _job: &IterationJob) -> bool {
        // The exhaustive enumeration runs on the VFS backend; a FUSE scenario keeps its seeded cut.
        self.exhaustive && self.backend == Backend::Vfs
    }

    fn unavailable(&self) -> Option<String> {
        match self.backend {
            Backend::Vfs => None,
            Backend::Fuse | Backend::Both => crate::backends::fuse::fuse_available()
                .err()
                .map(|reason| format!("no FUSE: {reason}")),
        }
    }

    fn drive_checks(&self, _scenario: &Scenario) -> Vec<CheckName> {
        if self.backend == Backend::Both {
            vec![CheckName::BackendsAgree]
        } else {
            Vec::new()
        }
    }

    fn drive_and_check(&self, job: &IterationJob, sink: &mut Sink<'_>) -> Result<(), WorkerError> {
        match self.crash_states {
            plan::CrashStates::Recorded => recorded::check_every_crash_state(job, self, sink),
            plan::CrashStates::Rerun => exhaustive::check_every_crash_point(job, self, sink),
        }
    }
}

/// The drive: a counting pass learns the workload's durable mutations, the cut is armed before
/// a seeded one of them, the workload runs until the power goes, and one crash image per mode
/// is written and reported for the check phase.
fn drive_power_loss(
    job: &IterationJob,
    power: &PowerLoss,
    vfs: &FaultVfs,
    sink: &mut Sink<'_>,
) -> Result<(), WorkerError> {
    let dir = iteration_dir(job);
    let mutations = count_mutations(job, vfs, &dir.join("counting-pass"))?;
    let point = power.crash_point(job.seed, mutations);
    vfs.reset();
    vfs.set_seed(job.seed);
    vfs.arm_power_loss(CrashTrigger::BeforeNthMutation(point));
    sink(WorkerMessage::Fault {
        during_operation: None,
        description: format!(
            "power cut armed before durable mutation {point} of {mutations} (counting pass)"
        ),
    })?;
    let live = CheckedDatabase::live(job);
    VaultModel::follow(&live.vault_dir);
    let ran = run_pass(job, &live, vfs, Pass::PowerCut, sink);
    let vault_model = VaultModel::stop();
    ran?;
    if !vfs.has_crashed() {
        vfs.power_cut_now();
        sink(WorkerMessage::Fault {
            during_operation: None,
            description: "the workload ended before the armed cut: power cut at the end".into(),
        })?;
    }
    let vault = (live.vault_dir.as_path(), vault_model.as_ref());
    for image in write_images(job, power, vfs, &dir, vault, sink)? {
        sink(WorkerMessage::CrashImage(image))?;
    }
    Ok(())
}

/// Writes one crash image per mode into `dir/crash-<mode>/`, each with a copy of the vault
/// at `vault.0` as the cut leaves it (`vault.1`: its unsynced entries), and reports each
/// image's make-up as a fault line. Returns the images to check.
pub(super) fn write_images(
    job: &IterationJob,
    power: &PowerLoss,
    vfs: &FaultVfs,
    dir: &Path,
    (vault, vault_model): (&Path, Option<&VaultModel>),
    sink: &mut Sink<'_>,
) -> Result<Vec<CheckedDatabase>, WorkerError> {
    let mut images = Vec::with_capacity(power.modes.len());
    for mode in &power.modes {
        let label = mode_label(*mode);
        let image_dir = dir.join(format!("crash-{label}"));
        fresh_dir(&image_dir)?;
        let stats = vfs.write_crash_image(&image_dir, *mode)?;
        let mut image = scratch_target(job, &image_dir);
        image.label = label.clone();
        copy_dir(vault, &image.vault_dir)?;
        let vault_kept = match vault_model {
            Some(model) => model
                .apply(&image.vault_dir, *mode, job.seed)
                .map_err(|source| WorkerError::Scratch {
                    path: image.vault_dir.display().to_string(),
                    source,
                })?,
            None => 0,
        };
        let vault_unsynced = vault_model.map_or(0, VaultModel::unsynced);
        // Only when there were any, so traces (and capsule digests) of a ledger that syncs
        // the vault directory stay what they were before the vault was modelled.
        let vault_line = if vault_unsynced > 0 {
            format!(", {vault_kept} of {vault_unsynced} unsynced vault entries kept")
        } else {
            String::new()
        };
        sink(WorkerMessage::Fault {
            during_operation: None,
            description: format!(
                "crash image {label}: {} file(s), {} of {} unsynced sector piece(s) kept, {} of {} directory change(s) kept{vault_line}",
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

/// Copies the files of `from` (flat: the vault has no subdirectories) into `to`.
fn copy_dir(from: &Path, to: &Path) -> Result<(), WorkerError> {
    let copy_err = |source| WorkerError::Scratch {
        path: to.display().to_string(),
        source,
    };
    std::fs::create_dir_all(to).map_err(copy_err)?;
    let Ok(entries) = std::fs::read_dir(from) else {
        return Ok(());
    };
    for entry in entries {
        let entry = entry.map_err(copy_err)?;
        if entry.path().is_file() {
            std::fs::copy(entry.path(), to.join(entry.file_name())).map_err(copy_err)?;
        }
    }
    Ok(())
}
