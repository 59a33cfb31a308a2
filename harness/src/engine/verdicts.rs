//! [`Verdicts`]: the checks' verdicts over one or many checked databases (the live files, each
//! crash image, every crash state of an exhaustive run), folded into one verdict per check.

use std::collections::BTreeMap;

use super::job::WorkerMessage;
use crate::oracle::{CheckName, Evidence};

/// Failing details quoted per check; the rest are counted.
const QUOTED: usize = 3;

/// Per check: in how many checked states it failed, and the first few failures.
#[derive(Debug, Default)]
pub struct Verdicts {
    checks: Vec<CheckName>,
    failures: BTreeMap<CheckName, (u64, Vec<String>)>,
    states: u64,
    /// Acknowledged writes lost: the largest count over the states added, unless the caller
    /// sets another total (exhaustive runs sum over crash points).
    pub lost: u64,
}

/// What one state was judged: the checks that failed and the acknowledged writes it lost.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Judged {
    /// The checks that failed.
    pub failed: Vec<CheckName>,
    /// Acknowledged writes lost.
    pub lost: u64,
}

impl Verdicts {
    /// Verdicts for the scenario's `checks`.
    pub fn new(checks: &[CheckName]) -> Verdicts {
        Verdicts {
            checks: CheckName::ALL
                .into_iter()
                .filter(|c| checks.contains(c))
                .collect(),
            ..Verdicts::default()
        }
    }

    /// Judges one checked state labelled `label`; returns its lost acknowledged writes.
    pub fn add(&mut self, label: &str, evidence: &Evidence) -> u64 {
        self.add_judged(label, evidence).lost
    }

    /// [`Verdicts::add`], returning what the state was judged ([`Verdicts::repeat`] counts it
    /// again for an identical state).
    pub fn add_judged(&mut self, label: &str, evidence: &Evidence) -> Judged {
        self.states += 1;
        let mut failed = Vec::new();
        for name in &self.checks {
            let verdict = evidence.check(*name);
            if !verdict.passed {
                failed.push(*name);
                let (count, quoted) = self.failures.entry(*name).or_default();
                *count += 1;
                if quoted.len() < QUOTED {
                    quoted.push(format!("[{label}] {}", verdict.detail));
                }
            }
        }
        let lost = evidence.lost_acknowledged();
        self.lost = self.lost.max(lost);
        Judged { failed, lost }
    }

    /// Counts one more state identical to one judged before (same files, same model): the same
    /// checks fail, nothing more is quoted.
    pub fn repeat(&mut self, judged: &Judged) {
        self.states += 1;
        for name in &judged.failed {
            self.failures.entry(*name).or_default().0 += 1;
        }
        self.lost = self.lost.max(judged.lost);
    }

    /// States judged so far.
    pub fn states(&self) -> u64 {
        self.states
    }

    /// The verdict lines and the lost count, as the check worker reports them. With one state
    /// the detail is that state's own; with several it says in how many the check failed.
    pub fn messages(&self, labelled: bool) -> Vec<WorkerMessage> {
        let mut messages: Vec<WorkerMessage> = self
            .checks
            .iter()
            .map(|name| {
                let (passed, detail) = match self.failures.get(name) {
                    None => (true, String::new()),
                    Some((_, quoted)) if !labelled => (
                        false,
                        quoted[0]
                            .split_once("] ")
                            .map_or(quoted[0].clone(), |(_, d)| d.to_owned()),
                    ),
                    Some((count, quoted)) => (
                        false,
                        format!(
                            "failed in {count} of {} checked states: {}",
                            self.states,
                            quoted.join(" | ")
                        ),
                    ),
                };
                WorkerMessage::Verdict {
                    name: *name,
                    passed,
                    detail,
                }
            })
            .collect();
        messages.push(WorkerMessage::LostAcknowledged { count: self.lost });
        messages
    }
}
