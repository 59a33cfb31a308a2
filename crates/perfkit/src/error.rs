//! Errors of the perf checks: [`PerfError`].

/// What can go wrong measuring a ratio or reading a query plan.
#[derive(Debug, thiserror::Error)]
pub enum PerfError {
    /// No samples to summarise (zero pairs, or every sample was rejected).
    #[error("no samples to summarise: run at least one A/B pair")]
    NoSamples,
    /// A timing that cannot form a ratio (zero, negative or not finite).
    #[error("invalid timing {value} s for the {arm} arm: timings must be finite and positive")]
    InvalidTiming {
        /// The arm's name.
        arm: &'static str,
        /// The offending value, in seconds.
        value: f64,
    },
    /// A configuration value out of range.
    #[error("invalid A/B configuration: {0}")]
    InvalidConfig(String),
    /// An arm of a measurement failed.
    #[error("the {arm} arm failed in pair {pair}")]
    Arm {
        /// The arm's name.
        arm: &'static str,
        /// The 0-based pair index.
        pair: usize,
        /// The arm's own error.
        #[source]
        source: Box<dyn std::error::Error + Send + Sync>,
    },
    /// SQLite refused to explain a query.
    #[error("failed to read the query plan of {sql:?}")]
    Plan {
        /// The query.
        sql: String,
        /// SQLite's error.
        #[source]
        source: rusqlite::Error,
    },
    /// SQLite failed while building, opening or querying a dataset.
    #[error("failed to {what}")]
    Sqlite {
        /// What was being done.
        what: String,
        /// SQLite's error.
        #[source]
        source: rusqlite::Error,
    },
    /// The ledger refused to create its schema in a dataset.
    #[error("failed to create the ledger schema")]
    Ledger(#[from] ledger::LedgerError),
    /// A file operation on a dataset failed.
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
}

/// A closure mapping a rusqlite error to [`PerfError::Sqlite`] saying `what`.
pub fn sql_err(what: impl Into<String>) -> impl FnOnce(rusqlite::Error) -> PerfError {
    let what = what.into();
    move |source| PerfError::Sqlite { what, source }
}
