//! Opening a dataset with a cache and mmap setting: the harness's [`Tuning`] and [`open`], and
//! [`open_adaptive`], which sizes the cache with the ledger's own rule.

pub use harness::perf::connect::{
    MMAP_256_MIB, Tuning, describe_choice, ledger_ceiling_kib, open, open_adaptive,
};
pub use ledger::memory::adaptive_cache::{CacheChoice, ConnectionUse};
