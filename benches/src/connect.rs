//! Opening a dataset with a cache and mmap setting: perfkit's [`Tuning`] and [`open`], and
//! [`open_adaptive`], which sizes the cache with the ledger's own rule.

pub use ledger::memory::adaptive_cache::{CacheChoice, ConnectionUse};
pub use perfkit::connect::{
    MMAP_256_MIB, Tuning, describe_choice, ledger_ceiling_kib, open, open_adaptive,
};
