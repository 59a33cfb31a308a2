//! In-process counters and latency histograms per operation: [`Recorder`].

use std::time::Duration;

use serde::{Deserialize, Serialize};

use super::histogram::Histogram;

/// A ledger operation that is measured.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Operation {
    /// [`crate::Ledger::stage`].
    Stage,
    /// [`crate::Ledger::record_transcription`].
    RecordTranscription,
    /// [`crate::Ledger::mark_transcription_failed`].
    MarkTranscriptionFailed,
    /// [`crate::Ledger::record_export`].
    RecordExport,
    /// [`crate::Ledger::prune_exported_older_than`] and retention pruning.
    Prune,
    /// [`crate::Ledger::find_duplicate`].
    FindDuplicate,
    /// [`crate::Ledger::capture`].
    Capture,
    /// [`crate::Ledger::pending_exports`].
    PendingExports,
    /// [`crate::Ledger::recoverable_captures`].
    RecoverableCaptures,
    /// [`crate::Ledger::recovery_queue`].
    RecoveryQueue,
}

impl Operation {
    /// Every measured operation.
    pub const ALL: [Operation; 10] = [
        Operation::Stage,
        Operation::RecordTranscription,
        Operation::MarkTranscriptionFailed,
        Operation::RecordExport,
        Operation::Prune,
        Operation::FindDuplicate,
        Operation::Capture,
        Operation::PendingExports,
        Operation::RecoverableCaptures,
        Operation::RecoveryQueue,
    ];

    /// The stable name used in metrics, logs and `sync_state` keys.
    pub fn as_str(self) -> &'static str {
        match self {
            Operation::Stage => "stage",
            Operation::RecordTranscription => "record_transcription",
            Operation::MarkTranscriptionFailed => "mark_transcription_failed",
            Operation::RecordExport => "record_export",
            Operation::Prune => "prune",
            Operation::FindDuplicate => "find_duplicate",
            Operation::Capture => "capture",
            Operation::PendingExports => "pending_exports",
            Operation::RecoverableCaptures => "recoverable_captures",
            Operation::RecoveryQueue => "recovery_queue",
        }
    }

    fn index(self) -> usize {
        self as usize
    }
}

/// Counters and latencies of one operation.
#[derive(Debug, Clone, Default)]
pub struct OperationStats {
    /// Calls that returned `Ok`.
    pub ok: u64,
    /// Calls that returned `Err`.
    pub errors: u64,
    /// Extra attempts made by the retry loop.
    pub retries: u64,
    /// Latency of each call, retries and backoff included.
    pub latency: Histogram,
}

/// Everything measured in this process since the ledger was opened.
#[derive(Debug, Clone, Default)]
pub struct Recorder {
    operations: [OperationStats; Operation::ALL.len()],
}

impl Recorder {
    /// Record one call of `operation`: its outcome, retries and latency.
    pub fn record(&mut self, operation: Operation, ok: bool, retries: u32, latency: Duration) {
        let stats = &mut self.operations[operation.index()];
        if ok {
            stats.ok += 1;
        } else {
            stats.errors += 1;
        }
        stats.retries += u64::from(retries);
        stats.latency.record(latency);
    }

    /// The stats of one operation.
    pub fn operation(&self, operation: Operation) -> &OperationStats {
        &self.operations[operation.index()]
    }

    /// Retries of every operation together.
    pub fn total_retries(&self) -> u64 {
        self.operations.iter().map(|stats| stats.retries).sum()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn records_outcomes_retries_and_latency_per_operation() {
        let mut recorder = Recorder::default();
        recorder.record(Operation::Stage, true, 0, Duration::from_micros(100));
        recorder.record(Operation::Stage, false, 2, Duration::from_micros(300));
        recorder.record(Operation::RecordExport, true, 1, Duration::from_micros(50));
        let stage = recorder.operation(Operation::Stage);
        assert_eq!((stage.ok, stage.errors, stage.retries), (1, 1, 2));
        assert_eq!(stage.latency.summary().max_us, 300);
        assert_eq!(recorder.total_retries(), 3);
        assert_eq!(recorder.operation(Operation::Capture).latency.count(), 0);
    }

    #[test]
    fn names_are_unique() {
        let mut names: Vec<_> = Operation::ALL.iter().map(|op| op.as_str()).collect();
        names.sort_unstable();
        names.dedup();
        assert_eq!(names.len(), Operation::ALL.len());
        for (index, op) in Operation::ALL.iter().enumerate() {
            assert_eq!(op.index(), index);
        }
    }
}
