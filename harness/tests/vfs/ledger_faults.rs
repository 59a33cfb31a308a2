//! The ledger under I/O faults (issue 3, item 8): a failed operation returns a typed error and
//! leaves no partial transaction; once the fault clears the same instance works again; ENOSPC
//! names the database path.

use harness::backends::vfs::{
    FaultError, FaultRule, FaultVfs, FileKind, IoOp, Trigger, VfsOptions,
};
use ledger::{
    Config, JournalMode, Ledger, LedgerError, NewCapture, RetryPolicy, Source, StageOutcome,
};

use crate::common::{register, tempdir};

fn memo(n: usize) -> NewCapture {
    NewCapture {
        source: Source::Voice,
        raw_content: format!("voice/memo-{n}.m4a"),
        channel: None,
        channel_native_id: None,
    }
}

/// A ledger through the fault VFS, with retry off so each call is a single attempt (what
/// these tests observe); `with_retry` keeps the default policy.
fn open(vfs: &FaultVfs, dir: &std::path::Path, journal: JournalMode) -> Ledger {
    open_with_retry(vfs, dir, journal, RetryPolicy::disabled())
}

fn open_with_retry(
    vfs: &FaultVfs,
    dir: &std::path::Path,
    journal: JournalMode,
    retry: RetryPolicy,
) -> Ledger {
    let mut config = Config::new(dir.join("ledger.db"), dir.join("vault"));
    config.vfs = Some(vfs.name().to_owned());
    config.tuning.journal_mode = journal;
    config.tuning.retry = retry;
    Ledger::open(&config).expect("ledger opens through the fault VFS")
}

fn count(ledger: &Ledger) -> i64 {
    ledger
        .connection()
        .query_row("SELECT count(*) FROM captures", [], |r| r.get(0))
        .expect("count captures")
}

/// Stages memo `n` and expects a typed SQLite error that left no transaction open (what is
/// visible is checked once the fault is cleared: reads may fail while it lasts).
fn expect_clean_failure(ledger: &mut Ledger, n: usize) -> LedgerError {
    let err = ledger
        .stage(&memo(n))
        .expect_err("the injected fault must surface");
    assert_eq!(err.kind(), "sqlite", "{err}");
    assert!(err.extended_code().is_some(), "{err}");
    assert!(
        ledger.connection().is_autocommit(),
        "a transaction was left open after: {err}"
    );
    err
}

fn cases() -> Vec<(&'static str, JournalMode, FaultRule)> {
    vec![
        (
            "wal fsync",
            JournalMode::Wal,
            FaultRule::new(IoOp::Sync, Trigger::FromNth(1)).on(FileKind::Wal),
        ),
        (
            "wal write",
            JournalMode::Wal,
            FaultRule::new(IoOp::Write, Trigger::FromNth(1)).on(FileKind::Wal),
        ),
        (
            "journal write",
            JournalMode::Delete,
            FaultRule::new(IoOp::Write, Trigger::FromNth(1)).on(FileKind::Journal),
        ),
        (
            "main-db write",
            JournalMode::Delete,
            FaultRule::new(IoOp::Write, Trigger::FromNth(1)).on(FileKind::MainDb),
        ),
        (
            "journal truncate",
            JournalMode::Truncate,
            FaultRule::new(IoOp::Truncate, Trigger::FromNth(1)).on(FileKind::Journal),
        ),
    ]
}

#[test]
fn a_failed_operation_is_typed_and_clean_and_the_same_instance_recovers() {
    for (name, journal, rule) in cases() {
        let dir = tempdir();
        let vfs = register(VfsOptions::default());
        let mut ledger = open(&vfs, dir.path(), journal);
        ledger.stage(&memo(0)).expect("before the fault");
        vfs.add_rule(rule).unwrap();
        for n in 1..=3 {
            expect_clean_failure(&mut ledger, n);
        }
        assert!(!vfs.events().is_empty(), "{name}: the rule never fired");
        vfs.clear_rules();
        assert_eq!(count(&ledger), 1, "{name}: a failed stage left a trace");
        let again = ledger.stage(&memo(9));
        assert!(
            matches!(again, Ok(StageOutcome::Staged(_))),
            "{name}: the same instance did not recover: {again:?}"
        );
        assert_eq!(count(&ledger), 2, "{name}");
        drop(ledger);
        let reopened = Ledger::open(&Config::new(
            dir.path().join("ledger.db"),
            dir.path().join("vault"),
        ))
        .unwrap();
        assert_eq!(count(&reopened), 2, "{name}: after reopening");
    }
}

#[test]
fn a_failed_commit_is_flagged_as_an_unknown_outcome() {
    let dir = tempdir();
    let vfs = register(VfsOptions::default());
    let mut ledger = open(&vfs, dir.path(), JournalMode::Wal);
    vfs.add_rule(FaultRule::new(IoOp::Sync, Trigger::Nth(1)).on(FileKind::Wal))
        .unwrap();
    let err = expect_clean_failure(&mut ledger, 1);
    assert!(err.is_commit_failure(), "{err}");
    vfs.clear_rules();
    ledger.stage(&memo(2)).expect("works again");
    assert_eq!(
        count(&ledger),
        1,
        "the failed commit is gone from the live database"
    );
}

#[test]
fn a_transient_fsync_failure_is_absorbed_by_the_retry_policy() {
    let dir = tempdir();
    let vfs = register(VfsOptions::default());
    let mut ledger = open_with_retry(&vfs, dir.path(), JournalMode::Wal, RetryPolicy::default());
    vfs.add_rule(FaultRule::new(IoOp::Sync, Trigger::Nth(1)).on(FileKind::Wal))
        .unwrap();
    let outcome = ledger.stage(&memo(1)).expect("the retry succeeds");
    assert!(matches!(outcome, StageOutcome::Staged(_)), "{outcome:?}");
    assert_eq!(ledger.retries(), 1);
    assert_eq!(
        count(&ledger),
        1,
        "exactly one capture, not a duplicate from the retry"
    );
}

#[test]
fn enospc_is_a_disk_full_error_naming_the_database_and_loses_nothing() {
    let dir = tempdir();
    let vfs = register(VfsOptions::default());
    let mut ledger = open(&vfs, dir.path(), JournalMode::Wal);
    ledger.stage(&memo(0)).unwrap();
    vfs.add_rule(
        FaultRule::new(IoOp::Write, Trigger::FromNth(1))
            .on(FileKind::Wal)
            .with_error(FaultError::Full),
    )
    .unwrap();
    let err = expect_clean_failure(&mut ledger, 1);
    assert_eq!(
        err.sqlite_code(),
        Some(rusqlite::ErrorCode::DiskFull),
        "{err}"
    );
    let message = err.to_string();
    let db = dir.path().join("ledger.db");
    assert!(
        message.contains(&db.display().to_string()),
        "the error must name the database: {message}"
    );
    vfs.clear_rules();
    assert_eq!(count(&ledger), 1, "the failed stage left a trace");
    ledger.stage(&memo(2)).expect("space is back");
    assert_eq!(count(&ledger), 2);
}
