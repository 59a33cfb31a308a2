//! The checks, declared once in one table ([`CHECKS`]: name, where it is judged, its judge):
//! each judge is a pure function from what was gathered ([`Evidence`] after reopening, or
//! [`DriveEvidence`] from a family's drive) to a [`Verdict`].
//!
//! Every check must be able to fail: the tests at the bottom build broken states by hand and
//! show each verdict turning red.

use std::collections::BTreeSet;
use std::fmt;

use ledger::{ExportMode, Status};
use serde::{Deserialize, Serialize};

use super::after_recovery::{AfterRecovery, backups_restore, exported_once, prune_backed_up};
use super::agreement::BackendComparison;
use super::backups::BackupsInDrive;
use super::contention::{ContentionEvidence, contention_absorbed};
use super::corruption::{CorruptionEvidence, corruption_accounted};
use super::counters::{DriveCounters, counters_observable};
use super::fault_response::FaultResponse;
use super::model::{AckModel, CaptureState};
use super::observable::{
    BackupHealthSeen, BackupTrail, SurfacedErrors, backups_observable, faults_observable,
    unopenable_observable,
};
use super::restart::{RestartSeen, Shutdown, restart_observable};
use super::snapshot::{LedgerSnapshot, Part};

/// Declares the checks once: the [`CheckName`] enum, [`CheckName::ALL`], the names written in
/// files and reports, and [`CHECKS`], the table of how each is judged.
macro_rules! checks {
    ($(
        $(#[doc = $doc:literal])*
        $variant:ident = $text:literal, reopened: $reopened:expr, in_drive: $in_drive:expr;
    )*) => {
        /// The name of a check, the same in scenario files, results and reports.
        #[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
        pub enum CheckName {
            $(
                $(#[doc = $doc])*
                #[serde(rename = $text)]
                $variant,
            )*
        }

        impl CheckName {
            /// Every check, in the order they run.
            pub const ALL: [CheckName; [$(CheckName::$variant),*].len()] =
                [$(CheckName::$variant),*];

            /// The name as written in files and reports.
            pub fn as_str(self) -> &'static str {
                match self {
                    $(CheckName::$variant => $text,)*
                }
            }
        }

        /// How each check is judged, in the order they run.
        pub static CHECKS: [CheckSpec; [$(CheckName::$variant),*].len()] = [$(
            CheckSpec {
                name: CheckName::$variant,
                after_reopen: $reopened,
                in_drive: $in_drive,
            },
        )*];
    };
}

checks! {
    /// `PRAGMA integrity_check` is `ok`, `foreign_key_check` is empty, no orphan audit rows.
    Integrity = "integrity", reopened: Some(judge_integrity), in_drive: None;
    /// Every row is in a legal state, audit rows and vault files agree with statuses, and the
    /// ledger never acknowledged an illegal transition.
    StateMachine = "state_machine", reopened: Some(judge_state_machine), in_drive: None;
    /// Every acknowledged operation's effect is present.
    AcknowledgedDurable = "acknowledged_durable",
        reopened: Some(judge_acknowledged_durable), in_drive: None;
    /// Nothing that was not acknowledged is visible, except all of an operation whose outcome is
    /// unknown (in flight at a crash, or a possibly committed failure).
    NoPartial = "no_partial", reopened: Some(judge_no_partial), in_drive: None;
    /// The state equals the model after some prefix of the acknowledged operations.
    PrefixConsistent = "prefix_consistent", reopened: Some(judge_prefix_consistent), in_drive: None;
    /// The recovery query returns exactly the non-terminal captures and resuming them completes.
    RecoveryComplete = "recovery_complete", reopened: Some(judge_recovery_complete), in_drive: None;
    /// Every read the workload made (`CheckDuplicate`, `PendingExports`, `Recover`) that
    /// returned `Ok` answered what the model held at that point: no silent wrong answer.
    ReadsMatchModel = "reads_match_model", reopened: Some(judge_reads_match_model), in_drive: None;
    /// After damage to the files: every acknowledged capture is intact or named missing by the
    /// ledger, never served wrong or absent ([`super::corruption`]).
    CorruptionAccounted = "corruption_accounted",
        reopened: Some(judge_corruption_accounted), in_drive: None;
    /// The ledger responded to the fault as the fault layer requires (page checksums caught
    /// flipped reads; its cache shrank and mmap fell back under memory pressure; a backup drill
    /// saw the responses it requires), judged from what the drive gathered
    /// ([`super::fault_response`]): a scenario does not list it in `checks`.
    FaultResponse = "fault_response", reopened: None, in_drive: Some(judge_fault_response);
    /// Under lock contention every writer finished within its bound (no deadlock, no hang)
    /// and, while every lock holder released within what the scenario says the ledger must
    /// absorb, no operation surfaced `SQLITE_BUSY`/`SQLITE_LOCKED`; past it, only the ledger's
    /// typed `lock_timeout` error ([`super::contention`]). Judged from what the writers
    /// reported to the drive: a scenario does not list it in `checks`.
    ContentionAbsorbed = "contention_absorbed",
        reopened: None, in_drive: Some(judge_contention_absorbed);
    /// Every backup the ledger reported (or lists) verified restores to a database whose
    /// captures equal the model at the backup's snapshot point. In the `backup/` family the
    /// backup drive judges it (with the guarded-prune rule, [`super::backups`]) and scenarios
    /// do not list it; other scenarios that take backups list it and the check phase judges it
    /// after resuming ([`super::after_recovery`]).
    BackupsRestorable = "backups_restorable",
        reopened: Some(judge_backups_restore), in_drive: Some(judge_backups_in_drive);
    /// After resuming, every terminal capture has exactly one audit row and every exported one
    /// exactly one vault file, and the vault holds no temp file: an export interrupted by a
    /// crash and resumed happens exactly once ([`super::after_recovery`]).
    ExportedOnce = "exported_once", reopened: Some(judge_exported_once), in_drive: None;
    /// Every capture a guarded prune deleted (in the workload, or after the reopen) is held by a
    /// backup the ledger lists as verified: pruning never rests on an unverified backup.
    PruneBackedUp = "prune_backed_up", reopened: Some(judge_prune_backed_up), in_drive: None;
    /// Every fault error the trace saw reach a caller is in the ledger's `errors_log`, with the
    /// trace's count per operation: never more, and none missing that a later acknowledged
    /// write gave the ledger the chance to log ([`super::observable`]); the ledger's retry and
    /// lock-wait counters, and its memory-pressure counters, equal what the drive saw
    /// ([`super::counters`], [`super::pressure`]); it reports one recovery per unclean
    /// shutdown that left something to recover, none after a clean close, and a capacity
    /// forecast that follows the database as it grows ([`super::restart`]).
    FaultsObservable = "faults_observable",
        reopened: Some(judge_faults_observable), in_drive: None;
    /// The same workload and the same cut on the fault VFS and on the FUSE backend leave the
    /// same durable files and directory entries in every compared crash mode
    /// ([`super::agreement`]). Judged by the power-loss drive with `backend = "both"`: a
    /// scenario does not list it in `checks`.
    BackendsAgree = "backends_agree", reopened: None, in_drive: Some(judge_backends_agree);
}

/// Where a scenario's check is judged.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Phase {
    /// In the check phase, from the reopened ledger: a scenario lists it in `checks`.
    Check,
    /// Only by a family's drive, from what the drive gathered: a scenario cannot list it.
    Drive,
}

/// One row of the table of checks.
#[derive(Debug, Clone, Copy)]
pub struct CheckSpec {
    /// The check.
    pub name: CheckName,
    /// Its judge in the check phase, from what was gathered after reopening.
    pub after_reopen: Option<fn(&Evidence) -> Vec<String>>,
    /// Its judge in a drive worker, from what a family's drive gathered.
    pub in_drive: Option<fn(&DriveEvidence) -> Vec<String>>,
}

impl CheckName {
    /// The check's row in [`CHECKS`].
    pub fn spec(self) -> &'static CheckSpec {
        CHECKS
            .iter()
            .find(|spec| spec.name == self)
            .expect("every check has a row")
    }

    /// Where a scenario's check is judged: [`Phase::Drive`] when only a drive can judge it.
    pub fn phase(self) -> Phase {
        if self.spec().after_reopen.is_some() {
            Phase::Check
        } else {
            Phase::Drive
        }
    }
}

impl fmt::Display for CheckName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// What a family's drive gathered for a check it judges there.
#[derive(Debug, Clone)]
pub enum DriveEvidence {
    /// For `fault_response`.
    FaultResponse(FaultResponse),
    /// For `contention_absorbed`.
    Contention(ContentionEvidence),
    /// For `backups_restorable` in a backup drill.
    Backups(BackupsInDrive),
    /// For `backends_agree`.
    Backends(BackendComparison),
}

/// Judges `name` in a drive worker from what the drive gathered.
pub fn judge_in_drive(name: CheckName, evidence: &DriveEvidence) -> Verdict {
    let problems = match name.spec().in_drive {
        Some(judge) => judge(evidence),
        None => vec![format!("{name} is not judged in a drive")],
    };
    Verdict::from_problems(name, problems)
}

fn wrong_evidence(name: CheckName, evidence: &DriveEvidence) -> Vec<String> {
    vec![format!(
        "{name} was handed evidence it does not judge: {evidence:?}"
    )]
}

fn judge_fault_response(evidence: &DriveEvidence) -> Vec<String> {
    match evidence {
        DriveEvidence::FaultResponse(response) => super::fault_response::problems(response),
        other => wrong_evidence(CheckName::FaultResponse, other),
    }
}

fn judge_contention_absorbed(evidence: &DriveEvidence) -> Vec<String> {
    match evidence {
        DriveEvidence::Contention(contention) => contention_absorbed(contention),
        other => wrong_evidence(CheckName::ContentionAbsorbed, other),
    }
}

fn judge_backups_in_drive(evidence: &DriveEvidence) -> Vec<String> {
    match evidence {
        DriveEvidence::Backups(backups) => backups.problems(),
        other => wrong_evidence(CheckName::BackupsRestorable, other),
    }
}

fn judge_backends_agree(evidence: &DriveEvidence) -> Vec<String> {
    match evidence {
        DriveEvidence::Backends(comparison) => comparison.problems(),
        other => wrong_evidence(CheckName::BackendsAgree, other),
    }
}

/// What the checker gathered after reopening the ledger.
#[derive(Debug, Clone)]
pub struct Evidence {
    /// The database content, or why it could not be read.
    pub snapshot: Result<LedgerSnapshot, String>,
    /// The model of what was acknowledged.
    pub model: AckModel,
    /// What the recovery query returned and how resuming went.
    pub recovery: RecoveryEvidence,
    /// Whether the ledger reopened after the fault (its recovery ran), or the error it refused
    /// with.
    pub reopen: Result<(), ReopenRefusal>,
    /// What the ledger said and served after its files were damaged (gathered only for
    /// scenarios that run `corruption_accounted`).
    pub corruption: Option<CorruptionEvidence>,
    /// What the checks of [`super::after_recovery`] judge (gathered only for scenarios that run
    /// one of them).
    pub after_recovery: Option<AfterRecovery>,
    /// The fault errors the trace saw reach a caller, per operation.
    pub surfaced: SurfacedErrors,
    /// The trace's backups.
    pub backup_trail: BackupTrail,
    /// What the reopened ledger's health said about backups (read when the trace has
    /// backups and the scenario runs `faults_observable`).
    pub backup_health: Result<BackupHealthSeen, String>,
    /// What the drive counted against the ledger's own counters, when it counted.
    pub drive_counters: Option<DriveCounters>,
    /// How the drive's ledger ended, when the trace knows (process crashes, power cuts).
    pub shutdown: Option<Shutdown>,
    /// What the ledger reported across the reopen and a clean restart after it (gathered
    /// only for scenarios that run `faults_observable`, after a successful reopen).
    pub restart: Option<RestartSeen>,
}

/// The error a ledger that did not reopen returned.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReopenRefusal {
    /// The error's kind (`LedgerError::kind`: `corrupt`, `open`, `sqlite`, ...).
    pub kind: String,
    /// The error's message.
    pub message: String,
}

impl fmt::Display for ReopenRefusal {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "ledger did not reopen: {}", self.message)
    }
}

/// The recovery query's answer and the resume attempt.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RecoveryEvidence {
    /// Ids the ledger's crash-resume queue (`Ledger::recovery_queue`) returned after reopening,
    /// in order.
    pub recoverable: Result<Vec<String>, String>,
    /// Errors met while driving each recoverable capture to a terminal state.
    pub resume_errors: Vec<String>,
    /// Non-terminal captures left in the database after resuming (read with plain SQL).
    pub left_after_resume: Vec<String>,
}

/// One check's verdict.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Verdict {
    /// Which check.
    pub name: CheckName,
    /// True when the property held.
    pub passed: bool,
    /// Expected vs found; empty when it passed with nothing to say.
    pub detail: String,
}

/// Most problems listed in one detail; the rest are counted.
const MAX_LISTED: usize = 8;

impl Verdict {
    fn from_problems(name: CheckName, problems: Vec<String>) -> Verdict {
        let passed = problems.is_empty();
        let mut detail = problems
            .iter()
            .take(MAX_LISTED)
            .cloned()
            .collect::<Vec<_>>()
            .join("; ");
        if problems.len() > MAX_LISTED {
            detail.push_str(&format!("; and {} more", problems.len() - MAX_LISTED));
        }
        Verdict {
            name,
            passed,
            detail,
        }
    }
}

impl Evidence {
    /// Runs one check.
    pub fn check(&self, name: CheckName) -> Verdict {
        let problems = match name.spec().after_reopen {
            Some(judge) => judge(self),
            None => vec![format!(
                "{name} is judged only by a family's drive, never after reopening"
            )],
        };
        Verdict::from_problems(name, problems)
    }

    /// The database's content when it read whole, or why not.
    fn whole_snapshot(&self) -> Result<&LedgerSnapshot, String> {
        match &self.snapshot {
            Ok(snapshot) => match snapshot.unreadable_text() {
                None => Ok(snapshot),
                Some(parts) => Err(format!("parts of it do not read: {parts}")),
            },
            Err(e) => Err(e.clone()),
        }
    }

    /// `judge` on the database's content, or the one problem that it could not be read whole.
    fn on_snapshot(&self, judge: impl FnOnce(&LedgerSnapshot) -> Vec<String>) -> Vec<String> {
        match self.whole_snapshot() {
            Ok(snapshot) => judge(snapshot),
            Err(e) => vec![format!("database unreadable: {e}")],
        }
    }

    /// `judge` on the state gathered after resuming, or the one problem that it was not.
    fn after_resuming(&self, judge: impl FnOnce(&AfterRecovery) -> Vec<String>) -> Vec<String> {
        self.on_snapshot(|_| match &self.after_recovery {
            None => vec!["the state after resuming was not gathered".to_owned()],
            Some(after) => judge(after),
        })
    }

    /// Acknowledged operations whose effect is missing (0 when the database is unreadable and
    /// nothing was acknowledged; every acknowledged write otherwise).
    pub fn lost_acknowledged(&self) -> u64 {
        match self.whole_snapshot() {
            Ok(s) => acknowledged_durable(s, &self.model).0,
            Err(_) => self.model.acknowledged_instant() as u64,
        }
    }
}

fn judge_integrity(e: &Evidence) -> Vec<String> {
    e.on_snapshot(|snapshot| {
        let mut problems = integrity(snapshot);
        if let Err(reopen) = &e.reopen {
            problems.insert(0, reopen.to_string());
        }
        problems
    })
}

fn judge_state_machine(e: &Evidence) -> Vec<String> {
    e.on_snapshot(|snapshot| state_machine(snapshot, &e.model))
}

fn judge_acknowledged_durable(e: &Evidence) -> Vec<String> {
    e.on_snapshot(|snapshot| acknowledged_durable(snapshot, &e.model).1)
}

fn judge_no_partial(e: &Evidence) -> Vec<String> {
    e.on_snapshot(|snapshot| no_partial(snapshot, &e.model))
}

fn judge_prefix_consistent(e: &Evidence) -> Vec<String> {
    e.on_snapshot(|snapshot| prefix_consistent(snapshot, &e.model))
}

fn judge_recovery_complete(e: &Evidence) -> Vec<String> {
    e.on_snapshot(|snapshot| recovery_complete(snapshot, &e.recovery))
}

fn judge_reads_match_model(e: &Evidence) -> Vec<String> {
    e.on_snapshot(|_| e.model.read_mismatches().to_vec())
}

/// Judged on a database that does not read whole too: a capture whose row does not read is
/// not intact on disk; on one that does not read at all, every capture must be named.
fn judge_corruption_accounted(e: &Evidence) -> Vec<String> {
    match &e.snapshot {
        Ok(snapshot) => corruption_accounted(snapshot, &e.model, e.corruption.as_ref()),
        Err(unreadable) => {
            let unreadable = LedgerSnapshot {
                integrity: vec![format!("database unreadable: {unreadable}")],
                ..LedgerSnapshot::default()
            };
            corruption_accounted(&unreadable, &e.model, e.corruption.as_ref())
        }
    }
}

fn judge_backups_restore(e: &Evidence) -> Vec<String> {
    e.after_resuming(backups_restore)
}

fn judge_exported_once(e: &Evidence) -> Vec<String> {
    e.after_resuming(exported_once)
}

fn judge_prune_backed_up(e: &Evidence) -> Vec<String> {
    e.after_resuming(prune_backed_up)
}

/// The error log is judged wherever it reads (damage elsewhere does not hide it); where it does
/// not read and the ledger refused to open the database, the check judges that refusal
/// ([`unopenable_observable`]).
fn judge_faults_observable(e: &Evidence) -> Vec<String> {
    let log = match &e.snapshot {
        Ok(snapshot) => match snapshot.unreadable.get(&Part::ErrorsLog) {
            None => Ok(&snapshot.caller_errors_logged),
            Some(why) => Err(format!("errors_log unreadable: {why}")),
        },
        Err(why) => Err(format!("database unreadable: {why}")),
    };
    let mut problems = match (log, &e.reopen) {
        (Ok(logged), _) => faults_observable(&e.surfaced, logged),
        (Err(unreadable), Err(refusal)) => {
            unopenable_observable(&e.surfaced, &refusal.kind, &refusal.message, &unreadable)
        }
        (Err(unreadable), Ok(())) => vec![unreadable],
    };
    problems.extend(backups_observable(&e.backup_trail, &e.backup_health));
    problems.extend(counters_observable(e.drive_counters.as_ref()));
    problems.extend(restart_observable(e.shutdown, e.restart.as_ref()));
    problems
}

fn integrity(s: &LedgerSnapshot) -> Vec<String> {
    let mut problems = Vec::new();
    if s.integrity != ["ok"] {
        problems.push(format!("integrity_check: {}", s.integrity.join(" | ")));
    }
    problems.extend(
        s.foreign_key_violations
            .iter()
            .map(|v| format!("foreign key violation: {v}")),
    );
    problems.extend(s.orphan_audit_rows.iter().cloned());
    problems
}

/// The audit mode a terminal status requires.
fn required_mode(status: Status) -> Option<ExportMode> {
    match status {
        Status::Exported => Some(ExportMode::Initial),
        Status::ExportedPlaceholder => Some(ExportMode::Placeholder),
        Status::ExportedDuplicate => Some(ExportMode::DuplicateSkip),
        _ => None,
    }
}

fn state_machine(s: &LedgerSnapshot, model: &AckModel) -> Vec<String> {
    let mut problems: Vec<String> = model.anomalies().to_vec();
    problems.extend(s.misnamed_exports.iter().cloned());
    for (id, c) in &s.captures {
        let Some(status) = Status::parse(&c.status) else {
            problems.push(format!(
                "{id}: status `{}` is not a state of the machine",
                c.status
            ));
            continue;
        };
        let expected_audit: Vec<String> = required_mode(status)
            .map(|m| m.as_str().to_owned())
            .into_iter()
            .collect();
        if c.audit != expected_audit {
            problems.push(format!(
                "{id}: status {} with audit rows {:?}, expected {:?}",
                c.status, c.audit, expected_audit
            ));
        }
        let needs_file = matches!(status, Status::Exported | Status::ExportedPlaceholder);
        if needs_file && !s.vault_files.contains(&format!("{id}.md")) {
            problems.push(format!("{id}: {} but the vault has no {id}.md", c.status));
        }
        let hashed = match c.source.as_str() {
            "email" => true,
            "voice" => matches!(status, Status::Transcribed | Status::Exported),
            other => {
                problems.push(format!("{id}: source `{other}` is not voice or email"));
                continue;
            }
        };
        if hashed && c.content_hash.is_none() {
            problems.push(format!(
                "{id}: {} {} has no content hash",
                c.source, c.status
            ));
        }
    }
    problems
}

fn snapshot_state<'a>(s: &'a LedgerSnapshot, id: &str) -> Option<&'a CaptureState> {
    s.captures.get(id)
}

fn describe(state: Option<&CaptureState>) -> String {
    match state {
        None => "absent".to_owned(),
        Some(c) => format!("{} audit {:?}", c.status, c.audit),
    }
}

/// (lost acknowledged writes, problems).
fn acknowledged_durable(s: &LedgerSnapshot, model: &AckModel) -> (u64, Vec<String>) {
    let mut lost = 0u64;
    let mut problems = Vec::new();
    for id in model.capture_ids() {
        let found = snapshot_state(s, id);
        let acceptable = model.states_at(id, model.acknowledged_instant());
        if acceptable.iter().any(|a| a.as_ref() == found) {
            continue;
        }
        let expected = model.states_at(id, model.acknowledged_instant()).remove(0);
        let missing = match model.version_index(id, found) {
            Some(index) => model.version_count(id).saturating_sub(index).max(1),
            None => 1,
        };
        lost += missing as u64;
        problems.push(format!(
            "{id}: expected {}, found {} ({missing} acknowledged write(s) missing)",
            describe(expected.as_ref()),
            describe(found)
        ));
    }
    (lost, problems)
}

/// Ids in the snapshot that the model never acknowledged.
fn unknown_ids<'a>(s: &'a LedgerSnapshot, model: &AckModel) -> Vec<&'a String> {
    let known: BTreeSet<&String> = model.capture_ids().collect();
    s.captures.keys().filter(|id| !known.contains(id)).collect()
}

fn no_partial(s: &LedgerSnapshot, model: &AckModel) -> Vec<String> {
    let mut problems = Vec::new();
    for id in model.capture_ids() {
        let found = snapshot_state(s, id);
        let seen = (0..=model.acknowledged_instant())
            .any(|t| model.states_at(id, t).iter().any(|a| a.as_ref() == found));
        if !seen {
            problems.push(format!(
                "{id}: {} is no state the acknowledged and maybe-applied operations produce",
                describe(found)
            ));
        }
    }
    let unknown = unknown_ids(s, model);
    for id in &unknown {
        if !model.matches_maybe_stage(&s.captures[*id]) {
            problems.push(format!(
                "{id}: {} was never acknowledged",
                describe(s.captures.get(*id))
            ));
        }
    }
    let states: Vec<&CaptureState> = unknown.iter().map(|id| &s.captures[*id]).collect();
    let all_match = states.iter().all(|c| model.matches_maybe_stage(c));
    if all_match && !model.unknown_captures_fit(&states, model.acknowledged_instant()) {
        problems.push(format!(
            "{} unacknowledged captures present, more than the maybe-applied stages can explain",
            states.len()
        ));
    }
    problems
}

fn prefix_consistent(s: &LedgerSnapshot, model: &AckModel) -> Vec<String> {
    let last = model.acknowledged_instant();
    let mut possible: Vec<bool> = vec![true; last + 1];
    for id in model.capture_ids() {
        let found = snapshot_state(s, id);
        for (t, ok) in possible.iter_mut().enumerate() {
            *ok = *ok && model.states_at(id, t).iter().any(|a| a.as_ref() == found);
        }
    }
    let unknown = unknown_ids(s, model);
    let states: Vec<&CaptureState> = unknown.iter().map(|id| &s.captures[*id]).collect();
    for (t, ok) in possible.iter_mut().enumerate() {
        *ok = *ok && model.unknown_captures_fit(&states, t);
    }
    if possible.iter().any(|ok| *ok) {
        return Vec::new();
    }
    vec![format!(
        "the database matches the model after no prefix of the {} acknowledged writes{}",
        model.acknowledged_instant(),
        if unknown.is_empty() {
            String::new()
        } else {
            format!(" ({} unacknowledged captures present)", unknown.len())
        }
    )]
}

fn recovery_complete(s: &LedgerSnapshot, r: &RecoveryEvidence) -> Vec<String> {
    let mut problems = Vec::new();
    let expected = s.non_terminal();
    match &r.recoverable {
        Err(e) => problems.push(format!("recovery query failed: {e}")),
        Ok(found) if *found != expected => {
            let found_set: BTreeSet<&String> = found.iter().collect();
            let expected_set: BTreeSet<&String> = expected.iter().collect();
            let missed: Vec<&&String> = expected_set.difference(&found_set).collect();
            let extra: Vec<&&String> = found_set.difference(&expected_set).collect();
            problems.push(if missed.is_empty() && extra.is_empty() {
                "recovery query returned the non-terminal captures out of creation order".to_owned()
            } else {
                format!(
                    "recovery query missed {missed:?} and returned terminal or unknown {extra:?}"
                )
            });
        }
        Ok(_) => {}
    }
    problems.extend(r.resume_errors.iter().map(|e| format!("resume: {e}")));
    if !r.left_after_resume.is_empty() {
        problems.push(format!(
            "still non-terminal after resuming: {:?}",
            r.left_after_resume
        ));
    }
    problems
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::oracle::{Execution, OpRecord};
    use crate::workload::{OpError, OpOutcome, OpValue, Operation};
    use ledger::Source;

    fn ok(value: OpValue) -> OpRecord {
        OpRecord::Finished(OpOutcome::Ok(value))
    }

    fn err(kind: &str) -> OpRecord {
        OpRecord::Finished(OpOutcome::Err(OpError {
            kind: kind.into(),
            sqlite_code: Some(10),
            message: "disk I/O error".into(),
            outcome_unknown: false,
        }))
    }

    fn plan() -> Vec<Operation> {
        vec![
            Operation::Stage {
                ordinal: 0,
                source: Source::Email,
                content: "hello".into(),
                channel: Some("imap:inbox".into()),
                channel_native_id: Some("<1@x>".into()),
            },
            Operation::Transcribe {
                capture: 0,
                transcript: "hello".into(),
            },
            Operation::Export {
                capture: 0,
                mode: ExportMode::Initial,
            },
            Operation::Stage {
                ordinal: 1,
                source: Source::Voice,
                content: "voice/1.m4a".into(),
                channel: None,
                channel_native_id: None,
            },
            Operation::FailTranscription {
                capture: 1,
                message: "timeout".into(),
            },
        ]
    }

    /// The five operations all acknowledged.
    fn all_acknowledged() -> Execution {
        Execution {
            operations: plan(),
            records: vec![
                ok(OpValue::Staged("A".into())),
                ok(OpValue::Done),
                ok(OpValue::Done),
                ok(OpValue::Staged("B".into())),
                ok(OpValue::Done),
            ],
        }
    }

    fn email_a(status: &str, audit: &[&str]) -> CaptureState {
        CaptureState {
            source: "email".into(),
            raw_content: "hello".into(),
            status: status.into(),
            content_hash: Some(ledger::content_hash("hello")),
            audit: audit.iter().map(|s| s.to_string()).collect(),
        }
    }

    fn voice_b(status: &str) -> CaptureState {
        CaptureState {
            source: "voice".into(),
            raw_content: "voice/1.m4a".into(),
            status: status.into(),
            content_hash: None,
            audit: Vec::new(),
        }
    }

    fn snapshot(captures: Vec<(&str, CaptureState)>) -> LedgerSnapshot {
        let mut s = LedgerSnapshot {
            integrity: vec!["ok".into()],
            ..LedgerSnapshot::default()
        };
        for (id, state) in captures {
            if state.status == "exported" || state.status == "exported_placeholder" {
                s.vault_files.insert(format!("{id}.md"));
            }
            s.creation_order.push(id.to_owned());
            s.captures.insert(id.to_owned(), state);
        }
        s
    }

    fn good_snapshot() -> LedgerSnapshot {
        snapshot(vec![
            ("A", email_a("exported", &["initial"])),
            ("B", voice_b("failed_transcription")),
        ])
    }

    fn evidence(execution: &Execution, snapshot: LedgerSnapshot) -> Evidence {
        let recoverable = Ok(snapshot.non_terminal());
        Evidence {
            snapshot: Ok(snapshot),
            model: AckModel::build(execution),
            recovery: RecoveryEvidence {
                recoverable,
                resume_errors: Vec::new(),
                left_after_resume: Vec::new(),
            },
            reopen: Ok(()),
            corruption: None,
            after_recovery: None,
            surfaced: SurfacedErrors::from_execution(execution),
            backup_trail: BackupTrail::from_execution(execution),
            backup_health: Err("not read".to_owned()),
            drive_counters: None,
            shutdown: None,
            restart: None,
        }
    }

    /// The checks judged from evidence that fail (`fault_response` is judged by the drive
    /// worker; `corruption_accounted`, `faults_observable` and the checks of
    /// `after_recovery.rs` have tests of their own).
    fn failing(e: &Evidence) -> Vec<CheckName> {
        CheckName::ALL
            .into_iter()
            .filter(|c| {
                ![
                    CheckName::CorruptionAccounted,
                    CheckName::FaultResponse,
                    CheckName::ContentionAbsorbed,
                    CheckName::BackupsRestorable,
                    CheckName::ExportedOnce,
                    CheckName::PruneBackedUp,
                    CheckName::FaultsObservable,
                    CheckName::BackendsAgree,
                ]
                .contains(c)
            })
            .filter(|c| !e.check(*c).passed)
            .collect()
    }

    #[test]
    fn the_true_state_passes_every_check() {
        let e = evidence(&all_acknowledged(), good_snapshot());
        assert_eq!(failing(&e), [], "{:?}", CheckName::ALL.map(|c| e.check(c)));
        assert_eq!(e.lost_acknowledged(), 0);
    }

    #[test]
    fn integrity_fails_on_a_damaged_database_or_a_failed_reopen() {
        let mut s = good_snapshot();
        s.integrity = vec!["row 2 missing from index captures_status".into()];
        let e = evidence(&all_acknowledged(), s);
        assert_eq!(failing(&e), [CheckName::Integrity]);
        let mut e = evidence(&all_acknowledged(), good_snapshot());
        e.reopen = Err(ReopenRefusal {
            kind: "sqlite".into(),
            message: "disk I/O error".into(),
        });
        assert_eq!(failing(&e), [CheckName::Integrity]);
    }

    #[test]
    fn state_machine_fails_on_an_exported_row_without_audit_or_an_unknown_status() {
        let s = snapshot(vec![
            ("A", email_a("exported", &[])),
            ("B", voice_b("failed_transcription")),
        ]);
        let e = evidence(&all_acknowledged(), s);
        assert!(failing(&e).contains(&CheckName::StateMachine));
        let s = snapshot(vec![
            ("A", email_a("exported", &["initial"])),
            ("B", voice_b("lost_in_space")),
        ]);
        assert!(failing(&evidence(&all_acknowledged(), s)).contains(&CheckName::StateMachine));
        let mut s = good_snapshot();
        s.vault_files.clear();
        assert_eq!(
            failing(&evidence(&all_acknowledged(), s)),
            [CheckName::StateMachine]
        );
    }

    #[test]
    fn state_machine_fails_when_the_ledger_acknowledged_an_illegal_transition() {
        let mut execution = all_acknowledged();
        execution.operations.push(Operation::Transcribe {
            capture: 0,
            transcript: "again".into(),
        });
        execution.records.push(ok(OpValue::Done));
        let e = evidence(&execution, good_snapshot());
        assert_eq!(failing(&e), [CheckName::StateMachine]);
        assert!(
            e.check(CheckName::StateMachine)
                .detail
                .contains("exported -> transcribed is illegal")
        );
    }

    #[test]
    fn acknowledged_durable_fails_and_counts_lost_writes() {
        let s = snapshot(vec![("B", voice_b("failed_transcription"))]);
        let e = evidence(&all_acknowledged(), s);
        assert!(failing(&e).contains(&CheckName::AcknowledgedDurable));
        assert_eq!(
            e.lost_acknowledged(),
            3,
            "stage, transcribe and export of A are gone"
        );
        let s = snapshot(vec![
            ("A", email_a("exported", &["initial"])),
            ("B", voice_b("staged")),
        ]);
        let e = evidence(&all_acknowledged(), s);
        assert_eq!(failing(&e), [CheckName::AcknowledgedDurable]);
        assert_eq!(e.lost_acknowledged(), 1);
    }

    #[test]
    fn no_partial_fails_on_an_unacknowledged_row_or_a_failed_operation_that_left_a_trace() {
        let mut s = good_snapshot();
        s.creation_order.push("C".into());
        s.captures.insert("C".into(), voice_b("staged"));
        let e = evidence(&all_acknowledged(), s);
        assert!(failing(&e).contains(&CheckName::NoPartial));
        let mut execution = all_acknowledged();
        execution.records[4] = err("sqlite");
        let e = evidence(&execution, good_snapshot());
        assert!(
            failing(&e).contains(&CheckName::NoPartial),
            "{:?}",
            failing(&e)
        );
    }

    #[test]
    fn the_operation_in_flight_may_be_present_or_absent_but_never_half() {
        let mut execution = all_acknowledged();
        execution.records[2] = OpRecord::InFlight;
        execution.records.truncate(3);
        execution.operations.truncate(3);
        let done = snapshot(vec![("A", email_a("exported", &["initial"]))]);
        let not_done = snapshot(vec![("A", email_a("transcribed", &[]))]);
        let half = snapshot(vec![("A", email_a("exported", &[]))]);
        assert_eq!(failing(&evidence(&execution, done)), []);
        assert_eq!(failing(&evidence(&execution, not_done)), []);
        let e = evidence(&execution, half);
        assert!(failing(&e).contains(&CheckName::NoPartial));
        assert!(failing(&e).contains(&CheckName::PrefixConsistent));
    }

    #[test]
    fn an_in_flight_stage_may_add_exactly_one_capture() {
        let mut execution = all_acknowledged();
        execution.operations.push(Operation::Stage {
            ordinal: 2,
            source: Source::Voice,
            content: "voice/2.m4a".into(),
            channel: None,
            channel_native_id: None,
        });
        execution.records.push(OpRecord::InFlight);
        let mut s = good_snapshot();
        let mut c = voice_b("staged");
        c.raw_content = "voice/2.m4a".into();
        s.creation_order.push("C".into());
        s.captures.insert("C".into(), c);
        assert_eq!(failing(&evidence(&execution, s)), []);
    }

    fn unknown(kind: &str) -> OpRecord {
        OpRecord::Finished(OpOutcome::Err(OpError {
            kind: kind.into(),
            sqlite_code: Some(1034),
            message: "failed to commit transaction: disk I/O error".into(),
            outcome_unknown: true,
        }))
    }

    fn voice_c(status: &str) -> CaptureState {
        let mut c = voice_b(status);
        c.raw_content = "voice/2.m4a".into();
        c
    }

    fn stage_c(ordinal: usize) -> Operation {
        Operation::Stage {
            ordinal,
            source: Source::Voice,
            content: "voice/2.m4a".into(),
            channel: None,
            channel_native_id: None,
        }
    }

    #[test]
    fn a_failure_with_unknown_outcome_may_be_present_or_absent_but_never_half() {
        let mut execution = all_acknowledged();
        execution.records[2] = unknown("sqlite");
        let done = good_snapshot();
        let not_done = snapshot(vec![
            ("A", email_a("transcribed", &[])),
            ("B", voice_b("failed_transcription")),
        ]);
        let half = snapshot(vec![
            ("A", email_a("exported", &[])),
            ("B", voice_b("failed_transcription")),
        ]);
        assert_eq!(failing(&evidence(&execution, done.clone())), []);
        assert_eq!(failing(&evidence(&execution, not_done)), []);
        let e = evidence(&execution, half);
        assert!(
            failing(&e).contains(&CheckName::NoPartial),
            "{:?}",
            failing(&e)
        );
        assert!(failing(&e).contains(&CheckName::PrefixConsistent));
        let mut known = all_acknowledged();
        known.records[2] = err("sqlite");
        assert!(
            failing(&evidence(&known, done)).contains(&CheckName::NoPartial),
            "the same trace after an error whose outcome is known is a partial write"
        );
    }

    #[test]
    fn a_later_acknowledged_answer_proves_an_ambiguous_commit_landed() {
        let mut execution = all_acknowledged();
        execution.records[1] = unknown("sqlite");
        assert_eq!(
            failing(&evidence(&execution, good_snapshot())),
            [],
            "the acknowledged export shows the ambiguous transcription landed"
        );
        let mut refused = all_acknowledged();
        refused.records[1] = unknown("sqlite");
        refused.operations.insert(
            2,
            Operation::Transcribe {
                capture: 0,
                transcript: "hello".into(),
            },
        );
        refused.records.insert(2, err("illegal_transition"));
        assert_eq!(
            failing(&evidence(&refused, good_snapshot())),
            [],
            "refusing the transcription again shows the first one landed"
        );
        let mut blind = all_acknowledged();
        blind.operations.insert(
            2,
            Operation::Transcribe {
                capture: 0,
                transcript: "hello".into(),
            },
        );
        blind.records.insert(2, err("illegal_transition"));
        blind.records[1] = err("illegal_transition");
        assert!(
            failing(&evidence(&blind, good_snapshot())).contains(&CheckName::StateMachine),
            "without an ambiguous commit before it, the refusal is an anomaly"
        );
    }

    #[test]
    fn a_maybe_applied_change_overwritten_by_a_later_acknowledged_write_is_lost_data() {
        let mut execution = all_acknowledged();
        execution.operations.truncate(4);
        execution.records.truncate(4);
        execution.operations.push(Operation::Transcribe {
            capture: 1,
            transcript: "hi".into(),
        });
        execution.records.push(unknown("sqlite"));
        execution.operations.push(Operation::FailTranscription {
            capture: 1,
            message: "timeout".into(),
        });
        execution.records.push(ok(OpValue::Done));
        assert_eq!(failing(&evidence(&execution, good_snapshot())), []);
        let mut transcribed = voice_b("transcribed");
        transcribed.content_hash = Some(ledger::content_hash("hi"));
        let stale = snapshot(vec![
            ("A", email_a("exported", &["initial"])),
            ("B", transcribed),
        ]);
        let e = evidence(&execution, stale);
        assert!(failing(&e).contains(&CheckName::AcknowledgedDurable));
        assert_eq!(e.lost_acknowledged(), 1);
    }

    #[test]
    fn each_maybe_applied_stage_explains_at_most_one_new_capture() {
        let mut execution = all_acknowledged();
        execution.operations.insert(4, stage_c(2));
        execution.records.insert(4, unknown("sqlite"));
        execution.operations.push(stage_c(3));
        execution.records.push(OpRecord::InFlight);
        let mut both = good_snapshot();
        for id in ["C1", "C2"] {
            both.creation_order.push(id.into());
            both.captures.insert(id.into(), voice_c("staged"));
        }
        let e = evidence(&execution, both.clone());
        assert_eq!(failing(&e), [], "{:?}", CheckName::ALL.map(|c| e.check(c)));
        let mut three = both;
        three.creation_order.push("C3".into());
        three.captures.insert("C3".into(), voice_c("staged"));
        let e = evidence(&execution, three);
        assert!(failing(&e).contains(&CheckName::NoPartial));
        assert!(failing(&e).contains(&CheckName::PrefixConsistent));
    }

    #[test]
    fn a_maybe_applied_effect_is_not_part_of_a_prefix_before_its_attempt() {
        let mut execution = all_acknowledged();
        execution.operations.push(stage_c(2));
        execution.records.push(unknown("sqlite"));
        let mut late = snapshot(vec![
            ("A", email_a("exported", &["initial"])),
            ("B", voice_b("failed_transcription")),
        ]);
        late.creation_order.push("C".into());
        late.captures.insert("C".into(), voice_c("staged"));
        assert!(
            evidence(&execution, late)
                .check(CheckName::PrefixConsistent)
                .passed
        );
        let mut early = snapshot(vec![("A", email_a("staged", &[]))]);
        early.creation_order.push("C".into());
        early.captures.insert("C".into(), voice_c("staged"));
        let e = evidence(&execution, early);
        assert!(!e.check(CheckName::PrefixConsistent).passed);
        assert!(!e.check(CheckName::AcknowledgedDurable).passed);
    }

    #[test]
    fn prefix_consistent_holds_for_a_lost_suffix_but_not_for_a_hole() {
        let suffix_lost = snapshot(vec![("A", email_a("exported", &["initial"]))]);
        let e = evidence(&all_acknowledged(), suffix_lost);
        assert!(e.check(CheckName::PrefixConsistent).passed);
        assert!(!e.check(CheckName::AcknowledgedDurable).passed);
        let hole = snapshot(vec![
            ("A", email_a("transcribed", &[])),
            ("B", voice_b("failed_transcription")),
        ]);
        let e = evidence(&all_acknowledged(), hole);
        assert!(!e.check(CheckName::PrefixConsistent).passed);
    }

    #[test]
    fn recovery_complete_fails_when_the_query_misses_a_capture_or_resuming_fails() {
        let mut e = evidence(&all_acknowledged(), good_snapshot());
        e.recovery.recoverable = Ok(Vec::new());
        assert_eq!(failing(&e), [CheckName::RecoveryComplete]);
        assert!(
            e.check(CheckName::RecoveryComplete)
                .detail
                .contains("missed")
        );
        let mut e = evidence(&all_acknowledged(), good_snapshot());
        e.recovery.left_after_resume = vec!["B".into()];
        assert_eq!(failing(&e), [CheckName::RecoveryComplete]);
    }

    #[test]
    fn an_unreadable_database_fails_every_check() {
        let mut e = evidence(&all_acknowledged(), good_snapshot());
        e.snapshot = Err("file is not a database".into());
        assert_eq!(failing(&e), CheckName::ALL[..7]);
        assert!(
            !e.check(CheckName::CorruptionAccounted).passed,
            "no corruption evidence, nothing on disk intact"
        );
        assert_eq!(
            e.lost_acknowledged(),
            5,
            "every acknowledged write counts as lost"
        );
    }

    #[test]
    fn a_partial_read_is_unreadable_to_content_checks_but_not_to_the_error_log() {
        let mut s = good_snapshot();
        s.unreadable
            .insert(Part::Captures, "database disk image is malformed".into());
        let e = evidence(&all_acknowledged(), s.clone());
        assert_eq!(failing(&e), CheckName::ALL[..7]);
        assert_eq!(e.lost_acknowledged(), 5);
        assert!(e.check(CheckName::FaultsObservable).passed);
        s.unreadable
            .insert(Part::ErrorsLog, "database disk image is malformed".into());
        let mut e = evidence(&all_acknowledged(), s);
        assert!(!e.check(CheckName::FaultsObservable).passed);
        e.reopen = Err(ReopenRefusal {
            kind: "corrupt".into(),
            message: "the schema does not parse".into(),
        });
        assert!(
            e.check(CheckName::FaultsObservable).passed,
            "a log that does not read, of a database the ledger refused: judged by the refusal"
        );
    }

    #[test]
    fn faults_observable_judges_an_unopenable_database_by_the_opens_refusal() {
        let mut e = evidence(&all_acknowledged(), good_snapshot());
        assert!(e.check(CheckName::FaultsObservable).passed);
        e.snapshot = Err("file is not a database".into());
        assert!(
            !e.check(CheckName::FaultsObservable).passed,
            "unreadable, yet the ledger reopened: nothing to judge by"
        );
        e.reopen = Err(ReopenRefusal {
            kind: "corrupt".into(),
            message: "page 1 fails its checksum".into(),
        });
        let verdict = e.check(CheckName::FaultsObservable);
        assert!(verdict.passed, "{}", verdict.detail);
        if let Err(refusal) = &mut e.reopen {
            refusal.kind = "open".into();
        }
        assert!(
            !e.check(CheckName::FaultsObservable).passed,
            "an untyped refusal hides the damage"
        );
        if let Err(refusal) = &mut e.reopen {
            refusal.kind = "corrupt".into();
        }
        e.surfaced.per_operation.insert(
            "stage".into(),
            super::super::observable::SurfacedCount {
                surfaced: 1,
                before_an_acknowledged_write: 1,
            },
        );
        let verdict = e.check(CheckName::FaultsObservable);
        assert!(
            !verdict.passed && verdict.detail.contains("errors_log cannot be read"),
            "a logged error owed cannot be shown: {}",
            verdict.detail
        );
    }
}
