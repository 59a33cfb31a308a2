//! Rebuilding a damaged database from its backup chain: [`rebuild_beside`]
//! writes, beside the damaged file, the newest snapshot plus every archived
//! transaction up to the newest archived commit ([`RestoreTarget::Latest`]),
//! checked as every restore is (`integrity_check`, an open through the
//! ledger). The caller compares it with what the damaged file still reads
//! correctly and swaps it in ([`crate::integrity`]'s repair).

use std::fs;
use std::path::{Path, PathBuf};

use super::config::BackupConfig;
use super::error::BackupError;
use super::restore::{RestoreTarget, plan_restore, restore};
use super::{archive, fsutil};
use crate::integrity::RestoredBackup;

/// A rebuilt copy of the database, not yet in place.
#[derive(Debug)]
pub(crate) struct Rebuilt {
    /// The rebuilt file (beside the damaged one).
    pub path: PathBuf,
    /// The snapshot and archive range it came from.
    pub backup: RestoredBackup,
}

/// Rebuild `db_path` from the backup directory whose WAL archive is
/// `archive_dir` (`<backups>/wal`) into `<db_path>.rebuilt`.
///
/// # Errors
/// No snapshot, a gap in the archive, a damaged segment, or a rebuilt copy
/// that fails its checks.
pub(crate) fn rebuild_beside(archive_dir: &Path, db_path: &Path) -> Result<Rebuilt, BackupError> {
    let mut config = BackupConfig::new(fsutil::parent_dir(archive_dir));
    config.archive = true;
    let mut into = db_path.as_os_str().to_owned();
    into.push(".rebuilt");
    let into = PathBuf::from(into);
    for stale in [into.clone(), archive::wal_path(&into)] {
        if stale.exists() {
            fs::remove_file(&stale).map_err(BackupError::io("remove a stale rebuild", &stale))?;
        }
    }
    let plan = plan_restore(&config, RestoreTarget::Latest, &into)?;
    let report = restore(&plan)?;
    let snapshot = plan.snapshot.file_name().map_or_else(
        || plan.snapshot.display().to_string(),
        |n| n.to_string_lossy().into_owned(),
    );
    let label = match plan.target_txid {
        Some(txid) => format!(
            "{snapshot} + {} archived transaction(s) up to transaction {txid}",
            report.applied_transactions
        ),
        None => format!("{snapshot} (no WAL archive position)"),
    };
    Ok(Rebuilt {
        path: into,
        backup: RestoredBackup {
            taken_at_ms: plan.snapshot_created_at_ms,
            label,
        },
    })
}
