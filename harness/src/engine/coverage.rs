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
//! The next round gives every scenario at least one iteration and shares the rest in
//! proportion to each scenario's novelty rate, `(novel + 1) / (iterations + 1)`: scenarios
//! still producing new combinations get more, those whose every draw repeats the known get
//! fewer. See `docs/explore.md` for why this key.

use std::collections::{BTreeMap, BTreeSet};

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
}

/// Coverage of every scenario explored so far.
#[derive(Debug, Clone, Default)]
pub struct Coverage {
    scenarios: BTreeMap<String, ScenarioCoverage>,
}

impl Coverage {
    /// Counts an iteration of `scenario` in; true when it added a key.
    pub fn observe(&mut self, scenario: &str, trace: &Trace) -> bool {
        let entry = self.scenarios.entry(scenario.to_owned()).or_default();
        entry.iterations += 1;
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

    /// Shares `round_size` iterations among `scenarios`: one each, the rest in proportion to
    /// the novelty rate (largest remainders first, ties in the given order). Returns one count
    /// per scenario, in order; the sum is `max(round_size, scenarios.len())`.
    pub fn allocate(&self, scenarios: &[&str], round_size: usize) -> Vec<usize> {
        let mut counts = vec![1usize; scenarios.len()];
        let extra = round_size.saturating_sub(scenarios.len());
        if extra == 0 || scenarios.is_empty() {
            return counts;
        }
        let rates: Vec<f64> = scenarios
            .iter()
            .map(|name| {
                let c = self.scenarios.get(*name).cloned().unwrap_or_default();
                (c.novel as f64 + 1.0) / (c.iterations as f64 + 1.0)
            })
            .collect();
        let total: f64 = rates.iter().sum();
        let shares: Vec<f64> = rates.iter().map(|r| r / total * extra as f64).collect();
        let mut given = 0;
        for (count, share) in counts.iter_mut().zip(&shares) {
            *count += share.floor() as usize;
            given += share.floor() as usize;
        }
        let mut by_remainder: Vec<usize> = (0..scenarios.len()).collect();
        by_remainder.sort_by(|a, b| {
            let ra = shares[*a] - shares[*a].floor();
            let rb = shares[*b] - shares[*b].floor();
            rb.total_cmp(&ra).then(a.cmp(b))
        });
        for i in by_remainder.into_iter().take(extra - given) {
            counts[i] += 1;
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
        assert!(coverage.observe("s", &trace("write at 1", ok())));
        assert!(!coverage.observe("s", &trace("write at 2", ok())));
        assert!(coverage.observe("s", &trace("write at 2", failed("sqlite"))));
        let s = coverage.scenario("s").unwrap();
        assert_eq!((s.iterations, s.novel), (3, 2));
        assert_eq!(coverage.distinct_keys(), 3);
    }

    #[test]
    fn a_scenario_that_stopped_finding_new_keys_gets_fewer_iterations() {
        let mut coverage = Coverage::default();
        let ok = || OpRecord::Finished(OpOutcome::Ok(OpValue::Done));
        for _ in 0..20 {
            coverage.observe("stale", &trace("write at 1", ok()));
        }
        coverage.observe("fresh", &trace("write at 1", ok()));
        let counts = coverage.allocate(&["stale", "fresh", "unseen"], 30);
        assert_eq!(counts.iter().sum::<usize>(), 30);
        assert!(
            counts[0] < counts[1] && counts[1] <= counts[2],
            "{counts:?}"
        );
        assert!(counts[0] >= 1);
        assert_eq!(coverage.allocate(&["a", "b"], 1), vec![1, 1]);
    }
}
