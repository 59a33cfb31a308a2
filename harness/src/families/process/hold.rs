//! The hold of a process fault (`hold-at`): the drive worker stops at a fail point of the
//! ledger, reports it, and waits there for the supervisor's signal.
//!
//! The `fail` registry is process-global; a drive worker runs one iteration and exits, so
//! nothing configured here leaks into another iteration.

use std::sync::Arc;
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::Duration;

use crate::engine::{WorkerError, WorkerMessage, send_line};

/// Holds the worker the `hit`-th time it reaches `point`: reports [`WorkerMessage::Held`], then
/// sleeps `hold` (or until the supervisor's signal ends it, when `None`).
pub(super) fn hold(
    point: Option<&str>,
    hit: u32,
    hold: Option<Duration>,
) -> Result<(), WorkerError> {
    let Some(point) = point else {
        return Ok(());
    };
    let reached = Arc::new(AtomicU32::new(0));
    let name = point.to_owned();
    fail::cfg_callback(point, move || {
        if reached.fetch_add(1, Ordering::SeqCst) + 1 != hit {
            return;
        }
        send_line(&WorkerMessage::Held {
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
    .map_err(|e| WorkerError::Plan(format!("fail points: {e}")))
}
