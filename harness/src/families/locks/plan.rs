//! Lock contention: [`LockContention`], several writers on one database, optionally with a lock
//! holder stopped by `SIGSTOP` and a long reader holding a snapshot while checkpoints run.
//!
//! What the ledger must survive: writers that are separate processes (the same binary
//! re-executed) or threads of one process, each with its own connection, all writing at once;
//! a process that holds the write lock and is stopped, then resumed; a read transaction that
//! stays open while writers commit and checkpoints run (the WAL grows and cannot be reset).
//! Every acknowledged write of every writer must be present exactly once, nothing partial may
//! be visible, and, while every holder releases within what the scenario says the ledger must
//! absorb, no operation may surface `SQLITE_BUSY`/`SQLITE_LOCKED` and every writer must finish
//! (check `contention_absorbed`). Past that, a writer may give up, but only with the ledger's
//! typed `lock_timeout` error, never a hang.
//!
//! Each writer runs its own seeded capture-pipeline plan over its own captures (contents and
//! channel ids carry the writer's number, so no capture is shared and the model stays exact
//! whatever order the commits happen in); reads and prunes are left out of writer plans,
//! because their answers depend on the other writers' progress. The plans are concatenated
//! into the iteration's plan, so the supervisor's model holds every writer's acknowledged ops.

use std::ops::Range;

use serde::{Deserialize, Serialize};

use crate::scenario::WorkloadSpec;
use crate::workload::{Operation, generate};

/// Several writers on one database, and what else holds locks meanwhile.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case", deny_unknown_fields)]
pub struct LockContention {
    /// Number of writers; each runs `workload.operations` generated operations (fewer after
    /// reads and prunes are left out).
    pub writers: usize,
    /// Writers as processes (default) or as threads of the drive worker.
    #[serde(default)]
    pub writer_kind: WriterKind,
    /// A process takes the write lock, is stopped with `SIGSTOP` before the writers start, and
    /// is resumed with `SIGCONT` after `stop-ms`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub stopped_holder: Option<StoppedHolder>,
    /// A read transaction held open for the whole run while a checkpointer runs.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub long_reader: Option<LongReader>,
    /// What the ledger must do with the contention: absorb it (default) or give up cleanly.
    #[serde(default)]
    pub expect: LockExpectation,
    /// Milliseconds within which every writer must have finished its plan; past it the writer
    /// is hung (a deadlock or a wait without a deadline).
    #[serde(default = "default_writer_bound_ms")]
    pub writer_bound_ms: u64,
}

fn default_writer_bound_ms() -> u64 {
    20_000
}

/// How writers run.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum WriterKind {
    /// One process per writer (`__worker lock-writer`), each with its own ledger.
    #[default]
    Processes,
    /// One thread per writer in the drive worker, each with its own ledger (connection).
    Threads,
}

/// A lock holder stopped while it holds the write lock.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case", deny_unknown_fields)]
pub struct StoppedHolder {
    /// Milliseconds between `SIGSTOP` and `SIGCONT`.
    pub stop_ms: u64,
}

/// A long read transaction with checkpoints running beside it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case", deny_unknown_fields)]
pub struct LongReader {
    /// Milliseconds between the checkpointer's `wal_checkpoint(PASSIVE)` calls.
    #[serde(default = "default_checkpoint_every_ms")]
    pub checkpoint_every_ms: u64,
}

fn default_checkpoint_every_ms() -> u64 {
    10
}

/// What `contention_absorbed` requires of lock errors.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum LockExpectation {
    /// Every holder releases within the ledger's busy and retry budget: no operation may
    /// surface a busy or locked error.
    #[default]
    Absorbed,
    /// A holder keeps the lock past the budget: operations may fail, but only with the
    /// ledger's typed `lock_timeout` error.
    CleanBusy,
}

impl LockContention {
    /// Checks what serde cannot.
    ///
    /// # Errors
    /// A message naming the bad field.
    pub fn validate(&self) -> Result<(), String> {
        if !(1..=16).contains(&self.writers) {
            return Err("lock-contention `writers` must be between 1 and 16".into());
        }
        if self.writer_bound_ms == 0 {
            return Err("lock-contention `writer-bound-ms` must be at least 1".into());
        }
        if self
            .long_reader
            .as_ref()
            .is_some_and(|r| r.checkpoint_every_ms == 0)
        {
            return Err(
                "lock-contention `long-reader.checkpoint-every-ms` must be at least 1".into(),
            );
        }
        Ok(())
    }

    /// Each writer's plan, ordinals already shifted so that the plans concatenate into the
    /// iteration's plan.
    pub fn writer_plans(&self, spec: &WorkloadSpec, seed: u64) -> Vec<Vec<Operation>> {
        let mut offset = 0;
        (0..self.writers)
            .map(|writer| {
                let plan = writer_plan(spec, writer_seed(seed, writer), writer, offset);
                offset += plan
                    .iter()
                    .filter(|op| matches!(op, Operation::Stage { .. }))
                    .count();
                plan
            })
            .collect()
    }

    /// The iteration's plan: every writer's plan, one after the other.
    pub fn plan(&self, spec: &WorkloadSpec, seed: u64) -> Vec<Operation> {
        self.writer_plans(spec, seed).concat()
    }

    /// Where each writer's operations sit in the iteration's plan.
    pub fn writer_ranges(&self, spec: &WorkloadSpec, seed: u64) -> Vec<Range<usize>> {
        let mut start = 0;
        self.writer_plans(spec, seed)
            .iter()
            .map(|plan| {
                let range = start..start + plan.len();
                start = range.end;
                range
            })
            .collect()
    }
}

/// Writer `writer`'s seed, derived from the iteration's.
pub fn writer_seed(seed: u64, writer: usize) -> u64 {
    seed ^ (writer as u64 + 1).wrapping_mul(0x9e37_79b9_7f4a_7c15)
}

/// One writer's generated plan without reads and prunes, its captures made its own.
fn writer_plan(spec: &WorkloadSpec, seed: u64, writer: usize, offset: usize) -> Vec<Operation> {
    let mine = |text: &str| format!("w{writer}:{text}");
    generate(spec, seed)
        .into_iter()
        .filter(|op| !op.is_read_only() && !matches!(op, Operation::Prune { .. }))
        .map(|op| match op {
            Operation::Stage {
                ordinal,
                source,
                content,
                channel,
                channel_native_id,
            } => Operation::Stage {
                ordinal: ordinal + offset,
                source,
                content: mine(&content),
                channel,
                channel_native_id: channel_native_id.as_deref().map(mine),
            },
            Operation::Transcribe {
                capture,
                transcript,
            } => Operation::Transcribe {
                capture: capture + offset,
                transcript: mine(&transcript),
            },
            Operation::FailTranscription { capture, message } => Operation::FailTranscription {
                capture: capture + offset,
                message,
            },
            Operation::Export { capture, mode } => Operation::Export {
                capture: capture + offset,
                mode,
            },
            other => other,
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn plan(writers: usize) -> LockContention {
        LockContention {
            writers,
            writer_kind: WriterKind::Processes,
            stopped_holder: None,
            long_reader: None,
            expect: LockExpectation::Absorbed,
            writer_bound_ms: 1000,
        }
    }

    #[test]
    fn writer_plans_are_disjoint_and_concatenate() {
        let spec = WorkloadSpec {
            operations: 40,
            ..WorkloadSpec::default()
        };
        let locks = plan(3);
        let plans = locks.writer_plans(&spec, 7);
        let ranges = locks.writer_ranges(&spec, 7);
        assert_eq!(locks.plan(&spec, 7), plans.concat());
        assert_eq!(ranges.len(), 3);
        assert_eq!(ranges[2].end, plans.iter().map(Vec::len).sum::<usize>());
        let mut ordinals = Vec::new();
        for (writer, ops) in plans.iter().enumerate() {
            assert!(ops.iter().all(|op| !op.is_read_only()));
            for op in ops {
                if let Operation::Stage {
                    ordinal, content, ..
                } = op
                {
                    assert!(content.starts_with(&format!("w{writer}:")));
                    ordinals.push(*ordinal);
                }
            }
        }
        let expected: Vec<usize> = (0..ordinals.len()).collect();
        assert_eq!(ordinals, expected, "stage ordinals run on across writers");
    }

    #[test]
    fn bad_sizes_are_refused() {
        assert!(plan(0).validate().is_err());
        assert!(plan(17).validate().is_err());
        assert!(plan(4).validate().is_ok());
    }
}
