//! [`JunitReporter`]: `junit.xml`, one test case per scenario, grouped by family, so CI systems
//! show the run natively.
//!
//! A scenario's test case fails when any of its iterations failed or could not be judged; the
//! failure carries, for each such iteration, its seed, the replay command and the check detail.
//! A scenario with iterations that never ran (run interrupted, time budget spent) and none that
//! failed is a skipped case saying how many and why, so the counts' `skipped` attribute is the
//! number of such scenarios; an interrupted run says so in each suite's `interrupted` property.

use std::collections::BTreeMap;
use std::io;
use std::path::PathBuf;
use std::time::Duration;

use quick_junit::{NonSuccessKind, Property, Report, TestCase, TestCaseStatus, TestSuite};

use crate::Reporter;
use crate::events::RunEvent;
use crate::results::{IterationResult, IterationStatus, RunResults, SkippedIterations};

/// Most failing iterations described in one test case.
const MAX_DESCRIBED: usize = 10;

/// Writes `junit.xml` when the run finishes.
pub struct JunitReporter {
    path: PathBuf,
    results: Option<RunResults>,
}

impl JunitReporter {
    /// A reporter writing to `path` (usually `<out>/junit.xml`).
    pub fn new(path: impl Into<PathBuf>) -> JunitReporter {
        JunitReporter {
            path: path.into(),
            results: None,
        }
    }
}

impl Reporter for JunitReporter {
    fn on_event(&mut self, event: &RunEvent) -> io::Result<()> {
        RunResults::apply(&mut self.results, event);
        if let (RunEvent::Finished { .. }, Some(results)) = (event, &self.results) {
            crate::write_file_atomically(&self.path, render(results).as_bytes())?;
        }
        Ok(())
    }
}

/// The JUnit XML of a run.
pub fn render(results: &RunResults) -> String {
    let mut by_scenario: BTreeMap<&str, Vec<&IterationResult>> = BTreeMap::new();
    for it in &results.iterations {
        by_scenario
            .entry(it.scenario.as_str())
            .or_default()
            .push(it);
    }
    let mut skipped: BTreeMap<&str, Vec<&SkippedIterations>> = BTreeMap::new();
    for s in &results.skipped {
        skipped.entry(s.scenario.as_str()).or_default().push(s);
    }
    let mut suites: BTreeMap<&str, TestSuite> = BTreeMap::new();
    for info in &results.scenarios {
        let iterations = by_scenario
            .get(info.name.as_str())
            .map_or(&[][..], Vec::as_slice);
        let not_run = skipped
            .get(info.name.as_str())
            .map_or(&[][..], Vec::as_slice);
        if iterations.is_empty() && not_run.is_empty() {
            continue;
        }
        let suite = suites.entry(info.family.as_str()).or_insert_with(|| {
            let mut suite = TestSuite::new(info.family.as_str());
            if results.interrupted {
                suite.add_property(Property::new("interrupted", "true"));
            }
            suite
        });
        let mut case = TestCase::new(info.name.as_str(), status_of(iterations, not_run));
        case.set_classname(format!("resilience.{}", info.family));
        case.set_time(Duration::from_millis(
            iterations.iter().map(|i| i.duration_ms).sum(),
        ));
        suite.add_test_case(case);
    }
    let mut report = Report::new("resilience");
    report.set_time(Duration::from_millis(results.wall_time_ms));
    report.add_test_suites(suites.into_values());
    report
        .to_string()
        .unwrap_or_else(|e| format!("<!-- junit serialisation failed: {e} -->"))
}

fn status_of(iterations: &[&IterationResult], not_run: &[&SkippedIterations]) -> TestCaseStatus {
    let bad: Vec<&&IterationResult> = iterations
        .iter()
        .filter(|i| i.status != IterationStatus::Passed)
        .collect();
    let skipped_note = describe_skipped(not_run);
    if bad.is_empty() {
        if let Some(note) = skipped_note {
            let mut status = TestCaseStatus::skipped();
            status.set_message(format!("{note}; {} finished, all passed", iterations.len()));
            return status;
        }
        return TestCaseStatus::success();
    }
    let kind = if bad.iter().any(|i| i.status == IterationStatus::Failed) {
        NonSuccessKind::Failure
    } else {
        NonSuccessKind::Error
    };
    let mut status = TestCaseStatus::non_success(kind);
    status.set_message(format!(
        "{} of {} iterations did not pass; first: {}",
        bad.len(),
        iterations.len(),
        describe(bad[0])
    ));
    let mut description = String::new();
    for it in bad.iter().take(MAX_DESCRIBED) {
        description.push_str(&format!(
            "iteration {} seed {}: {}\n  replay: {}\n",
            it.iteration,
            it.seed,
            describe(it),
            it.replay
        ));
    }
    if bad.len() > MAX_DESCRIBED {
        description.push_str(&format!("and {} more\n", bad.len() - MAX_DESCRIBED));
    }
    if let Some(note) = skipped_note {
        description.push_str(&format!("{note}\n"));
    }
    status.set_description(description);
    status
}

/// "N iteration(s) not run: REASON", or `None` when every planned iteration ran.
fn describe_skipped(not_run: &[&SkippedIterations]) -> Option<String> {
    let count: u64 = not_run.iter().map(|s| s.count).sum();
    if count == 0 {
        return None;
    }
    let mut reasons: Vec<&str> = not_run.iter().map(|s| s.reason.as_str()).collect();
    reasons.dedup();
    Some(format!(
        "{count} iteration(s) not run: {}",
        reasons.join(", ")
    ))
}

/// The first failing check with its detail, or the error.
fn describe(it: &IterationResult) -> String {
    match (it.first_failure(), &it.error) {
        (_, Some(error)) => error.lines().next().unwrap_or_default().to_owned(),
        (Some(check), None) => format!("{}: {}", check.name, check.detail),
        (None, None) => "passed".to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::events::RunStarted;

    fn interrupted_run(finished: u32) -> RunResults {
        let mut results = RunResults::new(&RunStarted::example());
        for i in 0..finished {
            results.push(IterationResult::new(
                "baseline-mixed",
                "baseline",
                i,
                IterationStatus::Passed,
            ));
        }
        results.skipped.push(SkippedIterations {
            scenario: "baseline-mixed".into(),
            count: 3,
            reason: "interrupted by SIGTERM".into(),
        });
        results.interrupted = true;
        results.complete = true;
        results
    }

    #[test]
    fn a_scenario_cut_short_by_an_interrupt_is_a_skipped_case_saying_why() {
        let xml = render(&interrupted_run(1));
        assert!(xml.contains("skipped=\"1\""), "{xml}");
        assert!(
            xml.contains("3 iteration(s) not run: interrupted by SIGTERM; 1 finished"),
            "{xml}"
        );
        assert!(xml.contains("name=\"interrupted\" value=\"true\""), "{xml}");
    }

    #[test]
    fn a_scenario_that_never_started_is_still_listed_as_skipped() {
        let xml = render(&interrupted_run(0));
        assert!(xml.contains("skipped=\"1\""), "{xml}");
        assert!(xml.contains("<testcase name=\"baseline-mixed\""), "{xml}");
    }

    #[test]
    fn a_run_where_everything_ran_skips_nothing() {
        let mut results = interrupted_run(2);
        results.skipped.clear();
        results.interrupted = false;
        let xml = render(&results);
        assert!(xml.contains("skipped=\"0\""), "{xml}");
        assert!(!xml.contains("interrupted"), "{xml}");
    }
}
