//! Shared pieces of the ledger's criterion benches: seeded datasets cached on
//! disk ([`dataset::Dataset`]), the "before" schema ([`before_schema`]), the
//! benched queries ([`queries::Query`]), connection tuning ([`connect`]) and
//! the size and quick-pass settings read from the environment ([`settings`]).
//!
//! ```no_run
//! use benches::dataset::{Dataset, Variant};
//! use benches::settings::Size;
//!
//! let data = Dataset::cached(Size::K10, Variant::Ledger).unwrap();
//! println!("{}", data.path.display());
//! ```
#![warn(missing_docs)]

pub mod before_schema;
pub mod connect;
pub mod dataset;
pub mod inserts;
pub mod plans;
pub mod queries;
pub mod scratch;
pub mod settings;

/// Errors building or opening a bench dataset.
#[derive(Debug, thiserror::Error)]
pub enum BenchError {
    /// SQLite failed.
    #[error("failed to {what}")]
    Sqlite {
        /// What was being done.
        what: String,
        /// SQLite's error.
        #[source]
        source: rusqlite::Error,
    },
    /// The ledger refused to create its schema.
    #[error("failed to create the ledger schema")]
    Ledger(#[from] ledger::LedgerError),
    /// Building or reading a dataset failed.
    #[error("failed to prepare a dataset")]
    Dataset(#[from] perfkit::PerfError),
    /// A file operation failed.
    #[error("failed to {what} {path}")]
    Io {
        /// What was being done.
        what: &'static str,
        /// The path.
        path: std::path::PathBuf,
        /// The I/O error.
        #[source]
        source: std::io::Error,
    },
    /// A bad environment setting.
    #[error("bad {var} value {value:?}: {hint}")]
    Setting {
        /// The variable.
        var: &'static str,
        /// Its value.
        value: String,
        /// What would be accepted.
        hint: &'static str,
    },
}

/// A closure mapping a rusqlite error to [`BenchError::Sqlite`] saying `what`.
pub fn sql_err(what: impl Into<String>) -> impl FnOnce(rusqlite::Error) -> BenchError {
    let what = what.into();
    move |source| BenchError::Sqlite { what, source }
}
