//! [`ProgressReporter`]: what a person watching the run sees on stderr.
//!
//! On a terminal: a progress bar with the iteration count, failures so far and the scenario
//! last finished. Elsewhere (CI logs): a plain status line every few seconds. In both, each
//! failure is printed as it happens with its replay command, and each scenario when its last
//! iteration finishes.

use std::collections::BTreeMap;
use std::io::{self, IsTerminal};
use std::time::{Duration, Instant};

use indicatif::{ProgressBar, ProgressStyle};

use crate::Reporter;
use crate::events::RunEvent;
use crate::results::{IterationResult, IterationStatus, Summary};

/// How often a plain status line is printed when stderr is not a terminal.
const STATUS_INTERVAL: Duration = Duration::from_secs(5);

/// Progress on stderr.
pub struct ProgressReporter {
    bar: Option<ProgressBar>,
    started: Instant,
    last_status: Instant,
    planned: u64,
    remaining: BTreeMap<String, u64>,
    summary: Summary,
}

impl Default for ProgressReporter {
    fn default() -> Self {
        ProgressReporter::new()
    }
}

impl ProgressReporter {
    /// A reporter that draws a bar when stderr is a terminal and prints lines otherwise.
    pub fn new() -> ProgressReporter {
        ProgressReporter {
            bar: None,
            started: Instant::now(),
            last_status: Instant::now(),
            planned: 0,
            remaining: BTreeMap::new(),
            summary: Summary::default(),
        }
    }

    fn line(&self, text: &str) {
        match &self.bar {
            Some(bar) => bar.println(text),
            None => eprintln!("{text}"),
        }
    }

    fn finished(&mut self, it: &IterationResult) {
        self.summary.add(it);
        if it.status != IterationStatus::Passed {
            let why = it
                .error
                .clone()
                .or_else(|| {
                    it.first_failure()
                        .map(|c| format!("{}: {}", c.name, c.detail))
                })
                .unwrap_or_default();
            let label = if it.status == IterationStatus::Failed {
                "FAIL "
            } else {
                "ERROR"
            };
            self.line(&format!(
                "{label} {}#{} (seed {}): {}\n      replay: {}",
                it.scenario,
                it.iteration,
                it.seed,
                why.lines().next().unwrap_or_default(),
                it.replay
            ));
        }
        if let Some(left) = self.remaining.get_mut(&it.scenario) {
            *left = left.saturating_sub(1);
            if *left == 0 {
                self.line(&format!(
                    "done  {} (run totals: {} passed, {} failed, {} errors)",
                    it.scenario, self.summary.passed, self.summary.failed, self.summary.errors
                ));
            }
        }
        match &self.bar {
            Some(bar) => {
                bar.set_position(self.summary.iterations);
                bar.set_message(format!(
                    "{} failed, {} errors, {} lost · {}",
                    self.summary.failed,
                    self.summary.errors,
                    self.summary.lost_acknowledged,
                    it.scenario
                ));
            }
            None if self.last_status.elapsed() >= STATUS_INTERVAL => {
                self.last_status = Instant::now();
                eprintln!(
                    "[{}/{}] passed {} failed {} errors {} lost acknowledged {} ({}s)",
                    self.summary.iterations,
                    self.planned,
                    self.summary.passed,
                    self.summary.failed,
                    self.summary.errors,
                    self.summary.lost_acknowledged,
                    self.started.elapsed().as_secs()
                );
            }
            None => {}
        }
    }
}

impl Reporter for ProgressReporter {
    fn on_event(&mut self, event: &RunEvent) -> io::Result<()> {
        match event {
            RunEvent::Started(started) => {
                self.planned = started.planned_iterations;
                self.remaining = started
                    .scenarios
                    .iter()
                    .map(|s| (s.name.clone(), s.planned_iterations))
                    .collect();
                if io::stderr().is_terminal() {
                    let bar = ProgressBar::new(self.planned);
                    bar.set_style(
                        ProgressStyle::with_template(
                            "{elapsed_precise} [{bar:30}] {pos}/{len} {msg}",
                        )
                        .unwrap_or_else(|_| ProgressStyle::default_bar())
                        .progress_chars("=> "),
                    );
                    self.bar = Some(bar);
                }
            }
            RunEvent::IterationFinished(it) => self.finished(it),
            RunEvent::IterationsSkipped {
                scenario,
                count,
                reason,
            } => {
                self.line(&format!(
                    "skipped {count} iteration(s) of {scenario}: {reason}"
                ));
            }
            RunEvent::Finished { .. } => {
                if let Some(bar) = self.bar.take() {
                    bar.finish_and_clear();
                }
            }
        }
        Ok(())
    }
}
