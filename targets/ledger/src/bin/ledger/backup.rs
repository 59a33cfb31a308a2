//! `ledger backup`, `ledger backups list`, `ledger verify PATH`,
//! `ledger rotate [--dry-run]` and `ledger archive`: thin wrappers over
//! [`ledger::backup`] that print a report (text or JSON).

use std::io::Write;
use std::path::{Path, PathBuf};

use anyhow::{Context, bail};
use ledger::backup::{
    self, BackupConfig, BackupList, BackupState, RotationReport, VerifyReport, utc_text,
};
use serde::Serialize;

use crate::cli::{BackupPlace, Location, Outcome};

/// The backup configuration for a command: the directory from
/// `--backup-dir`, or `backups` beside the database.
pub fn config(location: &Location, place: &BackupPlace) -> BackupConfig {
    let dir = match &place.backup_dir {
        Some(dir) => dir.clone(),
        None => location
            .db
            .parent()
            .map(|parent| parent.join("backups"))
            .unwrap_or_else(|| PathBuf::from("backups")),
    };
    let mut config = BackupConfig::new(dir);
    config.archive = place.archive;
    config
}

fn print<T: Serialize>(
    value: &T,
    json: bool,
    text: impl FnOnce(&mut dyn Write) -> std::io::Result<()>,
) -> anyhow::Result<()> {
    let mut out = std::io::stdout().lock();
    if json {
        serde_json::to_writer_pretty(&mut out, value)?;
        writeln!(out)?;
    } else {
        text(&mut out)?;
    }
    Ok(())
}

/// `ledger backup`: take, verify and record one backup; exit 1 when
/// verification failed.
pub fn run_backup(location: &Location, place: &BackupPlace, json: bool) -> anyhow::Result<Outcome> {
    let config = config(location, place);
    let mut ledger = crate::open::existing(location)?;
    if config.archive {
        ledger
            .enable_wal_archive(&config)
            .with_context(|| format!("preparing WAL archiving of {}", location.db.display()))?;
    }
    let report = ledger.backup(&config).with_context(|| {
        format!(
            "backing up {} into {}; check the directory is writable and has space, then retry",
            location.db.display(),
            config.dir.display()
        )
    })?;
    let verified = report.verification.as_ref().map(|v| v.ok);
    print(&report, json, |out| {
        writeln!(out, "backup: {}", report.path.display())?;
        match &report.verification {
            Some(verification) => print_verify(out, verification)?,
            None => writeln!(out, "verification: skipped")?,
        }
        writeln!(
            out,
            "backup health: {} ({} consecutive failures)",
            report.status.health.as_str(),
            report.status.consecutive_failures
        )
    })?;
    ledger.close()?;
    Ok(match verified {
        Some(false) => Outcome::Failure,
        Some(true) | None => Outcome::Success,
    })
}

/// `ledger backups list`: every backup with its verification state and age.
pub fn run_list(location: &Location, place: &BackupPlace, json: bool) -> anyhow::Result<Outcome> {
    let config = config(location, place);
    let list = backup::list_backups(&config).with_context(|| {
        format!(
            "listing backups in {}; pass --backup-dir with the backup directory",
            config.dir.display()
        )
    })?;
    let now = now_ms();
    print(&list, json, |out| print_list(out, &list, now))?;
    Ok(Outcome::Success)
}

fn print_list(out: &mut dyn Write, list: &BackupList, now: i64) -> std::io::Result<()> {
    writeln!(
        out,
        "backups in {}: {}",
        list.dir.display(),
        list.backups.len()
    )?;
    for entry in &list.backups {
        writeln!(
            out,
            "  {:<10} {}  {}  age {}",
            state_text(entry.state),
            entry.created_at_utc,
            entry.path.display(),
            age_text(now - entry.created_at_ms)
        )?;
    }
    for name in &list.unreadable {
        writeln!(out, "  unreadable  {name}")?;
    }
    Ok(())
}

fn state_text(state: BackupState) -> &'static str {
    match state {
        BackupState::Verified => "verified",
        BackupState::Unverified => "unverified",
        BackupState::Failed => "FAILED",
        BackupState::Missing => "missing",
        BackupState::Orphan => "orphan",
    }
}

/// `3d 4h`, `5h 12m`, `42s`; `in the future` for a negative age.
fn age_text(ms: i64) -> String {
    if ms < 0 {
        return "in the future".to_owned();
    }
    let secs = ms / 1000;
    match secs {
        s if s >= 86_400 => format!("{}d {}h", s / 86_400, s % 86_400 / 3600),
        s if s >= 3600 => format!("{}h {}m", s / 3600, s % 3600 / 60),
        s if s >= 60 => format!("{}m {}s", s / 60, s % 60),
        s => format!("{s}s"),
    }
}

/// The wall clock through the ledger's clock seam (for the ages `backups list` prints only).
fn now_ms() -> i64 {
    use ledger::Clock;
    ledger::SystemClock.now_ms()
}

/// `ledger verify PATH`: verify one backup file; with `--db`, record the
/// outcome in that ledger (escalation). Exit 1 when it failed.
pub fn run_verify(
    path: &Path,
    location: Option<&Location>,
    place: &BackupPlace,
    json: bool,
) -> anyhow::Result<Outcome> {
    if !path.is_file() {
        bail!(
            "backup file {} does not exist; pass the path of a ledger-<stamp>.db file (see `ledger backups list`)",
            path.display()
        );
    }
    let report = match location {
        Some(location) => {
            let config = config(location, place);
            let mut ledger = crate::open::existing(location)?;
            let report = ledger
                .verify_backup(&config, path)
                .with_context(|| format!("verifying backup {}", path.display()))?;
            ledger.close()?;
            report
        }
        None => backup::verify_backup_file(path)
            .with_context(|| format!("verifying backup {}", path.display()))?,
    };
    print(&report, json, |out| print_verify(out, &report))?;
    Ok(if report.ok {
        Outcome::Success
    } else {
        Outcome::Failure
    })
}

fn print_verify(out: &mut dyn Write, report: &VerifyReport) -> std::io::Result<()> {
    let verdict = if report.ok { "verified" } else { "FAILED" };
    writeln!(out, "verification of {}: {verdict}", report.path.display())?;
    for check in &report.checks {
        let mark = if check.passed { "ok  " } else { "FAIL" };
        writeln!(out, "  [{mark}] {}: {}", check.name, check.detail)?;
    }
    if !report.ok {
        writeln!(
            out,
            "do not restore from {}; take a new backup with `ledger backup`",
            report.path.display()
        )?;
    }
    Ok(())
}

/// `ledger rotate [--dry-run]`: apply (or list) the retention policy.
pub fn run_rotate(
    location: &Location,
    place: &BackupPlace,
    dry_run: bool,
    json: bool,
) -> anyhow::Result<Outcome> {
    let config = config(location, place);
    let report = backup::rotate(&config, dry_run)
        .with_context(|| format!("rotating backups in {}", config.dir.display()))?;
    print(&report, json, |out| print_rotation(out, &report))?;
    Ok(Outcome::Success)
}

fn print_rotation(out: &mut dyn Write, report: &RotationReport) -> std::io::Result<()> {
    for decision in &report.decisions {
        let verdict = if decision.keep.is_empty() {
            if report.dry_run {
                "would delete"
            } else {
                "delete"
            }
            .to_owned()
        } else {
            let reasons: Vec<String> = decision.keep.iter().map(ToString::to_string).collect();
            format!("keep ({})", reasons.join(", "))
        };
        writeln!(
            out,
            "  {}  {}  {verdict}",
            utc_text(decision.created_at_ms),
            decision.path.display()
        )?;
    }
    if report.dry_run {
        let doomed = report
            .decisions
            .iter()
            .filter(|d| d.keep.is_empty())
            .count();
        writeln!(out, "dry run: {doomed} backup(s) would be deleted")
    } else {
        writeln!(out, "deleted {} backup(s)", report.deleted.len())
    }
}

/// `ledger archive [--checkpoint]`: copy new WAL frames into the archive
/// (and, with `--checkpoint`, checkpoint what was archived).
pub fn run_archive(
    location: &Location,
    place: &BackupPlace,
    checkpoint: bool,
    json: bool,
) -> anyhow::Result<Outcome> {
    let mut config = config(location, place);
    config.archive = true;
    let mut ledger = crate::open::existing(location)?;
    ledger
        .enable_wal_archive(&config)
        .with_context(|| format!("preparing WAL archiving of {}", location.db.display()))?;
    let context = || {
        format!(
            "archiving the WAL of {} into {}",
            location.db.display(),
            config.archive_dir().display()
        )
    };
    if checkpoint {
        let report = ledger.checkpoint_archived(&config).with_context(context)?;
        print(&report, json, |out| {
            writeln!(
                out,
                "archived {} transaction(s); checkpointed {} of {} WAL frames{}",
                report.archive.step.as_ref().map_or(0, |s| s.transactions),
                report.checkpointed_frames,
                report.wal_frames,
                if report.sealed {
                    "; generation sealed"
                } else {
                    ""
                }
            )
        })?;
    } else {
        let report = ledger.archive_wal(&config).with_context(context)?;
        print(&report, json, |out| {
            match &report.step {
                Some(step) => writeln!(
                    out,
                    "archived {} transaction(s), {} frame(s); archive at transaction {}",
                    step.transactions, step.frames, step.position.txid
                )?,
                None => writeln!(out, "nothing new to archive")?,
            }
            if let Some((reason, snapshot)) = &report.lineage_break {
                writeln!(
                    out,
                    "archive lineage broke ({reason}); new lineage starts at backup {}",
                    snapshot.display()
                )?;
            }
            Ok(())
        })?;
    }
    ledger.close()?;
    Ok(Outcome::Success)
}

#[cfg(test)]
mod tests {
    use super::age_text;

    #[test]
    fn ages_read_in_the_largest_units() {
        assert_eq!(age_text(42_000), "42s");
        assert_eq!(age_text(3_725_000), "1h 2m");
        assert_eq!(age_text(90_000_000), "1d 1h");
        assert_eq!(age_text(-1), "in the future");
    }
}
