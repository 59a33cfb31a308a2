//! [`execute`]: runs one [`Operation`] against a ledger and classifies what it returned.

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
    })
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
