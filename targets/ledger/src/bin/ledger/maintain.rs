//! `ledger maintain [--dry-run]`: run due maintenance and report each step; exit 1 when one failed.

use std::io::Write;

use crate::cli::{Location, Outcome};

/// Run (or list) the due maintenance.
pub fn run(location: &Location, dry_run: bool, json: bool) -> anyhow::Result<Outcome> {
    let mut ledger = crate::open::existing(location)?;
    let report = ledger.maintain(dry_run)?;
    let mut out = std::io::stdout().lock();
    if json {
        serde_json::to_writer_pretty(&mut out, &report)?;
        writeln!(out)?;
    } else {
        for step in &report.steps {
            let outcome = match (&step.error, step.ran) {
                (Some(error), _) => format!("FAILED: {error}"),
                (None, true) => step.detail.clone(),
                (None, false) => "due (dry run)".to_owned(),
            };
            writeln!(
                out,
                "{:<16} {:>9} µs  {outcome}  [{}]",
                step.step.as_str(),
                step.duration_us,
                step.reason
            )?;
        }
    }
    ledger.close()?;
    Ok(if report.succeeded() {
        Outcome::Success
    } else {
        Outcome::Failure
    })
}
