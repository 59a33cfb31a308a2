//! Export writes one file and one audit row, however often it is retried.

use ledger::{ExportMode, ExportOutcome, Status};

use crate::support::{Fixture, count, voice};

#[test]
fn exporting_twice_gives_one_audit_row_and_one_file() {
    let mut fixture = Fixture::new();
    let id = fixture.stage(&voice(1));
    fixture
        .ledger
        .record_transcription(&id, "buy milk")
        .expect("transcribe");
    assert_eq!(
        fixture
            .ledger
            .record_export(&id, ExportMode::Initial)
            .expect("export"),
        ExportOutcome::Exported
    );
    let file = fixture.config.vault_dir.join(format!("{id}.md"));
    let first = std::fs::read_to_string(&file).expect("vault file");
    assert!(first.contains("buy milk") && first.contains(&format!("id: {id}")));
    let before = fixture.dump();
    assert_eq!(
        fixture
            .ledger
            .record_export(&id, ExportMode::Initial)
            .expect("retry"),
        ExportOutcome::AlreadyExported
    );
    assert_eq!(fixture.dump(), before);
    assert_eq!(fixture.vault_files(), [format!("{id}.md")]);
    assert_eq!(std::fs::read_to_string(&file).expect("vault file"), first);
    assert_eq!(
        count(fixture.conn(), "SELECT count(*) FROM exports_audit"),
        1
    );
}

#[test]
fn placeholder_and_duplicate_exports_are_idempotent_too() {
    let mut fixture = Fixture::new();
    let failed = fixture.stage(&voice(1));
    fixture
        .ledger
        .mark_transcription_failed(&failed, "silence")
        .expect("fail");
    let skipped = fixture.stage(&voice(2));
    for _ in 0..2 {
        fixture
            .ledger
            .record_export(&failed, ExportMode::Placeholder)
            .expect("placeholder");
        fixture
            .ledger
            .record_export(&skipped, ExportMode::DuplicateSkip)
            .expect("skip");
    }
    assert_eq!(fixture.vault_files(), [format!("{failed}.md")]);
    assert_eq!(
        count(fixture.conn(), "SELECT count(*) FROM exports_audit"),
        2
    );
    let text = std::fs::read_to_string(fixture.config.vault_dir.join(format!("{failed}.md")))
        .expect("placeholder file");
    assert!(text.contains("memos/1.m4a"));
    let status = |id: &str| {
        fixture
            .ledger
            .capture(id)
            .expect("read")
            .expect("exists")
            .status
    };
    assert_eq!(status(&failed), Status::ExportedPlaceholder);
    assert_eq!(status(&skipped), Status::ExportedDuplicate);
    assert_eq!(
        count(
            fixture.conn(),
            "SELECT count(*) FROM errors_log WHERE stage = 'transcribe'"
        ),
        1
    );
}

#[test]
fn audit_row_records_hash_time_and_mode() {
    let mut fixture = Fixture::new();
    let id = fixture.stage(&voice(1));
    fixture
        .ledger
        .record_transcription(&id, "words")
        .expect("transcribe");
    fixture
        .ledger
        .record_export(&id, ExportMode::Initial)
        .expect("export");
    let capture = fixture.ledger.capture(&id).expect("read").expect("exists");
    let (hash, exported_at, mode): (Option<String>, i64, String) = fixture
        .conn()
        .query_row(
            "SELECT hash_at_export, exported_at, mode FROM exports_audit WHERE capture_id = ?1",
            [&id],
            |row| Ok((row.get(0)?, row.get(1)?, row.get(2)?)),
        )
        .expect("audit row");
    assert_eq!(hash, Some(ledger::content_hash("words")));
    assert_eq!(exported_at, capture.updated_at);
    assert_eq!(mode, "initial");
}
