//! [`generate`]: the capture-pipeline workload, a seeded plan shaped like the note app's day.
//!
//! The generator simulates the pipeline loosely to pick mostly legal operations: bursts of
//! stages (with some exact duplicates and re-delivered channel ids), transcriptions and failed
//! transcriptions, exports in each mode, read queries, the odd prune, and a few deliberately
//! illegal transitions that must fail cleanly.

use ledger::{ExportMode, Source};
use rand::{Rng, RngExt, SeedableRng};
use rand_chacha::ChaCha8Rng;

use super::{Operation, StageOrdinal};
use crate::scenario::{WorkloadKind, WorkloadSpec};

/// Where a capture stands in the generator's own loose simulation.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Sim {
    Staged,
    Transcribed,
    Failed,
    Done,
}

struct Staged {
    source: Source,
    content: String,
    channel_native_id: Option<String>,
    sim: Sim,
}

/// The plan for one iteration: `spec.operations` operations drawn from `seed`.
pub fn generate(spec: &WorkloadSpec, seed: u64) -> Vec<Operation> {
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let mut staged: Vec<Staged> = Vec::new();
    let mut plan = Vec::with_capacity(spec.operations);
    while plan.len() < spec.operations {
        let roll = rng.random_range(0..100u32);
        let op = if staged.is_empty() || roll < 30 {
            stage(&mut rng, &mut staged, spec.large_emails)
        } else if roll < 80 {
            advance(&mut rng, &mut staged)
        } else if roll < 86 {
            illegal(&mut rng, &staged)
        } else if roll < 96 {
            read(&mut rng, &staged)
        } else {
            Operation::Prune {
                days: rng.random_range(0..3),
            }
        };
        plan.push(op);
    }
    match spec.kind {
        WorkloadKind::CapturePipeline => plan,
        WorkloadKind::PipelineWithBackups => {
            let mut covered = coverage_prefix(seed);
            covered.extend(plan.into_iter().map(|op| shift_ordinals(op, 2)));
            with_housekeeping(covered)
        }
    }
}

/// Six operations that reach every capture fail point whatever the seed draws, exporting
/// before the first backup: a voice memo whose transcription fails, exported as a placeholder,
/// and an email transcribed and exported (stage ordinals 0 and 1).
fn coverage_prefix(seed: u64) -> Vec<Operation> {
    vec![
        Operation::Stage {
            ordinal: 0,
            source: Source::Voice,
            content: format!("voice/coverage-{seed:016x}.m4a"),
            channel: None,
            channel_native_id: None,
        },
        Operation::FailTranscription {
            capture: 0,
            message: "coverage: transcription service timed out".to_owned(),
        },
        Operation::Export {
            capture: 0,
            mode: ExportMode::Placeholder,
        },
        Operation::Stage {
            ordinal: 1,
            source: Source::Email,
            content: format!("coverage email {seed:016x}: the quarterly notes"),
            channel: Some("imap:inbox".to_owned()),
            channel_native_id: Some(format!("<coverage-{seed:016x}@example.org>")),
        },
        Operation::Transcribe {
            capture: 1,
            transcript: format!("coverage email {seed:016x}: the quarterly notes"),
        },
        Operation::Export {
            capture: 1,
            mode: ExportMode::Initial,
        },
    ]
}

/// `op` with every stage ordinal it names moved up by `by`.
fn shift_ordinals(op: Operation, by: usize) -> Operation {
    match op {
        Operation::Stage {
            ordinal,
            source,
            content,
            channel,
            channel_native_id,
        } => Operation::Stage {
            ordinal: ordinal + by,
            source,
            content,
            channel,
            channel_native_id,
        },
        Operation::Transcribe {
            capture,
            transcript,
        } => Operation::Transcribe {
            capture: capture + by,
            transcript,
        },
        Operation::FailTranscription { capture, message } => Operation::FailTranscription {
            capture: capture + by,
            message,
        },
        Operation::Export { capture, mode } => Operation::Export {
            capture: capture + by,
            mode,
        },
        other => other,
    }
}

/// Weaves backups, guarded prunes, checkpoints, maintenance and restores into `plan`: two after
/// every quarter, in a fixed rotation.
fn with_housekeeping(plan: Vec<Operation>) -> Vec<Operation> {
    let quarter = (plan.len() / 4).max(1);
    let mut woven = Vec::with_capacity(plan.len() + 8);
    let mut cycle = 0;
    for (index, op) in plan.into_iter().enumerate() {
        woven.push(op);
        if (index + 1) % quarter == 0 && cycle < 4 {
            woven.extend(match cycle {
                0 => [Operation::Backup, Operation::GuardedPrune { days: 0 }],
                1 => [Operation::Checkpoint, Operation::Restore],
                2 => [Operation::Maintain, Operation::Backup],
                _ => [Operation::Checkpoint, Operation::GuardedPrune { days: 0 }],
            });
            cycle += 1;
        }
    }
    woven
}

fn stage(rng: &mut ChaCha8Rng, staged: &mut Vec<Staged>, large_emails: bool) -> Operation {
    let (min, max) = if large_emails {
        (5_000, 12_000)
    } else {
        (40, 400)
    };
    let ordinal = staged.len();
    let redeliver = !staged.is_empty() && rng.random_bool(0.1);
    let (source, content, channel_native_id) = if redeliver {
        let earlier = &staged[rng.random_range(0..staged.len())];
        (
            earlier.source,
            earlier.content.clone(),
            earlier.channel_native_id.clone(),
        )
    } else if rng.random_bool(0.5) {
        (
            Source::Email,
            text(rng, "mail", min, max),
            Some(format!(
                "<msg-{ordinal}-{}@example.org>",
                rng.random::<u32>()
            )),
        )
    } else {
        (
            Source::Voice,
            format!("voice/memo-{ordinal}-{:08x}.m4a", rng.random::<u32>()),
            None,
        )
    };
    let channel = match source {
        Source::Email => Some("imap:inbox".to_owned()),
        Source::Voice => None,
    };
    staged.push(Staged {
        source,
        content: content.clone(),
        channel_native_id: channel_native_id.clone(),
        sim: if redeliver { Sim::Done } else { Sim::Staged },
    });
    Operation::Stage {
        ordinal,
        source,
        content,
        channel,
        channel_native_id,
    }
}

/// Moves a random unfinished capture one step along the pipeline.
fn advance(rng: &mut ChaCha8Rng, staged: &mut [Staged]) -> Operation {
    let open: Vec<StageOrdinal> = (0..staged.len())
        .filter(|&i| staged[i].sim != Sim::Done)
        .collect();
    if open.is_empty() {
        return Operation::Recover;
    }
    let capture = open[rng.random_range(0..open.len())];
    let entry = &mut staged[capture];
    match entry.sim {
        Sim::Staged if rng.random_bool(0.15) => {
            entry.sim = Sim::Failed;
            Operation::FailTranscription {
                capture,
                message: "transcriber timed out".into(),
            }
        }
        Sim::Staged if rng.random_bool(0.05) => {
            entry.sim = Sim::Done;
            Operation::Export {
                capture,
                mode: ExportMode::DuplicateSkip,
            }
        }
        Sim::Staged => {
            entry.sim = Sim::Transcribed;
            Operation::Transcribe {
                capture,
                transcript: text(rng, "transcript", 20, 300),
            }
        }
        Sim::Transcribed => {
            entry.sim = Sim::Done;
            Operation::Export {
                capture,
                mode: ExportMode::Initial,
            }
        }
        Sim::Failed => {
            entry.sim = Sim::Done;
            Operation::Export {
                capture,
                mode: ExportMode::Placeholder,
            }
        }
        Sim::Done => unreachable!("filtered above"),
    }
}

/// An operation the ledger must refuse with a typed error: a wrong transition, an unknown capture,
/// or a repeated export (which must be idempotent).
fn illegal(rng: &mut ChaCha8Rng, staged: &[Staged]) -> Operation {
    let capture = rng.random_range(0..staged.len() + 1);
    match rng.random_range(0..3u32) {
        0 => Operation::Export {
            capture,
            mode: ExportMode::Placeholder,
        },
        1 => Operation::Transcribe {
            capture,
            transcript: text(rng, "late transcript", 10, 50),
        },
        _ => Operation::Export {
            capture,
            mode: ExportMode::Initial,
        },
    }
}

fn read(rng: &mut ChaCha8Rng, staged: &[Staged]) -> Operation {
    match rng.random_range(0..3u32) {
        0 => Operation::CheckDuplicate {
            content: staged[rng.random_range(0..staged.len())].content.clone(),
        },
        1 => Operation::PendingExports {
            limit: rng.random_range(1..20),
        },
        _ => Operation::Recover,
    }
}

/// Seeded text of `min..max` bytes starting with `prefix`.
fn text(rng: &mut impl Rng, prefix: &str, min: usize, max: usize) -> String {
    const WORDS: [&str; 12] = [
        "call", "back", "about", "the", "invoice", "meeting", "notes", "vault", "tomorrow",
        "draft", "ledger", "idea",
    ];
    let target = rng.random_range(min..max);
    let mut out = format!("{prefix} {:08x}", rng.random::<u32>());
    while out.len() < target {
        out.push(' ');
        out.push_str(WORDS[rng.random_range(0..WORDS.len())]);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn spec(operations: usize) -> WorkloadSpec {
        WorkloadSpec {
            operations,
            ..WorkloadSpec::default()
        }
    }

    #[test]
    fn same_seed_same_plan_other_seed_other_plan() {
        assert_eq!(generate(&spec(80), 1), generate(&spec(80), 1));
        assert_ne!(generate(&spec(80), 1), generate(&spec(80), 2));
        assert_eq!(generate(&spec(80), 3).len(), 80);
    }

    #[test]
    fn plans_cover_the_pipeline() {
        let plan: Vec<Operation> = (0..20)
            .flat_map(|seed| generate(&spec(100), seed))
            .collect();
        let has = |f: &dyn Fn(&Operation) -> bool| plan.iter().any(f);
        assert!(has(&|o| matches!(
            o,
            Operation::Stage {
                source: Source::Voice,
                ..
            }
        )));
        assert!(has(&|o| matches!(
            o,
            Operation::Stage {
                source: Source::Email,
                ..
            }
        )));
        assert!(has(&|o| matches!(o, Operation::Transcribe { .. })));
        assert!(has(&|o| matches!(o, Operation::FailTranscription { .. })));
        for mode in [
            ExportMode::Initial,
            ExportMode::Placeholder,
            ExportMode::DuplicateSkip,
        ] {
            assert!(
                has(&|o| matches!(o, Operation::Export { mode: m, .. } if *m == mode)),
                "{mode:?}"
            );
        }
        assert!(has(&|o| matches!(o, Operation::Prune { .. })));
        assert!(has(&|o| o.is_read_only()));
        let stages: Vec<&String> = plan
            .iter()
            .filter_map(|o| match o {
                Operation::Stage { content, .. } => Some(content),
                _ => None,
            })
            .collect();
        let unique: std::collections::BTreeSet<_> = stages.iter().collect();
        assert!(
            unique.len() < stages.len(),
            "some stages must be re-deliveries"
        );
    }

    #[test]
    fn housekeeping_is_woven_in_and_a_restore_follows_a_backup() {
        let spec = WorkloadSpec {
            kind: WorkloadKind::PipelineWithBackups,
            ..spec(40)
        };
        let plan = generate(&spec, 3);
        assert_eq!(plan.len(), 54);
        let ordinals: Vec<usize> = plan
            .iter()
            .filter_map(|op| match op {
                Operation::Stage { ordinal, .. } => Some(*ordinal),
                _ => None,
            })
            .collect();
        assert_eq!(ordinals, (0..ordinals.len()).collect::<Vec<_>>());
        let first = |want: &Operation| plan.iter().position(|o| o == want);
        for op in [
            Operation::Backup,
            Operation::GuardedPrune { days: 0 },
            Operation::Checkpoint,
            Operation::Maintain,
            Operation::Restore,
        ] {
            assert!(first(&op).is_some(), "{op:?} missing");
        }
        assert!(first(&Operation::Backup) < first(&Operation::Restore));
        assert_eq!(generate(&spec, 3), plan);
    }

    #[test]
    fn stage_ordinals_count_up() {
        let plan = generate(&spec(200), 5);
        let ordinals: Vec<usize> = plan
            .iter()
            .filter_map(|o| match o {
                Operation::Stage { ordinal, .. } => Some(*ordinal),
                _ => None,
            })
            .collect();
        assert_eq!(ordinals, (0..ordinals.len()).collect::<Vec<_>>());
    }
}
