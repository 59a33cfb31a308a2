//! What a drive through the fault VFS counts for `faults_observable`, next to the ledger's own
//! figures read at the same moment: [`RetryWatch`] (retries, busy answers) and
//! [`LatencyTally`] (delayed calls per operation, health's regression alerts).

use std::collections::BTreeMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use ledger::Ledger;

use super::vfs::{FaultEventKind, FaultVfs, IoOp};
use crate::oracle::DriveCounters;
use crate::oracle::latency::{BaselineSeen, DelayedCalls, LatencySeen};
use crate::oracle::observable::ledger_operation;
use crate::workload::Operation;

/// Counts the ledger's retries as they happen, through its retry observation point
/// (`ledger::failpoint::RETRY_AGAIN`), for one pass.
pub(crate) struct RetryWatch {
    seen: Arc<AtomicU64>,
}

impl RetryWatch {
    /// Starts counting (replacing whatever the point was configured with).
    pub(crate) fn start() -> RetryWatch {
        let seen = Arc::new(AtomicU64::new(0));
        let counter = Arc::clone(&seen);
        fail::cfg_callback(ledger::failpoint::RETRY_AGAIN, move || {
            counter.fetch_add(1, Ordering::Relaxed);
        })
        .expect("a callback is a valid fail point action");
        RetryWatch { seen }
    }

    /// Stops counting; the retries seen.
    pub(crate) fn stop(self) -> u64 {
        fail::remove(ledger::failpoint::RETRY_AGAIN);
        self.seen.load(Ordering::Relaxed)
    }

    /// Stops counting; what was seen next to the ledger's counters, read at the same moment,
    /// the lock calls the VFS answered busy so far, and the injected latency with health's
    /// regression alerts.
    pub(crate) fn finish(
        self,
        ledger: &Ledger,
        vfs: &FaultVfs,
        latency: LatencyTally,
    ) -> DriveCounters {
        let waits = ledger.lock_waits();
        let busy_answers = vfs
            .events()
            .iter()
            .filter(|e| {
                e.op == Some(IoOp::Lock)
                    && e.kind
                        == (FaultEventKind::Error {
                            code: rusqlite::ffi::SQLITE_BUSY,
                        })
            })
            .count() as u64;
        let retries_counted = ledger.metrics().total_retries();
        DriveCounters {
            retries_seen: self.stop(),
            retries_counted,
            busy_answers,
            busy_handler_calls: waits.busy_waits + waits.busy_gave_up,
            busy_handler_installed: ledger.config().tuning.busy_timeout_ms > 0,
            latency: latency.finish(ledger),
            pressure: None,
        }
    }
}

/// Per ledger operation, the calls of a pass and those during which the VFS delayed a call.
#[derive(Debug, Default)]
pub(crate) struct LatencyTally {
    delays_seen: usize,
    delay_ms: u64,
    per_operation: BTreeMap<String, DelayedCalls>,
}

impl LatencyTally {
    /// Counts workload operation `op`, which just returned.
    pub(crate) fn after(&mut self, op: &Operation, vfs: &FaultVfs) {
        let delays: Vec<u64> = vfs
            .events()
            .iter()
            .filter_map(|e| match e.kind {
                FaultEventKind::Delayed { ms } => Some(ms),
                _ => None,
            })
            .collect();
        let delayed = delays.len() > self.delays_seen;
        self.delays_seen = delays.len();
        if let Some(ms) = delays.last() {
            self.delay_ms = *ms;
        }
        if let Some(name) = ledger_operation(op) {
            let calls = self.per_operation.entry(name.to_owned()).or_default();
            calls.calls += 1;
            calls.delayed += u64::from(delayed);
        }
    }

    /// What was seen, with the ledger's stored baselines and health's alerts; `None` when
    /// nothing was delayed.
    fn finish(self, ledger: &Ledger) -> Option<LatencySeen> {
        if self.delays_seen == 0 {
            return None;
        }
        Some(LatencySeen {
            delay_ms: self.delay_ms,
            per_operation: self.per_operation,
            baselines: stored_baselines(ledger),
            alerts: ledger
                .health()
                .map(|report| {
                    report
                        .regressions
                        .into_iter()
                        .map(|a| a.operation)
                        .collect()
                })
                .map_err(|e| e.to_string()),
        })
    }
}

/// The performance baselines in the ledger's `sync_state` (plain SQL; none when unreadable).
fn stored_baselines(ledger: &Ledger) -> BTreeMap<String, BaselineSeen> {
    let text: Option<String> = ledger
        .connection()
        .query_row(
            "SELECT value FROM sync_state WHERE key = ?1",
            [ledger::sync_state::keys::PERF_BASELINE],
            |row| row.get(0),
        )
        .ok();
    ledger::perf::Baselines::parse(text.as_deref())
        .0
        .into_iter()
        .map(|(name, b)| {
            (
                name,
                BaselineSeen {
                    p95_us: b.p95_us.round() as u64,
                    samples: b.samples,
                },
            )
        })
        .collect()
}
