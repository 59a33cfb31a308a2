//! Staging a new capture, idempotent on content and channel ids: [`stage`].

use rusqlite::OptionalExtension;

use crate::capture::{CaptureId, NewCapture, StageOutcome, content_hash};
use crate::db::Db;
use crate::error::Result;
use crate::ids::IdGenerator;
use crate::status::{Source, Status};
use crate::{failpoint, tx};

/// Insert `new` as a staged capture, or report the existing capture it
/// duplicates: first by content hash (email), then by (channel, native id)
/// when both are present. Each id generated is pushed to `attempted`, so a
/// retry can recognise a capture its own earlier attempt committed.
pub(crate) fn stage(
    db: Db<'_>,
    ids: &mut IdGenerator,
    now_ms: i64,
    new: &NewCapture,
    attempted: &mut Vec<CaptureId>,
) -> Result<StageOutcome> {
    let hash = match new.source {
        Source::Email => Some(content_hash(&new.raw_content)),
        Source::Voice => None,
    };
    tx::immediate(db, |db| {
        let look_for_landed = mutant!(BlindRetry, false, true);
        if look_for_landed && let Some(landed) = landed_attempt(db, attempted)? {
            return Ok(StageOutcome::Duplicate(landed));
        }
        let dedup = mutant!(StageNoDedup, false, true);
        if dedup && let Some(existing) = duplicate_of(db, hash.as_deref(), new)? {
            return Ok(StageOutcome::Duplicate(existing));
        }
        failpoint::hit(failpoint::STAGE_BEFORE_INSERT)?;
        let id = ids.next(now_ms);
        attempted.push(id.clone());
        let meta = serde_json::json!({
            "channel": new.channel,
            "channel_native_id": new.channel_native_id,
        })
        .to_string();
        db.conn
            .prepare_cached(
                "INSERT INTO captures
                   (id, source, raw_content, content_hash, status, meta_json, created_at, updated_at)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?7)",
            )
            .and_then(|mut stmt| {
                stmt.execute((
                    &id,
                    new.source.as_str(),
                    &new.raw_content,
                    &hash,
                    Status::Staged.as_str(),
                    &meta,
                    now_ms,
                ))
            })
            .map_err(db.err("insert capture"))?;
        failpoint::hit(failpoint::STAGE_BEFORE_COMMIT)?;
        Ok(StageOutcome::Staged(id))
    })
}

/// The capture an earlier attempt of this stage committed although its `COMMIT` reported an
/// error, if any: a voice memo has no content hash or channel id to find it by, so without this
/// a retry would stage it a second time.
fn landed_attempt(db: Db<'_>, attempted: &[CaptureId]) -> Result<Option<CaptureId>> {
    for id in attempted {
        let found: Option<i64> = db
            .conn
            .prepare_cached("SELECT 1 FROM captures WHERE id = ?1")
            .and_then(|mut stmt| stmt.query_row([id], |row| row.get(0)).optional())
            .map_err(db.err("look for an earlier attempt's capture"))?;
        if found.is_some() {
            return Ok(Some(id.clone()));
        }
    }
    Ok(None)
}

fn duplicate_of(db: Db<'_>, hash: Option<&str>, new: &NewCapture) -> Result<Option<CaptureId>> {
    if let Some(hash) = hash
        && let Some(existing) = super::query::find_duplicate(db, hash)?
    {
        return Ok(Some(existing));
    }
    let (Some(channel), Some(native_id)) = (&new.channel, &new.channel_native_id) else {
        return Ok(None);
    };
    db.conn
        .prepare_cached(super::query::DUPLICATE_BY_CHANNEL_SQL)
        .and_then(|mut stmt| {
            stmt.query_row((channel, native_id), |row| row.get(0))
                .optional()
        })
        .map_err(db.err("look up capture by channel id"))
}
