//! The backup drills with a crash, a kill or a destroyed database: power loss during a backup
//! and during rotation, `kill -9` during archiving and during a restore, rotation during a
//! restore, and the disaster-recovery drill. Each is a function taking the [`BackupRun`].

use std::path::Path;

use ledger::backup::{
    BackupConfig, BackupManifest, KeepReason, RestoreTarget, RetentionPolicy, VerificationState,
    plan_restore, rotate,
};
use ledger::{Clock, Ledger};
use rand::RngExt;

use super::drive::BackupRun;
use super::step::{StepInput, run_and_kill};
use crate::backends::vfs::{CrashTrigger, VfsOptions, mode_label};
use crate::backends::vfs_drive::register_vfs;
use crate::engine::{WorkerError, fresh_dir};
use crate::oracle::backups::ReportedBackup;
use crate::oracle::backups::{expected_at, plan_matches, restored_matches};

fn scratch_err(path: &Path) -> impl Fn(std::io::Error) -> WorkerError + '_ {
    move |source| WorkerError::Scratch {
        path: path.display().to_string(),
        source,
    }
}

/// Copies the files (not the subdirectories) of `from` into a fresh `to`.
fn copy_flat(from: &Path, to: &Path) -> Result<(), WorkerError> {
    fresh_dir(to)?;
    for entry in std::fs::read_dir(from).map_err(scratch_err(from))? {
        let entry = entry.map_err(scratch_err(from))?;
        if entry.path().is_file() {
            std::fs::copy(entry.path(), to.join(entry.file_name())).map_err(scratch_err(to))?;
        }
    }
    Ok(())
}

/// The newest backup reported verified so far.
fn newest_verified(run: &BackupRun<'_>) -> Option<ReportedBackup> {
    run.backups.iter().rev().find(|b| b.verified).cloned()
}

/// Judges one crash image of the backup directory: the newest verified backup reported before
/// the crash is listed verified, and every backup listed verified restores to the model.
fn judge_image(
    run: &mut BackupRun<'_>,
    image: &Path,
    label: &str,
    newest: Option<&ReportedBackup>,
    scratch: &Path,
) {
    let listed = run.listed_verified(image);
    if let Some(newest) = newest
        && !listed
            .iter()
            .any(|b| b.path.file_name() == newest.path.file_name())
    {
        run.restore_problems.push(format!(
            "[{label}] the newest verified backup {} is not listed verified after the crash",
            newest.path.display()
        ));
    }
    run.judge_restores(&listed, &scratch.join(format!("restores-{label}")));
    *run.figures
        .entry("crash_images_checked".into())
        .or_default() += 1;
}

/// Power cut while a backup is written through the power-loss-tracking fault VFS (the live
/// database stays on the default VFS: its own power loss is the `power-loss/` family's).
pub(super) fn power_loss_backup(mut run: BackupRun<'_>, scratch: &Path) -> Result<(), WorkerError> {
    let points = run.points();
    let cut_at = if points > 1 {
        run.rng.random_range(1..points)
    } else {
        0
    };
    let config = run.config.clone();
    let modes = run.spec.crash_modes();
    let mut ledger = run.open()?;
    let scratch = scratch.to_path_buf();
    run.run_plan(&mut ledger, &mut |run, ledger, k| {
        if k < cut_at {
            let _ = run.backup(ledger, &config);
            return Ok(true);
        }
        let vfs = register_vfs(VfsOptions {
            forward_fetch: false,
            track_power_loss: true,
            skip_real_sync: true,
        })?;
        vfs.set_seed(run.job.seed);
        let mut counting = config.clone();
        counting.dir = scratch.join("counting-pass");
        counting.dest_vfs = Some(vfs.name().to_owned());
        counting.verify = false;
        ledger
            .backup(&counting)
            .map_err(|e| WorkerError::Step(format!("backup drill: counting pass: {e}")))?;
        let mutations = vfs.io_counts().durable_mutations.max(1);
        vfs.reset();
        vfs.set_seed(run.job.seed);
        let point = run.rng.random_range(1..=mutations);
        vfs.arm_power_loss(CrashTrigger::BeforeNthMutation(point));
        run.drive.note(format!(
            "power cut armed before backup write {point} of {mutations} (counting pass)"
        ))?;
        let newest = newest_verified(run);
        let mut cut = config.clone();
        cut.dest_vfs = Some(vfs.name().to_owned());
        let result = run.backup(ledger, &cut);
        if !vfs.has_crashed() {
            vfs.power_cut_now();
            run.drive
                .note("the backup ended before the armed cut: power cut at its end".into())?;
        }
        if matches!(&result, Ok(r) if r.verification.as_ref().is_some_and(|v| v.ok)) {
            // SQLite absorbed the failed write (the process lives on after a simulated cut, a
            // real machine would not): the crash images below still judge what was on disk.
            *run.figures
                .entry("cut_absorbed_by_sqlite".into())
                .or_default() += 1;
        }
        for mode in &modes {
            let label = mode_label(*mode);
            let image = scratch.join(format!("crash-{label}"));
            copy_flat(&config.dir, &image)?;
            vfs.write_crash_image(&image, *mode)?;
            judge_image(run, &image, &label, newest.as_ref(), &scratch);
        }
        Ok(false)
    })?;
    drop(ledger);
    run.finish(true)
}

/// Rotation with no retention in a child process killed at a seeded moment; each image undoes a
/// seeded subset of its deletions when it had not finished (an unsynced directory may lose them).
pub(super) fn power_loss_rotation(
    mut run: BackupRun<'_>,
    scratch: &Path,
) -> Result<(), WorkerError> {
    let rotate_at = run.seeded_point();
    let delay = run.rng.random_range(0..=run.spec.max_kill_delay_us);
    let rotating = without_retention(&run.config);
    let config = run.config.clone();
    let mut ledger = run.open()?;
    let scratch = scratch.to_path_buf();
    run.run_plan(&mut ledger, &mut |run, ledger, k| {
        let _ = run.backup(ledger, &config);
        if k != rotate_at {
            return Ok(true);
        }
        let before = scratch.join("before-rotation");
        copy_flat(&config.dir, &before)?;
        let newest = newest_verified(run);
        let end = run_and_kill(
            &StepInput::Rotate {
                backups: rotating.clone(),
            },
            &scratch,
            delay,
        )?;
        run.drive.note(format!(
            "rotation killed {delay} us after it started ({})",
            if end.done {
                "it had finished"
            } else {
                "mid-rotation"
            }
        ))?;
        if !end.done {
            *run.figures.entry("killed_mid_rotation".into()).or_default() += 1;
        }
        for n in 0..3 {
            let label = format!("image-{n}");
            let image = scratch.join(&label);
            copy_flat(&config.dir, &image)?;
            if !end.done {
                undo_some_deletions(run, &before, &image)?;
            }
            judge_image(run, &image, &label, newest.as_ref(), &scratch);
        }
        Ok(true)
    })?;
    drop(ledger);
    let listed = run.listed_verified(&config.dir);
    run.judge_restores(&listed, &scratch.join("final"));
    run.finish(true)
}

/// Puts back each file of `before` missing from `image` with probability 1/2 (seeded).
fn undo_some_deletions(
    run: &mut BackupRun<'_>,
    before: &Path,
    image: &Path,
) -> Result<(), WorkerError> {
    let mut names: Vec<_> = std::fs::read_dir(before)
        .map_err(scratch_err(before))?
        .filter_map(Result::ok)
        .map(|e| e.file_name())
        .collect();
    names.sort();
    for name in names {
        if !image.join(&name).exists() && run.rng.random_bool(0.5) {
            std::fs::copy(before.join(&name), image.join(&name)).map_err(scratch_err(image))?;
        }
    }
    Ok(())
}

/// WAL archiving in a child process killed at a seeded point; the drive archives on after it,
/// and a restore to the latest state must equal the model.
pub(super) fn kill_archive(mut run: BackupRun<'_>, scratch: &Path) -> Result<(), WorkerError> {
    let kill_at = run.seeded_point();
    let delay = run.rng.random_range(0..=run.spec.max_kill_delay_us);
    let checkpoint = run.rng.random_bool(0.5);
    let config = run.config.clone();
    let mut ledger = run.open()?;
    let scratch = scratch.to_path_buf();
    let _ = run.backup(&mut ledger, &config);
    run.run_plan(&mut ledger, &mut |run, ledger, k| {
        if k == kill_at {
            let input = StepInput::Archive {
                db: run.job.db_path.clone(),
                vault: run.job.vault_dir.clone(),
                tuning: run.job.scenario.target.clone(),
                backups: config.clone(),
                checkpoint,
                clock_start_ms: run.clock.now_ms() + 1_000_000,
            };
            let end = run_and_kill(&input, &scratch, delay)?;
            run.drive.note(format!(
                "{} child killed {delay} us after it started ({})",
                if checkpoint {
                    "archive+checkpoint"
                } else {
                    "archive"
                },
                if end.done {
                    "it had finished"
                } else {
                    "mid-archive"
                }
            ))?;
            if !end.done {
                *run.figures.entry("killed_mid_archive".into()).or_default() += 1;
            }
        }
        archive(run, ledger, &config, k % 2 == 1)?;
        Ok(true)
    })?;
    archive(&mut run, &mut ledger, &config, false)?;
    drop(ledger);
    restore_latest(&mut run, &config, &scratch.join("latest"));
    run.finish(true)
}

/// Archives (and checkpoints when asked) from the drive; a failure is a `fault_response` problem.
fn archive(
    run: &mut BackupRun<'_>,
    ledger: &mut Ledger,
    config: &BackupConfig,
    checkpoint: bool,
) -> Result<(), WorkerError> {
    let outcome = if checkpoint {
        ledger.checkpoint_archived(config).map(|r| r.archive)
    } else {
        ledger.archive_wal(config)
    };
    match outcome {
        Ok(report) => {
            if let Some((reason, path)) = report.lineage_break {
                *run.figures.entry("lineage_breaks".into()).or_default() += 1;
                run.drive
                    .note(format!("archive started a new lineage: {reason}"))?;
                // The new lineage starts from a backup the ledger took and verified: it licenses
                // later guarded prunes, so the checks must know it like any other backup.
                let verified = BackupManifest::load(&path)
                    .is_ok_and(|m| m.verification.state == VerificationState::Verified);
                let at = run.drive.instant();
                run.backups.push(ReportedBackup {
                    path,
                    verified,
                    at,
                    until: at,
                    restored_as_of: None,
                });
            }
        }
        Err(e) => run.problems.push(format!("archiving failed: {e}")),
    }
    Ok(())
}

/// Restores the latest state into `dir` and compares it with the model now.
fn restore_latest(run: &mut BackupRun<'_>, config: &BackupConfig, dir: &Path) {
    let model = run.drive.model();
    let expected = expected_at(&model, model.acknowledged_instant());
    let outcome = plan_restore(config, RestoreTarget::Latest, &dir.join("restored.db"))
        .map_err(|e| format!("no restore plan for the latest state: {e}"))
        .and_then(|plan| plan_matches(&plan, &expected, dir));
    match outcome {
        Ok(()) => *run.figures.entry("backups_restored".into()).or_default() += 1,
        Err(problem) => run.restore_problems.push(format!("latest: {problem}")),
    }
}

/// A restore in a child killed at a seeded moment: the target is absent or complete, and
/// restoring again succeeds.
pub(super) fn kill_restore(mut run: BackupRun<'_>, scratch: &Path) -> Result<(), WorkerError> {
    let kill_at = run.seeded_point();
    let delay = run.rng.random_range(0..=run.spec.max_kill_delay_us);
    let config = run.config.clone();
    let mut ledger = run.open()?;
    let scratch = scratch.to_path_buf();
    let _ = run.backup(&mut ledger, &config);
    run.run_plan(&mut ledger, &mut |run, ledger, k| {
        archive(run, ledger, &config, false)?;
        if k != kill_at {
            return Ok(true);
        }
        let target_dir = scratch.join("killed");
        fresh_dir(&target_dir)?;
        let into = target_dir.join("restored.db");
        let plan = plan_restore(&config, RestoreTarget::Latest, &into)
            .map_err(|e| WorkerError::Step(format!("backup drill: restore plan: {e}")))?;
        let end = run_and_kill(&StepInput::Restore { plan: plan.clone() }, &scratch, delay)?;
        run.drive.note(format!(
            "restore child killed {delay} us after it started ({})",
            if end.done {
                "it had finished"
            } else {
                "mid-restore"
            }
        ))?;
        if !end.done {
            *run.figures.entry("killed_mid_restore".into()).or_default() += 1;
        }
        let model = run.drive.model();
        let expected = expected_at(&model, model.acknowledged_instant());
        if into.exists() {
            if let Err(problem) = restored_matches(&into, &expected, &target_dir) {
                run.restore_problems.push(format!(
                    "a killed restore left an incomplete target: {problem}"
                ));
            }
        } else if end.done {
            run.problems
                .push("the restore said done but its target is absent".into());
        }
        let again_dir = if into.exists() {
            scratch.join("again")
        } else {
            target_dir.clone()
        };
        let again = ledger::backup::RestorePlan {
            into: again_dir.join("restored.db"),
            ..plan
        };
        if let Err(problem) = plan_matches(&again, &expected, &again_dir) {
            run.problems
                .push(format!("restoring again after the kill failed: {problem}"));
        }
        match ledger::backup::verify_backup_file(&again.snapshot) {
            Ok(report) if report.ok => {}
            Ok(report) => run.problems.push(format!(
                "the snapshot no longer verifies after the killed restore: {}",
                report.failure().unwrap_or_default()
            )),
            Err(e) => run
                .problems
                .push(format!("the snapshot cannot be verified: {e}")),
        }
        Ok(true)
    })?;
    drop(ledger);
    run.finish(true)
}

/// Rotation with no retention runs over and over while a thread restores an older backup.
pub(super) fn retention_during_restore(
    mut run: BackupRun<'_>,
    scratch: &Path,
) -> Result<(), WorkerError> {
    let restore_at = run.seeded_point();
    let rotating = without_retention(&run.config);
    let config = run.config.clone();
    let mut ledger = run.open()?;
    let scratch = scratch.to_path_buf();
    run.run_plan(&mut ledger, &mut |run, ledger, k| {
        let _ = run.backup(ledger, &config);
        if k != restore_at {
            return Ok(true);
        }
        let Some(oldest) = run
            .backups
            .iter()
            .find(|b| b.verified && b.path.exists())
            .cloned()
        else {
            return Ok(true);
        };
        let model = run.drive.model();
        let dir = scratch.join("restore-during-rotation");
        let restoring = oldest.clone();
        let restore = std::thread::spawn(move || {
            crate::oracle::backups::restores_within(&restoring, &model, &dir)
        });
        let mut rotations = 0u64;
        let mut kept_in_use = 0u64;
        // Rotate only once the restore holds its lock (or has finished): a rotation before the
        // restore started may delete the backup, and the restore would rightly fail to find it.
        while !restore.is_finished() && !locked_by_restore(&oldest.path) {
            std::thread::yield_now();
        }
        while !restore.is_finished() || rotations == 0 {
            match rotate(&rotating, false) {
                Ok(report) => {
                    rotations += 1;
                    kept_in_use += report
                        .decisions
                        .iter()
                        .filter(|d| d.path == oldest.path && d.keep.contains(&KeepReason::InUse))
                        .count() as u64;
                }
                Err(e) => run
                    .problems
                    .push(format!("rotation during a restore failed: {e}")),
            }
            std::thread::sleep(std::time::Duration::from_micros(200));
        }
        match restore.join() {
            Ok(Ok(_)) => {
                *run.figures
                    .entry("restores_during_rotation".into())
                    .or_default() += 1
            }
            Ok(Err(problem)) => run
                .restore_problems
                .push(format!("restore during rotation: {problem}")),
            Err(_) => run.problems.push("the restoring thread panicked".into()),
        }
        *run.figures
            .entry("rotations_during_restore".into())
            .or_default() += rotations;
        *run.figures.entry("kept_in_use".into()).or_default() += kept_in_use;
        Ok(true)
    })?;
    drop(ledger);
    let listed = run.listed_verified(&config.dir);
    run.judge_restores(&listed, &scratch.join("final"));
    run.finish(true)
}

/// Whether someone holds a lock on the backup's manifest (a restore's shared one).
fn locked_by_restore(snapshot: &Path) -> bool {
    use nix::fcntl::{Flock, FlockArg};
    let Ok(file) = std::fs::File::open(ledger::backup::BackupManifest::path_for(snapshot)) else {
        return false;
    };
    Flock::lock(file, FlockArg::LockExclusiveNonblock).is_err()
}

/// The disaster-recovery drill on the plan: every operation is archived as it is acknowledged
/// (the last `unarchived` ones are not), a snapshot is taken every `every` operations; then the
/// live database is destroyed, restored to `timestamps` random times T (each must equal the
/// model after the last operation archived at or before T, and so hold nothing after it), and
/// restored to the latest state into the live path, where the check worker judges it
/// (`prefix_consistent`: the model minus at most the unarchived operations).
pub(super) fn drill(mut run: BackupRun<'_>, scratch: &Path) -> Result<(), WorkerError> {
    let config = run.config.clone();
    let plan_len = run.job.plan.len();
    let archived_ops = plan_len.saturating_sub(run.spec.unarchived);
    let mut ledger = run.open()?;
    // (archive or snapshot time, model instant then), in time order.
    let mut history: Vec<(i64, usize)> = Vec::new();
    for index in 0..plan_len {
        if index % run.spec.every == 0 && index < archived_ops {
            let at = run.drive.instant();
            let report = run
                .backup(&mut ledger, &config)
                .map_err(|e| WorkerError::Step(format!("backup drill: snapshot: {e}")))?;
            history.push((report.manifest.created_at_ms, at));
        }
        run.drive.op(&mut ledger, index, &run.config)?;
        if index < archived_ops {
            let report = ledger
                .archive_wal(&config)
                .map_err(|e| WorkerError::Step(format!("backup drill: archive: {e}")))?;
            match report.step {
                Some(step) => history.push((step.at_ms, run.drive.instant())),
                None => run.problems.push("archiving broke its lineage".into()),
            }
        }
    }
    let final_instant = run.drive.instant();
    let archived_instant = history.last().map_or(0, |(_, at)| *at);
    drop(ledger);
    for suffix in ["", "-wal", "-shm"] {
        let _ = std::fs::remove_file(format!("{}{suffix}", run.job.db_path.display()));
    }
    run.drive.note("live database destroyed".into())?;
    let (Some(first), Some(last)) = (history.first().copied(), history.last().copied()) else {
        return Err(WorkerError::Step(
            "backup drill: the drill archived nothing".into(),
        ));
    };
    let model = run.drive.model();
    let mut restored = 0u64;
    for n in 0..run.spec.timestamps {
        let t = run.rng.random_range(first.0..=last.0 + 1_000);
        let Some((_, at)) = history.iter().rev().find(|(when, _)| *when <= t).copied() else {
            continue;
        };
        let dir = scratch.join(format!("drill-{n}"));
        let outcome = plan_restore(
            &config,
            RestoreTarget::Timestamp { ms: t },
            &dir.join("restored.db"),
        )
        .map_err(|e| format!("no plan: {e}"))
        .and_then(|plan| plan_matches(&plan, &expected_at(&model, at), &dir));
        match outcome {
            Ok(()) => restored += 1,
            Err(problem) => run
                .restore_problems
                .push(format!("T={t} (after {at} acknowledged writes): {problem}")),
        }
        let _ = std::fs::remove_dir_all(&dir);
    }
    let dir = scratch.join("drill-latest");
    let exact = plan_restore(&config, RestoreTarget::Latest, &dir.join("restored.db"))
        .map_err(|e| format!("no plan: {e}"))
        .and_then(|plan| plan_matches(&plan, &expected_at(&model, archived_instant), &dir));
    match exact {
        Ok(()) => run.figures.insert(
            "latest_missing_writes".into(),
            (final_instant - archived_instant) as u64,
        ),
        Err(problem) => {
            run.restore_problems.push(format!(
                "latest (the model after {archived_instant} of {final_instant} acknowledged writes): {problem}"
            ));
            None
        }
    };
    let latest = plan_restore(&config, RestoreTarget::Latest, &run.job.db_path)
        .map_err(|e| format!("no plan for the latest state: {e}"))
        .and_then(|plan| ledger::backup::restore(&plan).map_err(|e| e.to_string()));
    if let Err(problem) = latest {
        run.restore_problems
            .push(format!("restore to the latest state failed: {problem}"));
    }
    run.figures.insert("drill_restores".into(), restored);
    run.figures
        .insert("drill_mismatches".into(), run.restore_problems.len() as u64);
    run.figures
        .insert("unarchived_ops".into(), (plan_len - archived_ops) as u64);
    run.finish(false)
}

/// `config` with a retention that keeps nothing: rotation deletes every backup it may (still
/// never the newest verified one, nor one a restore is reading).
fn without_retention(config: &BackupConfig) -> BackupConfig {
    let mut rotating = config.clone();
    rotating.retention = RetentionPolicy {
        hourly: 0,
        daily: 0,
        weekly: 0,
    };
    rotating
}
