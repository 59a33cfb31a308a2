//! `ledger health [--json]`: the health report; exit 1 when unhealthy.

use std::io::Write;

use ledger::{HealthReport, HealthStatus};

use crate::cli::{Location, Outcome};

/// Print the health report.
pub fn run(location: &Location, json: bool) -> anyhow::Result<Outcome> {
    let ledger = crate::open::existing(location)?;
    let report = ledger.health()?;
    let mut out = std::io::stdout().lock();
    if json {
        serde_json::to_writer_pretty(&mut out, &report)?;
        writeln!(out)?;
    } else {
        print_text(&mut out, &report)?;
    }
    ledger.close()?;
    Ok(match report.status {
        HealthStatus::Unhealthy => Outcome::Failure,
        HealthStatus::Healthy | HealthStatus::Degraded => Outcome::Success,
    })
}

fn print_text(out: &mut impl Write, report: &HealthReport) -> std::io::Result<()> {
    let metrics = &report.metrics;
    writeln!(out, "status: {:?}", report.status)?;
    writeln!(out, "database: {}", metrics.path)?;
    for problem in &report.problems {
        writeln!(
            out,
            "  [{:?}] {} -> {}",
            problem.severity, problem.what, problem.remedy
        )?;
    }
    writeln!(
        out,
        "size: {} bytes, WAL {} bytes, {} free pages ({:.1} %)",
        metrics.storage.database_bytes,
        metrics.storage.wal_bytes,
        metrics.storage.freelist_pages,
        metrics.storage.free_fraction * 100.0
    )?;
    writeln!(
        out,
        "queue depth: {}; placeholder exports: {:.1} %",
        metrics.queue_depth,
        metrics.exports.placeholder_ratio * 100.0
    )?;
    let backup = &metrics.backup;
    match (
        &backup.last_verified_path,
        backup.last_verified_snapshot_at_ms,
    ) {
        (Some(path), Some(taken)) => writeln!(
            out,
            "backup: {} ({} consecutive failures); last verified {path}, taken {}",
            backup.health.as_str(),
            backup.consecutive_failures,
            ledger::backup::utc_text(taken)
        )?,
        _ => writeln!(
            out,
            "backup: {} ({} consecutive failures); none verified",
            backup.health.as_str(),
            backup.consecutive_failures
        )?,
    }
    match report.capacity.days_left {
        Some(days) => writeln!(out, "capacity: {days:.0} days left")?,
        None => writeln!(out, "capacity: not growing (or too few samples)")?,
    }
    for due in &report.maintenance_due {
        writeln!(
            out,
            "maintenance due: {} ({})",
            due.step.as_str(),
            due.reason
        )?;
    }
    Ok(())
}
