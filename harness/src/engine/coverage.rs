//! [`Coverage`]: what exploration has exercised so far, per scenario, and how the next round's
//! iterations are shared out ([`Coverage::allocate`]).
//!
//! A coverage key is read from an iteration's trace, which every iteration already has, so it
//! costs no instrumentation: for each fault event, the fault's shape (its description with
//! numbers blanked: which file, which I/O, which error code class) with the kind of operation
//! it hit; for each operation, its kind with the class of its answer (`ok`, the error kind,
//! outcome unknown, in flight). Keys are counted per scenario. An iteration is *novel* when it
//! adds a key its scenario had not produced before.
//!
//! The next round shares its iterations in proportion to each scenario's novelty rate per
//! second of iteration, `(novel + 1) / (iterations + 1)` divided by the scenario's mean wall
//! time per iteration: scenarios still producing new combinations get more, those whose every
//! draw repeats the known get fewer, and a scenario that costs a hundred times more per
//! iteration needs a hundred times the novelty rate to get as many. Shares below one iteration
//! are carried over as credit to the next rounds, so every scenario keeps being drawn. See
//! `docs/explore.md` for why this key and this cost.

use std::collections::{BTreeMap, BTreeSet};
use std::time::Duration;

use crate::oracle::OpRecord;
use crate::trace::{Trace, TraceEvent};
use crate::workload::OpOutcome;

/// What one scenario has exercised.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ScenarioCoverage {
    /// Iterations observed.
    pub iterations: u64,
    /// Iterations that added at least one key.
    pub novel: u64,
    /// Distinct keys seen, with how often.
    pub keys: BTreeMap<String, u64>,
    /// Wall time of its iterations in all, in milliseconds.
    pub cost_ms: u64,
}

impl ScenarioCoverage {
    /// `(novel + 1) / (iterations + 1)`.
    fn novelty_rate(&self) -> f64 {
        (self.novel as f64 + 1.0) / (self.iterations as f64 + 1.0)
    }

    /// Mean wall time per iteration in seconds (at least a millisecond), if observed.
    fn mean_cost_secs(&self) -> Option<f64> {
        (self.iterations > 0)
            .then(|| (self.cost_ms as f64 / self.iterations as f64).max(1.0) / 1000.0)
    }
}

/// Coverage of every scenario explored so far.
#[derive(Debug, Clone, Default)]
pub struct Coverage {
    scenarios: BTreeMap<String, ScenarioCoverage>,
    /// Shares of earlier rounds not yet drawn (fractions of an iteration).
    credit: BTreeMap<String, f64>,
}

impl Coverage {
    /// Counts an iteration of `scenario` that took `cost` in; true when it added a key.
    pub fn observe(&mut self, scenario: &str, trace: &Trace, cost: Duration) -> bool {
        let entry = self.scenarios.entry(scenario.to_owned()).or_default();
        entry.iterations += 1;
        entry.cost_ms += cost.as_millis() as u64;
        let mut novel = false;
        for key in keys_of(trace) {
            let count = entry.keys.entry(key).or_insert(0);
            novel |= *count == 0;
            *count += 1;
        }
        if novel {
            entry.novel += 1;
        }
        novel
    }

    /// Distinct keys over every scenario.
    pub fn distinct_keys(&self) -> u64 {
        self.scenarios.values().map(|s| s.keys.len() as u64).sum()
    }

    /// One scenario's coverage, if observed.
    pub fn scenario(&self, name: &str) -> Option<&ScenarioCoverage> {
        self.scenarios.get(name)
    }

    /// Shares about `round_size` iterations among `scenarios` in proportion to their novelty
    /// rate per second (see the module doc); a scenario never observed costs the mean of those
    /// observed. Fractions are kept as credit for the next call, so a scenario whose share is
    /// below one is drawn every few rounds. Returns one count per scenario, in order; at least
    /// one scenario gets an iteration.
    pub fn allocate(&mut self, scenarios: &[&str], round_size: usize) -> Vec<usize> {
        if scenarios.is_empty() {
            return Vec::new();
        }
        let seen: Vec<Option<ScenarioCoverage>> = scenarios
            .iter()
            .map(|name| self.scenarios.get(*name).cloned())
            .collect();
        let observed: Vec<f64> = seen
            .iter()
            .filter_map(|c| c.as_ref().and_then(ScenarioCoverage::mean_cost_secs))
            .collect();
        let fallback_cost = if observed.is_empty() {
            1.0
        } else {
            observed.iter().sum::<f64>() / observed.len() as f64
        };
        let weights: Vec<f64> = seen
            .iter()
            .map(|c| {
                let c = c.clone().unwrap_or_default();
                c.novelty_rate() / c.mean_cost_secs().unwrap_or(fallback_cost)
            })
            .collect();
        let total: f64 = weights.iter().sum();
        let mut counts = Vec::with_capacity(scenarios.len());
        for (name, weight) in scenarios.iter().zip(&weights) {
            let credit = self.credit.entry((*name).to_owned()).or_insert(0.0);
            *credit += round_size.max(1) as f64 * weight / total;
            let count = credit.floor();
            *credit -= count;
            counts.push(count as usize);
        }
        if counts.iter().all(|n| *n == 0) {
            let richest = (0..scenarios.len())
                .max_by(|a, b| {
                    self.credit[scenarios[*a]]
                        .total_cmp(&self.credit[scenarios[*b]])
                        .then(b.cmp(a))
                })
                .unwrap_or(0);
            counts[richest] = 1;
            *self
                .credit
                .entry(scenarios[richest].to_owned())
                .or_insert(0.0) -= 1.0;
        }
        counts
    }
}

/// The coverage keys of one trace.
pub fn keys_of(trace: &Trace) -> BTreeSet<String> {
    let mut kinds: BTreeMap<usize, &str> = BTreeMap::new();
    let mut keys = BTreeSet::new();
    for event in &trace.events {
        match event {
            TraceEvent::Operation {
                index,
                operation,
                record,
            } => {
                let kind = operation.split_whitespace().next().unwrap_or("?");
                kinds.insert(*index, kind);
                keys.insert(format!("op {kind} {}", answer_class(record)));
            }
            TraceEvent::Fault {
                during_operation,
                description,
            } => {
                let during = during_operation
                    .and_then(|i| kinds.get(&i).copied())
                    .unwrap_or("-");
                keys.insert(format!(
                    "fault {} during {during}",
                    blank_numbers(description)
                ));
            }
        }
    }
    keys
}

/// `ok`, `in-flight`, `err <kind>` or `err <kind> unknown`.
fn answer_class(record: &OpRecord) -> String {
    match record {
        OpRecord::NotStarted => "not-started".to_owned(),
        OpRecord::InFlight => "in-flight".to_owned(),
        OpRecord::Finished(OpOutcome::Ok(_)) => "ok".to_owned(),
        OpRecord::Finished(OpOutcome::Err(e)) if e.outcome_unknown => {
            format!("err {} unknown", e.kind)
        }
        OpRecord::Finished(OpOutcome::Err(e)) => format!("err {}", e.kind),
    }
}

/// `text` with every run of digits replaced by `#`.
pub fn blank_numbers(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut in_number = false;
    for c in text.chars() {
        if c.is_ascii_digit() {
            if !in_number {
                out.push('#');
            }
            in_number = true;
        } else {
            in_number = false;
            out.push(c);
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::workload::{OpError, OpValue};

    fn trace(fault: &str, answer: OpRecord) -> Trace {
        Trace {
            events: vec![
                TraceEvent::Operation {
                    index: 0,
                    operation: "stage #0 voice (25 bytes)".into(),
                    record: answer,
                },
                TraceEvent::Fault {
                    during_operation: Some(0),
                    description: fault.into(),
                },
            ],
        }
    }

    fn failed(kind: &str) -> OpRecord {
        OpRecord::Finished(OpOutcome::Err(OpError {
            kind: kind.into(),
            sqlite_code: Some(778),
            message: "disk I/O error".into(),
            outcome_unknown: false,
        }))
    }

    #[test]
    fn keys_blank_numbers_and_name_the_operation_hit() {
        let keys = keys_of(&trace(
            "write of ledger.db-wal at 4096 failed",
            failed("sqlite"),
        ));
        assert!(keys.contains("fault write of ledger.db-wal at # failed during stage"));
        assert!(keys.contains("op stage err sqlite"));
    }

    #[test]
    fn only_new_combinations_are_novel() {
        let mut coverage = Coverage::default();
        let ok = || OpRecord::Finished(OpOutcome::Ok(OpValue::Done));
        let ms = Duration::from_millis(10);
        assert!(coverage.observe("s", &trace("write at 1", ok()), ms));
        assert!(!coverage.observe("s", &trace("write at 2", ok()), ms));
        assert!(coverage.observe("s", &trace("write at 2", failed("sqlite")), ms));
        let s = coverage.scenario("s").unwrap();
        assert_eq!((s.iterations, s.novel), (3, 2));
        assert_eq!(coverage.distinct_keys(), 3);
    }

    #[test]
    fn a_scenario_that_stopped_finding_new_keys_gets_fewer_iterations() {
        let mut coverage = Coverage::default();
        let ok = || OpRecord::Finished(OpOutcome::Ok(OpValue::Done));
        let ms = Duration::from_millis(10);
        for _ in 0..20 {
            coverage.observe("stale", &trace("write at 1", ok()), ms);
        }
        coverage.observe("fresh", &trace("write at 1", ok()), ms);
        let counts = coverage.allocate(&["stale", "fresh", "unseen"], 30);
        assert!(
            (28..=30).contains(&counts.iter().sum::<usize>()),
            "{counts:?}"
        );
        assert!(
            counts[0] < counts[1] && counts[1] <= counts[2],
            "{counts:?}"
        );
    }

    #[test]
    fn iterations_are_shared_by_novelty_per_second() {
        let mut coverage = Coverage::default();
        let ok = || OpRecord::Finished(OpOutcome::Ok(OpValue::Done));
        coverage.observe(
            "cheap",
            &trace("write at 1", ok()),
            Duration::from_millis(10),
        );
        coverage.observe(
            "costly",
            &trace("write at 1", ok()),
            Duration::from_millis(1000),
        );
        let mut drawn = [0usize; 2];
        let mut first_costly_round = None;
        for round in 0..50 {
            let counts = coverage.allocate(&["cheap", "costly"], 101);
            drawn[0] += counts[0];
            drawn[1] += counts[1];
            if counts[1] > 0 && first_costly_round.is_none() {
                first_costly_round = Some(round);
            }
        }
        assert_eq!(
            drawn,
            [5000, 50],
            "a hundredth of the draws at a hundred times the cost"
        );
        assert_eq!(
            first_costly_round,
            Some(0),
            "its credit reaches one in the first round"
        );
        assert_eq!(coverage.allocate(&["a", "b"], 1).iter().sum::<usize>(), 1);
    }

    #[test]
    fn a_share_below_one_iteration_is_carried_until_it_is_drawn() {
        let mut coverage = Coverage::default();
        let ok = || OpRecord::Finished(OpOutcome::Ok(OpValue::Done));
        coverage.observe(
            "cheap",
            &trace("write at 1", ok()),
            Duration::from_millis(1),
        );
        coverage.observe(
            "costly",
            &trace("write at 1", ok()),
            Duration::from_millis(200),
        );
        let rounds: Vec<usize> = (0..200)
            .map(|_| coverage.allocate(&["cheap", "costly"], 10)[1])
            .collect();
        let drawn = rounds.iter().filter(|n| **n > 0).count();
        assert!((9..=10).contains(&drawn), "drawn in {drawn} of 200 rounds");
        assert_eq!(rounds[0], 0, "a share of 0.05 is not an iteration yet");
    }
}
