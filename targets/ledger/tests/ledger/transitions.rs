//! Every illegal transition is a typed error that changes nothing.

use ledger::{ExportMode, ExportOutcome, LedgerError, Status};

use crate::support::{Fixture, voice};

/// One capture in each status; returns (id, status) pairs.
fn one_of_each(fixture: &mut Fixture) -> Vec<(String, Status)> {
    let mut out = Vec::new();
    for (n, status) in Status::ALL.into_iter().enumerate() {
        let n = n as u32;
        let id = fixture.stage(&voice(n));
        let ledger = &mut fixture.ledger;
        match status {
            Status::Staged => {}
            Status::Transcribed | Status::Exported => {
                ledger
                    .record_transcription(&id, &format!("t{n}"))
                    .expect("transcribe");
            }
            Status::FailedTranscription | Status::ExportedPlaceholder => {
                ledger.mark_transcription_failed(&id, "x").expect("fail");
            }
            Status::ExportedDuplicate => {}
        }
        let mode = match status {
            Status::Exported => Some(ExportMode::Initial),
            Status::ExportedPlaceholder => Some(ExportMode::Placeholder),
            Status::ExportedDuplicate => Some(ExportMode::DuplicateSkip),
            _ => None,
        };
        if let Some(mode) = mode {
            ledger.record_export(&id, mode).expect("export");
        }
        let stored = ledger.capture(&id).expect("read").expect("exists");
        assert_eq!(stored.status, status);
        out.push((id, status));
    }
    out
}

enum Attempt {
    Transcribe,
    Fail,
    Export(ExportMode),
}

impl Attempt {
    fn target(&self) -> Status {
        match self {
            Attempt::Transcribe => Status::Transcribed,
            Attempt::Fail => Status::FailedTranscription,
            Attempt::Export(mode) => mode.target_status(),
        }
    }

    fn run(&self, fixture: &mut Fixture, id: &str) -> ledger::Result<()> {
        match self {
            Attempt::Transcribe => fixture.ledger.record_transcription(id, "again"),
            Attempt::Fail => fixture.ledger.mark_transcription_failed(id, "again"),
            Attempt::Export(mode) => fixture.ledger.record_export(id, *mode).map(|outcome| {
                assert_eq!(
                    outcome,
                    ExportOutcome::AlreadyExported,
                    "export of {id} ran"
                );
            }),
        }
    }
}

#[test]
fn every_illegal_transition_is_refused_and_changes_nothing() {
    let mut fixture = Fixture::new();
    let captures = one_of_each(&mut fixture);
    let attempts = [
        Attempt::Transcribe,
        Attempt::Fail,
        Attempt::Export(ExportMode::Initial),
        Attempt::Export(ExportMode::DuplicateSkip),
        Attempt::Export(ExportMode::Placeholder),
    ];
    let mut refusals = 0;
    for (id, status) in &captures {
        for attempt in &attempts {
            let target = attempt.target();
            if status.can_transition_to(target) {
                continue;
            }
            let before = (fixture.dump(), fixture.vault_files());
            let result = attempt.run(&mut fixture, id);
            let idempotent_export = matches!(attempt, Attempt::Export(_)) && *status == target;
            if idempotent_export {
                assert!(result.is_ok(), "idempotent retry failed: {result:?}");
            } else {
                refusals += 1;
                match result {
                    Err(LedgerError::IllegalTransition { id: got, from, to }) => {
                        assert_eq!((&got, from, to), (id, *status, target));
                    }
                    other => {
                        panic!("{status} → {target}: expected IllegalTransition, got {other:?}")
                    }
                }
            }
            assert_eq!((fixture.dump(), fixture.vault_files()), before);
        }
    }
    assert_eq!(refusals, 6 * 5 - 6 - 3);
}

#[test]
fn unknown_ids_are_not_found() {
    let mut fixture = Fixture::new();
    let before = fixture.dump();
    let ledger = &mut fixture.ledger;
    for result in [
        ledger.record_transcription("NOPE", "x"),
        ledger.mark_transcription_failed("NOPE", "x"),
        ledger.record_export("NOPE", ExportMode::Initial).map(drop),
    ] {
        assert!(matches!(result, Err(LedgerError::NotFound { ref id }) if id == "NOPE"));
    }
    assert_eq!(fixture.dump(), before);
}

#[test]
fn a_duplicate_voice_transcript_is_refused_and_can_be_skipped() {
    let mut fixture = Fixture::new();
    let first = fixture.stage(&voice(1));
    let second = fixture.stage(&voice(2));
    fixture
        .ledger
        .record_transcription(&first, "same words")
        .expect("first transcription");
    let before = fixture.dump();
    let error = fixture
        .ledger
        .record_transcription(&second, "same words")
        .expect_err("duplicate");
    assert!(matches!(
        error,
        LedgerError::DuplicateContent { ref id, ref existing } if *id == second && *existing == first
    ));
    assert_eq!(error.kind(), "duplicate_content");
    assert_eq!(fixture.dump(), before);
    assert_eq!(
        fixture
            .ledger
            .find_duplicate(&ledger::content_hash("same words"))
            .expect("lookup"),
        Some(first)
    );
    assert_eq!(
        fixture
            .ledger
            .record_export(&second, ExportMode::DuplicateSkip)
            .expect("skip"),
        ExportOutcome::Exported
    );
}

#[test]
fn email_transcription_keeps_the_staged_hash() {
    let mut fixture = Fixture::new();
    let id = fixture.stage(&crate::support::email("body"));
    fixture
        .ledger
        .record_transcription(&id, "summary")
        .expect("transcribe");
    let capture = fixture.ledger.capture(&id).expect("read").expect("exists");
    assert_eq!(capture.content_hash, Some(ledger::content_hash("body")));
    assert_eq!(capture.transcript().as_deref(), Some("summary"));
    assert_eq!(
        fixture
            .ledger
            .stage(&crate::support::email("body"))
            .expect("stage"),
        ledger::StageOutcome::Duplicate(id)
    );
}
