//! Integration tests of the staging ledger, one module per area.

mod checksums;
mod cli_first_use;
mod determinism;
mod export;
mod free_and_overflow_damage;
mod header_damage;
mod health;
mod locks;
mod maintenance;
mod migrations;
mod model;
mod production_build;
mod query_plan;
mod recovery_report;
mod safety;
mod schema_invariants;
mod support;
mod transitions;
mod wal_damage;
