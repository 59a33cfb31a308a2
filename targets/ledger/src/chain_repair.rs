//! Repair of damage `REINDEX` cannot fix (a table page, the header) from the
//! backup chain: when `tuning.wal_archive_dir` is configured, the newest
//! snapshot plus the archived transactions up to the newest archived commit
//! are rebuilt beside the damaged file ([`crate::backup`]'s restore), checked,
//! compared with every capture row the damaged file still reads correctly,
//! and renamed over it (the damaged file is kept as `<db>.damaged`).
//!
//! What the archive does not reach is named per capture and refused, never
//! served stale or as absent: a capture the damaged file lists that the
//! rebuilt copy lacks, and a capture whose undamaged row differs from the
//! rebuilt one (committed after the newest archived transaction).

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

use rusqlite::types::Value;
use rusqlite::{Connection, OpenFlags};

use crate::backup::rebuild::rebuild_beside;
use crate::config::Config;
use crate::integrity::{CheckLevel, CorruptionReport, RepairAction, detect};
use crate::ledger::Ledger;

/// A capture row as stored (every column).
pub(crate) type Row = Vec<Value>;

/// The configured WAL archive (`tuning.wal_archive_dir`, relative to the
/// database's directory), which makes table and header damage repairable.
pub(crate) fn backup_chain(config: &Config) -> Option<PathBuf> {
    let dir = config.tuning.wal_archive_dir.as_ref()?;
    Some(match config.path.parent() {
        Some(parent) if dir.is_relative() => parent.join(dir),
        _ => dir.clone(),
    })
}

/// Keep `db` as `<db>.damaged` (a hard link) and its `-wal` aside, then
/// rename `rebuilt` over it (atomic) and sync the directory.
pub(crate) fn put_in_place(db: &Path, rebuilt: &Path) -> Result<(), String> {
    crate::ledger_safety::set_aside_sidecars(db);
    let mut kept = db.as_os_str().to_owned();
    kept.push(".damaged");
    let _ = std::fs::remove_file(&kept);
    let _ = std::fs::hard_link(db, &kept);
    std::fs::rename(rebuilt, db)
        .map_err(|e| format!("renaming the rebuilt copy into place failed: {e}"))?;
    if let Some(dir) = db.parent()
        && let Ok(dir) = std::fs::File::open(dir)
    {
        let _ = dir.sync_all();
    }
    Ok(())
}

impl Ledger {
    /// The backup chain of this ledger's configuration, if any.
    pub(crate) fn backup_chain(&self) -> Option<PathBuf> {
        backup_chain(&self.config)
    }

    /// Rebuild from the chain at `archive_dir`, check, swap in, and name
    /// what the archive does not reach (see the module doc).
    pub(crate) fn restore_from_chain(
        &mut self,
        archive_dir: &Path,
        report: &CorruptionReport,
    ) -> RepairAction {
        let listed = crate::integrity::repair::listed_capture_ids(&self.conn);
        let undamaged = rows_of(&self.conn, &listed);
        let rebuilt = match rebuild_beside(archive_dir, &self.config.path) {
            Ok(rebuilt) => rebuilt,
            Err(e) => {
                return RepairAction::NotRepaired(format!(
                    "{}; rebuilding from the backup chain failed: {e}",
                    report.action_text()
                ));
            }
        };
        let restored = match Connection::open_with_flags(
            &rebuilt.path,
            OpenFlags::SQLITE_OPEN_READ_ONLY | OpenFlags::SQLITE_OPEN_NO_MUTEX,
        ) {
            Ok(conn) => rows_of(&conn, &listed),
            Err(e) => {
                let _ = std::fs::remove_file(&rebuilt.path);
                return RepairAction::NotRepaired(format!("the rebuilt copy does not open: {e}"));
            }
        };
        let lost = not_reached(&listed, &undamaged, &restored);
        if let Err(why) = self.swap_in(&rebuilt.path) {
            return RepairAction::NotRepaired(why);
        }
        self.safety.lost = lost.iter().cloned().collect();
        RepairAction::Restored {
            backup: rebuilt.backup,
            missing: lost,
        }
    }

    /// Keep the damaged file as `<db>.damaged`, rename `rebuilt` over the
    /// database (atomic), reopen and re-check.
    fn swap_in(&mut self, rebuilt: &Path) -> Result<(), String> {
        let placeholder =
            Connection::open_in_memory().map_err(|e| format!("swap not attempted: {e}"))?;
        let damaged = std::mem::replace(&mut self.conn, placeholder);
        let _ = damaged.close();
        put_in_place(&self.config.path, rebuilt)?;
        self.conn = self
            .reconnect()
            .map_err(|e| format!("the rebuilt copy does not open: {e}"))?;
        match detect::check(&self.conn, &self.config.path, CheckLevel::Full) {
            Ok(None) => {}
            Ok(Some(still)) => {
                return Err(format!(
                    "the rebuilt copy is damaged: {}",
                    still.messages.join("; ")
                ));
            }
            Err(e) => return Err(format!("the rebuilt copy could not be checked: {e}")),
        }
        self.after_replaced();
        Ok(())
    }
}

/// Captures the damaged file lists that the rebuilt copy lacks, or holds in
/// another state than the damaged file's undamaged row.
pub(crate) fn not_reached(
    listed: &[String],
    undamaged: &BTreeMap<String, Row>,
    restored: &BTreeMap<String, Row>,
) -> Vec<String> {
    let lost: BTreeSet<String> = listed
        .iter()
        .filter(|id| match (undamaged.get(*id), restored.get(*id)) {
            (_, None) => true,
            (Some(now), Some(then)) => now != then,
            (None, Some(_)) => false,
        })
        .cloned()
        .collect();
    lost.into_iter().collect()
}

/// Every column of each of `ids` that `conn` reads (rows that fail to read
/// are left out).
pub(crate) fn rows_of(conn: &Connection, ids: &[String]) -> BTreeMap<String, Row> {
    let Ok(mut stmt) = conn.prepare("SELECT * FROM captures WHERE id = ?1") else {
        return BTreeMap::new();
    };
    let columns = stmt.column_count();
    ids.iter()
        .filter_map(|id| {
            let row = stmt
                .query_row([id], |r| {
                    (0..columns).map(|i| r.get::<_, Value>(i)).collect()
                })
                .ok()?;
            Some((id.clone(), row))
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn row(text: &str) -> Row {
        vec![Value::Text(text.into())]
    }

    #[test]
    fn names_what_the_archive_lacks_or_holds_stale() {
        let listed: Vec<String> = ["a", "b", "c", "d"].map(String::from).to_vec();
        let undamaged: BTreeMap<String, Row> = [("a", "1"), ("b", "2"), ("d", "4")]
            .map(|(k, v)| (k.to_owned(), row(v)))
            .into();
        let restored: BTreeMap<String, Row> = [("a", "1"), ("b", "old"), ("c", "3")]
            .map(|(k, v)| (k.to_owned(), row(v)))
            .into();
        assert_eq!(not_reached(&listed, &undamaged, &restored), ["b", "d"]);
    }
}
