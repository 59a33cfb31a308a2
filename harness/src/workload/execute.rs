//! [`execute`]: runs one [`Operation`] against a ledger and classifies what it returned.

use ledger::backup::BackupConfig;
use ledger::{ExportOutcome, Ledger, LedgerError, NewCapture, StageOutcome};

use super::{OpError, OpOutcome, OpValue, Operation, StageOrdinal};

/// Ids the ledger returned for each stage ordinal so far (`None`: that stage failed or has not run).
#[derive(Debug, Default, Clone)]
pub struct CaptureIds(Vec<Option<String>>);

impl CaptureIds {
    /// Records what stage `ordinal` returned.
    pub fn record(&mut self, ordinal: StageOrdinal, outcome: &OpOutcome) {
        if self.0.len() <= ordinal {
            self.0.resize(ordinal + 1, None);
        }
        if let OpOutcome::Ok(OpValue::Staged(id) | OpValue::Duplicate(id)) = outcome {
            self.0[ordinal] = Some(id.clone());
        }
    }

    /// The id for a stage ordinal; a stage that never succeeded resolves to an id that exists
    /// nowhere, so the operation fails with "not found".
    pub fn resolve(&self, ordinal: StageOrdinal) -> String {
        self.0
            .get(ordinal)
            .cloned()
            .flatten()
            .unwrap_or_else(|| format!("unstaged-{ordinal}"))
    }
}

/// Runs `op`, resolving stage ordinals through `ids` and recording new ids into it.
pub fn execute(ledger: &mut Ledger, op: &Operation, ids: &mut CaptureIds) -> OpOutcome {
    let result = run(ledger, op, ids);
    let outcome = match result {
        Ok(value) => OpOutcome::Ok(value),
        Err(e) => OpOutcome::Err(classify(&e, &ledger.config().path)),
    };
    if let Operation::Stage { ordinal, .. } = op {
        ids.record(*ordinal, &outcome);
    }
    outcome
}

/// Runs `op` like [`execute`], except that a prune is the backup-guarded one
/// ([`Ledger::prune_after_verified_backup`]): it refuses without a verified backup or while
/// escalation pauses pruning, and never prunes past the newest verified backup.
pub fn execute_guarded(
    ledger: &mut Ledger,
    op: &Operation,
    ids: &mut CaptureIds,
    backups: &ledger::backup::BackupConfig,
) -> OpOutcome {
    let Operation::Prune { days } = op else {
        return execute(ledger, op, ids);
    };
    match ledger.prune_after_verified_backup(backups, *days) {
        Ok(guarded) => OpOutcome::Ok(OpValue::Pruned(guarded.pruned)),
        Err(e) => OpOutcome::Err(classify(&e, &ledger.config().path)),
    }
}

fn run(ledger: &mut Ledger, op: &Operation, ids: &CaptureIds) -> Result<OpValue, LedgerError> {
    Ok(match op {
        Operation::Stage {
            source,
            content,
            channel,
            channel_native_id,
            ..
        } => match ledger.stage(&NewCapture {
            source: *source,
            raw_content: content.clone(),
            channel: channel.clone(),
            channel_native_id: channel_native_id.clone(),
        })? {
            StageOutcome::Staged(id) => OpValue::Staged(id),
            StageOutcome::Duplicate(id) => OpValue::Duplicate(id),
        },
        Operation::Transcribe {
            capture,
            transcript,
        } => {
            ledger.record_transcription(&ids.resolve(*capture), transcript)?;
            OpValue::Done
        }
        Operation::FailTranscription { capture, message } => {
            ledger.mark_transcription_failed(&ids.resolve(*capture), message)?;
            OpValue::Done
        }
        Operation::Export { capture, mode } => {
            match ledger.record_export(&ids.resolve(*capture), *mode)? {
                ExportOutcome::Exported => OpValue::Done,
                ExportOutcome::AlreadyExported => OpValue::AlreadyExported,
            }
        }
        Operation::CheckDuplicate { content } => {
            OpValue::Found(ledger.find_duplicate(&ledger::content_hash(content))?)
        }
        Operation::PendingExports { limit } => OpValue::Captures(
            ledger
                .pending_exports(*limit)?
                .into_iter()
                .map(|c| c.id)
                .collect(),
        ),
        Operation::Recover => OpValue::Captures(
            ledger
                .recoverable_captures()?
                .into_iter()
                .map(|c| c.id)
                .collect(),
        ),
        Operation::Prune { days } => OpValue::Pruned(ledger.prune_exported_older_than(*days)?),
        Operation::Backup => {
            let config = backup_config(ledger);
            ledger.enable_wal_archive(&config)?;
            let report = ledger.backup(&config)?;
            OpValue::BackedUp {
                file: report
                    .path
                    .file_name()
                    .map(|n| n.to_string_lossy().into_owned())
                    .unwrap_or_default(),
                verified: report.verification.is_some_and(|v| v.ok),
            }
        }
        Operation::GuardedPrune { days } => {
            let config = backup_config(ledger);
            OpValue::Pruned(ledger.prune_after_verified_backup(&config, *days)?.pruned)
        }
        Operation::Checkpoint => {
            let config = backup_config(ledger);
            ledger.enable_wal_archive(&config)?;
            ledger.checkpoint_archived(&config)?;
            OpValue::Done
        }
        Operation::Maintain => {
            ledger.maintain(false)?;
            OpValue::Done
        }
        Operation::Restore => {
            let config = backup_config(ledger);
            let into = restore_target(ledger);
            let plan =
                ledger::backup::plan_restore(&config, ledger::backup::RestoreTarget::Latest, &into)
                    .map_err(LedgerError::from)?;
            ledger::backup::restore(&plan).map_err(LedgerError::from)?;
            OpValue::Done
        }
    })
}

/// The backup settings of a workload: `backups/` beside the database, WAL archiving on, every
/// backup verified.
pub fn backup_config(ledger: &Ledger) -> BackupConfig {
    let mut config = BackupConfig::new(beside(ledger, "backups"));
    config.archive = true;
    config
}

/// A fresh file under `restored/` beside the database (numbered by the restores already there).
fn restore_target(ledger: &Ledger) -> std::path::PathBuf {
    let dir = beside(ledger, "restored");
    let _ = std::fs::create_dir_all(&dir);
    let taken = std::fs::read_dir(&dir).map_or(0, |entries| {
        entries
            .filter_map(Result::ok)
            .filter(|e| e.file_name().to_string_lossy().ends_with(".db"))
            .count()
    });
    dir.join(format!("restore-{taken}.db"))
}

fn beside(ledger: &Ledger, name: &str) -> std::path::PathBuf {
    ledger
        .config()
        .path
        .parent()
        .unwrap_or(std::path::Path::new("."))
        .join(name)
}

/// Keeps the ledger's classification: its kind, SQLite's extended code, the message, and
/// whether the outcome is unknown.
/// The message names the iteration's directory as `<iteration>`, so the trace (and its digest)
/// does not depend on where the run's temporary directory happened to be.
fn classify(e: &LedgerError, db_path: &std::path::Path) -> OpError {
    let mut message = error_chain(e);
    if let Some(dir) = db_path
        .parent()
        .and_then(|d| d.to_str())
        .filter(|d| !d.is_empty())
    {
        message = message.replace(dir, "<iteration>");
    }
    OpError {
        kind: e.kind().to_owned(),
        sqlite_code: e.extended_code(),
        message,
        outcome_unknown: e.is_commit_failure(),
    }
}

fn error_chain(e: &dyn std::error::Error) -> String {
    let mut text = e.to_string();
    let mut source = e.source();
    while let Some(s) = source {
        let more = s.to_string();
        if !text.contains(&more) {
            text.push_str(": ");
            text.push_str(&more);
        }
        source = s.source();
    }
    text
}
