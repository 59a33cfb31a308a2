//! Memory: the pressure probe ([`MemoryProbe`]) and the cache-size rule and
//! pressure hysteresis ([`adaptive_cache`]).

pub mod adaptive_cache;
pub mod probe;

pub use adaptive_cache::{CacheChoice, CacheInputs, CacheReason, ConnectionUse, PressureTracker};
pub use probe::{ManualProbe, MemoryProbe, MemorySample, ProcMemoryProbe};
