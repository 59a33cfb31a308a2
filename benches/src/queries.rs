//! The benched reads, shared with the harness's perf scenarios: [`Query`], [`Probe`].

pub use harness::perf::queries::{Probe, Query};
