//! Gathers [`AfterRecovery`] in the check worker, after the recoverable captures were resumed:
//! the database and vault as they are now, what every guarded prune deleted (the workload's,
//! and one run now, as the app would after a restart), and each backup the ledger lists as
//! verified (its captures, and a restore of it compared with the model at its backup point).

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

use ledger::backup::{BackupError, BackupState, list_backups};
use ledger::{Ledger, LedgerError};
use rusqlite::{Connection, OpenFlags};

use crate::engine::job::CheckedDatabase;
use crate::oracle::VerifiedBackup;
use crate::oracle::backups::{expected_at, restore_matches};
use crate::oracle::{AckModel, AfterRecovery, CheckName, Execution, LedgerSnapshot, OpRecord};
use crate::workload::{OpOutcome, OpValue, Operation, backup_config};

/// True when a scenario runs a check that needs [`AfterRecovery`].
pub(crate) fn wanted(checks: &[CheckName]) -> bool {
    checks.iter().any(|c| {
        matches!(
            c,
            CheckName::ExportedOnce | CheckName::PruneBackedUp | CheckName::BackupsRestorable
        )
    })
}

/// What the after-recovery checks had to judge, as `figures`: verified backups restored, and
/// captures deleted by guarded prunes (so a green check is seen not to be vacuous).
pub(crate) fn figures(after: &AfterRecovery) -> Vec<(String, u64)> {
    let restored = after
        .verified_backups
        .iter()
        .filter(|b| b.restore.is_ok())
        .count();
    let pruned: usize = after.pruned.iter().map(|(_, ids)| ids.len()).sum();
    vec![
        ("verified_backups_restored".to_owned(), restored as u64),
        ("captures_pruned_after_backup".to_owned(), pruned as u64),
    ]
}

/// Gathers the evidence; runs a guarded prune, so call it after everything else was read.
pub(crate) fn gather(
    ledger: &mut Ledger,
    execution: &Execution,
    model: &AckModel,
    target: &CheckedDatabase,
) -> AfterRecovery {
    let mut after = AfterRecovery {
        resumed: Some(
            LedgerSnapshot::read(&target.db_path, &target.vault_dir).map_err(|e| e.to_string()),
        ),
        vault_entries: std::fs::read_dir(&target.vault_dir)
            .map(|entries| {
                entries
                    .filter_map(Result::ok)
                    .map(|e| e.file_name().to_string_lossy().into_owned())
                    .collect()
            })
            .unwrap_or_default(),
        ..AfterRecovery::default()
    };
    after.vault_entries.sort();
    let (pruned, at) = from_workload(execution);
    after.pruned = pruned;
    let config = backup_config(ledger);
    match ledger.prune_after_verified_backup(&config, 0) {
        Ok(guarded) => after.pruned.push((
            "the guarded prune after the reopen".to_owned(),
            guarded.pruned,
        )),
        Err(LedgerError::Backup(BackupError::PruneRefused { .. })) => {}
        Err(e) => after
            .prune_errors
            .push(format!("guarded prune after the reopen failed: {e}")),
    }
    let scratch = target
        .db_path
        .parent()
        .unwrap_or(Path::new("."))
        .join("check-restores");
    match list_backups(&config) {
        Err(e) => after.listing_error = Some(e.to_string()),
        Ok(list) => {
            for (n, entry) in list
                .backups
                .iter()
                .filter(|b| b.state == BackupState::Verified)
                .enumerate()
            {
                let file = entry
                    .path
                    .file_name()
                    .map(|f| f.to_string_lossy().into_owned())
                    .unwrap_or_default();
                // A backup taken during operation i holds the model before i: a reported one
                // at its own instant, the one in flight at a crash at the last instant.
                let instant = at
                    .get(&file)
                    .copied()
                    .unwrap_or_else(|| model.acknowledged_instant());
                let restore = restore_matches(
                    &entry.path,
                    &expected_at(model, instant),
                    &scratch.join(format!("restore-{n}")),
                );
                after.verified_backups.push(VerifiedBackup {
                    ids: capture_ids(&entry.path),
                    file,
                    restore,
                });
            }
        }
    }
    let _ = std::fs::remove_dir_all(&scratch);
    after
}

/// The workload's acknowledged guarded prunes, and the model instant of each reported backup
/// (acknowledged writes before it).
type FromWorkload = (Vec<(String, Vec<String>)>, BTreeMap<String, usize>);

fn from_workload(execution: &Execution) -> FromWorkload {
    let mut pruned = Vec::new();
    let mut at = BTreeMap::new();
    let mut writes = 0;
    for (index, (op, record)) in execution
        .operations
        .iter()
        .zip(&execution.records)
        .enumerate()
    {
        let OpRecord::Finished(OpOutcome::Ok(value)) = record else {
            continue;
        };
        match (op, value) {
            (Operation::GuardedPrune { .. }, OpValue::Pruned(ids)) => {
                pruned.push((format!("op {index} ({})", op.describe()), ids.clone()))
            }
            (Operation::Backup, OpValue::BackedUp { file, .. }) => {
                at.insert(file.clone(), writes);
            }
            _ => {}
        }
        if !op.is_read_only() {
            writes += 1;
        }
    }
    (pruned, at)
}

/// Ids of the captures a backup file holds in a terminal (exported) state, read without the
/// ledger: what a prune may delete once that backup is verified.
fn capture_ids(path: &Path) -> Result<BTreeSet<String>, String> {
    let conn = Connection::open_with_flags(path, OpenFlags::SQLITE_OPEN_READ_ONLY)
        .map_err(|e| e.to_string())?;
    let mut stmt = conn
        .prepare("SELECT id FROM captures WHERE status LIKE 'exported%'")
        .map_err(|e| e.to_string())?;
    stmt.query_map([], |row| row.get::<_, String>(0))
        .and_then(|rows| rows.collect::<Result<BTreeSet<_>, _>>())
        .map_err(|e| e.to_string())
}
