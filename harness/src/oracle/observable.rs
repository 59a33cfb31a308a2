//! `faults_observable`: every fault the trace saw reach a caller is accounted for by the
//! ledger's own error log, with the trace's numbers ([`SurfacedErrors`], [`faults_observable`]).
//!
//! The trace (the drive's record of every operation and its answer) counts, per ledger
//! operation, the calls that returned a fault error: any error kind except the answers
//! `not_found`, `illegal_transition` and `duplicate_content`. The ledger writes one
//! `errors_log` row (stage `operation`, message `<operation>: <kind>: ...`) per such error,
//! before the error returns or, when that write fails too, before its next write. So, per
//! operation:
//!
//! - the rows logged never exceed the errors surfaced (no phantom, no double count);
//! - every error surfaced before an acknowledged write is logged: the ledger had a writable
//!   database and a write of its own after it. Only errors after the last acknowledged write
//!   may be missing (a process that dies, or a disk that stays broken, before the next write).
//!
//! When the trace ends with an acknowledged write the two bounds meet: logged equals surfaced.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use super::model::{Execution, OpRecord};
use crate::workload::{OpOutcome, Operation};

/// Error kinds that answer the caller rather than report a fault.
const ANSWER_KINDS: [&str; 3] = ["not_found", "illegal_transition", "duplicate_content"];

/// Per ledger operation, the fault errors the trace saw reach the caller.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct SurfacedErrors {
    /// Operation name (as the ledger's metrics name it) -> counts.
    pub per_operation: BTreeMap<String, SurfacedCount>,
}

/// Fault errors of one operation.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct SurfacedCount {
    /// Every fault error the caller saw.
    pub surfaced: u64,
    /// Those followed later in the trace by an acknowledged write: the ledger must have
    /// logged them.
    pub before_an_acknowledged_write: u64,
}

/// The ledger operation a workload operation calls, for those whose errors the ledger logs
/// as a caller's; `None` for the rest (backups, guarded prunes, maintenance, restores report
/// through their own surfaces).
pub fn ledger_operation(operation: &Operation) -> Option<&'static str> {
    Some(match operation {
        Operation::Stage { .. } => "stage",
        Operation::Transcribe { .. } => "record_transcription",
        Operation::FailTranscription { .. } => "mark_transcription_failed",
        Operation::Export { .. } => "record_export",
        Operation::CheckDuplicate { .. } => "find_duplicate",
        Operation::PendingExports { .. } => "pending_exports",
        Operation::Recover => "recoverable_captures",
        Operation::Prune { .. } => "prune",
        Operation::Backup
        | Operation::GuardedPrune { .. }
        | Operation::Checkpoint
        | Operation::Maintain
        | Operation::Restore => return None,
    })
}

impl SurfacedErrors {
    /// Count the trace's fault errors, and which of them an acknowledged write followed.
    pub fn from_execution(execution: &Execution) -> SurfacedErrors {
        let mut tally = SurfacedErrors::default();
        let mut waiting: Vec<&'static str> = Vec::new();
        for (operation, record) in execution.operations.iter().zip(&execution.records) {
            let OpRecord::Finished(outcome) = record else {
                continue;
            };
            match outcome {
                OpOutcome::Ok(_) if !operation.is_read_only() => {
                    for name in waiting.drain(..) {
                        tally.count(name).before_an_acknowledged_write += 1;
                    }
                }
                OpOutcome::Ok(_) => {}
                OpOutcome::Err(error) if ANSWER_KINDS.contains(&error.kind.as_str()) => {}
                OpOutcome::Err(_) => {
                    if let Some(name) = ledger_operation(operation) {
                        tally.count(name).surfaced += 1;
                        waiting.push(name);
                    }
                }
            }
        }
        tally
    }

    fn count(&mut self, operation: &str) -> &mut SurfacedCount {
        self.per_operation.entry(operation.to_owned()).or_default()
    }

    /// Fault errors surfaced in all.
    pub fn total(&self) -> u64 {
        self.per_operation
            .values()
            .map(|count| count.surfaced)
            .sum()
    }
}

/// Problems: per operation, the `errors_log` rows the ledger wrote (`logged`, from the
/// reopened database) against what the trace counted.
pub fn faults_observable(surfaced: &SurfacedErrors, logged: &BTreeMap<String, u64>) -> Vec<String> {
    let mut problems = Vec::new();
    let mut names: Vec<&String> = surfaced.per_operation.keys().collect();
    names.extend(logged.keys());
    names.sort();
    names.dedup();
    for name in names {
        let count = surfaced
            .per_operation
            .get(name)
            .copied()
            .unwrap_or_default();
        let rows = logged.get(name).copied().unwrap_or(0);
        if rows > count.surfaced {
            problems.push(format!(
                "{name}: errors_log holds {rows} error(s) that reached a caller, the trace saw {}",
                count.surfaced
            ));
        } else if rows < count.before_an_acknowledged_write {
            problems.push(format!(
                "{name}: the trace saw {} error(s) reach a caller before a later acknowledged write, errors_log holds {rows}",
                count.before_an_acknowledged_write
            ));
        }
    }
    problems
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::workload::{OpError, OpValue};

    fn err(kind: &str) -> OpRecord {
        OpRecord::Finished(OpOutcome::Err(OpError {
            kind: kind.to_owned(),
            sqlite_code: None,
            message: format!("{kind} injected"),
            outcome_unknown: false,
        }))
    }

    fn ok() -> OpRecord {
        OpRecord::Finished(OpOutcome::Ok(OpValue::Pruned(Vec::new())))
    }

    /// prune: io error, not_found answer, prune ok, recover: sqlite error (last, no write after).
    fn execution() -> Execution {
        Execution {
            operations: vec![
                Operation::Prune { days: 1 },
                Operation::Prune { days: 1 },
                Operation::Prune { days: 1 },
                Operation::Recover,
            ],
            records: vec![err("io"), err("not_found"), ok(), err("sqlite")],
        }
    }

    fn logged(rows: &[(&str, u64)]) -> BTreeMap<String, u64> {
        rows.iter().map(|(n, c)| ((*n).to_owned(), *c)).collect()
    }

    #[test]
    fn the_trace_counts_fault_errors_and_which_a_write_followed() {
        let tally = SurfacedErrors::from_execution(&execution());
        assert_eq!(
            tally.per_operation["prune"],
            SurfacedCount {
                surfaced: 1,
                before_an_acknowledged_write: 1
            }
        );
        assert_eq!(
            tally.per_operation["recoverable_captures"],
            SurfacedCount {
                surfaced: 1,
                before_an_acknowledged_write: 0
            }
        );
        assert_eq!(tally.total(), 2);
    }

    #[test]
    fn passes_when_the_log_accounts_for_every_error_it_had_a_chance_to() {
        let tally = SurfacedErrors::from_execution(&execution());
        assert!(faults_observable(&tally, &logged(&[("prune", 1)])).is_empty());
        assert!(
            faults_observable(
                &tally,
                &logged(&[("prune", 1), ("recoverable_captures", 1)])
            )
            .is_empty()
        );
    }

    #[test]
    fn fails_on_an_error_never_logged() {
        let tally = SurfacedErrors::from_execution(&execution());
        let problems = faults_observable(&tally, &logged(&[]));
        assert_eq!(problems.len(), 1, "{problems:?}");
        assert!(
            problems[0].starts_with("prune: the trace saw 1"),
            "{problems:?}"
        );
    }

    #[test]
    fn fails_on_a_phantom_or_double_count() {
        let tally = SurfacedErrors::from_execution(&execution());
        let problems = faults_observable(&tally, &logged(&[("prune", 2), ("stage", 1)]));
        assert_eq!(problems.len(), 2, "{problems:?}");
    }
}
