//! The `perf/` scenario family's measurement ([`scenario::PerfSpec`],
//! [`scenario::measure`]; the recovery-time claims' crash images in [`crash_reopen`]) and
//! regression check ([`regression`]), on top of
//! the shared toolkit [`perfkit`] (A/B runner, bootstrap ratios, claims,
//! plan check, seeded datasets, measured queries), re-exported here.

pub mod crash_reopen;
pub mod regression;
pub mod scenario;

pub use perfkit::{
    AbConfig, AbReport, AbSamples, Arm, Claim, ClaimGate, ClaimTable, DEFAULT_BACKLOG_PERMILLE,
    PerfError, PlanExpectation, PlanProblem, PlanRow, RatioEstimate, START_MS, Verdict, YEAR_MS,
    ab_report, before_schema, bootstrap_median_interval, check_plan, connect, dataset, goal_claims,
    measure_pairs, median, queries, query_plan, recovery_time_claims, run_ab, seed_claims, sql_err,
};
