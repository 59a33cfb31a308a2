//! The `perf` family: the ledger's performance claims measured as interleaved A/B ratios with
//! an A/A control (a scenario's `[perf]` table, [`PerfSpec`]; the measurement library is
//! [`crate::perf`]). An iteration is one `perf` worker process ([`WORKER_PHASES`]) whose
//! verdicts are the ratio gate and the query-plan check; it is never shrunk or replayed as a
//! trace (re-running a measurement re-measures it).

mod drive;

pub use drive::{PerfDriveError, perf_checks};

use crate::engine::{Family, IterationContext, IterationOutcome, WorkerPhase};
use crate::perf::scenario::PerfSpec;
use crate::scenario::Scenario;

/// The process that measures a perf scenario's claim, and the writer the recovery-time claims
/// kill with `SIGKILL` to leave a crashed database.
pub const WORKER_PHASES: &[WorkerPhase] = &[
    WorkerPhase {
        name: "perf",
        run: |input| Ok(drive::perf_worker(input)?),
    },
    WorkerPhase {
        name: crate::perf::crash_reopen::WAL_WRITER_PHASE,
        run: crate::perf::crash_reopen::wal_writer,
    },
];

impl Family for PerfSpec {
    fn name(&self) -> &'static str {
        "perf"
    }

    fn validate(&self, _scenario: &Scenario) -> Result<(), String> {
        PerfSpec::validate(self)
    }

    fn is_deterministic(&self) -> bool {
        false
    }

    fn run_iteration(&self, context: &IterationContext<'_>) -> Option<IterationOutcome> {
        Some(drive::run_perf_iteration(
            context.exe,
            context.job,
            context.dir,
            context.control,
        ))
    }
}
