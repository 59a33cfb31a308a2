//! The database header (page 1) damaged at rest: with a backup chain
//! configured the database is rebuilt from the newest snapshot and the WAL
//! archive before the ledger opens, and a capture the archive does not reach
//! is named and refused; without one the open fails naming the setting and
//! every capture.

use std::fs;
use std::path::{Path, PathBuf};

use ledger::backup::BackupConfig;
use ledger::integrity::{CheckLevel, Damage, RepairAction};
use ledger::{Config, Ledger, LedgerError, SafetyEventKind, StageOutcome};

use crate::support::{self, voice};

/// Stage `archived` captures, archiving the WAL after each (after a snapshot
/// and a checkpoint), then `unarchived` more, checkpoint them all into the
/// file and close; the config (backup chain set when `chain`) and the ids.
fn populated(dir: &Path, archived: u32, unarchived: u32, chain: bool) -> (Config, Vec<String>) {
    let mut config = Config::new(dir.join("l.db"), dir.join("vault"));
    let mut backup = BackupConfig::new(dir.join("backups"));
    backup.archive = true;
    let mut ledger = support::open(&config, 1, 7);
    ledger.enable_wal_archive(&backup).expect("archive on");
    ledger.backup(&backup).expect("snapshot");
    ledger.checkpoint_archived(&backup).expect("checkpoint");
    let stage = |ledger: &mut Ledger, k: u32| match ledger.stage(&voice(k)).expect("stage") {
        StageOutcome::Staged(id) => id,
        other => panic!("{other:?}"),
    };
    let mut ids = Vec::new();
    for k in 0..archived {
        ids.push(stage(&mut ledger, k));
        ledger.archive_wal(&backup).expect("archive");
    }
    ledger
        .connection()
        .execute_batch("PRAGMA optimize")
        .expect("optimize");
    ledger.archive_wal(&backup).expect("archive");
    for k in archived..archived + unarchived {
        ids.push(stage(&mut ledger, k));
    }
    ledger
        .connection()
        .execute_batch("PRAGMA wal_checkpoint(TRUNCATE)")
        .expect("checkpoint into the file");
    ledger.close().expect("close");
    if chain {
        config.tuning.wal_archive_dir = Some(PathBuf::from("backups/wal"));
    }
    (config, ids)
}

fn flip(path: &Path, byte: usize) {
    let mut bytes = fs::read(path).expect("read");
    bytes[byte] ^= 1;
    fs::write(path, bytes).expect("write");
}

fn header_repairs(ledger: &Ledger) -> Vec<(Vec<Damage>, RepairAction)> {
    ledger
        .safety_events()
        .iter()
        .filter_map(|e| match &e.kind {
            SafetyEventKind::Corruption(report) => {
                Some((report.damage.clone(), report.action.clone()))
            }
            _ => None,
        })
        .collect()
}

#[test]
fn a_damaged_page_size_or_page_count_is_rebuilt_from_the_backup_chain() {
    for byte in [16, 17, 28, 31, 96] {
        let dir = tempfile::tempdir().expect("dir");
        let (config, ids) = populated(dir.path(), 12, 0, true);
        flip(&config.path, byte);
        let mut ledger = support::open(&config, 1, 7);
        let repairs = header_repairs(&ledger);
        assert!(
            matches!(repairs.as_slice(), [(damage, RepairAction::Restored { missing, .. })]
                if damage == &[Damage::Header] && missing.is_empty()),
            "byte {byte}: {repairs:?}"
        );
        for id in &ids {
            assert!(ledger.capture(id).expect("served").is_some(), "byte {byte}");
        }
        ledger.check_integrity(CheckLevel::Full).expect("sound");
        assert_eq!(ledger.safety_counters().repairs, 1);
    }
}

#[test]
fn a_capture_the_archive_does_not_reach_is_named_and_refused() {
    let dir = tempfile::tempdir().expect("dir");
    let (config, ids) = populated(dir.path(), 6, 2, true);
    flip(&config.path, 28);
    let ledger = support::open(&config, 1, 7);
    let unreached: Vec<String> = ids[6..].to_vec();
    let repairs = header_repairs(&ledger);
    assert!(
        matches!(repairs.as_slice(), [(_, RepairAction::Restored { missing, .. })] if {
            let mut named = missing.clone();
            named.sort();
            let mut expected = unreached.clone();
            expected.sort();
            named == expected
        }),
        "{repairs:?}"
    );
    for id in &ids[..6] {
        assert!(ledger.capture(id).expect("served").is_some());
    }
    for id in &unreached {
        assert_eq!(
            ledger.capture(id).map_err(|e| e.kind()).err(),
            Some("corrupt")
        );
    }
}

#[test]
fn without_a_backup_chain_the_open_fails_naming_the_setting_and_every_capture() {
    for byte in [16, 17, 20, 21, 28, 56, 96] {
        let dir = tempfile::tempdir().expect("dir");
        let (config, mut ids) = populated(dir.path(), 3, 0, false);
        flip(&config.path, byte);
        let opened = Ledger::open_with(&config, Default::default());
        match opened {
            Err(e @ LedgerError::Corrupt { .. }) => {
                assert!(
                    e.to_string().contains("wal-archive-dir"),
                    "byte {byte}: {e}"
                );
                ids.sort();
                assert_eq!(e.unreadable_captures(), ids.as_slice(), "byte {byte}");
            }
            Ok(_) => assert!(
                ![16, 17, 21].contains(&byte),
                "byte {byte}: SQLite cannot read the file with it flipped"
            ),
            Err(other) => panic!("byte {byte}: {other:?}"),
        }
        let leftovers: Vec<_> = fs::read_dir(dir.path())
            .expect("list")
            .filter_map(|e| e.ok()?.file_name().into_string().ok())
            .filter(|name| name.contains(".listing"))
            .collect();
        assert!(leftovers.is_empty(), "byte {byte}: {leftovers:?}");
    }
}
