//! Part of `faults_observable`: what the ledger reports across a restart ([`RestartSeen`],
//! [`restart_observable`]).
//!
//! - **Recovery, reported once as such.** Before the check phase reopens the ledger, the harness
//!   looks at the files the last shutdown left: a non-empty `-wal` or a hot `-journal` (one that
//!   starts with the journal magic) is what SQLite recovers from. When the trace knows how the
//!   drive's ledger ended ([`Shutdown`]: a kill, a planned crash or a power cut while it was
//!   open is unclean; a drive that finished and dropped its ledger is clean), the reopened
//!   ledger's recovery counter (metrics `safety.recoveries`) must be exactly 1 after an unclean
//!   shutdown that left something to recover and 0 otherwise (a clean close, an archive-mode
//!   close that keeps its WAL on purpose, a crash that left nothing to recover), and its safety
//!   events must hold as many recovery events. Then the check closes that ledger cleanly and
//!   opens it again: that open must report no recovery, whatever the drive did.
//! - **Capacity forecast.** On that second open, with the ledger's clock held still, health's
//!   capacity forecast is read, captures are staged, and it is read again: each forecast's
//!   current size must be the database's size read with plain SQL at the same moment, and when
//!   the database grew, the fitted growth per day must grow too (at a fixed time, a least-squares
//!   slope rises with its latest point whenever an earlier sample exists).

use serde::{Deserialize, Serialize};

/// How the drive's ledger ended, as the trace knows it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum Shutdown {
    /// The drive finished and dropped (or closed) its ledger.
    Clean,
    /// The ledger's process died (a kill, a planned crash) or the power went while it was open.
    Unclean,
}

/// One capacity forecast of health and the database's size at the same moment.
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize, Deserialize)]
pub struct ForecastSeen {
    /// `page_count × page_size`, read with plain SQL on the ledger's connection.
    pub database_bytes: u64,
    /// The forecast's current size.
    pub current_bytes: u64,
    /// The forecast's growth per day (`None` without two samples at distinct times).
    pub growth_bytes_per_day: Option<f64>,
}

/// The capacity probe: the forecast before and after staging captures, the clock held still.
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize, Deserialize)]
pub struct CapacityProbe {
    /// Before staging.
    pub before: ForecastSeen,
    /// After staging.
    pub after: ForecastSeen,
    /// Captures staged in between.
    pub staged: u64,
}

/// What the ledger reported across the check phase's reopen and the clean restart after it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RestartSeen {
    /// Before the reopen: a non-empty `-wal` or a hot `-journal` was there to recover from.
    pub leftover_journal: bool,
    /// Recoveries the reopened ledger counted (`safety.recoveries` of its metrics).
    pub recoveries_at_reopen: u64,
    /// Recovery events among its safety events.
    pub recovery_events_at_reopen: u64,
    /// After that ledger closed cleanly: the recoveries the next open counted, or why there
    /// was no next open.
    pub recoveries_after_clean_close: Result<u64, String>,
    /// The capacity probe on that next open, or why it could not run (a ledger that refuses
    /// writes, e.g. after damage it could not repair: nothing to judge).
    pub capacity: Result<CapacityProbe, String>,
}

/// Problems: the recovery reports against the shutdown the trace knows (`None`: not judged),
/// the report after a clean close, and the capacity forecast.
pub fn restart_observable(shutdown: Option<Shutdown>, seen: Option<&RestartSeen>) -> Vec<String> {
    let Some(seen) = seen else {
        return Vec::new();
    };
    let mut problems = Vec::new();
    if let Some(shutdown) = shutdown {
        let owed = u64::from(shutdown == Shutdown::Unclean && seen.leftover_journal);
        if seen.recoveries_at_reopen != owed {
            problems.push(format!(
                "the last shutdown was {}{}: the reopened ledger reported {} recovery(ies), expected {owed}",
                match shutdown {
                    Shutdown::Clean => "clean",
                    Shutdown::Unclean => "unclean",
                },
                if seen.leftover_journal {
                    " and left a WAL or hot journal"
                } else {
                    " and left nothing to recover"
                },
                seen.recoveries_at_reopen
            ));
        }
    }
    if seen.recovery_events_at_reopen != seen.recoveries_at_reopen {
        problems.push(format!(
            "the reopened ledger counted {} recovery(ies) and logged {} recovery event(s)",
            seen.recoveries_at_reopen, seen.recovery_events_at_reopen
        ));
    }
    match &seen.recoveries_after_clean_close {
        Ok(0) => {}
        Ok(n) => problems.push(format!(
            "after a clean close the next open reported {n} recovery(ies), expected 0"
        )),
        Err(why) => problems.push(format!("no open after the clean close: {why}")),
    }
    if let Ok(probe) = &seen.capacity {
        problems.extend(capacity_problems(probe));
    }
    problems
}

fn capacity_problems(probe: &CapacityProbe) -> Vec<String> {
    let mut problems = Vec::new();
    for (when, seen) in [("before", &probe.before), ("after", &probe.after)] {
        if seen.current_bytes != seen.database_bytes {
            problems.push(format!(
                "capacity forecast {when} staging {} capture(s): its current size is {} bytes, the database's {}",
                probe.staged, seen.current_bytes, seen.database_bytes
            ));
        }
    }
    if probe.after.database_bytes > probe.before.database_bytes
        && let Some(before) = probe.before.growth_bytes_per_day
    {
        let after = probe.after.growth_bytes_per_day;
        if after.is_none_or(|after| after <= before) {
            problems.push(format!(
                "the database grew from {} to {} bytes ({} capture(s) staged), the forecast's growth went from {before:.0} to {after:?} bytes/day",
                probe.before.database_bytes, probe.after.database_bytes, probe.staged
            ));
        }
    }
    problems
}

#[cfg(test)]
mod tests {
    use super::*;

    fn forecast(bytes: u64, growth: Option<f64>) -> ForecastSeen {
        ForecastSeen {
            database_bytes: bytes,
            current_bytes: bytes,
            growth_bytes_per_day: growth,
        }
    }

    fn seen(leftover: bool, at_reopen: u64, after_close: u64) -> RestartSeen {
        RestartSeen {
            leftover_journal: leftover,
            recoveries_at_reopen: at_reopen,
            recovery_events_at_reopen: at_reopen,
            recoveries_after_clean_close: Ok(after_close),
            capacity: Ok(CapacityProbe {
                before: forecast(8192, Some(100.0)),
                after: forecast(16384, Some(900.0)),
                staged: 8,
            }),
        }
    }

    #[test]
    fn one_recovery_after_an_unclean_shutdown_and_none_after_a_clean_close_pass() {
        let unclean = Some(Shutdown::Unclean);
        assert!(restart_observable(unclean, Some(&seen(true, 1, 0))).is_empty());
        assert!(restart_observable(unclean, Some(&seen(false, 0, 0))).is_empty());
        assert!(restart_observable(Some(Shutdown::Clean), Some(&seen(true, 0, 0))).is_empty());
        assert!(restart_observable(None, Some(&seen(true, 0, 0))).is_empty());
        assert!(restart_observable(unclean, None).is_empty());
    }

    #[test]
    fn a_recovery_missed_doubled_or_reported_after_a_clean_close_fails() {
        let unclean = Some(Shutdown::Unclean);
        let missed = restart_observable(unclean, Some(&seen(true, 0, 0)));
        assert_eq!(
            missed,
            [
                "the last shutdown was unclean and left a WAL or hot journal: the reopened ledger reported 0 recovery(ies), expected 1"
            ]
        );
        assert_eq!(
            restart_observable(unclean, Some(&seen(true, 2, 0))).len(),
            1
        );
        assert_eq!(
            restart_observable(Some(Shutdown::Clean), Some(&seen(true, 1, 0))).len(),
            1,
            "an archive-mode close that kept its WAL is no crash"
        );
        let every_open = restart_observable(None, Some(&seen(true, 1, 1)));
        assert_eq!(
            every_open,
            ["after a clean close the next open reported 1 recovery(ies), expected 0"]
        );
        let mut silent = seen(true, 1, 0);
        silent.recovery_events_at_reopen = 0;
        assert_eq!(restart_observable(unclean, Some(&silent)).len(), 1);
    }

    #[test]
    fn a_forecast_that_does_not_follow_the_database_fails() {
        let mut frozen = seen(false, 0, 0);
        frozen.capacity = Ok(CapacityProbe {
            before: ForecastSeen {
                current_bytes: 4096,
                ..forecast(8192, Some(100.0))
            },
            after: ForecastSeen {
                current_bytes: 4096,
                ..forecast(16384, Some(100.0))
            },
            staged: 8,
        });
        let problems = restart_observable(None, Some(&frozen));
        assert_eq!(problems.len(), 3, "{problems:?}");
        let mut flat = seen(false, 0, 0);
        flat.capacity = Ok(CapacityProbe {
            before: forecast(8192, Some(100.0)),
            after: forecast(16384, Some(100.0)),
            staged: 8,
        });
        assert_eq!(restart_observable(None, Some(&flat)).len(), 1);
        let mut unfit = seen(false, 0, 0);
        unfit.capacity = Ok(CapacityProbe {
            before: forecast(8192, None),
            after: forecast(16384, None),
            staged: 8,
        });
        assert!(
            restart_observable(None, Some(&unfit)).is_empty(),
            "no earlier sample: no slope to move"
        );
    }
}
