//! `resilience selftest`: does the harness go red on real bugs? [`run_selftest`] runs each
//! planted bug of [`ledger::mutants::CATALOGUE`] against the families that should catch it,
//! and the real ledger over every family, and returns the [`reports::selftest::KillMatrix`].

mod kill;

pub use kill::{SelftestPlan, run_selftest};
