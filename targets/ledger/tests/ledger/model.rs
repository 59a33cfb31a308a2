//! Random operation sequences against a simple model of the ledger.

use std::collections::BTreeMap;

use ledger::{
    Config, ExportMode, ExportOutcome, LedgerError, NewCapture, Source, StageOutcome, Status,
    Synchronous, content_hash,
};
use proptest::prelude::*;
use proptest::sample::Index;

use crate::support::{START_MS, count, open};

const STEP_MS: i64 = 6 * 3_600_000;

#[derive(Debug, Clone)]
enum Target {
    Known(Index),
    Unknown,
}

#[derive(Debug, Clone)]
enum Op {
    Stage {
        source: Source,
        content: u8,
        channel: Option<(u8, u8)>,
    },
    Transcribe {
        target: Target,
        text: u8,
    },
    Fail {
        target: Target,
    },
    Export {
        target: Target,
        mode: ExportMode,
    },
    Prune {
        days: u32,
    },
}

fn target() -> impl Strategy<Value = Target> {
    prop_oneof![
        9 => any::<Index>().prop_map(Target::Known),
        1 => Just(Target::Unknown),
    ]
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        4 => (
            prop_oneof![Just(Source::Voice), Just(Source::Email)],
            0..6u8,
            proptest::option::of((0..2u8, 0..4u8)),
        )
            .prop_map(|(source, content, channel)| Op::Stage { source, content, channel }),
        3 => (target(), 0..6u8).prop_map(|(target, text)| Op::Transcribe { target, text }),
        1 => target().prop_map(|target| Op::Fail { target }),
        3 => (target(), proptest::sample::select(ExportMode::ALL.to_vec()))
            .prop_map(|(target, mode)| Op::Export { target, mode }),
        1 => (0..3u32).prop_map(|days| Op::Prune { days }),
    ]
}

#[derive(Debug, Clone)]
struct ModelCapture {
    source: Source,
    hash: Option<String>,
    channel: Option<(String, String)>,
    status: Status,
    created_at: i64,
    updated_at: i64,
}

#[derive(Default)]
struct Model {
    captures: BTreeMap<String, ModelCapture>,
    /// Every id ever staged, pruned or not (targets pick from these).
    known: Vec<String>,
    now: i64,
}

impl Model {
    fn tick(&mut self) -> i64 {
        let now = self.now;
        self.now += STEP_MS;
        now
    }

    fn pick(&self, target: &Target) -> String {
        match target {
            Target::Known(index) if !self.known.is_empty() => {
                self.known[index.index(self.known.len())].clone()
            }
            _ => "01ZZZZZZZZZZZZZZZZZZZZZZZZ".to_owned(),
        }
    }

    fn by_hash(&self, hash: &str) -> Option<String> {
        self.captures
            .iter()
            .find(|(_, capture)| capture.hash.as_deref() == Some(hash))
            .map(|(id, _)| id.clone())
    }
}

fn new_capture(source: Source, content: u8, channel: Option<(u8, u8)>) -> NewCapture {
    NewCapture {
        source,
        raw_content: format!("content {content}"),
        channel: channel.map(|(c, _)| format!("channel-{c}")),
        channel_native_id: channel.map(|(_, n)| format!("native-{n}")),
    }
}

fn apply(ledger: &mut ledger::Ledger, model: &mut Model, op: &Op) -> Result<(), TestCaseError> {
    let now = model.tick();
    match op {
        Op::Stage {
            source,
            content,
            channel,
        } => {
            let new = new_capture(*source, *content, *channel);
            let hash = (*source == Source::Email).then(|| content_hash(&new.raw_content));
            let pair = new.channel.clone().zip(new.channel_native_id.clone());
            let expected_dup = hash.as_deref().and_then(|h| model.by_hash(h)).or_else(|| {
                let pair = pair.as_ref()?;
                model
                    .captures
                    .iter()
                    .find(|(_, c)| c.channel.as_ref() == Some(pair))
                    .map(|(id, _)| id.clone())
            });
            match (ledger.stage(&new), expected_dup) {
                (Ok(StageOutcome::Duplicate(id)), Some(expected)) => prop_assert_eq!(id, expected),
                (Ok(StageOutcome::Staged(id)), None) => {
                    prop_assert!(!model.known.contains(&id));
                    model.known.push(id.clone());
                    model.captures.insert(
                        id,
                        ModelCapture {
                            source: *source,
                            hash,
                            channel: pair,
                            status: Status::Staged,
                            created_at: now,
                            updated_at: now,
                        },
                    );
                }
                (got, expected) => {
                    prop_assert!(
                        false,
                        "stage: got {:?}, model expected dup {:?}",
                        got,
                        expected
                    )
                }
            }
        }
        Op::Transcribe { target, text } => {
            let id = model.pick(target);
            let transcript = format!("transcript {text}");
            let result = ledger.record_transcription(&id, &transcript);
            match model.captures.get(&id).cloned() {
                None => prop_assert!(
                    matches!(result, Err(LedgerError::NotFound { .. })),
                    "{:?}",
                    result
                ),
                Some(capture) if capture.status != Status::Staged => prop_assert!(
                    matches!(result, Err(LedgerError::IllegalTransition { from, to: Status::Transcribed, .. }) if from == capture.status),
                    "{:?}",
                    result
                ),
                Some(capture) => {
                    let hash = match capture.source {
                        Source::Voice => Some(content_hash(&transcript)),
                        Source::Email => capture.hash.clone(),
                    };
                    let clash = hash
                        .as_deref()
                        .and_then(|h| model.by_hash(h))
                        .filter(|other| *other != id && capture.source == Source::Voice);
                    if let Some(existing) = clash {
                        prop_assert!(
                            matches!(result, Err(LedgerError::DuplicateContent { existing: ref e, .. }) if *e == existing),
                            "{:?}",
                            result
                        );
                    } else {
                        prop_assert!(result.is_ok(), "{:?}", result);
                        let entry = model.captures.get_mut(&id).expect("present");
                        entry.status = Status::Transcribed;
                        entry.hash = hash;
                        entry.updated_at = now;
                    }
                }
            }
        }
        Op::Fail { target } => {
            let id = model.pick(target);
            let result = ledger.mark_transcription_failed(&id, "no speech");
            match model.captures.get_mut(&id) {
                None => prop_assert!(
                    matches!(result, Err(LedgerError::NotFound { .. })),
                    "{:?}",
                    result
                ),
                Some(capture) if capture.status != Status::Staged => {
                    prop_assert!(
                        matches!(result, Err(LedgerError::IllegalTransition { .. })),
                        "{:?}",
                        result
                    )
                }
                Some(capture) => {
                    prop_assert!(result.is_ok(), "{:?}", result);
                    capture.status = Status::FailedTranscription;
                    capture.updated_at = now;
                }
            }
        }
        Op::Export { target, mode } => {
            let id = model.pick(target);
            let result = ledger.record_export(&id, *mode);
            let goal = mode.target_status();
            match model.captures.get_mut(&id) {
                None => prop_assert!(
                    matches!(result, Err(LedgerError::NotFound { .. })),
                    "{:?}",
                    result
                ),
                Some(capture) if capture.status == goal => {
                    prop_assert!(
                        matches!(result, Ok(ExportOutcome::AlreadyExported)),
                        "{:?}",
                        result
                    )
                }
                Some(capture) if !capture.status.can_transition_to(goal) => {
                    prop_assert!(
                        matches!(result, Err(LedgerError::IllegalTransition { .. })),
                        "{:?}",
                        result
                    )
                }
                Some(capture) => {
                    prop_assert!(
                        matches!(result, Ok(ExportOutcome::Exported)),
                        "{:?}",
                        result
                    );
                    capture.status = goal;
                    capture.updated_at = now;
                }
            }
        }
        Op::Prune { days } => {
            let cutoff = now - i64::from(*days) * 86_400_000;
            let mut doomed: Vec<String> = model
                .captures
                .iter()
                .filter(|(_, c)| c.status.is_terminal() && c.updated_at < cutoff)
                .map(|(id, _)| id.clone())
                .collect();
            doomed.sort();
            let deleted = ledger.prune_exported_older_than(*days);
            prop_assert_eq!(deleted.ok(), Some(doomed.clone()));
            for id in doomed {
                model.captures.remove(&id);
            }
        }
    }
    Ok(())
}

fn check_state(ledger: &ledger::Ledger, model: &Model) -> Result<(), TestCaseError> {
    let conn = ledger.connection();
    for (id, expected) in &model.captures {
        let stored = ledger
            .capture(id)
            .expect("read")
            .expect("model capture present");
        prop_assert_eq!(stored.status, expected.status);
        prop_assert_eq!(&stored.content_hash, &expected.hash);
        prop_assert_eq!(stored.source, expected.source);
        prop_assert_eq!(
            (stored.created_at, stored.updated_at),
            (expected.created_at, expected.updated_at)
        );
        let audit = |mode: &str| -> i64 {
            conn.query_row(
                "SELECT count(*) FROM exports_audit WHERE capture_id = ?1 AND mode = ?2",
                (id, mode),
                |row| row.get(0),
            )
            .expect("audit count")
        };
        let audits = (
            audit("initial"),
            audit("duplicate_skip"),
            audit("placeholder"),
        );
        let expected_audits = match expected.status {
            Status::Exported => (1, 0, 0),
            Status::ExportedDuplicate => (0, 1, 0),
            Status::ExportedPlaceholder => (0, 0, 1),
            _ => (0, 0, 0),
        };
        prop_assert_eq!(
            audits,
            expected_audits,
            "audit rows of {} ({:?})",
            id,
            expected.status
        );
        if expected.status == Status::Transcribed || expected.source == Source::Email {
            prop_assert!(stored.content_hash.is_some() || expected.status != Status::Transcribed);
        }
    }
    prop_assert_eq!(
        count(conn, "SELECT count(*) FROM captures"),
        model.captures.len() as i64
    );
    prop_assert_eq!(
        count(
            conn,
            "SELECT count(*) FROM exports_audit a WHERE NOT EXISTS (SELECT 1 FROM captures c WHERE c.id = a.capture_id)"
        ),
        0
    );
    let mut expected: Vec<(i64, String)> = model
        .captures
        .iter()
        .filter(|(_, c)| !c.status.is_terminal())
        .map(|(id, c)| (c.created_at, id.clone()))
        .collect();
    expected.sort();
    let recovered: Vec<(i64, String)> = ledger
        .recoverable_captures()
        .expect("recover")
        .into_iter()
        .map(|c| (c.created_at, c.id))
        .collect();
    prop_assert_eq!(recovered, expected.clone());
    let queue: Vec<(i64, String)> = ledger
        .recovery_queue()
        .expect("recovery queue")
        .into_iter()
        .map(|entry| {
            assert_eq!(
                Some(entry.status),
                model.captures.get(&entry.id).map(|c| c.status)
            );
            (entry.created_at, entry.id)
        })
        .collect();
    prop_assert_eq!(queue, expected);
    Ok(())
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 48, ..ProptestConfig::default() })]

    #[test]
    fn random_operations_match_the_model(ops in proptest::collection::vec(op(), 1..40)) {
        let dir = tempfile::tempdir().expect("temp dir");
        let mut config = Config::new(dir.path().join("l.db"), dir.path().join("vault"));
        config.tuning.synchronous = Synchronous::Off;
        let mut ledger = open(&config, STEP_MS, 1);
        let mut model = Model { now: START_MS, ..Model::default() };
        for op in &ops {
            apply(&mut ledger, &mut model, op)?;
            check_state(&ledger, &model)?;
        }
        let integrity: String = ledger
            .connection()
            .query_row("PRAGMA integrity_check", [], |row| row.get(0))
            .expect("integrity_check");
        prop_assert_eq!(integrity, "ok");
    }
}
