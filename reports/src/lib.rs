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
pub mod json;
pub mod results;

pub use events::RunEvent;
pub use results::{CheckResult, IterationResult, IterationStatus, RunResults, Summary};

/// A sink for the run's event stream; one implementation per output format.
pub trait Reporter {
    /// Takes one event. An error means the output could not be written.
    fn on_event(&mut self, event: &RunEvent) -> std::io::Result<()>;
}
