//! Backup fail points: an error injected inside a backup never leaves a
//! backup listed as verified, and advances the escalation. Own test binary:
//! fail points are process-global, and `FailScenario` serialises the tests.
#![cfg(feature = "failpoints")]

use std::sync::Arc;

use fail::FailScenario;
use ledger::backup::{self, BackupConfig, BackupHealth, BackupState, RestoreTarget};
use ledger::{Config, Ledger, LedgerError, NewCapture, OpenOptions, Source, StepClock};

struct Env {
    dir: tempfile::TempDir,
    backups: BackupConfig,
    ledger: Ledger,
}

fn env() -> Env {
    let dir = tempfile::tempdir().expect("temp dir");
    let config = Config::new(dir.path().join("l.db"), dir.path().join("vault"));
    let mut ledger = Ledger::open_with(
        &config,
        OpenOptions {
            clock: Arc::new(StepClock::new(1_700_000_000_000, 1_000)),
            id_seed: Some(5),
        },
    )
    .expect("open");
    ledger
        .stage(&NewCapture {
            source: Source::Voice,
            raw_content: "memos/1.m4a".into(),
            channel: None,
            channel_native_id: None,
        })
        .expect("stage");
    let backups = BackupConfig::new(dir.path().join("backups"));
    Env {
        dir,
        backups,
        ledger,
    }
}

#[test]
fn a_failure_before_verification_leaves_an_unverified_backup_and_escalates() {
    let scenario = FailScenario::setup();
    let mut env = env();
    fail::cfg(backup::FAILPOINT_BEFORE_VERIFY, "return").expect("cfg");
    let error = env.ledger.backup(&env.backups).expect_err("injected");
    assert!(matches!(error, LedgerError::FailPoint { .. }), "{error}");
    let list = backup::list_backups(&env.backups).expect("list");
    assert_eq!(list.backups.len(), 1);
    assert_eq!(list.backups[0].state, BackupState::Unverified);
    let status = env.ledger.backup_status(&env.backups).expect("status");
    assert_eq!(status.health, BackupHealth::Warn);
    scenario.teardown();
}

#[test]
fn a_failure_before_the_rename_lists_nothing_restorable() {
    let scenario = FailScenario::setup();
    let mut env = env();
    fail::cfg(backup::FAILPOINT_BEFORE_RENAME, "return").expect("cfg");
    env.ledger.backup(&env.backups).expect_err("injected");
    let list = backup::list_backups(&env.backups).expect("list");
    assert!(
        list.backups.iter().all(|b| b.state == BackupState::Missing),
        "{list:?}"
    );
    let plan = backup::plan_restore(
        &env.backups,
        RestoreTarget::Latest,
        &env.dir.path().join("r.db"),
    );
    assert!(plan.is_err(), "{plan:?}");
    let rotated = backup::rotate(&env.backups, false).expect("rotate");
    assert_eq!(rotated.deleted.len(), 1, "the half backup's manifest goes");
    scenario.teardown();
}

#[test]
fn a_failure_inside_a_restore_leaves_no_destination() {
    let scenario = FailScenario::setup();
    let mut env = env();
    env.ledger.backup(&env.backups).expect("backup");
    fail::cfg(backup::FAILPOINT_RESTORE_BEFORE_RENAME, "return").expect("cfg");
    let into = env.dir.path().join("r.db");
    let plan = backup::plan_restore(&env.backups, RestoreTarget::Latest, &into).expect("plan");
    let error = backup::restore(&plan).expect_err("injected");
    assert!(
        matches!(error, backup::BackupError::FailPoint { .. }),
        "{error}"
    );
    assert!(!into.exists());
    scenario.teardown();
}
