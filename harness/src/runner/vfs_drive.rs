//! The drive phase through the fault VFS: [`drive`] for `disk` and `power-loss` plans.
//!
//! The worker registers a fault VFS under a name unique in the process, seeds it and SQLite's
//! PRNG from the iteration seed, applies the plan, and opens the ledger through it. Every VFS
//! fault event becomes a [`WorkerMessage::Fault`] line (deterministic text, no paths, no
//! timings) placed at the operation during which it happened.
//!
//! Power loss: a counting pass runs the workload uncut in a scratch directory to learn how many
//! durable mutations it makes; the cut is armed before a seeded one of them; the operation during
//! which the power goes gets no `OpFinished` (it is in flight: its outcome is unknown) and the
//! workload stops. Then one crash image per crash mode is written into the iteration directory,
//! each with a copy of the vault, and reported as [`WorkerMessage::CrashImage`] for the check
//! phase.

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};

use ledger::{Ledger, LedgerError};

use super::job::{CheckedDatabase, IterationJob, WorkerMessage};
use super::worker::{WorkerError, apply_workload_pragmas, drive_options, ledger_config_at};
use crate::faults::power::mode_label;
use crate::faults::vault_power::VaultModel;
use crate::faults::vfs::{CrashTrigger, FaultEventKind, FaultVfs, VfsOptions, seed_sqlite_prng};
use crate::faults::{DiskFaults, FaultPlan, PowerLoss};
use crate::oracle::CheckName;
use crate::workload::{CaptureIds, execute};

/// A sink for worker messages.
pub(super) type Sink<'a> = &'a mut dyn FnMut(WorkerMessage) -> Result<(), WorkerError>;

/// Registers a fault VFS under a name unique in this process.
pub(super) fn register_vfs(options: VfsOptions) -> Result<FaultVfs, WorkerError> {
    static NEXT: AtomicU64 = AtomicU64::new(0);
    let name = format!(
        "resilience-{}-{}",
        std::process::id(),
        NEXT.fetch_add(1, Ordering::Relaxed)
    );
    Ok(FaultVfs::register(&name, options)?)
}

/// Drives a job whose plan has a disk layer.
pub(super) fn drive(job: &IterationJob, sink: Sink<'_>) -> Result<(), WorkerError> {
    let options = job.scenario.fault.vfs_options().unwrap_or_default();
    let vfs = register_vfs(options)?;
    match &job.scenario.fault {
        FaultPlan::PowerLoss(power) => drive_power_loss(job, power, &vfs, sink),
        FaultPlan::Disk(disk) => {
            vfs.set_seed(job.seed);
            let live = CheckedDatabase::live(job);
            run_pass(job, &live, &vfs, Some(disk), sink)?;
            if disk.bit_flips.is_empty() {
                return Ok(());
            }
            let counts = bit_flip_counts(&vfs);
            sink(WorkerMessage::BitFlips(counts))?;
            if job.scenario.target.page_checksums {
                sink(flips_caught(&counts))?;
            }
            Ok(())
        }
        FaultPlan::None
        | FaultPlan::ProcessKill(_)
        | FaultPlan::ProcessStop(_)
        | FaultPlan::Corruption(_)
        | FaultPlan::FailPoints(_) => {
            let live = CheckedDatabase::live(job);
            run_pass(job, &live, &vfs, None, sink)
        }
        FaultPlan::Alloc(_) | FaultPlan::MemoryPressure(_) => {
            run_pass(job, &CheckedDatabase::live(job), &vfs, None, sink)
        }
        FaultPlan::LockContention(_) => {
            run_pass(job, &CheckedDatabase::live(job), &vfs, None, sink)
        }
    }
}

fn drive_power_loss(
    job: &IterationJob,
    power: &PowerLoss,
    vfs: &FaultVfs,
    sink: Sink<'_>,
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
    let ran = run_pass(job, &live, vfs, None, sink);
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

/// The iteration's directory (the database's parent).
pub(super) fn iteration_dir(job: &IterationJob) -> PathBuf {
    job.db_path
        .parent()
        .map_or_else(|| PathBuf::from("."), Path::to_path_buf)
}

/// Runs the workload uncut in `scratch` (removed afterwards) and returns the number of durable
/// mutations it made, the range crash points are drawn from.
pub(super) fn count_mutations(
    job: &IterationJob,
    vfs: &FaultVfs,
    scratch: &Path,
) -> Result<u64, WorkerError> {
    fresh_dir(scratch)?;
    vfs.reset();
    vfs.set_seed(job.seed);
    let target = scratch_target(job, scratch);
    run_pass(job, &target, vfs, None, &mut |_| Ok(()))?;
    let mutations = vfs.io_counts().durable_mutations;
    let _ = std::fs::remove_dir_all(scratch);
    Ok(mutations)
}

/// The job's database and vault names, placed in `dir`.
pub(super) fn scratch_target(job: &IterationJob, dir: &Path) -> CheckedDatabase {
    CheckedDatabase {
        label: "scratch".into(),
        db_path: dir.join(job.db_path.file_name().unwrap_or("ledger.db".as_ref())),
        vault_dir: dir.join("vault"),
    }
}

/// Empties (or creates) `dir`.
pub(super) fn fresh_dir(dir: &Path) -> Result<(), WorkerError> {
    let scratch_err = |source| WorkerError::Scratch {
        path: dir.display().to_string(),
        source,
    };
    if dir.exists() {
        std::fs::remove_dir_all(dir).map_err(scratch_err)?;
    }
    std::fs::create_dir_all(dir).map_err(scratch_err)
}

/// One pass of the workload on `target` through `vfs`: opens the ledger, runs the plan until it
/// ends or the power is cut, reporting operations and VFS events. A disk plan's rules are
/// installed once the ledger is open (so triggers count workload calls, not the schema set-up)
/// and cleared when its `clear-after-operations` says so.
pub(super) fn run_pass(
    job: &IterationJob,
    target: &CheckedDatabase,
    vfs: &FaultVfs,
    disk: Option<&DiskFaults>,
    sink: Sink<'_>,
) -> Result<(), WorkerError> {
    seed_sqlite_prng(job.seed);
    let mut config = ledger_config_at(job, &target.db_path, &target.vault_dir);
    config.vfs = Some(vfs.name().to_owned());
    if matches!(job.scenario.fault, FaultPlan::PowerLoss(_)) {
        // A power-loss plan injects no transient fault before the cut, and after the cut every
        // call fails: the ledger's retries would only sleep through backoff the dead machine
        // never has (it cost 4x in crash states per second). The check phase keeps the policy.
        config.tuning.retry = ledger::RetryPolicy::disabled();
    }
    let mut seen = 0;
    let opened = Ledger::open_with(&config, drive_options(job));
    report_events(vfs, &mut seen, None, sink)?;
    let mut ledger = match opened {
        Ok(ledger) => ledger,
        Err(_) if vfs.has_crashed() => return Ok(()),
        Err(e) => return Err(e.into()),
    };
    apply_workload_pragmas(job, &ledger)?;
    if let Some(disk) = disk {
        disk.apply(vfs)?;
    }
    let mut ids = CaptureIds::default();
    let mut first_fault = None;
    for (index, op) in job.plan.iter().enumerate() {
        if disk.is_some_and(|d| d.clears_before(index, first_fault)) && first_fault.is_some() {
            vfs.clear_rules();
            first_fault = None;
            sink(WorkerMessage::Fault {
                during_operation: Some(index),
                description: "vfs: fault rules cleared before this operation".into(),
            })?;
        }
        sink(WorkerMessage::OpStarted { index })?;
        let outcome = execute(&mut ledger, op, &mut ids);
        if report_events(vfs, &mut seen, Some(index), sink)? && first_fault.is_none() {
            first_fault = Some(index);
        }
        if vfs.has_crashed() {
            close_after_cut(ledger);
            return Ok(());
        }
        sink(WorkerMessage::OpFinished { index, outcome })?;
    }
    let closed = ledger.close();
    report_events(vfs, &mut seen, None, sink)?;
    match closed {
        Err(_) if vfs.has_crashed() => Ok(()),
        Err(e) if disk.is_some() => sink(WorkerMessage::Fault {
            during_operation: None,
            description: format!("closing the ledger failed: {}", e.kind()),
        }),
        other => other.map_err(WorkerError::from),
    }
}

/// Flips the VFS injected (all, and those in whole-page reads, which page checksums cover)
/// and the checksum mismatches the ledger's checksum VFS recorded in this process.
fn bit_flip_counts(vfs: &FaultVfs) -> reports::BitFlipCounts {
    let flips: Vec<_> = vfs
        .events()
        .into_iter()
        .filter(|e| matches!(e.kind, FaultEventKind::BitFlip { .. }))
        .collect();
    let page_sized = |len: Option<i64>| {
        len.is_some_and(|l| (512..=65536).contains(&l) && (l as u64).is_power_of_two())
    };
    reports::BitFlipCounts {
        injected: flips.len() as u64,
        in_page_reads: flips.iter().filter(|e| page_sized(e.len)).count() as u64,
        detected: ledger::checksum::fault_count(),
    }
}

/// `fault_response` of a bit-flip plan with page checksums on: flipped whole-page reads must be
/// caught. Not one mismatch per flip: after the first, the ledger's integrity check re-reads
/// pages with verification off (to describe the damage), and persistent flips recur there.
fn flips_caught(counts: &reports::BitFlipCounts) -> WorkerMessage {
    let passed = counts.in_page_reads == 0 || counts.detected > 0;
    WorkerMessage::Verdict {
        name: CheckName::FaultResponse,
        passed,
        detail: if passed {
            String::new()
        } else {
            format!(
                "page checksums caught none of {} flipped page read(s)",
                counts.in_page_reads
            )
        },
    }
}

/// Drops the ledger after a cut: every call fails, so closing changes nothing on "disk".
fn close_after_cut(ledger: Ledger) {
    let _: Result<(), LedgerError> = ledger.close();
}

/// Sends the VFS events after `seen` as fault lines; true when there were any.
fn report_events(
    vfs: &FaultVfs,
    seen: &mut usize,
    during_operation: Option<usize>,
    sink: Sink<'_>,
) -> Result<bool, WorkerError> {
    let events = vfs.events();
    let fresh = events.len() > *seen;
    for event in &events[(*seen).min(events.len())..] {
        sink(WorkerMessage::Fault {
            during_operation,
            description: event.describe(),
        })?;
    }
    *seen = events.len();
    Ok(fresh)
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
    sink: Sink<'_>,
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
