//! Transcription outcomes: [`record_transcription`] and [`mark_transcription_failed`].

use crate::capture::content_hash;
use crate::db::Db;
use crate::error::{LedgerError, Result};
use crate::status::{Source, Status};
use crate::{failpoint, tx};

/// `staged → transcribed`, storing the transcript in `meta_json.transcript`
/// and, for voice, setting `content_hash` from the transcript.
pub(crate) fn record_transcription(
    db: Db<'_>,
    now_ms: i64,
    id: &str,
    transcript: &str,
) -> Result<()> {
    tx::immediate(db, |db| {
        let capture = super::require_capture(db, id)?;
        super::check_transition(&capture, Status::Transcribed)?;
        let hash = match capture.source {
            Source::Voice => {
                let hash = content_hash(transcript);
                if let Some(existing) = super::query::find_duplicate(db, &hash)?
                    && existing != capture.id
                {
                    return Err(LedgerError::DuplicateContent {
                        id: capture.id,
                        existing,
                    });
                }
                Some(hash)
            }
            Source::Email => capture.content_hash.clone(),
        };
        let changed = db
            .conn
            .prepare_cached(
                "UPDATE captures
                 SET status = ?1, content_hash = ?2,
                     meta_json = json_set(meta_json, '$.transcript', ?3), updated_at = ?4
                 WHERE id = ?5 AND status = ?6",
            )
            .and_then(|mut stmt| {
                stmt.execute((
                    Status::Transcribed.as_str(),
                    &hash,
                    transcript,
                    now_ms,
                    id,
                    capture.status.as_str(),
                ))
            })
            .map_err(db.err("record transcription"))?;
        if changed != 1 {
            return Err(db.corrupt(format!(
                "capture {id} changed under an immediate transaction ({changed} rows updated)"
            )));
        }
        failpoint::hit(failpoint::TRANSCRIBE_BEFORE_COMMIT)
    })
}

/// `staged → failed_transcription`, logging `message` (stage `transcribe`)
/// in the same transaction.
pub(crate) fn mark_transcription_failed(
    db: Db<'_>,
    now_ms: i64,
    id: &str,
    message: &str,
) -> Result<()> {
    tx::immediate(db, |db| {
        let capture = super::require_capture(db, id)?;
        super::check_transition(&capture, Status::FailedTranscription)?;
        super::update_status(db, id, capture.status, Status::FailedTranscription, now_ms)?;
        failpoint::hit(failpoint::TRANSCRIPTION_FAILED_AFTER_STATUS_UPDATE)?;
        db.conn
            .prepare_cached(
                "INSERT INTO errors_log (capture_id, stage, message, created_at)
                 VALUES (?1, 'transcribe', ?2, ?3)",
            )
            .and_then(|mut stmt| stmt.execute((id, message, now_ms)))
            .map_err(db.err("log transcription failure"))?;
        failpoint::hit(failpoint::TRANSCRIPTION_FAILED_BEFORE_COMMIT)
    })
}
