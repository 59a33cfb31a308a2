//! The engine: runs every iteration of a run in worker processes and turns what they report
//! into results. It names no family: a family reaches it only through [`Family`].
//!
//! [`run`] plans the (scenario, iteration) space (seeds, shards, the time budget), runs
//! `--jobs` iterations at a time, each with [`supervisor::run_iteration`] (a drive worker that
//! executes the workload under the family's faults, then a fresh check worker that reopens the
//! database and runs the oracle), each worker forked by a warm [`fork_server`] (or exec'd), and
//! hands every result to the reporters as [`reports::RunEvent`]s. A worker that dies, hangs or
//! is killed is a result, never a harness crash. Shrinking ([`shrink_run`]) re-runs smaller
//! plans of a failing deterministic iteration.

mod check;
mod control;
pub mod coverage;
pub mod drive;
mod error;
pub mod evidence;
mod expected;
pub mod explore;
pub mod family;
pub mod fork_server;
pub mod heap_settings;
pub mod job;
mod launch;
mod outcome;
mod pool;
mod reporting;
mod seed;
mod shard;
pub mod shrink;
pub mod shrink_run;
pub mod signal;
pub mod signature;
mod stop_signals;
pub mod supervisor;
mod verdicts;
mod work_root;
pub mod worker;
mod worker_output;

pub use check::{
    check, evidence_after_reopen, evidence_after_reopen_at, evidence_for_execution,
    evidence_of_crash_image,
};
pub use control::{NO_FORK_SERVER_ENV, RunControl, StopSignal};
pub use drive::{
    Sink, WorkerError, apply_workload_pragmas, drive_options, fresh_dir, iteration_dir,
    ledger_config, ledger_config_at, run_plain, scratch_target,
};
pub use expected::EXPECTED_FAILURES;
pub use explore::{ExploreLimits, ExploreProgress, Explored, explore};
pub use family::{Family, IterationContext, WorkerPhase};
pub use job::{
    CheckInput, CheckedDatabase, IterationJob, WorkerMessage, execution_from, read_json, report,
    send_line,
};
pub use launch::{end_thread_fork_server, thread_fork_server_pid};
pub use outcome::IterationOutcome;
pub use pool::{RunError, RunPlan, run};
pub use reporting::ReportingDrive;
pub use seed::iteration_seed;
pub use shard::{in_shard, parse_shard};
pub use signal::{SignalAction, SignalPlan, kill_group};
pub use stop_signals::install_stop_signals;
pub use supervisor::{base_result, run_iteration, run_worker};
pub use verdicts::{Judged, Verdicts};
pub use work_root::work_dir;
pub use worker::run_phase;
