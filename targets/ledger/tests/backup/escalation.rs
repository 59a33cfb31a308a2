//! Escalation: consecutive verification failures HEALTHY → WARN → DEGRADED →
//! pruning paused, one success resets; guarded retention pruning.

use ledger::backup::{self, BackupError, BackupHealth};
use ledger::{ExportMode, LedgerError};

use crate::support::{Env, truncate_half};

fn count(env: &Env, sql: &str) -> i64 {
    env.ledger
        .connection()
        .query_row(sql, [], |row| row.get(0))
        .expect("count")
}

fn state(env: &Env, key: &str) -> String {
    env.ledger
        .connection()
        .query_row(
            "SELECT value FROM sync_state WHERE key = ?1",
            [key],
            |row| row.get(0),
        )
        .expect("sync_state key")
}

#[test]
fn failures_escalate_and_one_success_resets() {
    let mut env = Env::new();
    env.stage(1);
    let good = env.ledger.backup(&env.backups).expect("good backup").path;
    let mut config = env.backups.clone();
    config.verify = false;
    let bad = env.ledger.backup(&config).expect("second backup").path;
    truncate_half(&bad);

    let mut levels = Vec::new();
    for _ in 0..4 {
        let report = env
            .ledger
            .verify_backup(&env.backups, &bad)
            .expect("verify runs");
        assert!(!report.ok);
        levels.push(
            env.ledger
                .backup_status(&env.backups)
                .expect("status")
                .health,
        );
    }
    assert_eq!(
        levels,
        [
            BackupHealth::Warn,
            BackupHealth::Degraded,
            BackupHealth::PruningPaused,
            BackupHealth::PruningPaused
        ]
    );
    assert_eq!(state(&env, backup::KEY_CONSECUTIVE_FAILURES), "4");
    assert_eq!(state(&env, backup::KEY_STATUS), "pruning_paused");
    assert_eq!(
        count(
            &env,
            "SELECT count(*) FROM errors_log WHERE stage = 'backup'"
        ),
        4
    );
    let refused = env
        .ledger
        .prune_after_verified_backup(&env.backups, 0)
        .expect_err("pruning paused");
    assert!(
        matches!(
            refused,
            LedgerError::Backup(BackupError::PruneRefused { .. })
        ),
        "{refused}"
    );
    let listed = backup::list_backups(&env.backups).expect("list");
    assert!(
        listed
            .backups
            .iter()
            .any(|b| b.state == backup::BackupState::Failed)
    );

    let report = env
        .ledger
        .verify_backup(&env.backups, &good)
        .expect("verify good");
    assert!(report.ok, "{report:?}");
    let status = env.ledger.backup_status(&env.backups).expect("status");
    assert_eq!(status.health, BackupHealth::Healthy);
    assert_eq!(status.consecutive_failures, 0);
    assert_eq!(status.last_verified_path.as_deref(), Some(good.as_path()));
    assert_eq!(state(&env, backup::KEY_STATUS), "healthy");
}

#[test]
fn a_backup_that_cannot_be_written_advances_escalation() {
    let mut env = Env::new();
    env.stage(1);
    let mut config = env.backups.clone();
    // A file where the backup directory should be: the backup cannot be made.
    std::fs::write(env.path("not-a-dir"), b"x").expect("file");
    config.dir = env.path("not-a-dir");
    let error = env.ledger.backup(&config).expect_err("no backup");
    assert_eq!(error.kind(), "backup");
    assert!(error.to_string().contains("not-a-dir"), "{error}");
    let status = env.ledger.backup_status(&config).expect("status");
    assert_eq!(status.health, BackupHealth::Warn);
    assert_eq!(status.last_verified_path, None);
}

#[test]
fn pruning_waits_for_a_verified_backup_and_never_passes_it() {
    let mut env = Env::with_step(86_400_000);
    let old = env.stage(1);
    env.ledger
        .record_transcription(&old, "one")
        .expect("transcribe");
    env.ledger
        .record_export(&old, ExportMode::Initial)
        .expect("export");
    let refused = env
        .ledger
        .prune_after_verified_backup(&env.backups, 1)
        .expect_err("no verified backup yet");
    assert!(
        refused.to_string().contains("no verified backup"),
        "{refused}"
    );

    env.ledger.backup(&env.backups).expect("backup");
    let late = env.stage(2);
    env.ledger
        .record_transcription(&late, "two")
        .expect("transcribe");
    env.ledger
        .record_export(&late, ExportMode::Initial)
        .expect("export");
    // Both are terminal and older than 0 days, but only `old` is in the
    // verified backup.
    let pruned = env
        .ledger
        .prune_after_verified_backup(&env.backups, 0)
        .expect("prune");
    assert_eq!(pruned.pruned, vec![old]);
    assert!(pruned.effective_cutoff_ms < pruned.requested_cutoff_ms);
    assert!(env.ledger.capture(&late).expect("read").is_some());
}

/// Found by the harness (`backup-corrupt-file`): the newest verified backup failing its
/// re-verification must stop guarded pruning from trusting it, or pruning removes captures
/// whose only copy is the damaged backup.
#[test]
fn a_damaged_newest_verified_backup_no_longer_licenses_pruning() {
    let mut env = Env::new();
    let id = env.stage(1);
    env.ledger
        .record_transcription(&id, "hello")
        .expect("transcribe");
    env.ledger
        .record_export(&id, ExportMode::Initial)
        .expect("export");
    let path = env.ledger.backup(&env.backups).expect("backup").path;
    let status = env.ledger.backup_status(&env.backups).expect("status");
    assert!(status.last_verified_snapshot_at_ms.is_some());
    truncate_half(&path);
    let report = env
        .ledger
        .verify_backup(&env.backups, &path)
        .expect("verify runs");
    assert!(!report.ok);
    let status = env.ledger.backup_status(&env.backups).expect("status");
    assert_eq!(status.last_verified_snapshot_at_ms, None);
    assert_eq!(status.last_verified_path, None);
    let refused = env
        .ledger
        .prune_after_verified_backup(&env.backups, 0)
        .expect_err("no trusted backup: pruning refused");
    assert!(
        matches!(
            refused,
            LedgerError::Backup(BackupError::PruneRefused { .. })
        ),
        "{refused}"
    );
    assert_eq!(count(&env, "SELECT count(*) FROM captures"), 1);
}

/// Health must not say "no verified backup" while an older backup is still listed verified:
/// when the newest verified backup fails re-verification, the newest other verified backup
/// becomes the last verified one, and pruning trusts only what that older backup holds.
#[test]
fn a_damaged_newest_verified_backup_falls_back_to_the_older_verified_one() {
    let mut env = Env::with_step(86_400_000);
    let exported = |env: &mut Env, n: u32| {
        let id = env.stage(n);
        env.ledger
            .record_transcription(&id, &format!("transcript {n}"))
            .expect("transcribe");
        env.ledger
            .record_export(&id, ExportMode::Initial)
            .expect("export");
        id
    };
    let old = exported(&mut env, 1);
    let older_backup = env.ledger.backup(&env.backups).expect("backup 1").path;
    let late = exported(&mut env, 2);
    let newest = env.ledger.backup(&env.backups).expect("backup 2").path;
    truncate_half(&newest);
    let report = env
        .ledger
        .verify_backup(&env.backups, &newest)
        .expect("verify runs");
    assert!(!report.ok);
    let status = env.ledger.backup_status(&env.backups).expect("status");
    assert_eq!(
        status.last_verified_path.as_deref(),
        Some(older_backup.as_path())
    );
    assert_eq!(status.health, BackupHealth::Warn);
    let health = env.ledger.health().expect("health");
    assert!(
        !health
            .problems
            .iter()
            .any(|p| p.what.contains("no verified backup")),
        "{:?}",
        health.problems
    );
    let pruned = env
        .ledger
        .prune_after_verified_backup(&env.backups, 0)
        .expect("the older verified backup licenses a prune");
    assert_eq!(pruned.pruned, vec![old], "only what the older backup holds");
    assert!(env.ledger.capture(&late).expect("read").is_some());
}

fn retention_prune_due(env: &Env) -> bool {
    env.ledger
        .maintenance_due()
        .expect("maintenance plan")
        .iter()
        .any(|due| due.step == ledger::maintenance::Step::RetentionPrune)
}

#[test]
fn automated_maintenance_prunes_only_behind_a_verified_backup_while_pruning_is_allowed() {
    let mut env = Env::new();
    env.stage(1);
    assert!(!retention_prune_due(&env), "no backup yet");

    let good = env.ledger.backup(&env.backups).expect("good backup").path;
    assert!(retention_prune_due(&env), "a verified backup licenses it");

    let mut unverified = env.backups.clone();
    unverified.verify = false;
    let bad = env.ledger.backup(&unverified).expect("second backup").path;
    truncate_half(&bad);
    for _ in 0..3 {
        let report = env
            .ledger
            .verify_backup(&env.backups, &bad)
            .expect("verify");
        assert!(!report.ok);
    }
    assert_eq!(
        env.ledger
            .backup_status(&env.backups)
            .expect("status")
            .health,
        BackupHealth::PruningPaused
    );
    assert!(!retention_prune_due(&env), "escalation paused pruning");

    let report = env
        .ledger
        .verify_backup(&env.backups, &good)
        .expect("verify");
    assert!(report.ok, "{report:?}");
    assert!(retention_prune_due(&env), "one success licenses it again");
}
