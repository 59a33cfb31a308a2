//! `ledger restore --latest|--to TIMESTAMP|--txid N --into PATH [--dry-run]`:
//! plan a restore (printed on `--dry-run`) and carry it out.

use std::io::Write;

use anyhow::{Context, bail};
use ledger::backup::{self, RestorePlan, RestoreTarget, utc_text};

use crate::backup::config;
use crate::cli::{BackupPlace, Location, Outcome, RestoreArgs};

/// Plan, print the plan, and (unless `--dry-run`) restore.
pub fn run(
    location: &Location,
    place: &BackupPlace,
    args: &RestoreArgs,
) -> anyhow::Result<Outcome> {
    let config = config(location, place);
    let target = target(args)?;
    if args.into.exists() {
        bail!(
            "restore target {} already exists; pass --into with a new path, or move the file away first",
            args.into.display()
        );
    }
    let plan = backup::plan_restore(&config, target, &args.into).with_context(|| {
        format!(
            "planning a restore to {target} from {}; run `ledger backups list` to see what exists",
            config.dir.display()
        )
    })?;
    let mut out = std::io::stdout().lock();
    if args.dry_run {
        if args.json {
            serde_json::to_writer_pretty(&mut out, &plan)?;
            writeln!(out)?;
        } else {
            print_plan(&mut out, &plan)?;
            writeln!(out, "dry run: nothing written")?;
        }
        return Ok(Outcome::Success);
    }
    let report = backup::restore(&plan).with_context(|| {
        format!(
            "restoring {} into {}",
            plan.snapshot.display(),
            plan.into.display()
        )
    })?;
    if args.json {
        serde_json::to_writer_pretty(&mut out, &report)?;
        writeln!(out)?;
    } else {
        print_plan(&mut out, &report.plan)?;
        writeln!(
            out,
            "restored: {} transaction(s), {} frame(s) applied; {} captures, {} audit rows; integrity ok",
            report.applied_transactions,
            report.applied_frames,
            report.logical.captures,
            report.logical.audit_rows
        )?;
    }
    Ok(Outcome::Success)
}

fn target(args: &RestoreArgs) -> anyhow::Result<RestoreTarget> {
    Ok(match (args.latest, &args.to, args.txid) {
        (true, None, None) => RestoreTarget::Latest,
        (false, Some(text), None) => RestoreTarget::Timestamp {
            ms: parse_time(text)?,
        },
        (false, None, Some(txid)) => RestoreTarget::Txid { txid },
        _ => bail!("pass exactly one of --latest, --to TIMESTAMP or --txid N"),
    })
}

fn print_plan(out: &mut impl Write, plan: &RestorePlan) -> std::io::Result<()> {
    writeln!(out, "target: {}", plan.target)?;
    writeln!(
        out,
        "snapshot: {} (taken {}, {} captures{})",
        plan.snapshot.display(),
        utc_text(plan.snapshot_created_at_ms),
        plan.snapshot_logical.captures,
        plan.snapshot_txid
            .map(|txid| format!(", at transaction {txid}"))
            .unwrap_or_default()
    )?;
    writeln!(
        out,
        "segments: {} ({} transaction(s) to apply)",
        plan.segments.len(),
        plan.transactions
    )?;
    for segment in &plan.segments {
        writeln!(
            out,
            "  {} (transactions {}..={})",
            segment.path.display(),
            segment.first_txid,
            segment.last_txid
        )?;
    }
    if let (Some(txid), Some(ms)) = (plan.target_txid, plan.target_commit_ms) {
        writeln!(
            out,
            "ends at: transaction {txid}, archived {}",
            utc_text(ms)
        )?;
    }
    writeln!(out, "into: {}", plan.into.display())
}

/// Unix milliseconds, or UTC text `YYYY-MM-DDTHH:MM:SS[.mmm]Z`.
pub fn parse_time(text: &str) -> anyhow::Result<i64> {
    if let Ok(ms) = text.parse::<i64>() {
        return Ok(ms);
    }
    parse_utc(text).with_context(|| {
        format!(
            "cannot read time {text:?}; write unix milliseconds or UTC like 2024-05-01T12:00:00.000Z"
        )
    })
}

fn parse_utc(text: &str) -> anyhow::Result<i64> {
    let body = text
        .strip_suffix('Z')
        .context("the time must end in Z (UTC)")?;
    let (date, time) = body.split_once('T').context("no T between date and time")?;
    let date: Vec<i64> = numbers(date, '-')?;
    let (clock, millis) = match time.split_once('.') {
        Some((clock, frac)) => (clock, format!("{frac:0<3}")[..3].parse::<i64>()?),
        None => (time, 0),
    };
    let clock: Vec<i64> = numbers(clock, ':')?;
    let ([year, month, day], [hour, minute, second]) = (
        <[i64; 3]>::try_from(date).map_err(|_| anyhow::anyhow!("date must be YYYY-MM-DD"))?,
        <[i64; 3]>::try_from(clock).map_err(|_| anyhow::anyhow!("time must be HH:MM:SS"))?,
    );
    if !(1..=12).contains(&month)
        || !(1..=31).contains(&day)
        || hour > 23
        || minute > 59
        || second > 60
    {
        bail!("a field is out of range");
    }
    let days = days_from_civil(year, month, day);
    Ok(((days * 24 + hour) * 60 + minute) * 60_000 + second * 1000 + millis)
}

fn numbers(text: &str, separator: char) -> anyhow::Result<Vec<i64>> {
    text.split(separator)
        .map(|part| part.parse::<i64>().map_err(anyhow::Error::from))
        .collect()
}

/// Days since 1970-01-01 (Howard Hinnant's algorithm).
fn days_from_civil(year: i64, month: i64, day: i64) -> i64 {
    let year = if month <= 2 { year - 1 } else { year };
    let era = year.div_euclid(400);
    let yoe = year - era * 400;
    let mp = (month + 9) % 12;
    let doy = (153 * mp + 2) / 5 + day - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

#[cfg(test)]
mod tests {
    use super::parse_time;
    use ledger::backup::utc_text;

    #[test]
    fn utc_text_round_trips() {
        for ms in [0, 1_700_000_000_123, 951_782_400_000, 1_709_210_096_999] {
            assert_eq!(parse_time(&utc_text(ms)).expect("parse"), ms);
        }
        assert_eq!(parse_time("1700000000000").expect("ms"), 1_700_000_000_000);
        assert!(parse_time("2024-13-01T00:00:00Z").is_err());
        assert!(parse_time("yesterday").is_err());
    }
}
