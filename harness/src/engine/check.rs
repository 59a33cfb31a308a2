//! The check phase: reopen the ledger (running its recovery) on the live files or on each
//! crash image, gather the [`Evidence`] the checks judge, and fold the verdicts.

use std::path::Path;
use std::sync::Arc;

use ledger::{ExportMode, Ledger, LedgerError, OpenOptions, Status, StepClock};

use super::drive::{
    CHECK_CLOCK_OFFSET_MS, CLOCK_START_MS, CLOCK_STEP_MS, WorkerError, ledger_config_at,
};
use super::job::{CheckInput, CheckedDatabase, IterationJob, WorkerMessage, read_json, report};
use super::verdicts::Verdicts;

use crate::oracle::checks::{RecoveryEvidence, ReopenRefusal};
use crate::oracle::observable::{BackupHealthSeen, BackupTrail, WORKLOAD_OPERATIONS};
use crate::oracle::{AckModel, CheckName, Evidence, Execution, LedgerSnapshot, SurfacedErrors};

/// Check phase: reopens the ledger (or each crash image), gathers evidence, prints verdicts.
pub fn check(input_path: &Path) -> Result<(), WorkerError> {
    let input: CheckInput = read_json(input_path)?;
    let targets = if input.images.is_empty() {
        vec![CheckedDatabase::live(&input.job)]
    } else {
        input.images.clone()
    };
    let mut verdicts = Verdicts::new(&input.job.scenario.checks);
    let mut figures = Vec::new();
    // Figures of `faults_observable`, summed over the databases checked (crash images).
    let mut summed: std::collections::BTreeMap<String, u64> = std::collections::BTreeMap::new();
    for target in &targets {
        let mut evidence = evidence_after_reopen_at(&input.job, &input.execution, target);
        evidence.drive_counters = input.drive_counters.clone();
        evidence.shutdown = input.shutdown;
        if let Some(after) = &evidence.after_recovery {
            figures = super::evidence::after_recovery::figures(after);
        }
        if let Some(corruption) = &evidence.corruption {
            for (name, value) in super::evidence::corruption::figures(corruption) {
                *summed.entry(name).or_default() += value;
            }
        }
        if let Some(restart) = &evidence.restart {
            let mut add =
                |name: &str, value: u64| *summed.entry(name.to_owned()).or_default() += value;
            for (name, value) in super::evidence::restart::figures(restart, evidence.shutdown) {
                add(&name, value);
            }
            // The same trace for every image: its errors once, the log of the last image.
            summed.insert("errors_surfaced".to_owned(), evidence.surfaced.total());
            summed.insert("errors_owed".to_owned(), evidence.surfaced.owed());
            if let Ok(snapshot) = &evidence.snapshot {
                let logged = snapshot
                    .caller_errors_logged
                    .iter()
                    .filter(|(name, _)| WORKLOAD_OPERATIONS.contains(&name.as_str()))
                    .map(|(_, rows)| rows)
                    .sum();
                summed.insert("errors_logged".to_owned(), logged);
            }
        }
        verdicts.add(&target.label, &evidence);
    }
    let mut out = std::io::stdout().lock();
    for message in verdicts.messages(targets.len() > 1) {
        report(&mut out, &message)?;
    }
    for (name, value) in figures.into_iter().chain(summed) {
        report(&mut out, &WorkerMessage::Figure { name, value })?;
    }
    Ok(())
}

/// Reopens the job's ledger (running its recovery) and gathers what the checks judge. Resumes
/// the recoverable captures when the scenario asks for `recovery_complete`, so it changes the
/// database: call it once, last.
pub fn evidence_after_reopen(job: &IterationJob, execution: &Execution) -> Evidence {
    evidence_after_reopen_at(job, execution, &CheckedDatabase::live(job))
}

/// [`evidence_after_reopen`] on another database and vault (a crash image), opened with the
/// default VFS through the ledger's normal open.
pub fn evidence_after_reopen_at(
    job: &IterationJob,
    execution: &Execution,
    target: &CheckedDatabase,
) -> Evidence {
    let model = AckModel::build(execution);
    let options = OpenOptions {
        clock: Arc::new(StepClock::new(
            CLOCK_START_MS + CHECK_CLOCK_OFFSET_MS,
            CLOCK_STEP_MS,
        )),
        id_seed: Some(job.seed.wrapping_add(1)),
    };
    let config = ledger_config_at(job, &target.db_path, &target.vault_dir);
    let wants_restart = job.scenario.checks.contains(&CheckName::FaultsObservable);
    let leftover_journal = super::evidence::restart::leftover_journal(&target.db_path);
    let mut reopened = Ledger::open_with(&config, options);
    let corruption = job
        .scenario
        .checks
        .contains(&CheckName::CorruptionAccounted)
        .then(|| {
            // With a WAL archive the drive archives after every operation: the chain reaches
            // every acknowledged capture.
            let chain = job.scenario.target.wal_archive_dir.is_some();
            match &mut reopened {
                Ok(ledger) => {
                    super::evidence::corruption::gather(ledger, &model, &target.db_path, chain)
                }
                Err(e) => {
                    super::evidence::corruption::refused_at_open(e, &model, &target.db_path, chain)
                }
            }
        });
    let backup_trail = BackupTrail::from_execution(execution);
    let backup_health = match &reopened {
        Ok(ledger) if reads_backup_health(job, &backup_trail) => backup_health_seen(ledger),
        Ok(_) => Err("not read".to_owned()),
        Err(e) => Err(format!("ledger did not reopen: {e}")),
    };
    let snapshot = LedgerSnapshot::read_what_reads(&target.db_path, &target.vault_dir)
        .map_err(|e| e.to_string());
    let wants_after = super::evidence::after_recovery::wanted(&job.scenario.checks);
    let wants_resume = job.scenario.checks.contains(&CheckName::RecoveryComplete) || wants_after;
    let mut after_recovery = None;
    let mut restart = None;
    let (reopen, recovery) = match reopened {
        Ok(mut ledger) => {
            let recovery = recovery_evidence(&mut ledger, wants_resume);
            if wants_after {
                after_recovery = Some(super::evidence::after_recovery::gather(
                    &mut ledger,
                    execution,
                    &model,
                    target,
                ));
            }
            if wants_restart {
                restart = Some(super::evidence::restart::after_reopen(
                    ledger,
                    job,
                    target,
                    leftover_journal,
                ));
            }
            (Ok(()), recovery)
        }
        Err(e) => {
            let refusal = ReopenRefusal {
                kind: e.kind().to_owned(),
                message: e.to_string(),
            };
            (
                Err(refusal.clone()),
                RecoveryEvidence {
                    recoverable: Err(refusal.to_string()),
                    resume_errors: Vec::new(),
                    left_after_resume: Vec::new(),
                },
            )
        }
    };
    Evidence {
        snapshot,
        model,
        recovery,
        reopen,
        corruption,
        after_recovery,
        surfaced: SurfacedErrors::from_execution(execution),
        backup_trail,
        backup_health,
        drive_counters: None,
        shutdown: None,
        restart,
    }
}

/// [`evidence_after_reopen_at`] on a crash image: cut while the ledger was open, so the
/// shutdown was unclean.
pub fn evidence_of_crash_image(
    job: &IterationJob,
    execution: &Execution,
    image: &CheckedDatabase,
) -> Evidence {
    let mut evidence = evidence_after_reopen_at(job, execution, image);
    evidence.shutdown = Some(crate::oracle::restart::Shutdown::Unclean);
    evidence
}

/// [`evidence_after_reopen_at`]'s evidence for `execution`, from the evidence `observed` that
/// the same image (byte for byte the same files and vault) gave for another execution, without
/// reopening it: the reopened ledger, its recovery and the resume depend only on the image and
/// the job, and the model, the surfaced errors and the backup trail are rebuilt from
/// `execution`. `None` when `observed` cannot stand for it: the job gathers evidence against
/// the model (`corruption_accounted`, the after-recovery checks), or the backup trail of
/// `execution` changes whether the health report is read.
pub fn evidence_for_execution(
    job: &IterationJob,
    observed: &Evidence,
    execution: &Execution,
) -> Option<Evidence> {
    let checks = &job.scenario.checks;
    if checks.contains(&CheckName::CorruptionAccounted)
        || super::evidence::after_recovery::wanted(checks)
    {
        return None;
    }
    let backup_trail = BackupTrail::from_execution(execution);
    if reads_backup_health(job, &backup_trail) != reads_backup_health(job, &observed.backup_trail) {
        return None;
    }
    Some(Evidence {
        model: AckModel::build(execution),
        surfaced: SurfacedErrors::from_execution(execution),
        backup_trail,
        ..observed.clone()
    })
}

/// Whether the check reads the reopened ledger's health report: the trace has backups and the
/// scenario runs `faults_observable`.
fn reads_backup_health(job: &IterationJob, trail: &BackupTrail) -> bool {
    trail.attempted > 0 && job.scenario.checks.contains(&CheckName::FaultsObservable)
}

/// The backup part of the reopened ledger's health report.
fn backup_health_seen(ledger: &Ledger) -> Result<BackupHealthSeen, String> {
    let report = ledger.health().map_err(|e| format!("health failed: {e}"))?;
    Ok(BackupHealthSeen {
        level: report.metrics.backup.health.as_str().to_owned(),
        consecutive_failures: report.metrics.backup.consecutive_failures,
        problems: report.problems.into_iter().map(|p| p.what).collect(),
    })
}

/// Reads the crash-resume queue (`Ledger::recovery_queue`), then (if asked) drives every
/// queued capture to a terminal state.
fn recovery_evidence(ledger: &mut Ledger, resume: bool) -> RecoveryEvidence {
    let recoverable = ledger.recovery_queue();
    let mut resume_errors = Vec::new();
    let mut left_after_resume = Vec::new();
    if resume && let Ok(queue) = &recoverable {
        for entry in queue {
            if let Err(e) = resume_one(ledger, &entry.id, entry.status) {
                resume_errors.push(format!("{}: {e}", entry.id));
            }
        }
        left_after_resume =
            non_terminal_ids(ledger).unwrap_or_else(|e| vec![format!("query failed: {e}")]);
    }
    RecoveryEvidence {
        recoverable: recoverable
            .map(|queue| queue.into_iter().map(|entry| entry.id).collect())
            .map_err(|e| e.to_string()),
        resume_errors,
        left_after_resume,
    }
}

/// Finishes one capture the way the app would after a restart.
fn resume_one(ledger: &mut Ledger, id: &str, status: Status) -> Result<(), LedgerError> {
    match status {
        Status::Staged => {
            match ledger.record_transcription(id, &format!("resumed transcript of {id}")) {
                Ok(()) => ledger.record_export(id, ExportMode::Initial).map(drop),
                Err(LedgerError::DuplicateContent { .. }) => ledger
                    .record_export(id, ExportMode::DuplicateSkip)
                    .map(drop),
                Err(e) => Err(e),
            }
        }
        Status::Transcribed => ledger.record_export(id, ExportMode::Initial).map(drop),
        Status::FailedTranscription => ledger.record_export(id, ExportMode::Placeholder).map(drop),
        _ => Ok(()),
    }
}

/// Non-terminal capture ids, read with plain SQL rather than the ledger's query.
fn non_terminal_ids(ledger: &Ledger) -> rusqlite::Result<Vec<String>> {
    let mut stmt = ledger
        .connection()
        .prepare("SELECT id, status FROM captures ORDER BY created_at, id")?;
    let rows = stmt.query_map([], |row| {
        Ok((row.get::<_, String>(0)?, row.get::<_, String>(1)?))
    })?;
    let mut left = Vec::new();
    for row in rows {
        let (id, status) = row?;
        if Status::parse(&status).is_none_or(|s| !s.is_terminal()) {
            left.push(id);
        }
    }
    Ok(left)
}
