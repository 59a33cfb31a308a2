//! Recording an export: vault file first, then audit row + status in one
//! transaction ([`record_export`]).

use std::path::Path;

use crate::capture::ExportOutcome;
use crate::db::Db;
use crate::error::Result;
use crate::ids::IdGenerator;
use crate::status::ExportMode;
use crate::{failpoint, tx, vault};

/// Export capture `id` in `mode`.
///
/// Already in the mode's terminal status → `AlreadyExported`, nothing done.
/// Otherwise the transition is checked, the vault file written (not for
/// `DuplicateSkip`), then the audit row and the status change commit
/// together. If that transaction fails, the file may exist without its audit
/// row; a retry rewrites the same file.
pub(crate) fn record_export(
    db: Db<'_>,
    ids: &mut IdGenerator,
    now_ms: i64,
    vault_dir: &Path,
    id: &str,
    mode: ExportMode,
) -> Result<ExportOutcome> {
    let target = mode.target_status();
    tx::discard_stale_transaction(db)?;
    let capture = super::require_capture(db, id)?;
    if capture.status == target {
        return Ok(ExportOutcome::AlreadyExported);
    }
    super::check_transition(&capture, target)?;
    if mode.writes_file() {
        failpoint::hit(failpoint::EXPORT_BEFORE_VAULT_WRITE)?;
        let contents = vault::render(&capture, mode, target);
        vault::write_atomically(vault_dir, &vault::file_name(id), &contents)?;
        failpoint::hit(failpoint::EXPORT_AFTER_VAULT_WRITE)?;
    }
    tx::immediate(db, |db| {
        let current = super::require_capture(db, id)?;
        if current.status == target {
            return Ok(ExportOutcome::AlreadyExported);
        }
        super::check_transition(&current, target)?;
        let audit_id = ids.next(now_ms);
        let drop_audit = mutant!(
            PlaceholderExportDropsAudit,
            crate::mutants::placeholder_export_drops_audit(db, &current, mode)?,
            false
        );
        if !drop_audit {
            insert_audit_row(db, &audit_id, id, &current.content_hash, now_ms, mode)?;
        }
        failpoint::hit(failpoint::EXPORT_AFTER_AUDIT_INSERT)?;
        if_mutant!(ExportSplitTransaction, {
            db.conn
                .execute_batch("COMMIT; BEGIN IMMEDIATE")
                .map_err(db.err(tx::COMMIT))?;
        });
        super::update_status(db, id, current.status, target, now_ms)?;
        failpoint::hit(failpoint::EXPORT_BEFORE_COMMIT)?;
        Ok(ExportOutcome::Exported)
    })
}

/// Inserts the export's audit row.
fn insert_audit_row(
    db: Db<'_>,
    audit_id: &str,
    id: &str,
    content_hash: &Option<String>,
    now_ms: i64,
    mode: ExportMode,
) -> Result<()> {
    db.conn
        .prepare_cached(
            "INSERT INTO exports_audit
               (id, capture_id, vault_path, hash_at_export, exported_at, mode)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
        )
        .and_then(|mut stmt| {
            stmt.execute((
                audit_id,
                id,
                vault::file_name(id),
                content_hash,
                now_ms,
                mode.as_str(),
            ))
        })
        .map_err(db.err("insert export audit row"))?;
    Ok(())
}
