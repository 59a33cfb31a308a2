//! The seed's "before" schema, shared with the harness's perf scenarios: [`DDL`].

pub use harness::perf::before_schema::DDL;
