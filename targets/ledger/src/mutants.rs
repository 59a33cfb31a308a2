//! Broken ledgers for the harness to catch: [`Mutant`] and its [`CATALOGUE`].
//!
//! A mutant is a realistic bug planted in the ledger, selected with
//! [`crate::Tuning::mutant`] (`--set target.mutant=NAME` in the harness).
//! This module, that field, [`crate::LedgerError::Mutant`] and the bugs
//! themselves exist only with the crate feature `mutants`, which only the
//! harness enables: each bug site is a `mutant!` or `if_mutant!` switch that
//! expands to the correct code alone without the feature, so a production
//! build neither carries the bugs nor accepts a `mutant` key in its tuning.
//!
//! The active mutant is process-global (set when a ledger opens): the harness
//! opens one ledger per worker process, and the bug sites (inside
//! transactions and queries) have no handle on the config.

use std::sync::atomic::{AtomicUsize, Ordering};

/// One planted bug.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mutant {
    /// `PRAGMA synchronous=OFF` whatever the tuning says: commits are not synced.
    DurabilityOff,
    /// Export commits the audit row, then the status change, in two transactions.
    ExportSplitTransaction,
    /// Stage inserts without looking for the capture it duplicates.
    StageNoDedup,
    /// A failed `COMMIT` is rolled back and reported as `Ok`.
    SwallowCommitError,
    /// The crash-resume query leaves out `failed_transcription` captures.
    RecoveryMissesFailedTranscription,
    /// A transcription write that failed with `SQLITE_NOMEM` (rolled back, by SQLite or the
    /// ledger) is reported `Ok`.
    NomemSwallowed,
    /// Writes open with a deferred `BEGIN`, the busy deadline is 0 and nothing is retried:
    /// lock contention surfaces to callers as `SQLITE_BUSY`.
    NoBeginImmediate,
    /// Backup verification reads the manifest and reports the backup verified without checking
    /// the file (hash, integrity, logical content, restore test).
    BackupVerifiedUnchecked,
    /// Backup-guarded pruning ignores the backup status: it prunes without a verified backup,
    /// while escalation has paused pruning, and past the newest verified backup.
    PruneIgnoresBackup,
    /// A vault write uses a fresh temp name per attempt: a crash leaves a stray file that the
    /// retry never replaces.
    VaultTempPerAttempt,
    /// A backup is recorded verified in `sync_state` before it is checked: a crash in between
    /// leaves guarded pruning trusting an unverified backup.
    BackupVerifiedBeforeCheck,
    /// A restore drops the newest exported capture of the snapshot it copies.
    RestoreDropsNewestCapture,
    /// The page-checksum VFS seals pages on write but never verifies a read.
    ChecksumsNotVerified,
    /// The cache keeps its size under memory pressure.
    CacheNeverShrinks,
    /// A leftover WAL is not checked for damaged frames before SQLite's
    /// recovery, which then silently drops every transaction after one.
    WalDamageIgnored,
    /// No directory fsync after creating the database or the vault directory, or
    /// after renaming a vault file into place.
    NoDirFsync,
    /// Ledger time is the raw clock reading ([`crate::ledger_time`]): after the clock steps
    /// back, a newer backup is dated before an older one (rotation then keeps the wrong one as
    /// "newest verified"), rows changed after a backup are dated before it (a guarded prune
    /// deletes them), and archive commit times go back (a point-in-time restore misplaces them).
    WallClockTime,
    /// A write that failed at `COMMIT` is retried as if it had certainly not committed: a
    /// non-idempotent write is re-applied, and a retried stage inserts again without looking for
    /// the capture its failed attempt may have committed.
    BlindRetry,
    /// A rare combination ([`placeholder_export_drops_audit`]): a placeholder export, while
    /// another capture's transcription has failed too, of a capture whose content hashes to a
    /// prefix `000`..`003` (about one in a thousand), commits the status change without its
    /// audit row.
    PlaceholderExportDropsAudit,
    /// The damage classifier files a page of a table as damage to an index of that name:
    /// `REINDEX` (+ `VACUUM`, which re-seals the damaged page) is taken for a repair.
    TableDamageCalledIndex,
    /// The index repair (`REINDEX` + `VACUUM`) reads every page with checksum verification
    /// off, not only the pages known damaged: a page read wrong by a transient flip during the
    /// rebuild is written back for good.
    RepairVerificationOff,
    /// A restore from the backup chain leaves out the frames of the last archive segment it
    /// plans (the chain bookkeeping still advances past it).
    RestoreSkipsSegment,
    /// A database that does not open because its header (page 1) is damaged is not rebuilt
    /// from the configured backup chain: the open fails as it would without one.
    HeaderDamageNotRebuilt,
    /// A restore to the latest point starts from the second-newest verified backup with an
    /// archive position: when a new lineage began between the two, the older chain stops short.
    RestoreFromOlderBackup,
    /// An error that reached the caller is never written to `errors_log`: the failure is
    /// invisible to anyone reading the ledger's health and error log afterwards.
    ErrorNeverLogged,
    /// Health leaves out the backup escalation: failed verifications (WARN, DEGRADED, pruning
    /// paused) never show in the health report.
    HealthIgnoresBackupFailures,
    /// The backup record that health and the metrics read takes the last verified backup from
    /// a key the backup module no longer writes: health says no verified backup was recorded
    /// after verified backups.
    HealthReadsStaleBackupKey,
    /// A call that ends in an error after retrying records none of its retries in the
    /// metrics: the retry counter says less than the ledger did.
    RetriesNotCounted,
    /// The performance-regression rule never fires: an operation slowed far past its baseline
    /// raises no alert in health.
    RegressionNeverFires,
    /// Every open reports a recovery after an unclean shutdown, whether or not the last
    /// shutdown left anything to recover: the report no longer tells a crash from a clean close.
    RecoveryReportedEveryOpen,
    /// Under memory pressure every poll that keeps the cache at its pressure size counts
    /// another shrink: the counter says the cache shrank more often than it did.
    ShrinkCountedEveryPoll,
    /// The capacity forecast in health ignores the database's current size and fits the stored
    /// samples alone: it does not move when the workload grows.
    CapacityForecastFrozen,
}

/// A catalogue entry: a bug by name, with the family that should catch it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct MutantSpec {
    /// The name used in `target.mutant`.
    pub name: &'static str,
    /// The bug, in one sentence.
    pub description: &'static str,
    /// Scenario families (or filters) expected to catch it.
    pub caught_by: &'static [&'static str],
    /// The planted bug, or `None` when it is catalogued but not built yet.
    pub mutant: Option<Mutant>,
}

/// Every catalogued bug, built or not.
pub const CATALOGUE: &[MutantSpec] = &[
    MutantSpec {
        name: "durability-off",
        description: "synchronous=OFF forced: acknowledged commits are never synced",
        caught_by: &["power-loss-wal-full"],
        mutant: Some(Mutant::DurabilityOff),
    },
    MutantSpec {
        name: "export-split-transaction",
        description: "export commits the audit row and the status change in separate transactions",
        caught_by: &["power-loss", "failpoints"],
        mutant: Some(Mutant::ExportSplitTransaction),
    },
    MutantSpec {
        name: "stage-no-dedup",
        description: "stage (and its retry) inserts again without looking for the duplicate",
        caught_by: &["baseline"],
        mutant: Some(Mutant::StageNoDedup),
    },
    MutantSpec {
        name: "swallow-commit-error",
        description: "a failed COMMIT (I/O error, NOMEM) is rolled back and reported Ok",
        caught_by: &["disk-errors"],
        mutant: Some(Mutant::SwallowCommitError),
    },
    MutantSpec {
        name: "recovery-misses-failed-transcription",
        description: "the crash-resume query leaves out failed_transcription captures",
        caught_by: &["baseline"],
        mutant: Some(Mutant::RecoveryMissesFailedTranscription),
    },
    MutantSpec {
        name: "nomem-swallowed",
        description: "a transcription write that failed with SQLITE_NOMEM (rolled back) is reported Ok",
        caught_by: &["nth-alloc-persistent"],
        mutant: Some(Mutant::NomemSwallowed),
    },
    MutantSpec {
        name: "no-begin-immediate",
        description: "deferred BEGIN, busy timeout 0 and no retry: busy errors surface to callers",
        caught_by: &["lock-contention"],
        mutant: Some(Mutant::NoBeginImmediate),
    },
    MutantSpec {
        name: "cache-never-shrinks",
        description: "the adaptive cache ignores memory pressure",
        caught_by: &["pressure-cache-shrink"],
        mutant: Some(Mutant::CacheNeverShrinks),
    },
    MutantSpec {
        name: "prune-ignores-backup",
        description: "retention pruning runs without a verified backup",
        caught_by: &["backup"],
        mutant: Some(Mutant::PruneIgnoresBackup),
    },
    MutantSpec {
        name: "backup-verified-unchecked",
        description: "a backup is marked verified without checking it",
        caught_by: &["backup"],
        mutant: Some(Mutant::BackupVerifiedUnchecked),
    },
    MutantSpec {
        name: "checksums-not-verified",
        description: "page checksums are written but not verified on read",
        caught_by: &["bit-flip-wal"],
        mutant: Some(Mutant::ChecksumsNotVerified),
    },
    MutantSpec {
        name: "no-dir-fsync",
        description: "no directory fsync after creating the database or a vault file",
        caught_by: &["power-loss-wal-full"],
        mutant: Some(Mutant::NoDirFsync),
    },
    MutantSpec {
        name: "wal-damage-ignored",
        description: "a WAL frame damaged at rest is left to SQLite's recovery, which silently drops every later commit",
        caught_by: &["corrupt-wal-frame"],
        mutant: Some(Mutant::WalDamageIgnored),
    },
    MutantSpec {
        name: "vault-temp-per-attempt",
        description: "each vault write uses a fresh temp name: a crash leaves a stray vault file",
        caught_by: &["failpoints"],
        mutant: Some(Mutant::VaultTempPerAttempt),
    },
    MutantSpec {
        name: "backup-verified-before-check",
        description: "a backup is recorded verified before it is checked; a crash leaves prune trusting it",
        caught_by: &["failpoints"],
        mutant: Some(Mutant::BackupVerifiedBeforeCheck),
    },
    MutantSpec {
        name: "restore-drops-newest-capture",
        description: "a restore loses the newest exported capture of the snapshot it copies",
        caught_by: &["kill-during-maintenance"],
        mutant: Some(Mutant::RestoreDropsNewestCapture),
    },
    MutantSpec {
        name: "wall-clock-time",
        description: "the ledger records the raw clock: when it steps back, a newer backup is dated before an older one",
        caught_by: &["clock"],
        mutant: Some(Mutant::WallClockTime),
    },
    MutantSpec {
        name: "blind-retry",
        description: "a write whose COMMIT failed is retried without looking whether it landed: a stage or transcription is applied twice",
        caught_by: &["ambiguous-commit-journal"],
        mutant: Some(Mutant::BlindRetry),
    },
    MutantSpec {
        name: "placeholder-export-drops-audit",
        description: "rarely (a placeholder export while another transcription failed too, content hash 000..003): the status changes without its audit row; for `explore`, no family catches it at the self-test's counts",
        caught_by: &[],
        mutant: Some(Mutant::PlaceholderExportDropsAudit),
    },
    MutantSpec {
        name: "table-damage-called-index",
        description: "damage to a table page is classified as index damage: REINDEX (and VACUUM re-sealing the damaged page) passes for a repair",
        caught_by: &["corrupt-table-page-archived"],
        mutant: Some(Mutant::TableDamageCalledIndex),
    },
    MutantSpec {
        name: "repair-verification-off",
        description: "the index repair (REINDEX + VACUUM) reads with checksum verification off for the whole connection: a page read wrong by a transient flip is written back for good",
        caught_by: &["regression-bit-flip-main-db-538eed44"],
        mutant: Some(Mutant::RepairVerificationOff),
    },
    MutantSpec {
        name: "restore-skips-segment",
        description: "a restore from the backup chain skips the frames of one archive segment",
        caught_by: &["corrupt-table-page-archived"],
        mutant: Some(Mutant::RestoreSkipsSegment),
    },
    MutantSpec {
        name: "header-damage-not-rebuilt",
        description: "a database whose header is damaged is not rebuilt from the configured backup chain: every capture is refused",
        caught_by: &["corrupt-header-archived"],
        mutant: Some(Mutant::HeaderDamageNotRebuilt),
    },
    MutantSpec {
        name: "restore-from-older-backup",
        description: "a restore to the latest point starts from an older verified backup than the newest: the older lineage's archive stops short of the captures after a restart",
        caught_by: &["corrupt-table-page-archive-restarted"],
        mutant: Some(Mutant::RestoreFromOlderBackup),
    },
    MutantSpec {
        name: "error-never-logged",
        description: "an error that reached the caller is never written to errors_log",
        caught_by: &["eio-write-persistent"],
        mutant: Some(Mutant::ErrorNeverLogged),
    },
    MutantSpec {
        name: "health-ignores-backup-failures",
        description: "failed backup verifications never show in the health report",
        caught_by: &["backup-verify-fails"],
        mutant: Some(Mutant::HealthIgnoresBackupFailures),
    },
    MutantSpec {
        name: "health-reads-stale-backup-key",
        description: "health reads the last verified backup from a key nobody writes: verified backups are not seen",
        caught_by: &["seeded-actions"],
        mutant: Some(Mutant::HealthReadsStaleBackupKey),
    },
    MutantSpec {
        name: "retries-not-counted",
        description: "the retries of a call that ends in an error are left out of the retry counter",
        caught_by: &["lock-busy-no-timeout"],
        mutant: Some(Mutant::RetriesNotCounted),
    },
    MutantSpec {
        name: "regression-never-fires",
        description: "the performance-regression alert never fires, however slow an operation gets",
        caught_by: &["latency-after-maintain"],
        mutant: Some(Mutant::RegressionNeverFires),
    },
    MutantSpec {
        name: "recovery-reported-every-open",
        description: "every open reports a recovery after an unclean shutdown, a clean close included",
        caught_by: &["kill-writer"],
        mutant: Some(Mutant::RecoveryReportedEveryOpen),
    },
    MutantSpec {
        name: "shrink-counted-every-poll",
        description: "under memory pressure each poll counts another cache shrink: the counter exceeds the shrinks made",
        caught_by: &["pressure-cache-shrink"],
        mutant: Some(Mutant::ShrinkCountedEveryPoll),
    },
    MutantSpec {
        name: "capacity-forecast-frozen",
        description: "the capacity forecast ignores the current database size: it does not move when the workload grows",
        caught_by: &["kill-writer"],
        mutant: Some(Mutant::CapacityForecastFrozen),
    },
];

impl Mutant {
    /// The catalogue entry of a built mutant named `name`.
    pub fn from_name(name: &str) -> Option<Mutant> {
        CATALOGUE
            .iter()
            .find(|spec| spec.name == name)
            .and_then(|spec| spec.mutant)
    }
}

/// Checks the tuning's mutant at open and makes it the process's active one.
///
/// # Errors
/// [`crate::LedgerError::Mutant`] when the name is not a built mutant.
pub(crate) fn activate(name: Option<&str>) -> crate::error::Result<()> {
    let Some(name) = name else {
        set(None);
        return Ok(());
    };
    match Mutant::from_name(name) {
        Some(mutant) => {
            set(Some(mutant));
            Ok(())
        }
        None => Err(crate::LedgerError::Mutant {
            name: name.to_owned(),
            reason: "no built mutant has this name (see ledger::mutants::CATALOGUE)",
        }),
    }
}

/// The `nomem-swallowed` bug: a unit write's result, with `SQLITE_NOMEM` turned into `Ok`
/// (the bug site asks `mutant!(NomemSwallowed, ..)` first).
pub(crate) fn swallow_nomem(result: crate::error::Result<()>) -> crate::error::Result<()> {
    match result {
        Err(error) if error.sqlite_code() == Some(rusqlite::ErrorCode::OutOfMemory) => Ok(()),
        other => other,
    }
}

/// The `placeholder-export-drops-audit` bug's trigger: a placeholder export of `capture`
/// while another capture is in `failed_transcription`, and the capture's content hash starts
/// with `000`..`003`.
pub(crate) fn placeholder_export_drops_audit(
    db: crate::db::Db<'_>,
    capture: &crate::capture::Capture,
    mode: crate::status::ExportMode,
) -> crate::error::Result<bool> {
    if mode != crate::status::ExportMode::Placeholder {
        return Ok(false);
    }
    let hash = capture
        .content_hash
        .clone()
        .unwrap_or_else(|| crate::capture::content_hash(&capture.raw_content));
    if !matches!(hash.get(..3), Some("000" | "001" | "002" | "003")) {
        return Ok(false);
    }
    let others: i64 = db
        .conn
        .query_row(
            "SELECT count(*) FROM captures WHERE status = 'failed_transcription' AND id <> ?1",
            [&capture.id],
            |row| row.get(0),
        )
        .map_err(db.err("count failed transcriptions"))?;
    Ok(others > 0)
}

/// `config` naming the active mutant, so a helper open inside an operation (a backup's
/// verification copy) keeps the process's mutant instead of resetting it.
pub(crate) fn keep_active(mut config: crate::Config) -> crate::Config {
    config.tuning.mutant = get()
        .and_then(|m| CATALOGUE.iter().find(|s| s.mutant == Some(m)))
        .map(|s| s.name.to_owned());
    config
}

/// Whether `mutant` is the active one.
pub(crate) fn is(mutant: Mutant) -> bool {
    get() == Some(mutant)
}

/// Index + 1 into the catalogue of the active mutant; 0 = none.
static ACTIVE: AtomicUsize = AtomicUsize::new(0);

fn set(mutant: Option<Mutant>) {
    let index = mutant
        .and_then(|m| CATALOGUE.iter().position(|s| s.mutant == Some(m)))
        .map_or(0, |i| i + 1);
    ACTIVE.store(index, Ordering::SeqCst);
}

fn get() -> Option<Mutant> {
    match ACTIVE.load(Ordering::SeqCst) {
        0 => None,
        i => CATALOGUE.get(i - 1).and_then(|s| s.mutant),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_unique_and_kebab_case() {
        let mut names: Vec<&str> = CATALOGUE.iter().map(|s| s.name).collect();
        assert!(
            names
                .iter()
                .all(|n| n.chars().all(|c| c.is_ascii_lowercase() || c == '-'))
        );
        names.sort_unstable();
        names.dedup();
        assert_eq!(names.len(), CATALOGUE.len());
        let uncaught: Vec<&str> = CATALOGUE
            .iter()
            .filter(|s| s.caught_by.is_empty())
            .map(|s| s.name)
            .collect();
        // Only the rare bug planted for `explore` has no family expected to catch it.
        assert_eq!(uncaught, ["placeholder-export-drops-audit"]);
    }

    #[test]
    fn no_mutant_is_always_accepted_and_an_unknown_one_never() {
        assert!(activate(None).is_ok());
        assert!(activate(Some("no-such-bug")).is_err());
    }
}
