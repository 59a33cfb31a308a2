//! `ledger check [--full]`: integrity, foreign keys, orphans, query plans; exit 1 on a problem.

use std::io::Write;

use crate::cli::{Location, Outcome};

/// Run the checks and print what they found.
pub fn run(location: &Location, full: bool, json: bool) -> anyhow::Result<Outcome> {
    let ledger = crate::open::existing(location)?;
    let report = ledger.check(full)?;
    let mut out = std::io::stdout().lock();
    if json {
        serde_json::to_writer_pretty(&mut out, &report)?;
        writeln!(out)?;
    } else {
        let kind = if full {
            "integrity_check"
        } else {
            "quick_check"
        };
        if report.integrity_problems.is_empty() {
            writeln!(out, "{kind}: ok")?;
        }
        for line in &report.integrity_problems {
            writeln!(out, "{kind}: {line}")?;
        }
        writeln!(
            out,
            "foreign key violations: {}",
            report.foreign_key_violations
        )?;
        writeln!(
            out,
            "audit rows without capture: {}",
            report.orphan_audit_rows
        )?;
        for warning in &report.plan_warnings {
            writeln!(out, "plan warning: {warning}")?;
        }
    }
    ledger.close()?;
    Ok(if report.data_ok() && report.plan_warnings.is_empty() {
        Outcome::Success
    } else {
        Outcome::Failure
    })
}
