//! The `memory` family: SQLite's allocator fails the Nth allocation (once or from then on, or
//! every N in turn in a sweep), heap limits, `RLIMIT_AS` ([`AllocFaults`]); and memory pressure
//! raised and lowered through the ledger's probe ([`MemoryPressure`]). Every operation succeeds
//! or fails cleanly and nothing acknowledged is lost; under pressure the ledger shrinks its
//! cache and leaves mmap (`fault_response`).
//!
//! The counting allocator ([`alloc_raw`], the family's unsafe code) is installed in every worker
//! process before SQLite initialises, disarmed until a plan arms it.

pub mod alloc;
pub mod alloc_raw;
mod drive;
pub mod pressure;
mod sweep;

use std::process::ExitStatus;

use alloc::AllocFaults;
use pressure::MemoryPressure;

use crate::engine::{Family, IterationJob, Sink, WorkerError, WorkerMessage};
use crate::oracle::CheckName;
use crate::scenario::Scenario;

/// What the standard library prints when an allocation fails (`handle_alloc_error`).
const ALLOC_FAILURE: &str = "memory allocation of ";

impl Family for AllocFaults {
    fn name(&self) -> &'static str {
        "memory"
    }

    fn validate(&self, _scenario: &Scenario) -> Result<(), String> {
        AllocFaults::validate(self)
    }

    fn is_deterministic(&self) -> bool {
        self.rlimit_as_headroom.is_none()
    }

    fn drive(&self, job: &IterationJob, sink: &mut Sink<'_>) -> Result<(), WorkerError> {
        drive::drive_alloc(job, self, sink)
    }

    fn checks_in_drive(&self, _job: &IterationJob) -> bool {
        self.sweep
    }

    fn drive_and_check(&self, job: &IterationJob, sink: &mut Sink<'_>) -> Result<(), WorkerError> {
        sweep::sweep(job, self, sink)
    }

    /// Under `RLIMIT_AS`, a Rust-side allocation fails and the standard library prints
    /// `memory allocation of N bytes failed` and aborts: a crash the plan caused.
    fn planned_crash(
        &self,
        _status: Option<ExitStatus>,
        _messages: &[WorkerMessage],
        stderr: &str,
    ) -> Option<String> {
        self.rlimit_as_headroom?;
        stderr
            .lines()
            .find(|line| line.contains(ALLOC_FAILURE))
            .map(|line| {
                format!(
                    "the worker aborted under RLIMIT_AS ({}): judged like kill -9",
                    line.trim()
                )
            })
    }
}

impl Family for MemoryPressure {
    fn name(&self) -> &'static str {
        "memory"
    }

    fn validate(&self, _scenario: &Scenario) -> Result<(), String> {
        MemoryPressure::validate(self)
    }

    fn drive(&self, job: &IterationJob, sink: &mut Sink<'_>) -> Result<(), WorkerError> {
        drive::drive_pressure(job, self, sink)
    }

    fn drive_checks(&self, _scenario: &Scenario) -> Vec<CheckName> {
        vec![CheckName::FaultResponse]
    }
}

#[cfg(test)]
mod tests {
    use std::os::unix::process::ExitStatusExt;

    use super::*;

    const OOM: &str = "memory allocation of 4096 bytes failed\n";

    fn rlimit(headroom: u64) -> AllocFaults {
        AllocFaults {
            rlimit_as_headroom: Some(headroom),
            ..AllocFaults::default()
        }
    }

    #[test]
    fn an_rlimit_abort_is_a_crash_only_under_rlimit() {
        assert!(rlimit(1 << 21).planned_crash(None, &[], OOM).is_some());
        assert!(
            rlimit(1 << 21)
                .planned_crash(None, &[], "thread panicked")
                .is_none()
        );
        assert!(
            AllocFaults::default()
                .planned_crash(None, &[], OOM)
                .is_none()
        );
    }

    /// Run only as the child of the next test: allocates past a tight `RLIMIT_AS`, which makes
    /// the standard library print its allocation-failure line and abort.
    #[test]
    #[ignore = "a child process of a_real_allocation_failure_under_rlimit_is_judged_a_crash"]
    fn child_allocates_past_rlimit_as() {
        use nix::sys::resource::{Resource, setrlimit};
        let pages: u64 = std::fs::read_to_string("/proc/self/statm")
            .ok()
            .and_then(|s| s.split_whitespace().next()?.parse().ok())
            .expect("statm");
        let limit = pages * 4096 + (1 << 20);
        setrlimit(Resource::RLIMIT_AS, limit, limit).expect("setrlimit");
        let big: Vec<u8> = Vec::with_capacity(1 << 30);
        std::hint::black_box(&big);
    }

    #[test]
    fn a_real_allocation_failure_under_rlimit_is_judged_a_crash() {
        let output = std::process::Command::new(std::env::current_exe().expect("test binary"))
            .args([
                "--exact",
                "families::memory::tests::child_allocates_past_rlimit_as",
                "--ignored",
                "--nocapture",
                "--test-threads=1",
            ])
            .output()
            .expect("the child runs");
        let stderr = String::from_utf8_lossy(&output.stderr);
        let aborted = output.status.signal() == Some(nix::sys::signal::Signal::SIGABRT as i32);
        let note = rlimit(1 << 20).planned_crash(Some(output.status), &[], &stderr);
        assert!(
            aborted && note.is_some(),
            "status {:?}, stderr {stderr}",
            output.status
        );
    }
}
