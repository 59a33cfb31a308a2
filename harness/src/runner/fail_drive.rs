//! Fail points in the drive worker: [`prepare`] arms a [`FailPoints`] plan, or the hold of a
//! process fault (`hold-at`), in this process's `fail` registry before the ledger opens.
//!
//! The registry is process-global, which is why it is only ever configured here, in a drive
//! worker that runs one iteration and exits: nothing can leak into another iteration, and no
//! test of the harness shares a registry with a drive.
//!
//! A `panic` action is a crash at exactly that step: the panic hook installed here reports
//! [`WorkerMessage::Crashed`] and aborts before unwinding starts, so no destructor (a
//! transaction guard rolling back, a file being closed) runs after the fail point.

use std::io::Write;
use std::sync::Arc;
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::Duration;

use super::job::{IterationJob, WorkerMessage};
use super::worker::WorkerError;
use crate::faults::FaultPlan;
use crate::faults::failpoints::crash_point;

/// Arms the job's fail points (if its plan has any) in this process.
///
/// # Errors
/// [`WorkerError::FailPoints`] when the fail crate refuses an action.
pub(super) fn prepare(job: &IterationJob) -> Result<(), WorkerError> {
    match &job.scenario.fault {
        FaultPlan::FailPoints(points) => {
            if points.may_crash() {
                crash_on_fail_point_panic();
            }
            let armed = points.arm(job.seed).map_err(WorkerError::FailPoints)?;
            for (name, chain) in armed {
                let shown: String = chain.chars().take(160).collect();
                let more = if shown.len() < chain.len() { "..." } else { "" };
                tracing_note(&format!("fail point {name} armed: {shown}{more}"));
            }
            Ok(())
        }
        FaultPlan::ProcessKill(kill) => hold(kill.hold_at.as_deref(), kill.hold_at_hit, None),
        FaultPlan::ProcessStop(stop) => hold(
            stop.hold_at.as_deref(),
            stop.hold_at_hit,
            Some(Duration::from_millis(stop.hold_ms)),
        ),
        _ => Ok(()),
    }
}

/// A line on stderr for people reading a worker's tail (never part of the trace).
fn tracing_note(text: &str) {
    eprintln!("resilience worker: {text}");
}

/// Writes one protocol line on stdout, flushed (the drive loop's lock is re-entrant on this
/// thread, and no write is in progress when a fail point runs).
fn send(message: &WorkerMessage) {
    let mut line = serde_json::to_vec(message).expect("worker messages serialise");
    line.push(b'\n');
    let mut out = std::io::stdout().lock();
    let _ = out.write_all(&line).and_then(|()| out.flush());
}

/// Installs a panic hook that turns a fail point's `panic` into an abort at that step; other
/// panics (harness bugs) keep the default report and unwinding.
fn crash_on_fail_point_panic() {
    let default_hook = std::panic::take_hook();
    std::panic::set_hook(Box::new(move |info| {
        let message = info
            .payload()
            .downcast_ref::<String>()
            .map(String::as_str)
            .or_else(|| info.payload().downcast_ref::<&str>().copied())
            .unwrap_or("");
        if let Some(point) = crash_point(message) {
            send(&WorkerMessage::Crashed {
                point: point.to_owned(),
            });
            std::process::abort();
        }
        default_hook(info);
    }));
}

/// Holds the worker the `hit`-th time it reaches `point`: reports [`WorkerMessage::Held`], then
/// sleeps `hold` (or until the supervisor's signal ends it, when `None`).
fn hold(point: Option<&str>, hit: u32, hold: Option<Duration>) -> Result<(), WorkerError> {
    let Some(point) = point else {
        return Ok(());
    };
    let reached = Arc::new(AtomicU32::new(0));
    let name = point.to_owned();
    fail::cfg_callback(point, move || {
        if reached.fetch_add(1, Ordering::SeqCst) + 1 != hit {
            return;
        }
        send(&WorkerMessage::Held {
            point: name.clone(),
        });
        match hold {
            Some(pause) => std::thread::sleep(pause),
            // The supervisor kills the group on the report; its timeout bounds this too.
            None => loop {
                std::thread::sleep(Duration::from_secs(1));
            },
        }
    })
    .map_err(WorkerError::FailPoints)
}
