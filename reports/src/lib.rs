//! Run results and the reporters that write them.
//!
//! The runner speaks to this crate only through [`events::RunEvent`]: it hands every event to a
//! [`Reporter`], and each reporter turns the stream into one output. [`json::JsonReporter`] writes
//! `results.json`, whose schema is [`results::RunResults`].
//!
//! ```
//! use reports::events::{RunEvent, RunStarted};
//! use reports::json::JsonReporter;
//! use reports::Reporter;
//!
//! let dir = tempfile::tempdir().unwrap();
//! let mut reporter = JsonReporter::new(dir.path().join("results.json"));
//! reporter.on_event(&RunEvent::Started(RunStarted::example())).unwrap();
//! reporter.on_event(&RunEvent::Finished { wall_time_ms: 5, interrupted: false }).unwrap();
//! assert!(dir.path().join("results.json").exists());
//! ```
#![warn(missing_docs)]

pub mod events;
pub mod explore;
pub mod history;
pub mod html;
pub mod json;
pub mod junit;
pub mod merge;
pub mod perf;
pub mod progress;
pub mod results;
pub mod run_settings;
pub mod selftest;
pub mod triage;

pub use events::RunEvent;
pub use results::{
    BitFlipCounts, CheckResult, DurabilityPromise, IterationResult, IterationStatus, RunResults,
    ShrunkCase, Summary,
};

/// A sink for the run's event stream; one implementation per output format.
pub trait Reporter {
    /// Takes one event. An error means the output could not be written.
    fn on_event(&mut self, event: &RunEvent) -> std::io::Result<()>;
}

/// Writes `bytes` to `path` through `<path>.tmp`, fsync and a rename, creating the parent
/// directory: readers never see a half-written file.
pub fn write_file_atomically(path: &std::path::Path, bytes: &[u8]) -> std::io::Result<()> {
    use std::io::Write;
    if let Some(parent) = path.parent() {
        std::fs::create_dir_all(parent)?;
    }
    let mut tmp_name = path.file_name().unwrap_or_default().to_owned();
    tmp_name.push(".tmp");
    let tmp = path.with_file_name(tmp_name);
    let mut file = std::fs::File::create(&tmp)?;
    file.write_all(bytes)?;
    file.sync_all()?;
    std::fs::rename(&tmp, path)
}
