//! Triage of a run's failures: [`group_failures`] puts the iterations that did not pass into
//! groups with one cause (scenario and first failing check, or "could not be judged"), and
//! [`why_line`] cuts a check's detail down to its first concrete discrepancy, so a reader sees
//! one line per cause instead of the same text under every check of every iteration.

use std::collections::BTreeMap;

use crate::results::{IterationResult, IterationStatus, RunResults};

/// Longest why line, in characters, before it is cut with `…`.
const WHY_MAX_CHARS: usize = 300;

/// What a group of failures has in common.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub enum Cause {
    /// The first failing check of each iteration in the group.
    Check(String),
    /// The harness could not judge the iterations (status `error`).
    NotJudged,
}

impl std::fmt::Display for Cause {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Cause::Check(name) => write!(f, "{name} failed"),
            Cause::NotJudged => write!(f, "could not be judged"),
        }
    }
}

/// Iterations of one scenario that did not pass for the same cause.
#[derive(Debug, Clone)]
pub struct FailureGroup<'a> {
    /// Scenario name.
    pub scenario: &'a str,
    /// Its family.
    pub family: &'a str,
    /// What the iterations share.
    pub cause: Cause,
    /// The iterations, by index.
    pub iterations: Vec<&'a IterationResult>,
}

impl FailureGroup<'_> {
    /// The iteration that stands for the group: the shrunk one if any, else the first.
    pub fn representative(&self) -> &IterationResult {
        self.iterations
            .iter()
            .find(|i| i.shrunk.is_some())
            .unwrap_or(&self.iterations[0])
    }

    /// One line saying why, from the representative iteration (see [`why_line`]).
    pub fn why(&self) -> String {
        let it = self.representative();
        match &self.cause {
            Cause::Check(name) => it
                .checks
                .iter()
                .find(|c| c.name == *name)
                .map_or_else(String::new, |c| why_line(&c.detail)),
            Cause::NotJudged => why_line(it.error.as_deref().unwrap_or("no error recorded")),
        }
    }

    /// Checks other than the cause that failed in some iteration of the group, in check order.
    pub fn also_failed(&self) -> Vec<&str> {
        let mut names: Vec<&str> = Vec::new();
        for it in &self.iterations {
            for c in it.checks.iter().filter(|c| !c.passed) {
                let is_cause = matches!(&self.cause, Cause::Check(n) if *n == c.name);
                if !is_cause && !names.contains(&c.name.as_str()) {
                    names.push(&c.name);
                }
            }
        }
        names
    }
}

/// The iterations of `results` that did not pass, grouped by (scenario, cause): largest group
/// first, then by scenario and cause.
pub fn group_failures(results: &RunResults) -> Vec<FailureGroup<'_>> {
    let mut groups: BTreeMap<(&str, Cause), FailureGroup<'_>> = BTreeMap::new();
    for it in results.not_passed() {
        let cause = match (it.status, it.first_failure()) {
            (IterationStatus::Failed, Some(check)) => Cause::Check(check.name.clone()),
            _ => Cause::NotJudged,
        };
        groups
            .entry((it.scenario.as_str(), cause.clone()))
            .or_insert_with(|| FailureGroup {
                scenario: &it.scenario,
                family: &it.family,
                cause,
                iterations: Vec::new(),
            })
            .iterations
            .push(it);
    }
    let mut groups: Vec<FailureGroup<'_>> = groups.into_values().collect();
    groups.sort_by_key(|g| std::cmp::Reverse(g.iterations.len()));
    groups
}

/// The first concrete discrepancy in a check's detail: the first crash state's first finding
/// (details list findings separated by `; ` and states by ` | `), with how many states failed
/// when the detail says so, on one line of at most 300 characters.
pub fn why_line(detail: &str) -> String {
    let first_line = detail.lines().next().unwrap_or("").trim();
    let (states, rest) = match first_line.split_once(": ") {
        Some((prefix, rest)) if prefix.starts_with("failed in ") => (Some(prefix), rest),
        _ => (None, first_line),
    };
    let first_state = rest.split(" | ").next().unwrap_or(rest);
    let mut line = first_state
        .split("; ")
        .next()
        .unwrap_or(first_state)
        .to_owned();
    if let Some(states) = states {
        line = format!("{line} ({states})");
    }
    if line.chars().count() > WHY_MAX_CHARS {
        line = line.chars().take(WHY_MAX_CHARS - 1).collect::<String>() + "…";
    }
    line
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::events::RunStarted;
    use crate::results::CheckResult;

    fn failed(scenario: &str, iteration: u32, checks: &[(&str, bool, &str)]) -> IterationResult {
        IterationResult {
            checks: checks
                .iter()
                .map(|(name, passed, detail)| CheckResult {
                    name: (*name).into(),
                    passed: *passed,
                    detail: (*detail).into(),
                })
                .collect(),
            ..IterationResult::new(scenario, "power-loss", iteration, IterationStatus::Failed)
        }
    }

    #[test]
    fn the_why_line_is_the_first_finding_of_the_first_state() {
        let detail = "failed in 3 of 4 checked states: [drop] 01AB: expected exported audit [\"initial\"], found absent (3 acknowledged write(s) missing); 01CD: expected staged audit [], found absent | [torn-0.5] database unreadable: no such table: captures";
        assert_eq!(
            why_line(detail),
            "[drop] 01AB: expected exported audit [\"initial\"], found absent (3 acknowledged write(s) missing) (failed in 3 of 4 checked states)"
        );
        assert_eq!(why_line("worker hung\nmore"), "worker hung");
        let long = "x".repeat(1000);
        assert_eq!(why_line(&long).chars().count(), WHY_MAX_CHARS);
    }

    #[test]
    fn iterations_group_by_scenario_and_first_failing_check() {
        let mut run = RunResults::new(&RunStarted::example());
        let unreadable = "[torn-0.5] database unreadable";
        for i in [0, 1, 4] {
            run.push(failed(
                "wal",
                i,
                &[
                    ("integrity", false, unreadable),
                    ("no_partial", false, unreadable),
                ],
            ));
        }
        run.push(failed(
            "wal",
            3,
            &[
                ("integrity", true, ""),
                ("acknowledged_durable", false, "01AB: lost"),
            ],
        ));
        run.push(IterationResult {
            error: Some("the drive worker hung".into()),
            ..IterationResult::new("wal", "power-loss", 2, IterationStatus::Error)
        });
        let groups = group_failures(&run);
        let shape: Vec<(String, usize)> = groups
            .iter()
            .map(|g| (g.cause.to_string(), g.iterations.len()))
            .collect();
        assert_eq!(
            shape,
            [
                ("integrity failed".to_owned(), 3),
                ("acknowledged_durable failed".to_owned(), 1),
                ("could not be judged".to_owned(), 1),
            ]
        );
        assert_eq!(groups[0].why(), unreadable);
        assert_eq!(groups[0].also_failed(), ["no_partial"]);
        assert_eq!(groups[2].why(), "the drive worker hung");
    }
}
