//! What the check phase sees after the reopen and the resume ([`AfterRecovery`]), and the
//! checks that judge it: `exported_once`, `prune_backed_up` and `backups_restorable` (its check-phase path).
//!
//! The check phase gathers it (the database after resuming, the vault's entries, what every guarded
//! prune deleted, what each backup listed as verified holds and whether it restored); the
//! functions here only compare, so each can be shown failing on evidence built by hand.

use std::collections::BTreeSet;

use ledger::Status;

use super::snapshot::LedgerSnapshot;

/// Evidence gathered after the recoverable captures were resumed.
#[derive(Debug, Clone, Default)]
pub struct AfterRecovery {
    /// The database after resuming, or why it could not be read.
    pub resumed: Option<Result<LedgerSnapshot, String>>,
    /// Every entry of the vault directory after resuming, hidden ones included.
    pub vault_entries: Vec<String>,
    /// Captures deleted by a prune guarded by a verified backup: (which prune, ids). The
    /// workload's acknowledged guarded prunes, and one run after the reopen, as the app would.
    pub pruned: Vec<(String, Vec<String>)>,
    /// Errors of that post-reopen prune other than a refusal (no verified backup).
    pub prune_errors: Vec<String>,
    /// Every backup the ledger lists as verified.
    pub verified_backups: Vec<VerifiedBackup>,
    /// Why the backups could not be listed.
    pub listing_error: Option<String>,
}

/// A backup whose manifest says verified.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VerifiedBackup {
    /// Its file name.
    pub file: String,
    /// The ids of the captures it holds exported (terminal), or why it could not be read.
    pub ids: Result<BTreeSet<String>, String>,
    /// Whether it restored to the model at its backup point (the problem otherwise).
    pub restore: Result<(), String>,
}

/// `exported_once`: after resuming, each capture in a terminal status has exactly one audit row,
/// each exported one exactly one vault entry (`<id>.md`), and the vault holds nothing else (no
/// temp file left by a crash).
pub(super) fn exported_once(after: &AfterRecovery) -> Vec<String> {
    let snapshot = match &after.resumed {
        None => return vec!["the database after resuming was not gathered".to_owned()],
        Some(Err(e)) => return vec![format!("database unreadable after resuming: {e}")],
        Some(Ok(s)) => s,
    };
    let mut problems = Vec::new();
    for (id, capture) in &snapshot.captures {
        let Some(status) = Status::parse(&capture.status) else {
            continue;
        };
        if status.is_terminal() && capture.audit.len() != 1 {
            problems.push(format!(
                "{id}: {} with {} audit rows {:?}, expected exactly one",
                capture.status,
                capture.audit.len(),
                capture.audit
            ));
        }
        let entries: Vec<&String> = after
            .vault_entries
            .iter()
            .filter(|e| e.contains(id.as_str()))
            .collect();
        let wants_file = matches!(status, Status::Exported | Status::ExportedPlaceholder);
        if wants_file && entries != [&format!("{id}.md")] {
            problems.push(format!(
                "{id}: {} with vault entries {entries:?}, expected exactly [\"{id}.md\"]",
                capture.status
            ));
        }
    }
    problems.extend(
        after
            .vault_entries
            .iter()
            .filter(|e| !e.ends_with(".md") || e.starts_with('.'))
            .map(|e| format!("stray vault entry {e} (a temp file a crash left behind)")),
    );
    problems
}

/// `prune_backed_up`: every capture a guarded prune deleted is in a backup the ledger lists as
/// verified (by id; the drive's `backups_restorable` compares states); a prune never runs on
/// the basis of an unverified backup.
pub(super) fn prune_backed_up(after: &AfterRecovery) -> Vec<String> {
    let mut problems = after.prune_errors.clone();
    if let Some(e) = &after.listing_error {
        problems.push(format!("backups could not be listed: {e}"));
    }
    let held: BTreeSet<&String> = after
        .verified_backups
        .iter()
        .filter_map(|b| b.ids.as_ref().ok())
        .flatten()
        .collect();
    for (who, ids) in &after.pruned {
        let missing: Vec<&String> = ids.iter().filter(|id| !held.contains(id)).collect();
        if !missing.is_empty() {
            problems.push(format!(
                "{who} deleted {missing:?}, which no verified backup holds ({} verified backups)",
                after.verified_backups.len()
            ));
        }
    }
    problems
}

/// `backups_restorable`, judged after resuming: every backup the ledger lists as verified can be read and restores to
/// the model at its backup point.
pub(super) fn backups_restore(after: &AfterRecovery) -> Vec<String> {
    let mut problems = Vec::new();
    if let Some(e) = &after.listing_error {
        problems.push(format!("backups could not be listed: {e}"));
    }
    for backup in &after.verified_backups {
        if let Err(e) = &backup.ids {
            problems.push(format!("verified backup {} unreadable: {e}", backup.file));
        }
        if let Err(e) = &backup.restore {
            problems.push(format!("verified backup {}: {e}", backup.file));
        }
    }
    problems
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::oracle::CaptureState;

    fn capture(status: &str, audit: &[&str]) -> CaptureState {
        CaptureState {
            source: "email".into(),
            raw_content: "hello".into(),
            status: status.into(),
            content_hash: Some(ledger::content_hash("hello")),
            audit: audit.iter().map(|s| s.to_string()).collect(),
        }
    }

    fn after(status: &str, audit: &[&str], entries: &[&str]) -> AfterRecovery {
        let mut snapshot = LedgerSnapshot::default();
        snapshot.captures.insert("A".into(), capture(status, audit));
        AfterRecovery {
            resumed: Some(Ok(snapshot)),
            vault_entries: entries.iter().map(|s| s.to_string()).collect(),
            ..AfterRecovery::default()
        }
    }

    #[test]
    fn exported_once_holds_on_one_row_and_one_file() {
        assert!(exported_once(&after("exported", &["initial"], &["A.md"])).is_empty());
        assert!(exported_once(&after("exported_duplicate", &["duplicate_skip"], &[])).is_empty());
    }

    #[test]
    fn exported_once_fails_on_a_second_row_a_missing_file_or_a_temp_file() {
        let twice = exported_once(&after("exported", &["initial", "initial"], &["A.md"]));
        assert!(twice[0].contains("2 audit rows"), "{twice:?}");
        assert_eq!(
            exported_once(&after("exported", &["initial"], &[])).len(),
            1
        );
        let temp = exported_once(&after("exported", &["initial"], &["A.md", ".A.md.tmp"]));
        assert_eq!(temp.len(), 2, "{temp:?}");
        assert_eq!(exported_once(&AfterRecovery::default()).len(), 1);
    }

    fn backup(file: &str, ids: &[&str]) -> VerifiedBackup {
        VerifiedBackup {
            file: file.into(),
            ids: Ok(ids.iter().map(|s| s.to_string()).collect()),
            restore: Ok(()),
        }
    }

    #[test]
    fn prune_backed_up_fails_when_no_verified_backup_holds_a_pruned_capture() {
        let mut evidence = AfterRecovery {
            pruned: vec![("op 9".into(), vec!["A".into(), "B".into()])],
            verified_backups: vec![backup("b1.db", &["A", "B", "C"])],
            ..AfterRecovery::default()
        };
        assert!(prune_backed_up(&evidence).is_empty());
        evidence.verified_backups = vec![backup("b1.db", &["A"])];
        let problems = prune_backed_up(&evidence);
        assert!(problems[0].contains("[\"B\"]"), "{problems:?}");
    }

    #[test]
    fn backups_restore_fails_on_a_backup_that_does_not_restore() {
        let mut evidence = AfterRecovery {
            verified_backups: vec![backup("b1.db", &["A"])],
            ..AfterRecovery::default()
        };
        assert!(backups_restore(&evidence).is_empty());
        evidence.verified_backups[0].restore = Err("does not restore".into());
        assert_eq!(backups_restore(&evidence).len(), 1);
    }
}
