//! What the restart part of `faults_observable` judges ([`crate::oracle::restart`]): the files
//! the last shutdown left ([`leftover_journal`]), the recoveries the reopened ledger reported,
//! then a clean close, a second open and the capacity probe on it ([`after_reopen`]).

use std::path::Path;
use std::sync::Arc;

use ledger::{Ledger, ManualClock, NewCapture, OpenOptions, Source};

use crate::engine::drive::{CHECK_CLOCK_OFFSET_MS, CLOCK_START_MS, ledger_config_at};
use crate::engine::job::{CheckedDatabase, IterationJob};
use crate::oracle::restart::{CapacityProbe, ForecastSeen, RestartSeen, Shutdown};

/// The first bytes of a rollback journal whose transaction was not finished.
const JOURNAL_MAGIC: [u8; 8] = [0xd9, 0xd5, 0x05, 0xf9, 0x20, 0xa1, 0x63, 0xd7];

/// Captures the capacity probe stages, and the size of each: 64 KB in all, so the database
/// grows past whatever free pages it had, in two transactions (each staged capture costs a
/// commit; the size, not the count, moves the forecast).
const PROBE_CAPTURES: usize = 2;
const PROBE_BYTES: usize = 32_000;

fn sidecar(db: &Path, suffix: &str) -> std::path::PathBuf {
    let mut name = db.as_os_str().to_owned();
    name.push(suffix);
    name.into()
}

/// Before a reopen: whether the files hold something for SQLite to recover from, a non-empty
/// `-wal` or a hot `-journal` (present and starting with the journal magic).
pub(crate) fn leftover_journal(db: &Path) -> bool {
    use std::io::Read;
    let wal = std::fs::metadata(sidecar(db, "-wal")).is_ok_and(|m| m.len() > 0);
    let mut header = [0u8; 8];
    let hot = std::fs::File::open(sidecar(db, "-journal"))
        .and_then(|mut file| file.read_exact(&mut header))
        .is_ok_and(|()| header == JOURNAL_MAGIC);
    wal || hot
}

/// The recoveries the ledger's metrics count (its safety counters when the snapshot cannot be
/// read) and the recovery events it logged.
fn recoveries(ledger: &Ledger) -> (u64, u64) {
    let counted = ledger.metrics_snapshot().map_or_else(
        |_| ledger.safety_counters().recoveries,
        |m| m.safety.recoveries,
    );
    let events = ledger
        .safety_events()
        .iter()
        .filter(|e| {
            matches!(
                e.kind,
                ledger::SafetyEventKind::RecoveredAfterUncleanShutdown { .. }
            )
        })
        .count() as u64;
    (counted, events)
}

/// After the check phase is done with the reopened `ledger`: its recovery reports, then it is
/// closed cleanly and the database opened again (clock held still) for the recovery that open
/// reports and the capacity probe. Changes the database: call it last.
pub(crate) fn after_reopen(
    ledger: Ledger,
    job: &IterationJob,
    target: &CheckedDatabase,
    leftover_journal: bool,
) -> RestartSeen {
    let (recoveries_at_reopen, recovery_events_at_reopen) = recoveries(&ledger);
    let mut seen = RestartSeen {
        leftover_journal,
        recoveries_at_reopen,
        recovery_events_at_reopen,
        recoveries_after_clean_close: Err("not reopened".to_owned()),
        capacity: Err("not reopened".to_owned()),
    };
    if let Err(e) = ledger.close() {
        seen.recoveries_after_clean_close = Err(format!("the clean close failed: {e}"));
        return seen;
    }
    let options = OpenOptions {
        clock: Arc::new(ManualClock::new(CLOCK_START_MS + 2 * CHECK_CLOCK_OFFSET_MS)),
        id_seed: Some(job.seed.wrapping_add(2)),
    };
    let config = ledger_config_at(job, &target.db_path, &target.vault_dir);
    match Ledger::open_with(&config, options) {
        Ok(mut again) => {
            seen.recoveries_after_clean_close = Ok(recoveries(&again).0);
            seen.capacity = capacity_probe(&mut again);
        }
        Err(e) => seen.recoveries_after_clean_close = Err(format!("did not reopen: {e}")),
    }
    seen
}

/// The figures for the iteration's results: whether something was left to recover from, the
/// recoveries owed when the trace knows the shutdown, and those the reopened ledger reported.
pub(crate) fn figures(seen: &RestartSeen, shutdown: Option<Shutdown>) -> Vec<(String, u64)> {
    let mut figures = vec![
        (
            "leftover_journal".to_owned(),
            u64::from(seen.leftover_journal),
        ),
        ("recoveries_at_reopen".to_owned(), seen.recoveries_at_reopen),
    ];
    if let Some(shutdown) = shutdown {
        let owed = shutdown == Shutdown::Unclean && seen.leftover_journal;
        figures.push(("recoveries_owed".to_owned(), u64::from(owed)));
    }
    figures
}

/// Health's forecast, then [`PROBE_CAPTURES`] staged, then the forecast again (the clock does
/// not move in between).
fn capacity_probe(ledger: &mut Ledger) -> Result<CapacityProbe, String> {
    let before = forecast_seen(ledger)?;
    for n in 0..PROBE_CAPTURES {
        let capture = NewCapture {
            source: Source::Email,
            raw_content: format!("capacity probe {n}: {}", "x".repeat(PROBE_BYTES)),
            channel: None,
            channel_native_id: None,
        };
        ledger
            .stage(&capture)
            .map_err(|e| format!("the probe's stage was refused: {e}"))?;
    }
    let after = forecast_seen(ledger)?;
    Ok(CapacityProbe {
        before,
        after,
        staged: PROBE_CAPTURES as u64,
    })
}

fn forecast_seen(ledger: &Ledger) -> Result<ForecastSeen, String> {
    let report = ledger.health().map_err(|e| format!("health failed: {e}"))?;
    let bytes: i64 = ledger
        .connection()
        .query_row(
            "SELECT (SELECT page_count FROM pragma_page_count()) * (SELECT page_size FROM pragma_page_size())",
            [],
            |row| row.get(0),
        )
        .map_err(|e| format!("database size unreadable: {e}"))?;
    Ok(ForecastSeen {
        database_bytes: u64::try_from(bytes).unwrap_or(0),
        current_bytes: report.capacity.current_bytes,
        growth_bytes_per_day: report.capacity.growth_bytes_per_day,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_non_empty_wal_or_a_hot_journal_is_left_to_recover() {
        let dir = tempfile::tempdir().expect("tempdir");
        let db = dir.path().join("l.db");
        assert!(!leftover_journal(&db));
        std::fs::write(sidecar(&db, "-wal"), []).expect("empty wal");
        assert!(!leftover_journal(&db), "an empty WAL holds nothing");
        std::fs::write(sidecar(&db, "-journal"), [0u8; 28]).expect("zeroed journal");
        assert!(
            !leftover_journal(&db),
            "a persisted journal whose header was zeroed"
        );
        let mut hot = JOURNAL_MAGIC.to_vec();
        hot.extend([0u8; 20]);
        std::fs::write(sidecar(&db, "-journal"), hot).expect("hot journal");
        assert!(leftover_journal(&db));
        std::fs::remove_file(sidecar(&db, "-journal")).expect("remove");
        std::fs::write(sidecar(&db, "-wal"), [1u8; 32]).expect("wal");
        assert!(leftover_journal(&db));
    }
}
