//! Named fail points between the steps of multi-step operations: [`ALL`].
//!
//! With the crate feature `failpoints`, each name can be configured through
//! `fail::cfg`; an action that returns (e.g. `"return"`) surfaces as
//! [`crate::LedgerError::FailPoint`] and the operation's transaction rolls
//! back. Without the feature the checks compile to nothing.

/// Stage: after the duplicate checks, before the insert.
pub const STAGE_BEFORE_INSERT: &str = "ledger::stage::before_insert";
/// Stage: row inserted, before `COMMIT`.
pub const STAGE_BEFORE_COMMIT: &str = "ledger::stage::before_commit";
/// Record transcription: status and hash updated, before `COMMIT`.
pub const TRANSCRIBE_BEFORE_COMMIT: &str = "ledger::transcribe::before_commit";
/// Mark transcription failed: status updated, before the `errors_log` insert.
pub const TRANSCRIPTION_FAILED_AFTER_STATUS_UPDATE: &str =
    "ledger::transcription_failed::after_status_update";
/// Mark transcription failed: both writes done, before `COMMIT`.
pub const TRANSCRIPTION_FAILED_BEFORE_COMMIT: &str = "ledger::transcription_failed::before_commit";
/// Export: checks passed, before the vault file is written.
pub const EXPORT_BEFORE_VAULT_WRITE: &str = "ledger::export::before_vault_write";
/// Vault write: temp file written and fsynced, before the rename.
pub const VAULT_AFTER_TEMP_SYNC: &str = "ledger::vault::after_temp_sync";
/// Vault write: renamed into place, before the directory fsync.
pub const VAULT_AFTER_RENAME: &str = "ledger::vault::after_rename";
/// Export: vault file renamed and synced, before the transaction.
pub const EXPORT_AFTER_VAULT_WRITE: &str = "ledger::export::after_vault_write";
/// Export: audit row inserted, before the status update.
pub const EXPORT_AFTER_AUDIT_INSERT: &str = "ledger::export::after_audit_insert";
/// Export: audit row and status written, before `COMMIT`.
pub const EXPORT_BEFORE_COMMIT: &str = "ledger::export::before_commit";
/// Prune: `errors_log` references cleared, before the captures are deleted.
pub const PRUNE_BEFORE_DELETE: &str = "ledger::prune::before_delete";
/// Prune: captures and audit rows deleted, before `COMMIT`.
pub const PRUNE_BEFORE_COMMIT: &str = "ledger::prune::before_commit";
/// Migration: a schema step applied, before its `COMMIT`.
pub const MIGRATE_BEFORE_COMMIT: &str = "ledger::migrate::before_commit";

/// Maintenance: a step done, before the next one runs (hit after every step).
pub const MAINTAIN_AFTER_STEP: &str = "ledger::maintain::after_step";

/// The retry loop: hit once before every retried attempt (attempt 2 onwards).
///
/// An observation point, not a crash point (so not in [`every`]): the harness counts the
/// ledger's retries through it ([`observe`]) and compares them with the retry counter of
/// [`crate::Ledger::metrics`].
pub const RETRY_AGAIN: &str = "ledger::retry::again";

/// Fail points of automated maintenance (kept apart from [`ALL`], whose
/// operations roll back on `return`; a maintenance step records the error and
/// the next step runs).
pub const MAINTENANCE: [&str; 1] = [MAINTAIN_AFTER_STEP];

/// Every fail point of the capture operations, for tools that enumerate them.
pub const ALL: [&str; 14] = [
    STAGE_BEFORE_INSERT,
    STAGE_BEFORE_COMMIT,
    TRANSCRIBE_BEFORE_COMMIT,
    TRANSCRIPTION_FAILED_AFTER_STATUS_UPDATE,
    TRANSCRIPTION_FAILED_BEFORE_COMMIT,
    EXPORT_BEFORE_VAULT_WRITE,
    VAULT_AFTER_TEMP_SYNC,
    VAULT_AFTER_RENAME,
    EXPORT_AFTER_VAULT_WRITE,
    EXPORT_AFTER_AUDIT_INSERT,
    EXPORT_BEFORE_COMMIT,
    PRUNE_BEFORE_DELETE,
    PRUNE_BEFORE_COMMIT,
    MIGRATE_BEFORE_COMMIT,
];

/// Every fail point the ledger has, in one list: [`ALL`], then
/// [`crate::backup::FAILPOINTS`], then [`MAINTENANCE`]. The harness crashes at
/// each of them in turn, so a new fail point belongs in one of these lists.
pub fn every() -> Vec<&'static str> {
    ALL.iter()
        .chain(crate::backup::FAILPOINTS.iter())
        .chain(MAINTENANCE.iter())
        .copied()
        .collect()
}

/// Evaluate fail point `name`: `Err(FailPoint)` when configured to return.
#[cfg(feature = "failpoints")]
pub(crate) fn hit(name: &'static str) -> crate::Result<()> {
    fail::fail_point!(name, |_| Err(crate::LedgerError::FailPoint {
        name: name.to_owned()
    }));
    Ok(())
}

/// Pass observation point `name` (its configured callback runs; it cannot fail the caller).
#[cfg(feature = "failpoints")]
pub(crate) fn observe(name: &'static str) {
    fail::fail_point!(name);
}

/// Pass observation point `name`: a no-op without the `failpoints` feature.
#[cfg(not(feature = "failpoints"))]
#[inline(always)]
pub(crate) fn observe(_name: &'static str) {}

/// Evaluate fail point `name`: a no-op without the `failpoints` feature.
#[cfg(not(feature = "failpoints"))]
#[inline(always)]
pub(crate) fn hit(_name: &'static str) -> crate::Result<()> {
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_unique_and_namespaced() {
        let mut names = ALL.to_vec();
        names.sort_unstable();
        names.dedup();
        assert_eq!(names.len(), ALL.len());
        assert!(ALL.iter().all(|name| name.starts_with("ledger::")));
        let mut every = every();
        every.sort_unstable();
        every.dedup();
        assert_eq!(
            every.len(),
            ALL.len() + crate::backup::FAILPOINTS.len() + MAINTENANCE.len()
        );
        assert!(every.iter().all(|name| name.starts_with("ledger::")));
    }
}
