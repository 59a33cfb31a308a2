//! [`HistoryEntry`]: one line per run in `history.jsonl`, so reports can show trends.
//!
//! The history directory is kept between nightly runs (`--history DIR`); each run appends its
//! summary, and the report reads the last [`TREND_RUNS`] lines. A line that does not parse
//! (written by a newer version, or truncated by a crash) is skipped, never fatal.

use std::collections::BTreeMap;
use std::fs::{self, OpenOptions};
use std::io::{self, BufRead, BufReader, Write};
use std::path::Path;

use serde::{Deserialize, Serialize};

use crate::results::RunResults;

/// How many earlier runs the report's trends show.
pub const TREND_RUNS: usize = 30;

/// The history file's name inside the history directory.
pub const HISTORY_FILE: &str = "history.jsonl";

/// The summary of one run, as kept in the history.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct HistoryEntry {
    /// Seconds since the Unix epoch at the start.
    pub started_at_unix: u64,
    /// Source revision.
    pub revision: String,
    /// Base seed.
    pub base_seed: u64,
    /// Iterations finished.
    pub iterations: u64,
    /// Iterations passed.
    pub passed: u64,
    /// Iterations failed.
    pub failed: u64,
    /// Iterations in error.
    pub errors: u64,
    /// Lost acknowledged writes.
    pub lost_acknowledged: u64,
    /// Wall time.
    pub wall_time_ms: u64,
    /// Named figures to trend (e.g. perf ratios, crash states per second), by name.
    #[serde(default)]
    pub figures: BTreeMap<String, f64>,
}

impl HistoryEntry {
    /// The entry for a finished run.
    pub fn from_results(results: &RunResults) -> HistoryEntry {
        HistoryEntry {
            started_at_unix: results.started_at_unix,
            revision: results.revision.clone(),
            base_seed: results.base_seed,
            iterations: results.summary.iterations,
            passed: results.summary.passed,
            failed: results.summary.failed,
            errors: results.summary.errors,
            lost_acknowledged: results.summary.lost_acknowledged,
            wall_time_ms: results.wall_time_ms,
            figures: crate::perf::history_figures(results),
        }
    }

    /// Passed iterations as a fraction of finished ones (1.0 for an empty run).
    pub fn pass_rate(&self) -> f64 {
        if self.iterations == 0 {
            1.0
        } else {
            self.passed as f64 / self.iterations as f64
        }
    }
}

/// Appends `entry` as one line to `<dir>/history.jsonl`.
pub fn append(dir: &Path, entry: &HistoryEntry) -> io::Result<()> {
    fs::create_dir_all(dir)?;
    let mut line = serde_json::to_vec(entry)?;
    line.push(b'\n');
    let mut file = OpenOptions::new()
        .create(true)
        .append(true)
        .open(dir.join(HISTORY_FILE))?;
    file.write_all(&line)?;
    file.sync_all()
}

/// The last `n` readable entries of `<dir>/history.jsonl`, oldest first; empty when there is
/// no history yet.
pub fn read_last(dir: &Path, n: usize) -> io::Result<Vec<HistoryEntry>> {
    let file = match fs::File::open(dir.join(HISTORY_FILE)) {
        Ok(f) => f,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(e) => return Err(e),
    };
    let mut entries: Vec<HistoryEntry> = BufReader::new(file)
        .lines()
        .map_while(Result::ok)
        .filter_map(|line| serde_json::from_str(&line).ok())
        .collect();
    let skip = entries.len().saturating_sub(n);
    entries.drain(..skip);
    Ok(entries)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entry(passed: u64) -> HistoryEntry {
        HistoryEntry {
            started_at_unix: passed,
            revision: "abc".into(),
            base_seed: 1,
            iterations: 10,
            passed,
            failed: 10 - passed,
            errors: 0,
            lost_acknowledged: 0,
            wall_time_ms: 5,
            figures: BTreeMap::new(),
        }
    }

    #[test]
    fn keeps_the_last_n_and_skips_broken_lines() {
        let dir = tempfile::tempdir().unwrap();
        assert!(read_last(dir.path(), 3).unwrap().is_empty());
        for p in 0..5 {
            append(dir.path(), &entry(p)).unwrap();
        }
        let mut file = OpenOptions::new()
            .append(true)
            .open(dir.path().join(HISTORY_FILE))
            .unwrap();
        file.write_all(b"{\"truncated\":\n").unwrap();
        let last = read_last(dir.path(), 3).unwrap();
        assert_eq!(last.iter().map(|e| e.passed).collect::<Vec<_>>(), [2, 3, 4]);
        assert_eq!(last[2].pass_rate(), 0.4);
    }
}
