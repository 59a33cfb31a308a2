//! SIGINT and SIGTERM, routed to the [`RunControl`] of the run in progress.
//!
//! A CI runner that cancels a job sends SIGTERM; Ctrl-C sends SIGINT. Both stop the run the same
//! way (finished iterations kept, the rest skipped with the reason, temporary directories
//! removed); the control remembers which one came, for the exit code. `signal-hook` delivers
//! the signals to a thread, which stops the control.

use std::sync::{Mutex, OnceLock};

use signal_hook::consts::{SIGINT, SIGTERM};
use signal_hook::iterator::Signals;

use super::control::{RunControl, StopSignal};

/// The control the next signal stops.
static TARGET: Mutex<Option<RunControl>> = Mutex::new(None);
/// The handlers and their thread, installed once per process (the error kept as text).
static INSTALLED: OnceLock<Result<(), String>> = OnceLock::new();

/// Routes SIGINT and SIGTERM of this process to `control` from now on (replacing an earlier
/// control).
pub fn install_stop_signals(control: &RunControl) -> std::io::Result<()> {
    *TARGET.lock().expect("stop signal target") = Some(control.clone());
    INSTALLED
        .get_or_init(|| install_once().map_err(|e| e.to_string()))
        .clone()
        .map_err(std::io::Error::other)
}

fn install_once() -> std::io::Result<()> {
    let mut signals = Signals::new([SIGINT, SIGTERM])?;
    std::thread::Builder::new()
        .name("stop-signals".into())
        .spawn(move || {
            for signal in signals.forever() {
                let stop = if signal == SIGTERM {
                    StopSignal::Terminate
                } else {
                    StopSignal::Interrupt
                };
                if let Some(control) = TARGET.lock().expect("stop signal target").as_ref() {
                    control.stop(stop);
                }
            }
        })?;
    Ok(())
}
