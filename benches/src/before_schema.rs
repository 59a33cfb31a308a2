//! The seed's "before" schema, from `perfkit` (the harness's perf scenarios use it too): [`DDL`].

pub use perfkit::before_schema::DDL;
