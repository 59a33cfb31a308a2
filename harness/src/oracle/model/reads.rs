//! Reads judged against the model: [`AckModel::judge_read`].
//!
//! The read operations (`CheckDuplicate`, `PendingExports`, `Recover`) run on the live
//! connection in the middle of the workload, so their answers must equal what the model holds
//! after the acknowledged writes before them. An error is a clean answer (a `corrupt` error is
//! exactly what a detected flip should produce); an `Ok` that differs from the model is a silent
//! wrong answer. A read made after an operation whose outcome is unknown (maybe applied) is not
//! judged: the model cannot say which of the two states the connection saw.

use ledger::Status;

use super::{AckModel, CaptureState};
use crate::workload::{OpValue, Operation};

impl AckModel {
    /// Compares the answer of read-only `op` (plan index `index`) with the model's current state
    /// and records a mismatch.
    pub(super) fn judge_read(&mut self, index: usize, op: &Operation, value: &OpValue) {
        if self.maybe_ops > 0 {
            self.reads_unjudged += 1;
            return;
        }
        let expected = match op {
            Operation::CheckDuplicate { content } => {
                let hash = ledger::content_hash(content);
                OpValue::Found(
                    self.live_in_creation_order()
                        .into_iter()
                        .find(|(_, s)| s.content_hash.as_deref() == Some(hash.as_str()))
                        .map(|(id, _)| id),
                )
            }
            Operation::PendingExports { limit } => OpValue::Captures(
                self.live_in_creation_order()
                    .into_iter()
                    .filter(|(_, s)| {
                        matches!(
                            s.status(),
                            Some(Status::Transcribed | Status::FailedTranscription)
                        )
                    })
                    .map(|(id, _)| id)
                    .take(*limit)
                    .collect(),
            ),
            Operation::Recover => OpValue::Captures(
                self.live_in_creation_order()
                    .into_iter()
                    .filter(|(_, s)| s.status().is_none_or(|s| !s.is_terminal()))
                    .map(|(id, _)| id)
                    .collect(),
            ),
            _ => return,
        };
        self.reads_judged += 1;
        if *value != expected {
            self.read_mismatches.push(format!(
                "op {index} ({}) answered {value:?} with no error, but the model holds {expected:?}",
                op.describe()
            ));
        }
    }

    /// Captures present now, in the order they were staged (the ledger's `created_at, id`
    /// order: every write reads the clock once and the clock only moves forward).
    fn live_in_creation_order(&self) -> Vec<(String, CaptureState)> {
        let mut live: Vec<(usize, String, CaptureState)> = self
            .versions
            .iter()
            .filter_map(|(id, versions)| {
                let first = versions.first()?.0;
                let state = versions.last()?.1.clone()?;
                Some((first, id.clone(), state))
            })
            .collect();
        live.sort();
        live.into_iter().map(|(_, id, s)| (id, s)).collect()
    }

    /// Reads whose `Ok` answer differed from the model (silent wrong answers).
    pub fn read_mismatches(&self) -> &[String] {
        &self.read_mismatches
    }

    /// Reads compared with the model, and reads left unjudged (made after a maybe-applied
    /// operation).
    pub fn reads_judged(&self) -> (usize, usize) {
        (self.reads_judged, self.reads_unjudged)
    }
}

#[cfg(test)]
mod tests {
    use ledger::Source;

    use crate::oracle::{AckModel, Execution, OpRecord};
    use crate::workload::{OpOutcome, OpValue, Operation};

    fn ok(value: OpValue) -> OpRecord {
        OpRecord::Finished(OpOutcome::Ok(value))
    }

    fn stage(ordinal: usize, content: &str) -> Operation {
        Operation::Stage {
            ordinal,
            source: Source::Email,
            content: content.into(),
            channel: None,
            channel_native_id: None,
        }
    }

    fn execution(reads: Vec<(Operation, OpRecord)>) -> Execution {
        let mut operations = vec![
            stage(0, "a"),
            stage(1, "b"),
            Operation::Transcribe {
                capture: 1,
                transcript: "b".into(),
            },
        ];
        let mut records = vec![
            ok(OpValue::Staged("A".into())),
            ok(OpValue::Staged("B".into())),
            ok(OpValue::Done),
        ];
        for (op, record) in reads {
            operations.push(op);
            records.push(record);
        }
        Execution {
            operations,
            records,
        }
    }

    #[test]
    fn right_answers_and_errors_pass() {
        let model = AckModel::build(&execution(vec![
            (
                Operation::CheckDuplicate {
                    content: "b".into(),
                },
                ok(OpValue::Found(Some("B".into()))),
            ),
            (
                Operation::PendingExports { limit: 5 },
                ok(OpValue::Captures(vec!["B".into()])),
            ),
            (
                Operation::Recover,
                ok(OpValue::Captures(vec!["A".into(), "B".into()])),
            ),
            (
                Operation::Recover,
                OpRecord::Finished(OpOutcome::Err(crate::workload::OpError {
                    kind: "corrupt".into(),
                    sqlite_code: None,
                    message: "page checksum mismatch".into(),
                    outcome_unknown: false,
                })),
            ),
        ]));
        assert_eq!(model.read_mismatches(), [] as [String; 0]);
        assert_eq!(model.reads_judged(), (3, 0));
    }

    #[test]
    fn a_constraint_is_an_anomaly_unless_a_corruption_report_quotes_it() {
        let failed = |kind: &str| {
            let model = AckModel::build(&execution(vec![(
                Operation::Recover,
                OpRecord::Finished(OpOutcome::Err(crate::workload::OpError {
                    kind: kind.into(),
                    sqlite_code: None,
                    message:
                        "still damaged after REINDEX: CHECK constraint failed in exports_audit"
                            .into(),
                    outcome_unknown: false,
                })),
            )]));
            model.anomalies().to_vec()
        };
        assert_eq!(failed("corrupt"), [] as [String; 0]);
        let hit = failed("sqlite");
        assert!(hit[0].contains("hit a constraint"), "{hit:?}");
    }

    #[test]
    fn a_silent_wrong_answer_is_a_mismatch() {
        for (op, wrong) in [
            (
                Operation::CheckDuplicate {
                    content: "a".into(),
                },
                OpValue::Found(None),
            ),
            (
                Operation::PendingExports { limit: 5 },
                OpValue::Captures(Vec::new()),
            ),
            (
                Operation::Recover,
                OpValue::Captures(vec!["B".into(), "A".into()]),
            ),
        ] {
            let model = AckModel::build(&execution(vec![(op.clone(), ok(wrong))]));
            assert_eq!(model.read_mismatches().len(), 1, "{op:?}");
        }
    }

    #[test]
    fn reads_after_a_maybe_applied_operation_are_not_judged() {
        let mut e = execution(vec![(
            Operation::Recover,
            ok(OpValue::Captures(Vec::new())),
        )]);
        e.operations.insert(3, stage(2, "c"));
        e.records.insert(3, OpRecord::InFlight);
        let model = AckModel::build(&e);
        assert_eq!(model.read_mismatches(), [] as [String; 0]);
        assert_eq!(model.reads_judged(), (0, 1));
    }
}
