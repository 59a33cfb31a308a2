//! `contention_absorbed`: what the writers of a lock-contention run reported, judged by
//! [`contention_absorbed`] from [`ContentionEvidence`].
//!
//! The property: every writer finishes its plan within its bound (no deadlock, no wait
//! without a deadline), and while every lock holder releases within what the ledger must
//! absorb ([`LockBudget::Within`]: its busy handler and retries), no operation surfaces
//! `SQLITE_BUSY` or `SQLITE_LOCKED` to its caller. When a holder keeps the lock longer
//! ([`LockBudget::Exceeded`]), an operation may give up, but only with the ledger's typed
//! `lock_timeout` error (which names what is known about the lock), never with a raw SQLite
//! error and never by hanging. Durability and atomicity under contention are the other
//! checks' business (`acknowledged_durable`, `no_partial`, ...).

use crate::workload::{OpError, OpOutcome};

use super::model::{Execution, OpRecord};

/// The ledger's error kind for a lock it waited for and could not get.
const LOCK_TIMEOUT_KIND: &str = "lock_timeout";

/// Whether the lock holders stayed within what the ledger must absorb.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LockBudget {
    /// Every holder released within the busy and retry budget: no lock error may surface.
    Within,
    /// A holder kept the lock past the budget: `lock_timeout` errors are a clean answer.
    Exceeded,
}

/// How one writer ended.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct WriterOutcome {
    /// `writer 2 (process 1234)`, for details.
    pub label: String,
    /// The ledger refused to open for this writer.
    pub open_error: Option<OpError>,
    /// The writer reported the end of its plan.
    pub finished: bool,
    /// How the writer ended when it did not end normally (exit status, panic).
    pub abnormal_end: Option<String>,
    /// What was seen of it when its bound passed (state, wait channel, file locks).
    pub hang: Option<String>,
}

/// Everything `contention_absorbed` judges.
#[derive(Debug, Clone)]
pub struct ContentionEvidence {
    /// What the scenario says about the holders.
    pub budget: LockBudget,
    /// One outcome per writer.
    pub writers: Vec<WriterOutcome>,
    /// Every operation and what it returned (all writers' plans, concatenated).
    pub execution: Execution,
    /// Per stopped holder: milliseconds from taking the lock to releasing it, `None` if it
    /// never released.
    pub holders: Vec<Option<u64>>,
    /// Problems the long reader and the checkpointer saw (a snapshot that moved, a final
    /// checkpoint that could not complete).
    pub reader_problems: Vec<String>,
}

/// Whether `error` says a lock could not be had (busy or locked, typed or raw).
pub fn is_lock_error(error: &OpError) -> bool {
    error.kind == LOCK_TIMEOUT_KIND || matches!(error.sqlite_code.map(|c| c & 0xff), Some(5 | 6))
}

/// The problems `contention_absorbed` finds; empty when it holds.
pub fn contention_absorbed(evidence: &ContentionEvidence) -> Vec<String> {
    let mut problems = Vec::new();
    for writer in &evidence.writers {
        if let Some(hang) = &writer.hang {
            problems.push(format!(
                "{} did not finish within its bound (hung): {hang}",
                writer.label
            ));
        } else if let Some(end) = &writer.abnormal_end {
            problems.push(format!("{} ended abnormally: {end}", writer.label));
        } else if !writer.finished && writer.open_error.is_none() {
            problems.push(format!(
                "{} stopped before its last operation",
                writer.label
            ));
        }
        if let Some(error) = &writer.open_error
            && let Some(why) = unacceptable(error, evidence.budget)
        {
            problems.push(format!(
                "{}: the ledger did not open: {why}: {}",
                writer.label, error.message
            ));
        }
    }
    let records = &evidence.execution.records;
    for (index, (op, record)) in evidence
        .execution
        .operations
        .iter()
        .zip(records)
        .enumerate()
    {
        if let OpRecord::Finished(OpOutcome::Err(error)) = record
            && let Some(why) = unacceptable(error, evidence.budget)
        {
            problems.push(format!(
                "operation {index} ({}) {why}: {}",
                op.describe(),
                error.message
            ));
        }
    }
    for (holder, released) in evidence.holders.iter().enumerate() {
        if released.is_none() {
            problems.push(format!(
                "lock holder {holder} never released the write lock"
            ));
        }
    }
    problems.extend(evidence.reader_problems.iter().cloned());
    problems
}

/// Why a lock error is not acceptable under `budget`, or `None` (also for every other error).
fn unacceptable(error: &OpError, budget: LockBudget) -> Option<String> {
    if !is_lock_error(error) {
        return None;
    }
    let code = error
        .sqlite_code
        .map_or(String::new(), |c| format!(" (SQLite code {c})"));
    match budget {
        LockBudget::Within => Some(format!(
            "surfaced a {} error{code} although every lock holder released within the ledger's busy and retry budget",
            error.kind
        )),
        LockBudget::Exceeded if error.kind != LOCK_TIMEOUT_KIND => Some(format!(
            "gave up with an untyped {} error{code} instead of the ledger's lock_timeout",
            error.kind
        )),
        LockBudget::Exceeded => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::workload::{OpValue, Operation};

    fn busy(kind: &str) -> OpOutcome {
        OpOutcome::Err(OpError {
            kind: kind.into(),
            sqlite_code: Some(5),
            message: "database is locked".into(),
            outcome_unknown: false,
        })
    }

    fn evidence(outcomes: Vec<OpOutcome>, budget: LockBudget) -> ContentionEvidence {
        let operations = outcomes
            .iter()
            .map(|_| Operation::Prune { days: 1 })
            .collect();
        ContentionEvidence {
            budget,
            writers: vec![WriterOutcome {
                label: "writer 0".into(),
                finished: true,
                ..WriterOutcome::default()
            }],
            execution: Execution {
                operations,
                records: outcomes.into_iter().map(OpRecord::Finished).collect(),
            },
            holders: vec![Some(300)],
            reader_problems: Vec::new(),
        }
    }

    #[test]
    fn holds_when_nothing_surfaced_and_everyone_finished() {
        let not_found = OpOutcome::Err(OpError {
            kind: "not_found".into(),
            sqlite_code: None,
            message: "no capture unstaged-3".into(),
            outcome_unknown: false,
        });
        let e = evidence(
            vec![OpOutcome::Ok(OpValue::Done), not_found],
            LockBudget::Within,
        );
        assert!(contention_absorbed(&e).is_empty());
    }

    #[test]
    fn a_busy_error_within_budget_fails() {
        let e = evidence(
            vec![OpOutcome::Ok(OpValue::Done), busy("lock_timeout")],
            LockBudget::Within,
        );
        let problems = contention_absorbed(&e);
        assert_eq!(problems.len(), 1, "{problems:?}");
        assert!(problems[0].starts_with("operation 1"), "{problems:?}");
    }

    #[test]
    fn past_budget_only_the_typed_error_is_clean() {
        let typed = evidence(vec![busy("lock_timeout")], LockBudget::Exceeded);
        assert!(contention_absorbed(&typed).is_empty());
        let raw = evidence(vec![busy("sqlite")], LockBudget::Exceeded);
        assert!(contention_absorbed(&raw)[0].contains("untyped"));
    }

    #[test]
    fn a_hung_writer_or_a_holder_that_never_released_fails() {
        let mut e = evidence(vec![OpOutcome::Ok(OpValue::Done)], LockBudget::Exceeded);
        e.writers[0].finished = false;
        e.writers[0].hang = Some("state T (stopped)".into());
        e.holders = vec![None];
        let problems = contention_absorbed(&e);
        assert_eq!(problems.len(), 2, "{problems:?}");
        assert!(problems[0].contains("hung"));
        assert!(problems[1].contains("never released"));
    }
}
