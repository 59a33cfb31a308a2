//! Part of `faults_observable`: the ledger's own retry and lock-wait counters against what the
//! drive saw happen ([`DriveCounters`], [`counters_observable`]).
//!
//! A drive through the fault VFS counts, in the ledger's process and up to the same moment:
//!
//! - **retries seen**: the passes through the ledger's retry observation point
//!   (`ledger::failpoint::RETRY_AGAIN`), one before every retried attempt of any call;
//! - **busy answers**: the lock calls the fault VFS answered `SQLITE_BUSY`.
//!
//! and reads the ledger's metrics ([`ledger::Ledger::metrics`], [`ledger::Ledger::lock_waits`]):
//! the retry counter and the busy handler's calls (waits plus give-ups). They must be equal:
//! every retry is counted, and, with a busy handler installed (a busy timeout above zero),
//! SQLite calls it once for each lock answered busy (with a rollback journal every such lock is
//! taken through SQLite's busy loop, and after the handler gives up no lock is tried again in
//! that statement); without one, it is never called.

use serde::{Deserialize, Serialize};

use super::latency::{LatencySeen, latency_observable};
use super::pressure::{PressureSeen, pressure_observable};

/// What one drive saw and what the ledger's metrics said at the same moment.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct DriveCounters {
    /// Retried attempts the drive saw the ledger make.
    pub retries_seen: u64,
    /// The ledger's retry counter (every operation together).
    pub retries_counted: u64,
    /// Lock calls the fault VFS answered `SQLITE_BUSY`.
    pub busy_answers: u64,
    /// Calls of the ledger's busy handler it counted: waits plus give-ups.
    pub busy_handler_calls: u64,
    /// Whether the ledger had a busy handler installed (busy timeout above zero).
    pub busy_handler_installed: bool,
    /// Injected latency and the regression alerts of health at the end of the drive.
    #[serde(default)]
    pub latency: Option<LatencySeen>,
    /// Memory pressure the drive raised, what it saw on the connection and what the ledger
    /// counted ([`super::pressure`]).
    #[serde(default)]
    pub pressure: Option<PressureSeen>,
}

impl DriveCounters {
    /// The pairs as named figures for the iteration's results.
    pub fn figures(&self) -> [(&'static str, u64); 4] {
        [
            ("retries_seen", self.retries_seen),
            ("retries_counted", self.retries_counted),
            ("busy_answers", self.busy_answers),
            ("busy_handler_calls", self.busy_handler_calls),
        ]
    }
}

/// Problems: the ledger's counters against what the drive saw (nothing to judge when the
/// drive did not count, e.g. it was killed or its family drives no fault VFS).
pub fn counters_observable(counters: Option<&DriveCounters>) -> Vec<String> {
    let Some(counters) = counters else {
        return Vec::new();
    };
    let mut problems = Vec::new();
    if counters.retries_counted != counters.retries_seen {
        problems.push(format!(
            "the drive saw the ledger retry {} time(s), its metrics count {} retries",
            counters.retries_seen, counters.retries_counted
        ));
    }
    let expected_calls = if counters.busy_handler_installed {
        counters.busy_answers
    } else {
        0
    };
    if counters.busy_handler_calls != expected_calls {
        problems.push(format!(
            "the fault VFS answered {} lock(s) busy{}, the ledger's metrics count {} busy wait(s) and give-up(s)",
            counters.busy_answers,
            if counters.busy_handler_installed {
                ""
            } else {
                " with no busy handler installed"
            },
            counters.busy_handler_calls
        ));
    }
    problems.extend(latency_observable(counters.latency.as_ref()));
    problems.extend(pressure_observable(counters.pressure.as_ref()));
    problems
}

#[cfg(test)]
mod tests {
    use super::*;

    fn counters(retries: (u64, u64), busy: (u64, u64), installed: bool) -> DriveCounters {
        DriveCounters {
            retries_seen: retries.0,
            retries_counted: retries.1,
            busy_answers: busy.0,
            busy_handler_calls: busy.1,
            busy_handler_installed: installed,
            latency: None,
            pressure: None,
        }
    }

    #[test]
    fn equal_counters_pass_and_no_count_judges_nothing() {
        assert!(counters_observable(None).is_empty());
        assert!(counters_observable(Some(&counters((5, 5), (12, 12), true))).is_empty());
        assert!(counters_observable(Some(&counters((5, 5), (12, 0), false))).is_empty());
    }

    #[test]
    fn retries_left_out_or_invented_fail() {
        let fewer = counters_observable(Some(&counters((5, 0), (0, 0), true)));
        assert_eq!(
            fewer,
            ["the drive saw the ledger retry 5 time(s), its metrics count 0 retries"]
        );
        assert_eq!(
            counters_observable(Some(&counters((5, 6), (0, 0), true))).len(),
            1
        );
    }

    #[test]
    fn busy_waits_must_equal_the_busy_answers() {
        assert_eq!(
            counters_observable(Some(&counters((0, 0), (12, 11), true))).len(),
            1
        );
        assert_eq!(
            counters_observable(Some(&counters((0, 0), (12, 3), false))).len(),
            1
        );
    }
}
