//! [`Trace`]: what one iteration did, in order (operations, their results, fault events), and
//! its digest.
//!
//! The digest hashes a canonical JSON rendering of the events, never timings, so the same seed
//! gives the same digest wherever the fault is deterministic.

use reports::results::{TimelineEntry, TimelineKind};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::oracle::{Execution, OpRecord};
use crate::workload::{OpError, OpOutcome};

/// One event of an iteration.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum TraceEvent {
    /// An operation and what it returned (or that it was in flight, or never ran).
    Operation {
        /// Index in the plan.
        index: usize,
        /// One-line description of the operation.
        operation: String,
        /// What happened to it.
        record: OpRecord,
    },
    /// A fault the harness injected.
    Fault {
        /// Index of the operation during which it happened, if any.
        during_operation: Option<usize>,
        /// What was injected.
        description: String,
    },
}

/// The ordered events of one iteration.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Trace {
    /// Events in order.
    pub events: Vec<TraceEvent>,
}

impl Trace {
    /// Builds the trace from an execution and the fault events (already placed by operation).
    pub fn new(execution: &Execution, faults: &[(Option<usize>, String)]) -> Trace {
        let mut events = Vec::new();
        for (index, (op, record)) in execution
            .operations
            .iter()
            .zip(&execution.records)
            .enumerate()
        {
            if matches!(record, OpRecord::NotStarted) {
                continue;
            }
            events.push(TraceEvent::Operation {
                index,
                operation: op.describe(),
                record: record.clone(),
            });
            for (_, description) in faults.iter().filter(|(during, _)| *during == Some(index)) {
                events.push(TraceEvent::Fault {
                    during_operation: Some(index),
                    description: description.clone(),
                });
            }
        }
        for (_, description) in faults.iter().filter(|(during, _)| during.is_none()) {
            events.push(TraceEvent::Fault {
                during_operation: None,
                description: description.clone(),
            });
        }
        Trace { events }
    }

    /// The events with what legitimately varies between equal runs removed: error messages
    /// (which may carry timings, such as how long a lock was waited for) are blanked; the
    /// error's kind, SQLite code and whether its outcome is unknown stay.
    pub fn canonical_events(&self) -> Vec<TraceEvent> {
        self.events
            .iter()
            .map(|event| match event {
                TraceEvent::Operation {
                    index,
                    operation,
                    record: OpRecord::Finished(OpOutcome::Err(e)),
                } => TraceEvent::Operation {
                    index: *index,
                    operation: operation.clone(),
                    record: OpRecord::Finished(OpOutcome::Err(OpError {
                        message: String::new(),
                        ..e.clone()
                    })),
                },
                other => other.clone(),
            })
            .collect()
    }

    /// Hex SHA-256 of the canonical event list (first 16 bytes).
    pub fn digest(&self) -> String {
        let mut hasher = Sha256::new();
        for event in &self.canonical_events() {
            hasher.update(serde_json::to_vec(event).expect("trace events serialise"));
            hasher.update(b"\n");
        }
        hasher.finalize()[..16]
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect()
    }

    /// Number of fault events.
    pub fn fault_count(&self) -> usize {
        self.events
            .iter()
            .filter(|e| matches!(e, TraceEvent::Fault { .. }))
            .count()
    }

    /// The trace as the reports show it.
    pub fn timeline(&self) -> Vec<TimelineEntry> {
        self.events
            .iter()
            .map(|event| match event {
                TraceEvent::Operation {
                    index,
                    operation,
                    record,
                } => {
                    let (kind, outcome) = match record {
                        OpRecord::NotStarted => (TimelineKind::Failed, "not started".to_owned()),
                        OpRecord::InFlight => {
                            (TimelineKind::InFlight, "in flight (no answer)".to_owned())
                        }
                        OpRecord::Finished(o) if o.is_ok() => {
                            (TimelineKind::Acknowledged, o.describe())
                        }
                        OpRecord::Finished(o) => (TimelineKind::Failed, o.describe()),
                    };
                    TimelineEntry {
                        operation: Some(*index as u64),
                        kind,
                        text: operation.clone(),
                        outcome,
                    }
                }
                TraceEvent::Fault {
                    during_operation,
                    description,
                } => TimelineEntry {
                    operation: during_operation.map(|i| i as u64),
                    kind: TimelineKind::Fault,
                    text: description.clone(),
                    outcome: String::new(),
                },
            })
            .collect()
    }

    /// Human-readable lines, one per event.
    pub fn render(&self) -> String {
        let mut out = String::new();
        for event in &self.events {
            match event {
                TraceEvent::Operation {
                    index,
                    operation,
                    record,
                } => {
                    let result = match record {
                        OpRecord::NotStarted => "not started".to_owned(),
                        OpRecord::InFlight => "IN FLIGHT (no answer)".to_owned(),
                        OpRecord::Finished(outcome) => outcome.describe(),
                    };
                    out.push_str(&format!("{index:>4}  {operation:<48} -> {result}\n"));
                }
                TraceEvent::Fault { description, .. } => {
                    out.push_str(&format!("      !! {description}\n"))
                }
            }
        }
        out
    }
}
