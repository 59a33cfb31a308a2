//! The ledger's performance toolkit, as ratios, never absolute times: the
//! A/B runner ([`run_ab`], [`AbReport`]), the bootstrap interval of the
//! median ratio ([`RatioEstimate`]), the seed's claims ([`Claim`],
//! [`seed_claims`]), our adaptive-cache goals ([`goal_claims`]) and the
//! query-plan check ([`check_plan`]); the seeded datasets they run on
//! ([`dataset::Dataset`]), the "before" schema ([`before_schema`]), the
//! measured queries ([`queries::Query`]) and connection tuning ([`connect`]).
//!
//! Shared by the harness's `perf/` scenario family and the criterion benches.
//! It depends on the ledger with its default features only, so the benches,
//! which do not depend on the harness, measure a ledger without fail points
//! or planted bugs.
//!
//! Both arms run alternately in one process on the same data (ABAB…, so
//! drift hits both), each pair gives a ratio `baseline / candidate` (above 1:
//! the candidate is faster), and the median of the ratios is reported with a
//! seeded percentile-bootstrap interval. An A/A control (the baseline against
//! itself, same alternation) shows how far from 1 noise alone moves the ratio.
//!
//! ```
//! use perfkit::{AbConfig, Arm, measure_pairs};
//!
//! // Deterministic fake timings: the candidate takes a third of the baseline's time.
//! let samples = measure_pairs(&AbConfig::quick(), |arm, _| {
//!     Ok::<_, std::convert::Infallible>(match arm { Arm::Baseline => 3.0, Arm::Candidate => 1.0 })
//! })
//! .unwrap();
//! let estimate = samples.estimate(&AbConfig::quick()).unwrap();
//! assert_eq!(estimate.median, 3.0);
//! ```
#![warn(missing_docs)]

mod ab;
pub mod before_schema;
mod claim;
pub mod connect;
pub mod dataset;
mod error;
mod generate;
mod plan;
pub mod queries;
mod stats;

pub use ab::{
    AbConfig, AbReport, AbSamples, Arm, Clock, Slot, ab_report, ab_report_by_slot, measure_pairs,
    run_ab, run_ab_twinned,
};
pub use claim::{
    Claim, ClaimGate, ClaimTable, Verdict, goal_claims, recovery_time_claims, seed_claims,
};
pub use error::{PerfError, sql_err};
pub use generate::{DEFAULT_BACKLOG_PERMILLE, START_MS, YEAR_MS};
pub use plan::{PlanExpectation, PlanProblem, PlanRow, check_plan, query_plan};
pub use stats::{
    RatioEstimate, bootstrap_median_interval, median, sign_flip_null_by_set,
    sign_flip_null_interval,
};
