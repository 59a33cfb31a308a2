//! [`JunitReporter`]: `junit.xml`, one test case per scenario, grouped by family, so CI systems
//! show the run natively.
//!
//! A scenario's test case fails when any of its iterations failed or could not be judged; the
//! failure carries, for each such iteration, its seed, the replay command and the check detail.

use std::collections::BTreeMap;
use std::io;
use std::path::PathBuf;
use std::time::Duration;

use quick_junit::{NonSuccessKind, Report, TestCase, TestCaseStatus, TestSuite};

use crate::Reporter;
use crate::events::RunEvent;
use crate::results::{IterationResult, IterationStatus, RunResults};

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
    let mut suites: BTreeMap<&str, TestSuite> = BTreeMap::new();
    for info in &results.scenarios {
        let Some(iterations) = by_scenario.get(info.name.as_str()) else {
            continue;
        };
        let suite = suites
            .entry(info.family.as_str())
            .or_insert_with(|| TestSuite::new(info.family.as_str()));
        let mut case = TestCase::new(info.name.as_str(), status_of(iterations));
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

fn status_of(iterations: &[&IterationResult]) -> TestCaseStatus {
    let bad: Vec<&&IterationResult> = iterations
        .iter()
        .filter(|i| i.status != IterationStatus::Passed)
        .collect();
    if bad.is_empty() {
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
    status.set_description(description);
    status
}

/// The first failing check with its detail, or the error.
fn describe(it: &IterationResult) -> String {
    match (it.first_failure(), &it.error) {
        (_, Some(error)) => error.lines().next().unwrap_or_default().to_owned(),
        (Some(check), None) => format!("{}: {}", check.name, check.detail),
        (None, None) => "passed".to_owned(),
    }
}
