//! `ledger stats`: one metrics snapshot as a JSON line (the metrics-log format).

use std::io::Write;

use crate::cli::{Location, Outcome};

/// Print one snapshot.
pub fn run(location: &Location) -> anyhow::Result<Outcome> {
    let ledger = crate::open::existing(location)?;
    let snapshot = ledger.metrics_snapshot()?;
    let mut out = std::io::stdout().lock();
    serde_json::to_writer(&mut out, &snapshot)?;
    writeln!(out)?;
    ledger.close()?;
    Ok(Outcome::Success)
}
