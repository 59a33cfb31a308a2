//! Each schema invariant, attacked directly and refused.

use ledger::{ExportMode, Status};

use crate::support::{Fixture, count, email, voice};

fn refused(fixture: &Fixture, sql: &str) {
    let before = fixture.dump();
    let result = fixture.conn().execute_batch(sql);
    assert!(result.is_err(), "accepted: {sql}");
    assert_eq!(
        fixture.dump(),
        before,
        "changed by refused statement: {sql}"
    );
}

fn exported(fixture: &mut Fixture, n: u32) -> String {
    let id = fixture.stage(&voice(n));
    fixture
        .ledger
        .record_transcription(&id, &format!("transcript {n}"))
        .expect("transcribe");
    fixture
        .ledger
        .record_export(&id, ExportMode::Initial)
        .expect("export");
    id
}

fn placeholder(fixture: &mut Fixture, n: u32) -> String {
    let id = fixture.stage(&voice(n));
    fixture
        .ledger
        .mark_transcription_failed(&id, "no speech")
        .expect("fail");
    fixture
        .ledger
        .record_export(&id, ExportMode::Placeholder)
        .expect("export placeholder");
    id
}

#[test]
fn export_filename_is_the_capture_id() {
    let mut fixture = Fixture::new();
    let id = placeholder(&mut fixture, 1);
    let path: String = fixture
        .conn()
        .query_row(
            "SELECT vault_path FROM exports_audit WHERE capture_id = ?1",
            [&id],
            |row| row.get(0),
        )
        .expect("audit row");
    assert_eq!(path, format!("{id}.md"));
    assert!(fixture.vault_files().contains(&path));
    refused(
        &fixture,
        &format!(
            "INSERT INTO exports_audit (id, capture_id, vault_path, exported_at, mode)
             VALUES ('A2', '{id}', 'elsewhere.md', 1, 'placeholder')"
        ),
    );
}

#[test]
fn one_non_placeholder_export_per_capture() {
    let mut fixture = Fixture::new();
    let id = exported(&mut fixture, 1);
    for mode in ["initial", "duplicate_skip"] {
        refused(
            &fixture,
            &format!(
                "INSERT INTO exports_audit (id, capture_id, vault_path, exported_at, mode)
                 VALUES ('A2', '{id}', '{id}.md', 1, '{mode}')"
            ),
        );
    }
}

#[test]
fn channel_native_id_is_unique() {
    let mut fixture = Fixture::new();
    let first = fixture.stage(&voice(1));
    let mut again = voice(1);
    again.raw_content = "memos/other.m4a".into();
    assert_eq!(
        fixture.ledger.stage(&again).expect("stage"),
        ledger::StageOutcome::Duplicate(first)
    );
    refused(
        &fixture,
        r#"INSERT INTO captures VALUES ('X', 'voice', 'x.m4a', NULL, 'staged',
             '{"channel":"phone","channel_native_id":"rec-1"}', 1, 1)"#,
    );
}

#[test]
fn a_voice_hash_is_set_at_most_once() {
    let mut fixture = Fixture::new();
    let id = fixture.stage(&voice(1));
    fixture
        .ledger
        .record_transcription(&id, "hello")
        .expect("transcribe");
    refused(
        &fixture,
        &format!("UPDATE captures SET content_hash = 'beef' WHERE id = '{id}'"),
    );
    refused(
        &fixture,
        &format!("UPDATE captures SET content_hash = NULL WHERE id = '{id}'"),
    );
    refused(
        &fixture,
        &format!("UPDATE captures SET source = 'email' WHERE id = '{id}'"),
    );
}

#[test]
fn placeholder_exports_are_immutable() {
    let mut fixture = Fixture::new();
    let id = placeholder(&mut fixture, 1);
    refused(
        &fixture,
        &format!("UPDATE exports_audit SET error_flag = 1 WHERE capture_id = '{id}'"),
    );
    refused(
        &fixture,
        &format!("DELETE FROM exports_audit WHERE capture_id = '{id}'"),
    );
}

#[test]
fn placeholder_exports_leave_with_their_pruned_capture() {
    for foreign_keys in [true, false] {
        let mut fixture = Fixture::with_step(86_400_000);
        fixture
            .conn()
            .pragma_update(None, "foreign_keys", foreign_keys)
            .expect("foreign keys");
        let id = placeholder(&mut fixture, 1);
        fixture
            .conn()
            .execute(
                "INSERT INTO errors_log (capture_id, stage, message, created_at)
                 VALUES (?1, 'export', 'note', 1)",
                [&id],
            )
            .expect("error row");
        assert_eq!(
            fixture.ledger.prune_exported_older_than(0).expect("prune"),
            vec![id.clone()]
        );
        assert_eq!(fixture.ledger.capture(&id).expect("read"), None);
        assert_eq!(
            count(fixture.conn(), "SELECT count(*) FROM exports_audit"),
            0
        );
        assert_eq!(
            count(
                fixture.conn(),
                "SELECT count(*) FROM errors_log WHERE capture_id IS NULL"
            ),
            2
        );
    }
}

#[test]
fn audit_rows_need_their_capture() {
    let fixture = Fixture::new();
    refused(
        &fixture,
        "INSERT INTO exports_audit (id, capture_id, vault_path, exported_at, mode)
         VALUES ('A1', 'NOPE', 'NOPE.md', 1, 'initial')",
    );
}

#[test]
fn non_exported_rows_are_never_pruned() {
    let mut fixture = Fixture::with_step(86_400_000);
    let staged = fixture.stage(&voice(1));
    let transcribed = fixture.stage(&email("hello"));
    fixture
        .ledger
        .record_transcription(&transcribed, "hello")
        .expect("transcribe");
    let failed = fixture.stage(&voice(2));
    fixture
        .ledger
        .mark_transcription_failed(&failed, "noise")
        .expect("fail");
    let done = exported(&mut fixture, 3);
    assert_eq!(
        fixture.ledger.prune_exported_older_than(0).expect("prune"),
        vec![done.clone()]
    );
    assert_eq!(fixture.ledger.capture(&done).expect("read"), None);
    for id in [&staged, &transcribed, &failed] {
        let capture = fixture.ledger.capture(id).expect("read").expect("kept");
        assert!(!capture.status.is_terminal());
        refused(&fixture, &format!("DELETE FROM captures WHERE id = '{id}'"));
    }
    refused(&fixture, "DELETE FROM captures");
}

#[test]
fn prune_respects_the_age_limit() {
    let mut fixture = Fixture::with_step(86_400_000);
    let old = exported(&mut fixture, 1);
    let young = exported(&mut fixture, 2);
    // `old` was last updated 4 steps (days) before the prune, `young` 1 day before.
    assert_eq!(
        fixture.ledger.prune_exported_older_than(2).expect("prune"),
        vec![old.clone()]
    );
    assert_eq!(fixture.ledger.capture(&old).expect("read"), None);
    let kept = fixture.ledger.capture(&young).expect("read").expect("kept");
    assert_eq!(kept.status, Status::Exported);
}
