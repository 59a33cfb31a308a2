//! Reading `captures` rows into [`Capture`] values: [`CAPTURE_COLUMNS`], [`query_captures`].

use rusqlite::{Params, Row};

use crate::capture::Capture;
use crate::db::Db;
use crate::error::Result;
use crate::status::{Source, Status};

/// The column list every capture query selects, in [`RawCapture`] order.
pub(crate) const CAPTURE_COLUMNS: &str =
    "id, source, raw_content, content_hash, status, meta_json, created_at, updated_at";

/// A row as stored, before its enums are checked.
struct RawCapture {
    id: String,
    source: String,
    raw_content: String,
    content_hash: Option<String>,
    status: String,
    meta_json: String,
    created_at: i64,
    updated_at: i64,
}

impl RawCapture {
    fn from_row(row: &Row<'_>) -> rusqlite::Result<RawCapture> {
        Ok(RawCapture {
            id: row.get(0)?,
            source: row.get(1)?,
            raw_content: row.get(2)?,
            content_hash: row.get(3)?,
            status: row.get(4)?,
            meta_json: row.get(5)?,
            created_at: row.get(6)?,
            updated_at: row.get(7)?,
        })
    }

    fn into_capture(self, db: Db<'_>) -> Result<Capture> {
        let source = Source::parse(&self.source).ok_or_else(|| {
            db.corrupt(format!(
                "capture {} has unknown source {:?}",
                self.id, self.source
            ))
        })?;
        let status = Status::parse(&self.status).ok_or_else(|| {
            db.corrupt(format!(
                "capture {} has unknown status {:?}",
                self.id, self.status
            ))
        })?;
        Ok(Capture {
            id: self.id,
            source,
            raw_content: self.raw_content,
            content_hash: self.content_hash,
            status,
            meta_json: self.meta_json,
            created_at: self.created_at,
            updated_at: self.updated_at,
        })
    }
}

/// Run `sql` (which selects [`CAPTURE_COLUMNS`]) and decode every row.
pub(crate) fn query_captures(
    db: Db<'_>,
    operation: &'static str,
    sql: &str,
    params: impl Params,
) -> Result<Vec<Capture>> {
    let raws = db
        .conn
        .prepare_cached(sql)
        .and_then(|mut stmt| {
            stmt.query_map(params, RawCapture::from_row)?
                .collect::<rusqlite::Result<Vec<_>>>()
        })
        .map_err(db.err(operation))?;
    raws.into_iter().map(|raw| raw.into_capture(db)).collect()
}

/// The capture with this id, if any.
pub(crate) fn capture_by_id(db: Db<'_>, id: &str) -> Result<Option<Capture>> {
    let sql = format!("SELECT {CAPTURE_COLUMNS} FROM captures WHERE id = ?1");
    Ok(query_captures(db, "read capture", &sql, [id])?
        .into_iter()
        .next())
}
