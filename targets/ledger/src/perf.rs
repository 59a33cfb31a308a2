//! Performance-regression detection: each operation's p95 against a rolling
//! baseline kept in `sync_state`: [`Baselines`] and [`RegressionAlert`].

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::metrics::LatencySummary;

/// Samples a figure needs on both sides before it is compared.
pub const MIN_SAMPLES: u64 = 50;
/// The rolling baseline forgets past this many samples (older samples weigh less).
pub const WINDOW_SAMPLES: u64 = 10_000;

/// The baseline of one operation.
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize, Deserialize)]
pub struct Baseline {
    /// Weighted p95, in microseconds.
    pub p95_us: f64,
    /// Samples behind it (capped at [`WINDOW_SAMPLES`]).
    pub samples: u64,
}

/// Baselines per operation name; stored as JSON under `perf.baseline`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(transparent)]
pub struct Baselines(pub BTreeMap<String, Baseline>);

/// An operation whose p95 rose past the threshold.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RegressionAlert {
    /// The operation.
    pub operation: String,
    /// Its baseline p95, in microseconds.
    pub baseline_p95_us: f64,
    /// Its current p95, in microseconds.
    pub current_p95_us: u64,
    /// current / baseline − 1, e.g. 0.8 for +80 %.
    pub increase: f64,
    /// Samples in the current figure.
    pub samples: u64,
}

impl std::fmt::Display for RegressionAlert {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "{} p95 is {} µs, {:.0} % above its baseline of {:.0} µs over {} samples; check WAL size, disk and plan warnings",
            self.operation,
            self.current_p95_us,
            self.increase * 100.0,
            self.baseline_p95_us,
            self.samples
        )
    }
}

impl Baselines {
    /// Parse the stored JSON; an unreadable value starts afresh.
    pub fn parse(text: Option<&str>) -> Baselines {
        text.and_then(|text| serde_json::from_str(text).ok())
            .unwrap_or_default()
    }

    /// Compare `current` figures against the baselines: an alert for each
    /// operation whose p95 is more than `threshold` (0.5 = 50 %) above its
    /// baseline, when both sides have at least [`MIN_SAMPLES`].
    pub fn regressions(
        &self,
        current: &BTreeMap<String, LatencySummary>,
        threshold: f64,
    ) -> Vec<RegressionAlert> {
        current
            .iter()
            .filter_map(|(operation, summary)| {
                let baseline = self.0.get(operation)?;
                if baseline.samples < MIN_SAMPLES
                    || summary.count < MIN_SAMPLES
                    || baseline.p95_us <= 0.0
                {
                    return None;
                }
                let increase = summary.p95_us as f64 / baseline.p95_us - 1.0;
                let fires = mutant!(RegressionNeverFires, false, increase > threshold);
                fires.then(|| RegressionAlert {
                    operation: operation.clone(),
                    baseline_p95_us: baseline.p95_us,
                    current_p95_us: summary.p95_us,
                    increase,
                    samples: summary.count,
                })
            })
            .collect()
    }

    /// Fold `current` into the baselines: a sample-weighted mean whose weight
    /// is capped at [`WINDOW_SAMPLES`], so the baseline follows slow drift.
    pub fn absorb(&mut self, current: &BTreeMap<String, LatencySummary>) {
        for (operation, summary) in current {
            if summary.count == 0 {
                continue;
            }
            let entry = self.0.entry(operation.clone()).or_default();
            let total = entry.samples + summary.count;
            entry.p95_us = (entry.p95_us * entry.samples as f64
                + summary.p95_us as f64 * summary.count as f64)
                / total as f64;
            entry.samples = total.min(WINDOW_SAMPLES);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn figures(p95_us: u64, count: u64) -> BTreeMap<String, LatencySummary> {
        BTreeMap::from([(
            "stage".to_owned(),
            LatencySummary {
                count,
                p95_us,
                ..LatencySummary::default()
            },
        )])
    }

    #[test]
    fn a_rise_beyond_the_threshold_alerts_with_figures() {
        let mut baselines = Baselines::default();
        baselines.absorb(&figures(100, 500));
        let alerts = baselines.regressions(&figures(180, 200), 0.5);
        assert_eq!(alerts.len(), 1);
        assert_eq!(alerts[0].operation, "stage");
        assert!((alerts[0].increase - 0.8).abs() < 1e-9);
        assert!(alerts[0].to_string().contains("stage p95 is 180 µs"));
    }

    #[test]
    fn small_rises_and_few_samples_do_not_alert() {
        let mut baselines = Baselines::default();
        baselines.absorb(&figures(100, 500));
        assert!(baselines.regressions(&figures(140, 500), 0.5).is_empty());
        assert!(baselines.regressions(&figures(1_000, 10), 0.5).is_empty());
        let mut thin = Baselines::default();
        thin.absorb(&figures(100, 10));
        assert!(thin.regressions(&figures(1_000, 500), 0.5).is_empty());
    }

    #[test]
    fn absorb_is_a_capped_weighted_mean_and_round_trips() {
        let mut baselines = Baselines::default();
        baselines.absorb(&figures(100, 100));
        baselines.absorb(&figures(200, 100));
        let stage = baselines.0["stage"];
        assert!((stage.p95_us - 150.0).abs() < 1e-9);
        assert_eq!(stage.samples, 200);
        baselines.absorb(&figures(200, 20_000));
        assert_eq!(baselines.0["stage"].samples, WINDOW_SAMPLES);
        let text = serde_json::to_string(&baselines).expect("json");
        assert_eq!(Baselines::parse(Some(&text)), baselines);
        assert_eq!(Baselines::parse(Some("not json")), Baselines::default());
    }
}
