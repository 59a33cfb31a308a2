//! Opening a dataset with a cache and mmap setting: the harness's [`Tuning`] and [`open`].

pub use harness::perf::connect::{MMAP_256_MIB, Tuning, open};
