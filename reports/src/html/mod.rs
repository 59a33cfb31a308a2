//! [`HtmlReporter`]: `report.html`, one self-contained file (inline CSS and SVG, no script, no
//! network) that shows at a glance what broke and, for each failure, how to reproduce it.
//!
//! Rendering is a pure function of [`RunResults`] and the history ([`render`]), built with
//! `maud`, which escapes every interpolated string: text from scenarios, SQLite and errors can
//! never become markup.

mod bit_flips;
mod explore;
mod failures;
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
                (explore::section(results))
                (failures::section(results))
                (sections::matrix(results))
                (bit_flips::section(results))
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
        failed.files = Some("failures/kill-writer-1/".into());
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
            TimelineEntry {
                operation: None,
                kind: TimelineKind::Fault,
                text: "crash image drop: 2 file(s)".into(),
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

    /// `small_run` with a second failing iteration failing the same check the same way in three
    /// checks, and a third failing another check.
    fn run_with_repeated_failures() -> RunResults {
        let mut run = small_run("d");
        let template = run.iterations[1].clone();
        let same = "01ABC: expected exported audit [\"initial\"], found absent (3 acknowledged write(s) missing)";
        for (iteration, first) in [(2, "acknowledged_durable"), (3, "integrity")] {
            let mut it = template.clone();
            it.iteration = iteration;
            it.checks = [first, "no_partial", "state_machine"]
                .iter()
                .map(|name| CheckResult {
                    name: (*name).into(),
                    passed: false,
                    detail: same.into(),
                })
                .collect();
            run.push(it);
        }
        run
    }

    #[test]
    fn failures_are_grouped_by_cause_and_a_shared_detail_is_said_once() {
        let html = render(&run_with_repeated_failures(), &[]);
        assert!(html.contains("Failures: 3 iterations, 2 causes"), "{html}");
        assert!(html.contains("kill-writer · acknowledged_durable failed"));
        assert!(html.contains("(2 iterations: #1, #2; process-crash)"));
        assert!(html.contains("kill-writer · integrity failed"));
        assert_eq!(
            html.matches("<p class=\"why\">").count(),
            2,
            "one why per cause"
        );
        assert!(
            html.contains("<strong>integrity, no_partial, state_machine</strong>"),
            "checks with the same detail are listed together"
        );
        let detail_blocks = html.matches("<pre>01ABC: expected exported audit").count();
        assert_eq!(
            detail_blocks, 3,
            "one detail block per iteration, not per check"
        );
    }

    #[test]
    fn the_minimal_case_has_its_replay_command_and_files() {
        let mut run = small_run("d");
        run.iterations[1].shrunk = Some(crate::results::ShrunkCase {
            operations_before: 40,
            operations: 3,
            tries: 23,
            budget_spent: false,
            failure: run.iterations[1].checks[0].clone(),
            trace_digest: "cafe".into(),
            capsule: Some("capsules/regression-kill-writer-1.toml".into()),
            replay: Some("resilience replay out/capsules/regression-kill-writer-1.toml".into()),
            files: Some("failures/kill-writer-1-minimal/".into()),
        });
        let html = render(&run, &[]);
        assert!(
            html.contains("Minimal case: a plan of 3 operations"),
            "{html}"
        );
        assert!(html.contains("shrunk from the original plan of 40 in 23 tries"));
        assert!(
            html.contains(
                "<code>resilience replay out/capsules/regression-kill-writer-1.toml</code>"
            )
        );
        assert!(html.contains("failures/kill-writer-1-minimal/"));
        assert!(
            html.contains("3 operations ran (of a plan of 40)"),
            "the original's count says what it counts"
        );
    }

    #[test]
    fn the_header_names_planted_bugs_overrides_and_skipped_iterations() {
        let mut run = small_run("d");
        assert!(render(&run, &[]).contains("Settings: the default run"));
        run.command = "resilience run --set target.mutant=durability-off --set target.synchronous=off --iterations 5"
            .split(' ')
            .map(str::to_owned)
            .collect();
        run.filter = Some("kill-writer".into());
        run.skipped.push(crate::results::SkippedIterations {
            scenario: "kill-writer".into(),
            count: 4,
            reason: "time budget spent".into(),
        });
        let html = render(&run, &[]);
        let header = &html[html.find("<header>").unwrap()..html.find("</header>").unwrap()];
        for text in [
            "planted bug <code>durability-off</code>",
            "--set <code>target.synchronous=off</code>",
            "iterations per scenario <code>5</code>",
            "filter <code>kill-writer</code>",
            "skipped iterations: 4 of kill-writer (time budget spent)",
        ] {
            assert!(header.contains(text), "{text} in {header}");
        }
    }

    #[test]
    fn wall_time_says_what_it_counts() {
        let mut run = small_run("d");
        assert!(render(&run, &[]).contains("wall time of the iterations (start-up not counted)"));
        run.shrink_wall_time_ms = 5200;
        let html = render(&run, &[]);
        assert!(html.contains("6.7 s"), "the total, shrinking included");
        assert!(html.contains("wall time: iterations 1.5 s + shrinking 5.2 s"));
    }

    #[test]
    fn trends_of_a_single_run_say_so() {
        let html = render(&small_run("d"), &[]);
        assert!(!html.contains("1 runs"));
        assert!(html.contains("Only this run so far"));
        let history = vec![HistoryEntry::from_results(&small_run("d"))];
        assert!(render(&small_run("d"), &history).contains("Over the last 2 runs"));
    }

    #[test]
    fn losses_where_durability_is_not_promised_name_the_scenario_and_why() {
        let mut run = small_run(
            "Power cut, rollback journal. The last commit can be lost, so acknowledged_durable is not checked here. More text.",
        );
        assert!(!render(&run, &[]).contains("not-promised"));
        let mut relaxed = IterationResult {
            lost_acknowledged: 3,
            ..IterationResult::new("kill-writer", "process-crash", 5, IterationStatus::Passed)
        };
        relaxed.checks.push(CheckResult {
            name: "integrity".into(),
            passed: true,
            detail: String::new(),
        });
        run.push(relaxed);
        let html = render(&run, &[]);
        assert!(
            html.contains("3 acknowledged writes were lost where durability is not promised"),
            "{html}"
        );
        assert!(
            html.contains("<code>kill-writer</code>: 3 lost; it does not check <code>acknowledged_durable</code>; its description says why: The last commit can be lost, so acknowledged_durable is not checked here.</li>"),
            "{html}"
        );
    }

    #[test]
    fn the_matrix_puts_the_longer_list_down_the_rows_and_never_scrolls() {
        let html = render(&small_run("d"), &[]);
        assert!(!html.contains("class=\"scroll\""));
        assert!(html.contains("<table class=\"matrix\">"));
        assert!(
            html.contains("check \\ family"),
            "as many checks as families: checks down"
        );
        let mut wide = small_run("d");
        for family in ["power-loss", "torn-writes"] {
            let mut it = wide.iterations[0].clone();
            it.family = family.into();
            wide.push(it);
        }
        assert!(
            render(&wide, &[]).contains("family \\ check"),
            "more families than checks: families down"
        );
        let html = render(&run_with_repeated_failures(), &[]);
        assert!(
            html.contains("acknowledged_<wbr>durable"),
            "headings wrap at underscores"
        );
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
        let matrix = &html[html.find("<section id=\"matrix\">").unwrap()..];
        let matrix = &matrix[..matrix.find("</section>").unwrap()];
        assert!(
            !matrix.contains(" bad\"") && !matrix.contains("\"bad"),
            "nothing is coloured as a failure, not even the expected loss: {matrix}"
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
