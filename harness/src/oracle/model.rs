//! [`AckModel`]: the state the ledger must be in, built from what it acknowledged.
//!
//! Time `t` counts acknowledged writes: the model knows every capture's state after each prefix
//! of them. Operations whose outcome is unknown (the one in flight at a crash, started and never
//! answered; and errors the ledger flags as possibly committed, such as a failed `COMMIT` whose
//! frames may already be in the WAL) are *maybe-applied*: each is anchored at the instant it was
//! attempted, and from then on its effect may or may not be present. Acknowledged answers that contradict the state
//! machine (an illegal transition accepted, a legal one refused) are recorded as anomalies.

mod reads;

use std::collections::BTreeMap;

use ledger::{ExportMode, Source, Status};
use serde::{Deserialize, Serialize};

use crate::workload::{CaptureIds, OpOutcome, OpValue, Operation};

/// What happened to one planned operation, as the supervisor saw it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum OpRecord {
    /// Never started (the worker died or stopped earlier).
    NotStarted,
    /// Started, never answered: in flight when the worker died.
    InFlight,
    /// Answered.
    Finished(OpOutcome),
}

/// A workload plan with what each operation did.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Execution {
    /// The plan.
    pub operations: Vec<Operation>,
    /// One record per planned operation.
    pub records: Vec<OpRecord>,
}

/// A capture as the oracle compares it: everything the ledger must keep exactly.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
pub struct CaptureState {
    /// `voice` or `email` as stored.
    pub source: String,
    /// Email body or audio reference.
    pub raw_content: String,
    /// Status as stored (may be an illegal string in a broken database).
    pub status: String,
    /// Content hash, if set.
    pub content_hash: Option<String>,
    /// Modes of the capture's audit rows, sorted.
    pub audit: Vec<String>,
}

impl CaptureState {
    fn staged(source: Source, content: &str) -> CaptureState {
        CaptureState {
            source: source.as_str().to_owned(),
            raw_content: content.to_owned(),
            status: Status::Staged.as_str().to_owned(),
            content_hash: (source == Source::Email).then(|| ledger::content_hash(content)),
            audit: Vec::new(),
        }
    }

    fn status(&self) -> Option<Status> {
        Status::parse(&self.status)
    }
}

/// The model: per capture, its state at each instant, plus anomalies.
#[derive(Debug, Clone, Default)]
pub struct AckModel {
    /// Per capture id: (first instant, state from then on; `None` = absent).
    versions: BTreeMap<String, Vec<(usize, Option<CaptureState>)>>,
    /// Acknowledged writes applied: instants run 0..=acknowledged_writes.
    acknowledged_writes: usize,
    /// Effects of operations whose outcome is unknown (in flight at a crash, or an error the
    /// ledger flagged as possibly committed), each anchored at the instant it was attempted.
    maybe: Vec<MaybeEffect>,
    /// Operations recorded as maybe-applied.
    maybe_ops: usize,
    /// Acknowledged answers that contradict the state machine or the model.
    anomalies: Vec<String>,
    /// Operations that returned `Ok`.
    acknowledged: usize,
    /// Read answers (`Ok`) that differed from the model at their point in the sequence.
    read_mismatches: Vec<String>,
    /// Reads compared with the model.
    reads_judged: usize,
    /// Reads not compared (made after a maybe-applied operation).
    reads_unjudged: usize,
}

/// What an operation with an unknown outcome may have done, attempted at instant `at` (after
/// `at` acknowledged writes).
#[derive(Debug, Clone, PartialEq, Eq)]
enum MaybeEffect {
    /// A capture with an id nobody saw may exist in this state from `at` on.
    NewCapture {
        /// The instant of the attempt.
        at: usize,
        /// The staged capture.
        state: CaptureState,
    },
    /// Capture `id` may have moved from `before` to `after` at `at`; visible at any later
    /// instant where no acknowledged write changed it since (`before` is still its state).
    Change {
        /// The instant of the attempt.
        at: usize,
        /// The capture.
        id: String,
        /// Its acknowledged state when the operation ran.
        before: Option<CaptureState>,
        /// Its state had the operation committed (`None` = pruned).
        after: Option<CaptureState>,
    },
}

impl AckModel {
    /// Replays an execution.
    pub fn build(execution: &Execution) -> AckModel {
        let mut model = AckModel::default();
        let mut ids = CaptureIds::default();
        for (index, (op, record)) in execution
            .operations
            .iter()
            .zip(&execution.records)
            .enumerate()
        {
            match record {
                OpRecord::NotStarted => {}
                OpRecord::InFlight => model.add_maybe(op, &ids),
                OpRecord::Finished(outcome) => {
                    if outcome.is_ok() {
                        model.acknowledged += 1;
                    }
                    if let OpOutcome::Err(e) = outcome
                        && e.outcome_unknown
                    {
                        model.add_maybe(op, &ids);
                    }
                    model.apply(index, op, outcome, &ids);
                    if let Operation::Stage { ordinal, .. } = op {
                        ids.record(*ordinal, outcome);
                    }
                }
            }
        }
        model
    }

    /// Operations that returned `Ok`.
    pub fn acknowledged(&self) -> usize {
        self.acknowledged
    }

    /// Acknowledged answers that contradict the state machine.
    pub fn anomalies(&self) -> &[String] {
        &self.anomalies
    }

    /// Number of operations whose effect may or may not be present (in flight at a crash, or
    /// failed with an unknown outcome).
    pub fn maybe_applied(&self) -> usize {
        self.maybe_ops
    }

    /// The instant at which every acknowledged write is applied (the last instant).
    pub fn acknowledged_instant(&self) -> usize {
        self.acknowledged_writes
    }

    /// Ids of every capture the model knows.
    pub fn capture_ids(&self) -> impl Iterator<Item = &String> {
        self.versions.keys()
    }

    /// The acknowledged state of capture `id` after the first `t` acknowledged writes.
    fn acknowledged_state(&self, id: &str, t: usize) -> Option<CaptureState> {
        self.versions
            .get(id)?
            .iter()
            .rev()
            .find(|(from, _)| *from <= t.min(self.acknowledged_writes))
            .and_then(|(_, s)| s.clone())
    }

    /// States capture `id` may be in at instant `t` (absent = `None`): its acknowledged state,
    /// or what a maybe-applied operation attempted by then would have made of it.
    pub fn states_at(&self, id: &str, t: usize) -> Vec<Option<CaptureState>> {
        let base = self.acknowledged_state(id, t);
        let mut states = vec![base.clone()];
        for m in &self.maybe {
            if let MaybeEffect::Change {
                at,
                id: changed,
                before,
                after,
            } = m
                && changed == id
                && *at <= t
                && *before == base
                && !states.contains(after)
            {
                states.push(after.clone());
            }
        }
        states
    }

    /// Whether the captures the model never acknowledged (`unknown`) can all be new captures of
    /// distinct maybe-applied stages attempted by instant `t`.
    pub fn unknown_captures_fit(&self, unknown: &[&CaptureState], t: usize) -> bool {
        let mut free: Vec<&CaptureState> = self
            .maybe
            .iter()
            .filter_map(|m| match m {
                MaybeEffect::NewCapture { at, state } if *at <= t => Some(state),
                _ => None,
            })
            .collect();
        unknown.iter().all(
            |found| match free.iter().position(|candidate| *candidate == *found) {
                Some(i) => {
                    free.swap_remove(i);
                    true
                }
                None => false,
            },
        )
    }

    /// True when `state` could be the new capture of some maybe-applied stage.
    pub fn matches_maybe_stage(&self, state: &CaptureState) -> bool {
        self.maybe
            .iter()
            .any(|m| matches!(m, MaybeEffect::NewCapture { state: s, .. } if s == state))
    }

    /// Index into the capture's acknowledged history of the version equal to `state`
    /// (0 = before it was staged), if any.
    pub fn version_index(&self, id: &str, state: Option<&CaptureState>) -> Option<usize> {
        let versions = self.versions.get(id)?;
        match versions.iter().rposition(|(_, s)| s.as_ref() == state) {
            Some(i) => Some(i + 1),
            None => state.is_none().then_some(0),
        }
    }

    /// Number of acknowledged versions of a capture (its acknowledged writes).
    pub fn version_count(&self, id: &str) -> usize {
        self.versions.get(id).map_or(0, Vec::len)
    }

    fn current(&self, id: &str) -> Option<&CaptureState> {
        self.versions
            .get(id)
            .and_then(|v| v.last())
            .and_then(|(_, s)| s.as_ref())
    }

    fn set(&mut self, id: &str, state: Option<CaptureState>) {
        self.versions
            .entry(id.to_owned())
            .or_default()
            .push((self.acknowledged_writes, state));
    }

    /// Applies one answered operation.
    fn apply(&mut self, index: usize, op: &Operation, outcome: &OpOutcome, ids: &CaptureIds) {
        let mut expected = self.expected_error(op, ids);
        let value = match outcome {
            OpOutcome::Err(e) => {
                if expected.is_none()
                    && matches!(e.kind.as_str(), "not_found" | "illegal_transition")
                    && !self
                        .resolve_landed(op, ids, |model| model.expected_error(op, ids).is_some())
                {
                    self.anomalies.push(format!(
                        "op {index} ({}) refused a legal operation: {}",
                        op.describe(),
                        e.message
                    ));
                }
                // A `corrupt` error quotes what the ledger's integrity check found, read
                // unverified (`CHECK constraint failed in exports_audit` for a row read wrong),
                // not a constraint the operation hit: `bit-flip-rollback-journal --seed 31337
                // --iteration 2836`.
                if e.kind != "corrupt" && e.message.contains("constraint failed") {
                    self.anomalies.push(format!(
                        "op {index} ({}) hit a constraint the ledger should have checked first \
                         (no fault excuses it): {}",
                        op.describe(),
                        e.message
                    ));
                }
                return;
            }
            OpOutcome::Ok(value) => value,
        };
        if expected.is_some()
            && self.resolve_landed(op, ids, |model| model.expected_error(op, ids).is_none())
        {
            expected = None;
        }
        if let Some(reason) = expected {
            self.anomalies.push(format!(
                "op {index} ({}) was acknowledged but {reason}",
                op.describe()
            ));
            return;
        }
        if op.is_read_only() {
            self.judge_read(index, op, value);
            return;
        }
        self.acknowledged_writes += 1;
        match (op, value) {
            (
                Operation::Stage {
                    source, content, ..
                },
                OpValue::Staged(id),
            ) => {
                if self.versions.contains_key(id) {
                    self.anomalies
                        .push(format!("op {index} staged id {id} twice"));
                }
                self.set(id, Some(CaptureState::staged(*source, content)));
            }
            (Operation::Stage { .. }, OpValue::Duplicate(id)) => {
                if self.current(id).is_none() {
                    self.anomalies.push(format!(
                        "op {index} reported a duplicate of {id}, which the model does not hold"
                    ));
                }
            }
            (Operation::Export { .. }, OpValue::AlreadyExported) => {}
            (Operation::Backup, OpValue::BackedUp { .. }) => {}
            (Operation::Prune { .. } | Operation::GuardedPrune { .. }, OpValue::Pruned(pruned)) => {
                for id in pruned {
                    match self.current(id).and_then(CaptureState::status) {
                        Some(s) if s.is_terminal() => self.set(id, None),
                        other => self.anomalies.push(format!(
                            "op {index} pruned {id}, which was {:?} in the model",
                            other
                        )),
                    }
                }
            }
            (_, OpValue::Done) => {
                if let Some((id, state)) = self.change(op, ids) {
                    self.set(&id, Some(state));
                }
            }
            (op, value) => self.anomalies.push(format!(
                "op {index} ({}) answered {value:?}, which it cannot",
                op.describe()
            )),
        }
    }

    /// Why the model expects `op` to fail, or `None` when it should succeed.
    fn expected_error(&self, op: &Operation, ids: &CaptureIds) -> Option<String> {
        let (id, target) = match op {
            Operation::Transcribe { capture, .. }
            | Operation::FailTranscription { capture, .. }
            | Operation::Export { capture, .. } => {
                let id = ids.resolve(*capture);
                let target = target_status(op);
                (id, target)
            }
            _ => return None,
        };
        let Some(current) = self.current(&id).and_then(CaptureState::status) else {
            return Some(format!("capture {id} does not exist in the model"));
        };
        let target = target.expect("state-changing operations have a target");
        if current == target && matches!(op, Operation::Export { .. }) {
            return None;
        }
        (!current.can_transition_to(target))
            .then(|| format!("{} -> {} is illegal", current.as_str(), target.as_str()))
    }

    /// The new state of the capture a successful state change touches.
    fn change(&self, op: &Operation, ids: &CaptureIds) -> Option<(String, CaptureState)> {
        let capture = match op {
            Operation::Transcribe { capture, .. }
            | Operation::FailTranscription { capture, .. }
            | Operation::Export { capture, .. } => *capture,
            _ => return None,
        };
        let id = ids.resolve(capture);
        let mut state = self.current(&id)?.clone();
        let target = target_status(op)?;
        if state.status().is_some_and(|s| s == target) {
            return None;
        }
        state.status = target.as_str().to_owned();
        match op {
            Operation::Transcribe { transcript, .. } if state.source == Source::Voice.as_str() => {
                state.content_hash = Some(ledger::content_hash(transcript));
            }
            Operation::Export { mode, .. } => state.audit = vec![mode.as_str().to_owned()],
            _ => {}
        }
        Some((id, state))
    }

    /// An answer that only a landed maybe-applied change explains proves it landed: when
    /// adopting the `after` state of such a change of `op`'s capture (attempted by now, its
    /// `before` still the capture's state) makes `explains` true, that state becomes the
    /// capture's acknowledged state from now on. E.g. a transcription whose `COMMIT` failed
    /// ambiguously, followed by an acknowledged export: the transcription landed.
    fn resolve_landed(
        &mut self,
        op: &Operation,
        ids: &CaptureIds,
        explains: impl Fn(&AckModel) -> bool,
    ) -> bool {
        let (Operation::Transcribe { capture, .. }
        | Operation::FailTranscription { capture, .. }
        | Operation::Export { capture, .. }) = op
        else {
            return false;
        };
        let id = ids.resolve(*capture);
        let current = self.current(&id).cloned();
        let now = self.acknowledged_writes;
        let landed: Vec<Option<CaptureState>> = self
            .maybe
            .iter()
            .filter_map(|m| match m {
                MaybeEffect::Change {
                    at,
                    id: changed,
                    before,
                    after,
                } if *changed == id && *at <= now && *before == current => Some(after.clone()),
                _ => None,
            })
            .collect();
        for after in landed {
            self.set(&id, after);
            if explains(self) {
                return true;
            }
            if let Some(versions) = self.versions.get_mut(&id) {
                versions.pop();
            }
        }
        false
    }

    /// Records what `op`, whose outcome is unknown, may have done at the current instant.
    fn add_maybe(&mut self, op: &Operation, ids: &CaptureIds) {
        let at = self.acknowledged_writes;
        self.maybe_ops += 1;
        match op {
            Operation::Stage {
                source, content, ..
            } => self.maybe.push(MaybeEffect::NewCapture {
                at,
                state: CaptureState::staged(*source, content),
            }),
            Operation::Prune { .. } | Operation::GuardedPrune { .. } => {
                let terminal: Vec<(String, CaptureState)> = self
                    .versions
                    .keys()
                    .filter_map(|id| {
                        let state = self.current(id)?;
                        state
                            .status()
                            .is_some_and(Status::is_terminal)
                            .then(|| (id.clone(), state.clone()))
                    })
                    .collect();
                for (id, state) in terminal {
                    self.maybe.push(MaybeEffect::Change {
                        at,
                        id,
                        before: Some(state),
                        after: None,
                    });
                }
            }
            op if op.is_read_only() => {}
            op => {
                if self.expected_error(op, ids).is_some() {
                    return;
                }
                if let Some((id, after)) = self.change(op, ids) {
                    let before = self.current(&id).cloned();
                    self.maybe.push(MaybeEffect::Change {
                        at,
                        id,
                        before,
                        after: Some(after),
                    });
                }
            }
        }
    }
}

/// The status a state-changing operation leads to.
fn target_status(op: &Operation) -> Option<Status> {
    Some(match op {
        Operation::Transcribe { .. } => Status::Transcribed,
        Operation::FailTranscription { .. } => Status::FailedTranscription,
        Operation::Export { mode, .. } => match mode {
            ExportMode::Initial => Status::Exported,
            ExportMode::Placeholder => Status::ExportedPlaceholder,
            ExportMode::DuplicateSkip => Status::ExportedDuplicate,
        },
        _ => return None,
    })
}
