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
//!
//! Backups ([`BackupTrail`], [`backups_observable`]): the health report of the reopened ledger
//! must carry the backup escalation the trace implies. Its record's consecutive failures lie
//! between the backups after the last verified one that certainly failed (answered `Ok` but
//! not verified) and those that may have (also an error or one in flight); a count above zero
//! shows as a health problem naming the level of the default escalation policy (1 warn,
//! 2 degraded, 3 or more pruning paused); and after a verified backup health never says none
//! was recorded.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use super::model::{Execution, OpRecord};
use crate::workload::{OpOutcome, OpValue, Operation};

/// Error kinds that answer the caller rather than report a fault.
const ANSWER_KINDS: [&str; 3] = ["not_found", "illegal_transition", "duplicate_content"];

/// The ledger operations the workload calls through the ledger's call path ([`ledger_operation`]):
/// the only ones the trace can account for. Rows of other operations (`capture`, which only the
/// check phase calls, when it reads every capture of a damaged ledger) are not the trace's.
pub const WORKLOAD_OPERATIONS: [&str; 8] = [
    "stage",
    "record_transcription",
    "mark_transcription_failed",
    "record_export",
    "find_duplicate",
    "pending_exports",
    "recoverable_captures",
    "prune",
];

/// Whether an error answers the caller: an answer kind, or a guarded prune's refusal (the
/// backup family runs the workload's prunes through `prune_after_verified_backup`, which
/// refuses with kind `backup` while no verified backup exists or escalation paused pruning; a
/// plain prune never answers `backup`). The backup record accounts for those refusals.
fn is_answer(operation: &Operation, kind: &str) -> bool {
    ANSWER_KINDS.contains(&kind)
        || (matches!(
            operation,
            Operation::Prune { .. } | Operation::GuardedPrune { .. }
        ) && kind == "backup")
}

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
/// as a caller's (a guarded prune logs its fault errors as `prune`); `None` for the rest
/// (backups, maintenance, restores report through their own surfaces).
pub fn ledger_operation(operation: &Operation) -> Option<&'static str> {
    Some(match operation {
        Operation::Stage { .. } => "stage",
        Operation::Transcribe { .. } => "record_transcription",
        Operation::FailTranscription { .. } => "mark_transcription_failed",
        Operation::Export { .. } => "record_export",
        Operation::CheckDuplicate { .. } => "find_duplicate",
        Operation::PendingExports { .. } => "pending_exports",
        Operation::Recover => "recoverable_captures",
        Operation::Prune { .. } | Operation::GuardedPrune { .. } => "prune",
        Operation::Backup | Operation::Checkpoint | Operation::Maintain | Operation::Restore => {
            return None;
        }
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
                OpOutcome::Ok(value) if !operation.is_read_only() && changed_something(value) => {
                    for name in waiting.drain(..) {
                        tally.count(name).before_an_acknowledged_write += 1;
                    }
                }
                OpOutcome::Ok(_) => {}
                OpOutcome::Err(error) if is_answer(operation, &error.kind) => {}
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

    /// Fault errors that a later acknowledged write followed, in all: those the ledger must
    /// have logged.
    pub fn owed(&self) -> u64 {
        self.per_operation
            .values()
            .map(|count| count.before_an_acknowledged_write)
            .sum()
    }

    /// Fault errors surfaced in all.
    pub fn total(&self) -> u64 {
        self.per_operation
            .values()
            .map(|count| count.surfaced)
            .sum()
    }
}

/// Whether an acknowledged answer proves the ledger wrote to its database: a duplicate
/// stage, an export already recorded or a prune that deleted nothing is answered from a read,
/// so it says nothing about whether an `errors_log` row could have been written then (found
/// by exploration: under a persistent allocation failure, cached reads kept answering
/// duplicates while every write failed).
fn changed_something(value: &OpValue) -> bool {
    match value {
        OpValue::Duplicate(_) | OpValue::AlreadyExported => false,
        OpValue::Pruned(deleted) => !deleted.is_empty(),
        _ => true,
    }
}

/// Problems: per operation, the `errors_log` rows the ledger wrote (`logged`, from the
/// reopened database) against what the trace counted.
pub fn faults_observable(surfaced: &SurfacedErrors, logged: &BTreeMap<String, u64>) -> Vec<String> {
    let mut problems = Vec::new();
    let mut names: Vec<&String> = surfaced.per_operation.keys().collect();
    names.extend(
        logged
            .keys()
            .filter(|name| WORKLOAD_OPERATIONS.contains(&name.as_str())),
    );
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

/// [`faults_observable`] where the error log cannot be read (`unreadable` says why: the file
/// does not open, or the log's pages do not read) and the ledger refused to open the database:
/// the damage reached the caller as the open's error, which must then be a typed `corrupt` error
/// (`refused_kind`, with `refused` its message) rather than an untyped one that hides it; and
/// since the log cannot be read, the trace must owe it no row (no fault error reached a caller
/// before an acknowledged write).
pub fn unopenable_observable(
    surfaced: &SurfacedErrors,
    refused_kind: &str,
    refused: &str,
    unreadable: &str,
) -> Vec<String> {
    let mut problems = Vec::new();
    if refused_kind != "corrupt" {
        problems.push(format!(
            "{unreadable}, and the ledger's open refused with a \
             `{refused_kind}` error, not a typed corrupt error: the damage was not reported \
             ({refused})"
        ));
    }
    let owed = surfaced.owed();
    if owed > 0 {
        problems.push(format!(
            "the trace saw {owed} error(s) reach a caller before a later acknowledged write, \
             and errors_log cannot be read to show them ({unreadable})"
        ));
    }
    problems
}

/// What the trace says about backups.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct BackupTrail {
    /// Backups the trace ran (finished or in flight).
    pub attempted: u32,
    /// A backup answered `Ok` and verified.
    pub verified_any: bool,
    /// Backups after the last verified one that answered `Ok` unverified.
    pub failures_at_least: u32,
    /// ... plus those that answered an error or were in flight.
    pub failures_at_most: u32,
}

impl BackupTrail {
    /// Replay the trace's backups.
    pub fn from_execution(execution: &Execution) -> BackupTrail {
        let mut trail = BackupTrail::default();
        for (operation, record) in execution.operations.iter().zip(&execution.records) {
            if *operation != Operation::Backup {
                continue;
            }
            match record {
                OpRecord::NotStarted => continue,
                OpRecord::Finished(OpOutcome::Ok(OpValue::BackedUp { verified: true, .. })) => {
                    trail.verified_any = true;
                    trail.failures_at_least = 0;
                    trail.failures_at_most = 0;
                }
                OpRecord::Finished(OpOutcome::Ok(_)) => {
                    trail.failures_at_least += 1;
                    trail.failures_at_most += 1;
                }
                OpRecord::Finished(OpOutcome::Err(_)) => trail.failures_at_most += 1,
                OpRecord::InFlight => {
                    trail.failures_at_least = 0;
                    trail.failures_at_most += 1;
                }
            }
            trail.attempted += 1;
        }
        trail
    }
}

/// What the reopened ledger's health report said about backups.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct BackupHealthSeen {
    /// The escalation level of its backup record (`healthy`, `warn`, ...).
    pub level: String,
    /// Consecutive failures in its backup record.
    pub consecutive_failures: u32,
    /// Every problem's text.
    pub problems: Vec<String>,
}

/// The level the default escalation policy gives `failures` consecutive failures.
fn default_level(failures: u32) -> &'static str {
    ledger::backup::EscalationPolicy::default()
        .level(failures)
        .as_str()
}

/// Problems: the health report (or why it could not be read) against the trace's backups.
pub fn backups_observable(
    trail: &BackupTrail,
    seen: &Result<BackupHealthSeen, String>,
) -> Vec<String> {
    if trail.attempted == 0 {
        return Vec::new();
    }
    let seen = match seen {
        Ok(seen) => seen,
        Err(why) => {
            return vec![format!(
                "no health report after {} backup(s): {why}",
                trail.attempted
            )];
        }
    };
    let mut problems = Vec::new();
    let failures = seen.consecutive_failures;
    if failures < trail.failures_at_least || failures > trail.failures_at_most {
        problems.push(format!(
            "the trace has {}..={} failed backup(s) since the last verified one, the backup record {failures}",
            trail.failures_at_least, trail.failures_at_most
        ));
    }
    if failures > 0 {
        let level = default_level(failures);
        let shown = format!("backup status {level}");
        if seen.level != level || !seen.problems.iter().any(|p| p.contains(&shown)) {
            problems.push(format!(
                "{failures} consecutive backup failure(s) must show in health as `{shown}`; its record says {} and its problems are {:?}",
                seen.level, seen.problems
            ));
        }
    }
    if trail.verified_any
        && seen
            .problems
            .iter()
            .any(|p| p.contains("no verified backup"))
    {
        problems.push(format!(
            "the trace has a verified backup, health says {:?}",
            seen.problems
        ));
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
        OpRecord::Finished(OpOutcome::Ok(OpValue::Pruned(vec!["01K".to_owned()])))
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
    fn an_answer_read_from_the_database_is_not_a_later_write() {
        let answered = |value| OpRecord::Finished(OpOutcome::Ok(value));
        for value in [
            OpValue::Duplicate("01K".to_owned()),
            OpValue::AlreadyExported,
            OpValue::Pruned(Vec::new()),
        ] {
            let execution = Execution {
                operations: vec![Operation::Prune { days: 1 }, Operation::Prune { days: 1 }],
                records: vec![err("io"), answered(value.clone())],
            };
            let tally = SurfacedErrors::from_execution(&execution);
            assert_eq!(
                tally.per_operation["prune"].before_an_acknowledged_write, 0,
                "{value:?}"
            );
            assert!(faults_observable(&tally, &logged(&[])).is_empty());
        }
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
    fn a_guarded_prune_owes_its_fault_errors_but_not_its_refusals() {
        let execution = Execution {
            operations: vec![
                Operation::GuardedPrune { days: 0 },
                Operation::GuardedPrune { days: 0 },
                Operation::Prune { days: 1 },
            ],
            records: vec![err("io"), err("backup"), ok()],
        };
        let tally = SurfacedErrors::from_execution(&execution);
        assert_eq!(
            tally.per_operation["prune"],
            SurfacedCount {
                surfaced: 1,
                before_an_acknowledged_write: 1
            }
        );
        assert!(faults_observable(&tally, &logged(&[("prune", 1)])).is_empty());
        assert_eq!(faults_observable(&tally, &logged(&[])).len(), 1);
    }

    fn backups(records: Vec<OpRecord>) -> BackupTrail {
        BackupTrail::from_execution(&Execution {
            operations: vec![Operation::Backup; records.len()],
            records,
        })
    }

    fn backed_up(verified: bool) -> OpRecord {
        OpRecord::Finished(OpOutcome::Ok(OpValue::BackedUp {
            file: "b.db".to_owned(),
            verified,
        }))
    }

    fn seen(level: &str, failures: u32, problems: &[&str]) -> Result<BackupHealthSeen, String> {
        Ok(BackupHealthSeen {
            level: level.to_owned(),
            consecutive_failures: failures,
            problems: problems.iter().map(|p| (*p).to_owned()).collect(),
        })
    }

    #[test]
    fn the_trace_bounds_the_consecutive_backup_failures() {
        let trail = backups(vec![
            backed_up(false),
            backed_up(true),
            backed_up(false),
            err("backup"),
        ]);
        assert_eq!(
            trail,
            BackupTrail {
                attempted: 4,
                verified_any: true,
                failures_at_least: 1,
                failures_at_most: 2
            }
        );
    }

    #[test]
    fn backup_escalation_must_show_in_health() {
        let trail = backups(vec![backed_up(true), backed_up(false), backed_up(false)]);
        let good = seen(
            "degraded",
            2,
            &["backup status degraded: 2 backup verification(s) failed"],
        );
        assert!(backups_observable(&trail, &good).is_empty());
        let ignored = seen("degraded", 2, &[]);
        assert_eq!(backups_observable(&trail, &ignored).len(), 1);
        let uncounted = seen("healthy", 0, &[]);
        assert_eq!(backups_observable(&trail, &uncounted).len(), 1);
        let stale = seen(
            "degraded",
            2,
            &["backup status degraded: ...", "no verified backup recorded"],
        );
        assert_eq!(backups_observable(&trail, &stale).len(), 1);
        assert_eq!(
            backups_observable(&trail, &Err("did not reopen".to_owned())).len(),
            1
        );
        assert!(backups_observable(&BackupTrail::default(), &ignored).is_empty());
    }

    #[test]
    fn a_guarded_prunes_refusal_and_the_check_phases_own_reads_are_not_the_traces() {
        let execution = Execution {
            operations: vec![Operation::Prune { days: 1 }, Operation::Prune { days: 1 }],
            records: vec![err("backup"), ok()],
        };
        let tally = SurfacedErrors::from_execution(&execution);
        assert_eq!(tally.total(), 0, "{tally:?}");
        assert!(faults_observable(&tally, &logged(&[("capture", 13)])).is_empty());
    }

    #[test]
    fn fails_on_a_phantom_or_double_count() {
        let tally = SurfacedErrors::from_execution(&execution());
        let problems = faults_observable(&tally, &logged(&[("prune", 2), ("stage", 1)]));
        assert_eq!(problems.len(), 2, "{problems:?}");
    }
}
