//! [`AckModel`]: the state the ledger must be in, built from what it acknowledged.
//!
//! Time `t` counts acknowledged writes: the model knows every capture's state after each prefix
//! of them. The operation in flight at a crash (started, never answered) adds one more instant
//! in which its effect may or may not be present. Acknowledged answers that contradict the state
//! machine (an illegal transition accepted, a legal one refused) are recorded as anomalies.

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
    /// The in-flight operation's possible effect, applied at instant `acknowledged_writes + 1`.
    in_flight: Option<InFlightEffect>,
    /// Acknowledged answers that contradict the state machine or the model.
    anomalies: Vec<String>,
    /// Operations that returned `Ok`.
    acknowledged: usize,
}

/// What the in-flight operation may have done.
#[derive(Debug, Clone, PartialEq, Eq)]
enum InFlightEffect {
    /// A capture with an id nobody saw yet may exist in this state.
    NewCapture(CaptureState),
    /// This capture may be in this new state.
    Change(String, CaptureState),
    /// Any terminal capture may be gone.
    Prune,
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
                OpRecord::InFlight => model.in_flight = model.in_flight_effect(op, &ids),
                OpRecord::Finished(outcome) => {
                    if outcome.is_ok() {
                        model.acknowledged += 1;
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

    /// True when an operation was in flight at the crash.
    pub fn has_in_flight(&self) -> bool {
        self.in_flight.is_some()
    }

    /// The last instant: every acknowledged write applied, plus the in-flight one if any.
    pub fn last_instant(&self) -> usize {
        self.acknowledged_writes + usize::from(self.in_flight.is_some())
    }

    /// The instant at which every acknowledged write is applied.
    pub fn acknowledged_instant(&self) -> usize {
        self.acknowledged_writes
    }

    /// Ids of every capture the model knows.
    pub fn capture_ids(&self) -> impl Iterator<Item = &String> {
        self.versions.keys()
    }

    /// States capture `id` may be in at instant `t` (absent = `None`).
    pub fn states_at(&self, id: &str, t: usize) -> Vec<Option<CaptureState>> {
        let known = self.versions.get(id).map(|versions| {
            versions
                .iter()
                .rev()
                .find(|(from, _)| *from <= t.min(self.acknowledged_writes))
                .and_then(|(_, s)| s.clone())
        });
        let base = known.flatten();
        let mut states = vec![base.clone()];
        if t > self.acknowledged_writes {
            match &self.in_flight {
                Some(InFlightEffect::Change(changed, state)) if changed == id => {
                    states.push(Some(state.clone()))
                }
                Some(InFlightEffect::Prune)
                    if base
                        .as_ref()
                        .and_then(CaptureState::status)
                        .is_some_and(Status::is_terminal) =>
                {
                    states.push(None)
                }
                _ => {}
            }
        }
        states
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

    /// True when `state` could be the in-flight stage's new capture.
    pub fn matches_in_flight_stage(&self, state: &CaptureState) -> bool {
        matches!(&self.in_flight, Some(InFlightEffect::NewCapture(s)) if s == state)
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
        let expected = self.expected_error(op, ids);
        let value = match outcome {
            OpOutcome::Err(e) => {
                if expected.is_none()
                    && matches!(e.kind.as_str(), "not_found" | "illegal_transition")
                {
                    self.anomalies.push(format!(
                        "op {index} ({}) refused a legal operation: {}",
                        op.describe(),
                        e.message
                    ));
                }
                return;
            }
            OpOutcome::Ok(value) => value,
        };
        if let Some(reason) = expected {
            self.anomalies.push(format!(
                "op {index} ({}) was acknowledged but {reason}",
                op.describe()
            ));
            return;
        }
        if op.is_read_only() {
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
            (Operation::Prune { .. }, OpValue::Pruned(pruned)) => {
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

    fn in_flight_effect(&self, op: &Operation, ids: &CaptureIds) -> Option<InFlightEffect> {
        match op {
            Operation::Stage {
                source, content, ..
            } => Some(InFlightEffect::NewCapture(CaptureState::staged(
                *source, content,
            ))),
            Operation::Prune { .. } => Some(InFlightEffect::Prune),
            op if op.is_read_only() => None,
            op => {
                if self.expected_error(op, ids).is_some() {
                    return None;
                }
                self.change(op, ids)
                    .map(|(id, state)| InFlightEffect::Change(id, state))
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
