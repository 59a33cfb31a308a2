//! The ambiguous commit: a COMMIT that reports an error although the transaction landed.
//! The fault VFS's landing rules make one; the real ledger must neither lose nor repeat it.

use harness::backends::vfs::{FaultRule, FaultVfs, FileKind, IoOp, Trigger, VfsOptions};
use ledger::{Config, JournalMode, Ledger, NewCapture, Source, StageOutcome};

fn voice_memo() -> NewCapture {
    NewCapture {
        source: Source::Voice,
        raw_content: "voice/ambiguous.m4a".into(),
        channel: None,
        channel_native_id: None,
    }
}

fn captures(ledger: &Ledger) -> i64 {
    ledger
        .connection()
        .query_row("SELECT count(*) FROM captures", [], |row| row.get(0))
        .unwrap()
}

/// With a rollback journal, unlinking the journal is the commit point: when that unlink lands
/// but reports EIO, the stage is committed and COMMIT fails. A voice memo has no content hash
/// or channel id to deduplicate on, so the retry must look for its own earlier attempt.
#[test]
fn a_stage_whose_commit_failed_but_landed_is_stored_once() {
    let dir = tempfile::tempdir().unwrap();
    let vfs = FaultVfs::register("ambiguous-commit-test", VfsOptions::default()).unwrap();
    let mut config = Config::new(dir.path().join("ledger.db"), dir.path().join("vault"));
    config.vfs = Some(vfs.name().to_owned());
    config.tuning.journal_mode = JournalMode::Delete;
    let mut ledger = Ledger::open(&config).unwrap();
    assert_eq!(captures(&ledger), 0);
    vfs.add_rule(
        FaultRule::new(IoOp::Delete, Trigger::Nth(1))
            .on(FileKind::Journal)
            .landing(),
    )
    .unwrap();
    let outcome = ledger.stage(&voice_memo()).unwrap();
    let landed = vfs.events();
    assert_eq!(landed.len(), 1, "the landing rule fired once: {landed:?}");
    let StageOutcome::Staged(id) = outcome else {
        panic!("a first stage is Staged, not {outcome:?}");
    };
    assert_eq!(captures(&ledger), 1, "the retry staged the memo again");
    assert!(ledger.capture(&id).unwrap().is_some());
}
