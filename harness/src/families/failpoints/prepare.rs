//! Fail points in the drive worker: [`prepare`] arms a [`FailPoints`] plan in this process's
//! `fail` registry before the ledger opens.
//!
//! The registry is process-global, which is why it is only ever configured here, in a drive
//! worker that runs one iteration and exits: nothing can leak into another iteration, and no
//! test of the harness shares a registry with a drive.
//!
//! A `panic` action is a crash at exactly that step: the panic hook installed here reports
//! [`WorkerMessage::Crashed`] and aborts before unwinding starts, so no destructor (a
//! transaction guard rolling back, a file being closed) runs after the fail point.

use super::plan::{FailPoints, crash_point};
use crate::engine::{WorkerError, WorkerMessage, send_line};

/// Arms the plan's fail points in this process, for the job's seed.
///
/// # Errors
/// [`WorkerError::Plan`] when the fail crate refuses an action.
pub(super) fn prepare(points: &FailPoints, seed: u64) -> Result<(), WorkerError> {
    if points.may_crash() {
        crash_on_fail_point_panic();
    }
    let armed = points
        .arm(seed)
        .map_err(|e| WorkerError::Plan(format!("fail points: {e}")))?;
    for (name, chain) in armed {
        let shown: String = chain.chars().take(160).collect();
        let more = if shown.len() < chain.len() { "..." } else { "" };
        tracing_note(&format!("fail point {name} armed: {shown}{more}"));
    }
    Ok(())
}

/// A line on stderr for people reading a worker's tail (never part of the trace).
fn tracing_note(text: &str) {
    eprintln!("resilience worker: {text}");
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
            send_line(&WorkerMessage::Crashed {
                point: point.to_owned(),
            });
            std::process::abort();
        }
        default_hook(info);
    }));
}
