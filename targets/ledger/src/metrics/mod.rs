//! What the ledger measures about itself: [`Recorder`] (in memory, per
//! process) and [`MetricsSnapshot`] (that plus what the database says),
//! written as JSON lines by [`JsonLinesSink`].

pub(crate) mod db_status;
mod histogram;
mod jsonl;
mod recorder;
mod snapshot;

pub use histogram::{Histogram, LatencySummary};
pub use jsonl::JsonLinesSink;
pub use recorder::{Operation, OperationStats, Recorder};
pub use snapshot::{
    BusyMetrics, CacheMetrics, ExportMetrics, MetricsSnapshot, OperationMetrics, StorageMetrics,
};

pub(crate) use db_status::cache_counters;
pub(crate) use snapshot::{storage, take, wal_bytes};
