//! Memory: the pressure probe ([`MemoryProbe`]), the cache-size rule and
//! pressure hysteresis ([`adaptive_cache`]) and the hot queries' working set
//! the rule sizes the cache to ([`working_set`]), and the watch that gives a
//! scan-dominated connection the floor ([`scan_watch`]).

pub mod adaptive_cache;
pub mod probe;
pub mod scan_watch;
pub mod working_set;

pub use adaptive_cache::{CacheChoice, CacheInputs, CacheReason, ConnectionUse, PressureTracker};
pub use probe::{ManualProbe, MemoryProbe, MemorySample, ProcMemoryProbe};
