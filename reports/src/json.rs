//! [`JsonReporter`]: writes `results.json` as the run goes.
//!
//! The file is rewritten through a temporary file and an atomic rename, so a reader (or a run cut
//! short) always sees a complete, parseable file. While the run goes, `complete` is false.

use std::fs;
use std::io;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use crate::Reporter;
use crate::events::RunEvent;
use crate::results::RunResults;

/// How often the in-progress file is rewritten at most.
const REWRITE_INTERVAL: Duration = Duration::from_millis(500);

/// Collects the run into [`RunResults`] and keeps `results.json` current.
pub struct JsonReporter {
    path: PathBuf,
    results: Option<RunResults>,
    last_write: Option<Instant>,
    rewrite_interval: Duration,
}

impl JsonReporter {
    /// A reporter writing to `path` (usually `<out>/results.json`).
    pub fn new(path: impl Into<PathBuf>) -> JsonReporter {
        JsonReporter {
            path: path.into(),
            results: None,
            last_write: None,
            rewrite_interval: REWRITE_INTERVAL,
        }
    }

    /// Rewrites the in-progress file at most every `interval` instead of every 500 ms: a long
    /// run's file is large, and rewriting it often costs the run time.
    pub fn rewrite_every(mut self, interval: Duration) -> JsonReporter {
        self.rewrite_interval = interval;
        self
    }

    /// The results collected so far.
    pub fn results(&self) -> Option<&RunResults> {
        self.results.as_ref()
    }

    fn write_now(&mut self) -> io::Result<()> {
        if let Some(results) = &self.results {
            write_atomically(&self.path, results)?;
            self.last_write = Some(Instant::now());
        }
        Ok(())
    }

    fn write_if_due(&mut self) -> io::Result<()> {
        match self.last_write {
            Some(at) if at.elapsed() < self.rewrite_interval => Ok(()),
            _ => self.write_now(),
        }
    }
}

impl Reporter for JsonReporter {
    fn on_event(&mut self, event: &RunEvent) -> io::Result<()> {
        RunResults::apply(&mut self.results, event);
        match event {
            RunEvent::IterationFinished(_) => self.write_if_due(),
            RunEvent::IterationsSkipped { .. } => Ok(()),
            RunEvent::Started(_) | RunEvent::Finished { .. } => self.write_now(),
        }
    }
}

/// Writes `value` as pretty JSON to `path` through a temporary file and a rename.
pub fn write_atomically(path: &Path, value: &impl serde::Serialize) -> io::Result<()> {
    let mut bytes = serde_json::to_vec_pretty(value)?;
    bytes.push(b'\n');
    crate::write_file_atomically(path, &bytes)
}

/// Reads a `results.json` back.
pub fn read_results(path: &Path) -> io::Result<RunResults> {
    let text = fs::read_to_string(path)?;
    serde_json::from_str(&text).map_err(io::Error::other)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::events::RunStarted;
    use crate::results::{CheckResult, IterationResult, IterationStatus};

    fn iteration(status: IterationStatus, lost: u64) -> IterationResult {
        IterationResult {
            base_seed: 1,
            seed: 2,
            checks: vec![CheckResult {
                name: "acknowledged_durable".into(),
                passed: status == IterationStatus::Passed,
                detail: String::new(),
            }],
            trace_digest: "d".into(),
            duration_ms: 1,
            operations: 10,
            acknowledged: 9,
            faults_injected: 1,
            lost_acknowledged: lost,
            replay: "resilience replay s --seed 1 --iteration 0".into(),
            ..IterationResult::new("s", "f", 0, status)
        }
    }

    #[test]
    fn file_is_valid_while_running_and_complete_at_the_end() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("out/results.json");
        let mut reporter = JsonReporter::new(&path);
        reporter
            .on_event(&RunEvent::Started(RunStarted::example()))
            .unwrap();
        let during = read_results(&path).unwrap();
        assert!(!during.complete);
        reporter
            .on_event(&RunEvent::IterationFinished(Box::new(iteration(
                IterationStatus::Failed,
                2,
            ))))
            .unwrap();
        reporter
            .on_event(&RunEvent::Finished {
                wall_time_ms: 3,
                interrupted: false,
            })
            .unwrap();
        let done = read_results(&path).unwrap();
        assert!(done.complete);
        assert_eq!(done.iterations.len(), 1);
        assert_eq!(done.summary.failed, 1);
        assert_eq!(done.summary.lost_acknowledged, 2);
        assert!(!done.summary.all_passed());
        assert!(!dir.path().join("out/results.json.tmp").exists());
    }
}
