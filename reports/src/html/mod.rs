//! [`HtmlReporter`]: `report.html`, one self-contained file (inline CSS and SVG, no script, no
//! network) that shows at a glance what broke and, for each failure, how to reproduce it.
//!
//! Rendering is a pure function of [`RunResults`] and the history ([`render`]), built with
//! `maud`, which escapes every interpolated string: text from scenarios, SQLite and errors can
//! never become markup.

mod bit_flips;
mod figures;
mod perf;
mod sections;
mod selftest;
mod svg;

use std::io;
use std::path::PathBuf;

use maud::{DOCTYPE, Markup, PreEscaped, html};

use crate::Reporter;
use crate::events::RunEvent;
use crate::history::HistoryEntry;
use crate::results::RunResults;

/// The report's stylesheet, inlined into the page.
const STYLE: &str = include_str!("style.css");

/// Writes `report.html` when the run finishes (and once at the start, so a long run already
/// has a page to open).
pub struct HtmlReporter {
    path: PathBuf,
    history: Vec<HistoryEntry>,
    results: Option<RunResults>,
}

impl HtmlReporter {
    /// A reporter writing to `path`, with earlier runs' `history` (oldest first) for trends.
    pub fn new(path: impl Into<PathBuf>, history: Vec<HistoryEntry>) -> HtmlReporter {
        HtmlReporter {
            path: path.into(),
            history,
            results: None,
        }
    }
}

impl Reporter for HtmlReporter {
    fn on_event(&mut self, event: &RunEvent) -> io::Result<()> {
        RunResults::apply(&mut self.results, event);
        match (event, &self.results) {
            (RunEvent::Started(_) | RunEvent::Finished { .. }, Some(results)) => {
                crate::write_file_atomically(&self.path, render(results, &self.history).as_bytes())
            }
            _ => Ok(()),
        }
    }
}

/// The whole page for a run and its history (oldest first, not including this run).
pub fn render(results: &RunResults, history: &[HistoryEntry]) -> String {
    let page: Markup = html! {
        (DOCTYPE)
        html lang="en" {
            head {
                meta charset="utf-8";
                meta name="viewport" content="width=device-width, initial-scale=1";
                title { "resilience report: " (sections::verdict_text(results)) }
                style { (PreEscaped(STYLE)) }
            }
            body {
                (sections::summary(results))
                @if let Some(kill) = &results.selftest { (selftest::kill_matrix(kill)) }
                (sections::matrix(results))
                (bit_flips::section(results))
                (sections::failures(results))
                (perf::section(results))
                (figures::section(results))
                (sections::trends(results, history))
                (sections::scenarios(results))
            }
        }
    };
    page.into_string()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::events::{RunStarted, ScenarioInfo};
    use crate::results::{
        CheckResult, IterationResult, IterationStatus, TimelineEntry, TimelineKind,
    };

    /// A small, fixed run: one passing and one failing iteration of a crash scenario.
    fn small_run(description: &str) -> RunResults {
        let mut started = RunStarted::example();
        started.revision = "v0-test".into();
        started.scenarios = vec![ScenarioInfo {
            name: "kill-writer".into(),
            family: "process-crash".into(),
            tags: vec!["smoke".into()],
            description: description.into(),
            planned_iterations: 2,
        }];
        let mut results = RunResults::new(&started);
        let base = IterationResult {
            base_seed: 7,
            seed: 1234,
            checks: vec![CheckResult {
                name: "acknowledged_durable".into(),
                passed: true,
                detail: String::new(),
            }],
            trace_digest: "00ff".into(),
            duration_ms: 10,
            operations: 3,
            acknowledged: 3,
            faults_injected: 1,
            replay: "resilience replay kill-writer --seed 7 --iteration 0".into(),
            ..IterationResult::new("kill-writer", "process-crash", 0, IterationStatus::Passed)
        };
        let mut failed = base.clone();
        failed.bit_flips = Some(crate::results::BitFlipCounts {
            injected: 3,
            in_page_reads: 2,
            detected: 2,
        });
        failed.iteration = 1;
        failed.seed = 5678;
        failed.status = IterationStatus::Failed;
        failed.lost_acknowledged = 1;
        failed.replay = "resilience replay kill-writer --seed 7 --iteration 1".into();
        failed.checks[0] = CheckResult {
            name: "acknowledged_durable".into(),
            passed: false,
            detail: "01ABC: expected exported audit [\"initial\"], found absent (3 acknowledged write(s) missing)".into(),
        };
        failed.timeline = vec![
            TimelineEntry {
                operation: Some(0),
                kind: TimelineKind::Acknowledged,
                text: "stage #0 email (40 bytes)".into(),
                outcome: "ok staged 01ABC".into(),
            },
            TimelineEntry {
                operation: Some(1),
                kind: TimelineKind::InFlight,
                text: "transcribe #0 (20 bytes)".into(),
                outcome: "in flight (no answer)".into(),
            },
            TimelineEntry {
                operation: Some(1),
                kind: TimelineKind::Fault,
                text: "kill -9 of the writer 10us after operation 1 started".into(),
                outcome: String::new(),
            },
        ];
        results.push(base);
        results.push(failed);
        results.complete = true;
        results.wall_time_ms = 1500;
        results
    }

    /// The page body, one tag per line so a snapshot diff reads well.
    fn body(html: &str) -> String {
        html[html.find("<body>").expect("has a body")..].replace("><", ">\n<")
    }

    #[test]
    fn a_small_report_keeps_its_structure() {
        let history = vec![HistoryEntry::from_results(&small_run("d"))];
        insta::assert_snapshot!(body(&render(&small_run("kill -9 of the writer"), &history)));
    }

    #[test]
    fn the_failure_section_shows_the_replay_command_and_the_detail() {
        let html = render(&small_run("d"), &[]);
        assert!(html.contains("resilience replay kill-writer --seed 7 --iteration 1"));
        assert!(html.contains("3 acknowledged write(s) missing"));
        assert!(html.contains("<span class=\"verdict fail\">FAIL</span>"));
    }

    #[test]
    fn a_check_that_failed_as_expected_is_not_shown_as_a_failure() {
        let mut run = small_run("d");
        let caught = run
            .iterations
            .iter_mut()
            .find(|i| i.iteration == 1)
            .unwrap();
        caught.status = IterationStatus::Passed;
        let html = render(&run, &[]);
        assert!(
            html.contains("1 ✓ · 1 expected ✗"),
            "the matrix names the expected failure"
        );
        assert!(
            !html.contains("td class=\"bad"),
            "nothing is coloured as a failure"
        );
    }

    #[test]
    fn text_from_scenarios_and_errors_is_escaped() {
        let html = render(&small_run("<script>alert('x')</script> & <b>bold</b>"), &[]);
        assert!(
            !html.contains("<script"),
            "a scenario description must not inject markup"
        );
        assert!(!html.contains("<b>bold"));
        assert!(
            html.contains("&lt;script&gt;alert('x')&lt;/script&gt; &amp; &lt;b&gt;bold&lt;/b&gt;")
        );
    }

    #[test]
    fn bit_flips_show_per_scenario_only_when_an_iteration_flipped_bits() {
        let html = render(&small_run("d"), &[]);
        assert!(html.contains("<section id=\"bit-flips\">"));
        let mut quiet = small_run("d");
        quiet.iterations.iter_mut().for_each(|i| i.bit_flips = None);
        assert!(!render(&quiet, &[]).contains("bit-flips"));
    }

    #[test]
    fn the_page_is_self_contained() {
        let html = render(&small_run("d"), &[]);
        for needle in ["http://", "https://", "<script", "<link", "src="] {
            assert!(
                !html.contains(needle),
                "the report must not fetch anything: found {needle}"
            );
        }
    }
}
