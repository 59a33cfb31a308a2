//! Exhaustive power loss from a recorded write log (the default of `run --exhaustive`).
//!
//! The workload runs once, uncut, through the fault VFS recording its write log (every write,
//! sync, truncate, open and unlink of the main DB, WAL and journal, and every directory sync),
//! the vault's renames and directory syncs, and the worker's messages, each tagged with the
//! durable mutations made before it. Crash point `n` (a cut before durable mutation `n`) is
//! then the log's prefix tagged below `n`: its files per crash mode come from replaying that
//! prefix into the power-loss model, its vault from the vault log, and the model of what was
//! acknowledged from the messages sent by then (the operation that made mutation `n` is in
//! flight). No workload is re-run. A crash state whose files (database, WAL, journal, vault)
//! and acknowledged model equal one already judged is counted with that state's verdicts and
//! not reopened; the trace line says how many. Files are compared as a reopen reads them: a WAL
//! by its header and frames through the last valid commit, the database without the pages that
//! WAL holds ([`super::as_read`]), the rest byte for byte.

use std::collections::{HashMap, HashSet};
use std::hash::{DefaultHasher, Hash, Hasher};
use std::path::Path;
use std::time::Instant;

use super::as_read::{hash_db_as_read, wal_as_read};
use super::exhaustive::fast_scratch;
use super::plan::{PowerLoss, mode_label};
use super::vault::{VaultFiles, VaultLog};
use crate::backends::vfs::{ImageFiles, WriteLog, write_image_files};
use crate::backends::vfs_drive::{Pass, register_vfs, run_pass};
use crate::engine::{
    CheckedDatabase, IterationJob, Judged, Sink, Verdicts, WorkerError, WorkerMessage,
    evidence_for_execution, evidence_of_crash_image, execution_from, fresh_dir, iteration_dir,
    scratch_target,
};
use crate::oracle::{CheckName, Evidence, Execution};

/// One uncut run of the workload with everything a crash state is rebuilt from.
pub struct RecordedRun {
    log: WriteLog,
    vault: VaultLog,
    /// The worker's messages, each with the durable mutations made before it was sent.
    timeline: Vec<(u64, WorkerMessage)>,
}

impl RecordedRun {
    /// Runs the workload once, uncut, recording its write log, vault changes and messages;
    /// the messages also go to `sink` (they are the iteration's trace).
    ///
    /// # Errors
    /// [`WorkerError`] when the VFS cannot be registered, the scratch directory cannot be made,
    /// or the pass fails.
    pub fn record(
        job: &IterationJob,
        power: &PowerLoss,
        sink: &mut Sink<'_>,
    ) -> Result<RecordedRun, WorkerError> {
        let vfs = register_vfs(power.vfs_options())?;
        let uncut = iteration_dir(job).join("uncut");
        fresh_dir(&uncut)?;
        vfs.reset();
        vfs.set_seed(job.seed);
        vfs.record_write_log();
        let target = scratch_target(job, &uncut);
        let counter = vfs.clone();
        VaultLog::record(&target.vault_dir, move || {
            counter.io_counts().durable_mutations
        });
        let mut timeline = Vec::new();
        let ran = run_pass(job, &target, &vfs, Pass::PowerCut, &mut |message| {
            timeline.push((vfs.io_counts().durable_mutations, message.clone()));
            sink(message)
        });
        let vault = VaultLog::stop().unwrap_or_default();
        ran?;
        let log = vfs.take_write_log();
        let _ = std::fs::remove_dir_all(&uncut);
        Ok(RecordedRun {
            log,
            vault,
            timeline,
        })
    }

    /// Durable mutations of the run: crash points are `1..=mutations()`.
    pub fn mutations(&self) -> u64 {
        self.log.mutations()
    }

    /// How many of the messages had been sent at a cut before mutation `point`.
    fn sent_before(&self, point: u64) -> usize {
        self.timeline.partition_point(|(tag, _)| *tag < point)
    }
}

/// What the pass over every crash state found.
#[derive(Debug, Default)]
pub struct CrashStateCount {
    /// Crash states (points × modes), judged or repeated.
    pub states: u64,
    /// States identical to one already judged, counted without reopening.
    pub identical: u64,
    /// Of those, the states identical only as read: their bytes differ from every state judged
    /// before, but not in what a reopen reads ([`super::as_read`]).
    pub identical_as_read: u64,
    /// States whose image an earlier state (with another acknowledged model) already
    /// reopened: judged from what that reopening showed, without reopening again.
    pub image_seen: u64,
}

/// Judges every crash point × crash mode of `run` into `verdicts`; returns the counts and the
/// acknowledged writes lost, summed over crash points (the most any mode lost at each).
///
/// # Errors
/// [`WorkerError`] when an image or the scratch directory cannot be written.
pub fn judge_every_crash_state(
    job: &IterationJob,
    power: &PowerLoss,
    run: &RecordedRun,
    verdicts: &mut Verdicts,
) -> Result<(CrashStateCount, u64), WorkerError> {
    let scratch = fast_scratch(&iteration_dir(job))?;
    let as_read = keys_as_read(job);
    let mut judged: HashMap<u64, Judged> = HashMap::new();
    let mut bytes_seen: HashSet<u64> = HashSet::new();
    let mut observed: HashMap<u64, Evidence> = HashMap::new();
    let mut count = CrashStateCount::default();
    let mut lost_total = 0;
    let mut replay = run.log.replay();
    let mut execution: Option<(usize, Execution)> = None;
    for point in 1..=run.mutations() {
        replay.cut_before(point);
        let sent = run.sent_before(point);
        if execution.as_ref().is_none_or(|(s, _)| *s != sent) {
            let messages: Vec<WorkerMessage> = run.timeline[..sent]
                .iter()
                .map(|(_, m)| m.clone())
                .collect();
            execution = Some((sent, execution_from(&job.plan, &messages).0));
        }
        let (_, execution) = execution.as_ref().expect("set above");
        let (vault_at_cut, vault_model) = run.vault.at_cut_before(point);
        let mut fresh: Vec<FreshState> = Vec::new();
        let mut twins: Vec<u64> = Vec::new();
        let mut lost_here = 0;
        for mode in &power.modes {
            let (files, _) = replay.image(*mode)?;
            let mut vault = vault_at_cut.clone();
            vault_model.apply_to(&mut vault, *mode, job.seed);
            let keys = ImageKeys::of(&files, &vault);
            let image_key = if as_read { keys.as_read } else { keys.bytes };
            let key = state_key(sent, image_key);
            let new_bytes = bytes_seen.insert(state_key(sent, keys.bytes));
            count.states += 1;
            let repeated = if let Some(before) = judged.get(&key) {
                verdicts.repeat(before);
                lost_here = lost_here.max(before.lost);
                true
            } else if fresh.iter().any(|state| state.key == key) {
                twins.push(key);
                true
            } else {
                false
            };
            if repeated {
                count.identical += 1;
                count.identical_as_read += u64::from(new_bytes);
            } else {
                let label = mode_label(*mode);
                let dir = scratch.path().join(format!("crash-{label}"));
                let mut image = scratch_target(job, &dir);
                image.label = label;
                let seen = observed
                    .get(&image_key)
                    .and_then(|before| evidence_for_execution(job, before, execution));
                if seen.is_some() {
                    count.image_seen += 1;
                } else {
                    write_state(&dir, &files, &image.vault_dir, &vault)?;
                }
                fresh.push(FreshState {
                    key,
                    image_key,
                    image,
                    seen,
                });
            }
        }
        let evidence = std::thread::scope(|scope| {
            let threads: Vec<_> = fresh
                .iter()
                .map(|state| {
                    scope.spawn(|| match &state.seen {
                        Some(evidence) => evidence.clone(),
                        None => evidence_of_crash_image(job, execution, &state.image),
                    })
                })
                .collect();
            threads
                .into_iter()
                .map(|t| t.join().unwrap_or_else(|p| std::panic::resume_unwind(p)))
                .collect::<Vec<_>>()
        });
        for (state, evidence) in fresh.iter().zip(evidence) {
            let label = format!("cut before mutation {point}, {}", state.image.label);
            let result = verdicts.add_judged(&label, &evidence);
            lost_here = lost_here.max(result.lost);
            judged.insert(state.key, result);
            if state.seen.is_none() {
                observed.insert(state.image_key, evidence);
            }
        }
        for key in &twins {
            verdicts.repeat(&judged[key]);
        }
        lost_total += lost_here;
    }
    Ok((count, lost_total))
}

/// Checks every crash point × crash mode of the job's workload from one recorded run,
/// reporting the run's trace, the folded verdicts and the crash states checked through `sink`.
///
/// # Errors
/// [`WorkerError`] when the run, an image or the scratch directory fails.
pub fn check_every_crash_state(
    job: &IterationJob,
    power: &PowerLoss,
    sink: &mut Sink<'_>,
) -> Result<(), WorkerError> {
    let run = RecordedRun::record(job, power, sink)?;
    let started = Instant::now();
    let mut verdicts = Verdicts::new(&job.scenario.checks);
    let (count, lost) = judge_every_crash_state(job, power, &run, &mut verdicts)?;
    let elapsed_us = started.elapsed().as_micros() as u64;
    sink(WorkerMessage::Fault {
        during_operation: None,
        description: format!(
            "exhaustive power loss: {} crash point(s) x {} crash mode(s) = {} crash states checked, \
             built from a write log of {} change(s); {} identical to one already judged (not reopened; \
             {} of them only in what a reopen reads); \
             {} more judged from an earlier reopening of the same image (not reopened)",
            run.mutations(),
            power.modes.len(),
            count.states,
            run.log.len(),
            count.identical,
            count.identical_as_read,
            count.image_seen
        ),
    })?;
    sink(WorkerMessage::Figure {
        name: "crash_states_identical".into(),
        value: count.identical,
    })?;
    sink(WorkerMessage::Figure {
        name: "crash_states_identical_as_read".into(),
        value: count.identical_as_read,
    })?;
    sink(WorkerMessage::Figure {
        name: "crash_images_seen".into(),
        value: count.image_seen,
    })?;
    verdicts.lost = lost;
    for message in verdicts.messages(true) {
        sink(message)?;
    }
    sink(WorkerMessage::CrashStates {
        checked: count.states,
        elapsed_us,
    })
}

/// A crash state not judged yet at this point: written out and reopened, or judged from what
/// the same image showed before (`seen`).
struct FreshState {
    key: u64,
    image_key: u64,
    image: CheckedDatabase,
    seen: Option<Evidence>,
}

/// Two identities of a crash image (every file of the database and of its vault): byte for
/// byte, and as read: a `-wal` file and the database beside it count only by what a reopen
/// reads of them ([`super::as_read`]).
struct ImageKeys {
    bytes: u64,
    as_read: u64,
}

impl ImageKeys {
    fn of(files: &ImageFiles, vault: &VaultFiles) -> ImageKeys {
        let mut bytes = DefaultHasher::new();
        let mut as_read = DefaultHasher::new();
        for (path, content) in files {
            let name = path.file_name();
            name.hash(&mut bytes);
            content.hash(&mut bytes);
            name.hash(&mut as_read);
            let mut wal_path = path.clone().into_os_string();
            wal_path.push("-wal");
            if name.is_some_and(|n| n.to_string_lossy().ends_with("-wal")) {
                wal_as_read(content).bytes.hash(&mut as_read);
            } else if let Some((_, wal)) = files.iter().find(|(p, _)| *p.as_os_str() == wal_path) {
                hash_db_as_read(content, &wal_as_read(wal), &mut as_read);
            } else {
                content.hash(&mut as_read);
            }
        }
        vault.hash(&mut bytes);
        vault.hash(&mut as_read);
        ImageKeys {
            bytes: bytes.finish(),
            as_read: as_read.finish(),
        }
    }
}

/// Whether crash images of `job` may be keyed by what a reopen reads ([`super::as_read`]): not
/// when the evidence reads the files beyond the ledger's open and SQLite (a WAL archive copies
/// frames from the file; the corruption and after-recovery evidence inspect the files).
/// `faults_observable` may: what it judges after a cut (one recovery when a non-empty WAL or a
/// hot journal was left, the errors logged, the capacity forecast against the size the ledger
/// itself measures at the same moment) is decided by the bytes as read, the WAL's being
/// non-empty and the database file's length, all in the key; the WAL's length beyond its last
/// commit shows in the health metrics but no check compares it.
fn keys_as_read(job: &IterationJob) -> bool {
    let checks = &job.scenario.checks;
    job.scenario.target.wal_archive_dir.is_none()
        && !checks.contains(&CheckName::CorruptionAccounted)
        && !crate::engine::evidence::after_recovery::wanted(checks)
}

/// Identifies a crash state: the acknowledged model (the messages sent by the cut) and the
/// image.
fn state_key(sent: usize, image_key: u64) -> u64 {
    let mut hasher = DefaultHasher::new();
    sent.hash(&mut hasher);
    image_key.hash(&mut hasher);
    hasher.finish()
}

/// Writes a crash state's files into `dir` (emptied first) and its vault into `vault_dir`.
fn write_state(
    dir: &Path,
    files: &ImageFiles,
    vault_dir: &Path,
    vault: &VaultFiles,
) -> Result<(), WorkerError> {
    fresh_dir(dir)?;
    write_image_files(dir, files)?;
    let scratch_err = |source| WorkerError::Scratch {
        path: vault_dir.display().to_string(),
        source,
    };
    std::fs::create_dir_all(vault_dir).map_err(scratch_err)?;
    for (name, bytes) in vault {
        std::fs::write(vault_dir.join(name), bytes).map_err(scratch_err)?;
    }
    Ok(())
}
