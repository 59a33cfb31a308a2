//! The runner: a supervisor that runs each iteration in worker processes.
//!
//! [`run`] plans the (scenario, iteration) space, runs `--jobs` iterations at a time, each with
//! [`supervisor::run_iteration`] (a "drive" worker that executes the workload and a fresh
//! "check" worker that reopens the database and runs the oracle), and hands every result to the
//! reporters as [`reports::RunEvent`]s. A worker that dies, hangs or is killed is a result,
//! never a harness crash.

mod after_recovery;
mod backup_crash;
pub mod backup_drill;
mod backup_drive;
pub mod backup_step;
mod control;
mod corruption_drive;
mod exhaustive;
mod expected;
mod fail_drive;
mod failpoint_sweep;
mod job;
mod lock_actors;
mod lock_drive;
mod lock_hang;
mod mem_drive;
mod perf_drive;
mod planned_crash;
mod pool;
mod seed;
mod shard;
pub mod shrink;
pub mod shrink_run;
pub mod supervisor;
mod verdicts;
mod vfs_drive;
pub mod worker;

pub use control::RunControl;
pub use exhaustive::{CrashCycles, exhaustive, exhaustive_job};
pub use job::{CheckInput, CheckedDatabase, IterationJob, WorkerMessage, execution_from};
pub use lock_actors::{holder_worker, writer_worker};
pub use perf_drive::{PerfDriveError, perf_checks, perf_worker};
pub use pool::{RunError, RunPlan, run};
pub use seed::iteration_seed;
pub use shard::{in_shard, parse_shard};
