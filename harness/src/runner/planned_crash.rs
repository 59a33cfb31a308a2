//! [`planned_crash`]: whether a drive worker that died by `SIGABRT` crashed as its fault plan
//! intended, so the iteration is judged like a `kill -9` instead of being a harness error.
//!
//! Two faults abort the worker on purpose:
//! - a fail point's `panic` ([`crate::faults::FailPoints`]): the worker reports
//!   [`WorkerMessage::Crashed`] first;
//! - `RLIMIT_AS` ([`crate::faults::AllocFaults::rlimit_as_headroom`]): a Rust-side allocation
//!   fails and the standard library prints `memory allocation of N bytes failed` and aborts.
//!
//! Any other abnormal end (a panic's exit code 101, another signal, an abort under a plan that
//! does not cause one) stays a harness error.

use std::os::unix::process::ExitStatusExt;
use std::process::ExitStatus;

use nix::sys::signal::Signal;

use super::job::WorkerMessage;
use crate::faults::FaultPlan;

/// What the standard library prints when an allocation fails (`handle_alloc_error`).
const ALLOC_FAILURE: &str = "memory allocation of ";

/// A description of the planned crash for the fault timeline, or `None` when the end was not
/// a crash the plan causes.
pub(super) fn planned_crash(
    plan: &FaultPlan,
    status: Option<ExitStatus>,
    messages: &[WorkerMessage],
    stderr: &str,
) -> Option<String> {
    let aborted = status.and_then(|s| s.signal()) == Some(Signal::SIGABRT as i32);
    if !aborted {
        return None;
    }
    match plan {
        FaultPlan::FailPoints(_) => messages.iter().find_map(|m| match m {
            WorkerMessage::Crashed { point } => {
                Some(format!("the worker aborted at fail point {point}"))
            }
            _ => None,
        }),
        FaultPlan::Alloc(alloc) if alloc.rlimit_as_headroom.is_some() => stderr
            .lines()
            .find(|line| line.contains(ALLOC_FAILURE))
            .map(|line| {
                format!(
                    "the worker aborted under RLIMIT_AS ({}): judged like kill -9",
                    line.trim()
                )
            }),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::faults::{AllocFaults, FailPoints};

    fn signalled(signal: Signal) -> Option<ExitStatus> {
        Some(ExitStatus::from_raw(signal as i32))
    }

    const OOM: &str = "memory allocation of 4096 bytes failed\n";

    #[test]
    fn an_rlimit_abort_is_a_crash_only_under_rlimit() {
        let rlimit = FaultPlan::Alloc(AllocFaults {
            rlimit_as_headroom: Some(1 << 21),
            ..AllocFaults::default()
        });
        let abort = signalled(Signal::SIGABRT);
        assert!(planned_crash(&rlimit, abort, &[], OOM).is_some());
        assert!(planned_crash(&rlimit, abort, &[], "thread panicked").is_none());
        assert!(planned_crash(&rlimit, signalled(Signal::SIGSEGV), &[], OOM).is_none());
        assert!(planned_crash(&FaultPlan::None, abort, &[], OOM).is_none());
        let exit_101 = Some(ExitStatus::from_raw(101 << 8));
        assert!(planned_crash(&rlimit, exit_101, &[], OOM).is_none());
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
                "runner::planned_crash::tests::child_allocates_past_rlimit_as",
                "--ignored",
                "--nocapture",
                "--test-threads=1",
            ])
            .output()
            .expect("the child runs");
        let stderr = String::from_utf8_lossy(&output.stderr);
        let rlimit = FaultPlan::Alloc(AllocFaults {
            rlimit_as_headroom: Some(1 << 20),
            ..AllocFaults::default()
        });
        let note = planned_crash(&rlimit, Some(output.status), &[], &stderr);
        assert!(
            note.is_some(),
            "status {:?}, stderr {stderr}",
            output.status
        );
    }

    #[test]
    fn a_fail_point_abort_is_a_crash_once_reported() {
        let plan = FaultPlan::FailPoints(FailPoints::crash_at("ledger::export::before_commit"));
        let crashed = [WorkerMessage::Crashed {
            point: "ledger::export::before_commit".into(),
        }];
        let abort = signalled(Signal::SIGABRT);
        let note = planned_crash(&plan, abort, &crashed, "").expect("a planned crash");
        assert!(note.contains("ledger::export::before_commit"));
        assert!(planned_crash(&plan, abort, &[], "").is_none());
    }
}
