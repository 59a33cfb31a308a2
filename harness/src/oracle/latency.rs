//! Part of `faults_observable`: latency the fault VFS injected into a tracked operation must
//! fire the ledger's performance-regression alert in health ([`LatencySeen`],
//! [`latency_observable`]).
//!
//! The ledger alerts when an operation's p95 since open is more than its threshold (a ratio:
//! 0.5 = 50 %) above the baseline `ledger maintain` folded in, with at least
//! [`ledger::perf::MIN_SAMPLES`] samples on both sides. The drive counts, per ledger operation,
//! its calls since open and those during which the VFS delayed a call; the alert is owed when
//! the figures leave no room for timing: enough samples on both sides, more than one call in
//! ten delayed (so the p95 is a delayed call), and the delay alone more than
//! [`MARGIN`] times the baseline p95. No wall-clock time is asserted: the delay is large
//! against the baseline the ledger measured on the same machine in the same run.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

/// How many times the baseline p95 the injected delay must exceed before the alert is owed
/// (twice the default threshold's 1.5).
pub const MARGIN: f64 = 3.0;

/// Calls of one ledger operation in a drive.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct DelayedCalls {
    /// Calls since the ledger opened.
    pub calls: u64,
    /// Those during which the fault VFS delayed a call.
    pub delayed: u64,
}

/// One operation's baseline as the ledger stored it.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct BaselineSeen {
    /// Its p95, in whole microseconds.
    pub p95_us: u64,
    /// Samples behind it.
    pub samples: u64,
}

/// What a drive with injected latency saw, and what the ledger's health said at its end.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LatencySeen {
    /// The injected delay per delayed VFS call, in milliseconds.
    pub delay_ms: u64,
    /// Per ledger operation (as the metrics name it).
    pub per_operation: BTreeMap<String, DelayedCalls>,
    /// The ledger's stored baselines, per operation.
    pub baselines: BTreeMap<String, BaselineSeen>,
    /// The operations health raised a regression alert for, or why health failed.
    pub alerts: Result<Vec<String>, String>,
}

/// Problems: an operation the injected latency must have pushed past its baseline that health
/// does not name (nothing to judge when nothing was delayed).
pub fn latency_observable(seen: Option<&LatencySeen>) -> Vec<String> {
    let Some(seen) = seen.filter(|s| s.delay_ms > 0) else {
        return Vec::new();
    };
    let owed: Vec<(&String, &DelayedCalls, &BaselineSeen)> = seen
        .per_operation
        .iter()
        .filter_map(|(name, calls)| Some((name, calls, seen.baselines.get(name)?)))
        .filter(|(_, calls, baseline)| {
            baseline.samples >= ledger::perf::MIN_SAMPLES
                && baseline.p95_us > 0
                && calls.calls >= ledger::perf::MIN_SAMPLES
                && calls.delayed * 10 > calls.calls
                && seen.delay_ms as f64 * 1000.0 > MARGIN * baseline.p95_us as f64
        })
        .collect();
    let alerts = match &seen.alerts {
        Ok(alerts) => alerts,
        Err(why) if !owed.is_empty() => {
            return vec![format!(
                "no health report to carry the latency alert: {why}"
            )];
        }
        Err(_) => return Vec::new(),
    };
    owed.into_iter()
        .filter(|(name, _, _)| !alerts.contains(name))
        .map(|(name, calls, baseline)| {
            format!(
                "{} of {} {name} calls were delayed {} ms (baseline p95 {} µs over {} samples), health raised no regression alert for it (alerts: {alerts:?})",
                calls.delayed, calls.calls, seen.delay_ms, baseline.p95_us, baseline.samples
            )
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn seen(delayed: u64, delay_ms: u64, alerts: &[&str]) -> LatencySeen {
        LatencySeen {
            delay_ms,
            per_operation: BTreeMap::from([(
                "stage".to_owned(),
                DelayedCalls {
                    calls: 120,
                    delayed,
                },
            )]),
            baselines: BTreeMap::from([(
                "stage".to_owned(),
                BaselineSeen {
                    p95_us: 900,
                    samples: 90,
                },
            )]),
            alerts: Ok(alerts.iter().map(|a| (*a).to_owned()).collect()),
        }
    }

    #[test]
    fn an_alert_owed_and_raised_passes() {
        assert!(latency_observable(Some(&seen(30, 20, &["stage"]))).is_empty());
        assert!(latency_observable(None).is_empty());
    }

    #[test]
    fn an_alert_owed_and_missing_fails() {
        let problems = latency_observable(Some(&seen(30, 20, &[])));
        assert_eq!(problems.len(), 1, "{problems:?}");
        assert!(problems[0].starts_with("30 of 120 stage calls were delayed 20 ms"));
        let mut broken = seen(30, 20, &[]);
        broken.alerts = Err("disk I/O error".to_owned());
        assert_eq!(latency_observable(Some(&broken)).len(), 1);
    }

    #[test]
    fn no_alert_is_owed_when_timing_could_hide_it() {
        assert!(
            latency_observable(Some(&seen(5, 20, &[]))).is_empty(),
            "p95 not delayed"
        );
        assert!(
            latency_observable(Some(&seen(30, 2, &[]))).is_empty(),
            "delay too small"
        );
        let mut thin = seen(30, 20, &[]);
        thin.baselines.get_mut("stage").expect("stage").samples = 10;
        assert!(latency_observable(Some(&thin)).is_empty(), "thin baseline");
    }
}
