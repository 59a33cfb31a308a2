//! The benched reads, from `perfkit` (the harness's perf scenarios run them too): [`Query`], [`Probe`].

pub use perfkit::queries::{Probe, Query};
