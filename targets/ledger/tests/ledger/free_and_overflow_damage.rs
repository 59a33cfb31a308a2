//! Damage to a freelist trunk page (free space: `VACUUM` drops it, nothing
//! is lost) and to an overflow page of a large capture (its table's damage:
//! rebuilt from the backup chain).

use std::fs;
use std::path::{Path, PathBuf};

use ledger::backup::BackupConfig;
use ledger::integrity::{CheckLevel, Damage, RepairAction};
use ledger::{Config, Ledger, SafetyEventKind, StageOutcome};

use crate::support::{self, email};

fn be(bytes: &[u8], at: usize) -> u32 {
    u32::from_be_bytes(bytes[at..at + 4].try_into().expect("4 bytes"))
}

fn flip_in_page(path: &Path, page: u32, offset: usize) {
    let mut bytes = fs::read(path).expect("read");
    let size = usize::from(u16::from_be_bytes([bytes[16], bytes[17]]));
    bytes[(page as usize - 1) * size + offset] ^= 0x04;
    fs::write(path, bytes).expect("write");
}

fn large(k: u32) -> ledger::NewCapture {
    email(&format!("mail {k}: {}", "the quarterly notes ".repeat(400)))
}

fn stage(ledger: &mut Ledger, k: u32) -> String {
    match ledger.stage(&large(k)).expect("stage") {
        StageOutcome::Staged(id) => id,
        other => panic!("{other:?}"),
    }
}

fn reports(ledger: &Ledger) -> Vec<(Vec<Damage>, RepairAction)> {
    ledger
        .safety_events()
        .iter()
        .filter_map(|e| match &e.kind {
            SafetyEventKind::Corruption(r) => Some((r.damage.clone(), r.action.clone())),
            _ => None,
        })
        .collect()
}

#[test]
fn a_damaged_freelist_trunk_is_free_space_and_vacuum_drops_it() {
    let dir = tempfile::tempdir().expect("dir");
    let config = Config::new(dir.path().join("l.db"), dir.path().join("vault"));
    let mut ledger = support::open(&config, 1, 7);
    let ids: Vec<String> = (0..4).map(|k| stage(&mut ledger, k)).collect();
    ledger
        .connection()
        .execute_batch(
            "CREATE TABLE scratch(x); INSERT INTO scratch SELECT zeroblob(20000) FROM \
             (SELECT 1 UNION ALL SELECT 2 UNION ALL SELECT 3); DROP TABLE scratch;",
        )
        .expect("free pages");
    ledger.close().expect("close");
    let trunk = be(&fs::read(&config.path).expect("read"), 32);
    assert!(trunk > 1, "a freelist");
    flip_in_page(&config.path, trunk, 2);
    let mut ledger = support::open(&config, 1, 7);
    ledger.check_integrity(CheckLevel::Full).expect("repaired");
    assert_eq!(
        reports(&ledger),
        [(vec![Damage::FreeSpace], RepairAction::Reindexed(Vec::new()))]
    );
    for id in &ids {
        assert!(ledger.capture(id).expect("served").is_some());
    }
    ledger.check_integrity(CheckLevel::Full).expect("sound");
}

#[test]
fn a_damaged_overflow_page_is_table_damage_rebuilt_from_the_chain() {
    let dir = tempfile::tempdir().expect("dir");
    let mut config = Config::new(dir.path().join("l.db"), dir.path().join("vault"));
    let mut backup = BackupConfig::new(dir.path().join("backups"));
    backup.archive = true;
    let mut ledger = support::open(&config, 1, 7);
    ledger.enable_wal_archive(&backup).expect("archive on");
    ledger.backup(&backup).expect("snapshot");
    ledger.checkpoint_archived(&backup).expect("checkpoint");
    let mut ids = Vec::new();
    for k in 0..4 {
        ids.push(stage(&mut ledger, k));
        ledger.archive_wal(&backup).expect("archive");
    }
    let conn = ledger.connection();
    conn.execute_batch("PRAGMA optimize").expect("optimize");
    ledger.checkpoint_archived(&backup).expect("checkpoint");
    let overflow = first_overflow_page(&ledger);
    ledger
        .connection()
        .execute_batch("PRAGMA wal_checkpoint(TRUNCATE)")
        .expect("into the file");
    ledger.close().expect("close");
    flip_in_page(&config.path, overflow, 100);
    config.tuning.wal_archive_dir = Some(PathBuf::from("backups/wal"));
    let mut ledger = support::open(&config, 1, 7);
    ledger.check_integrity(CheckLevel::Full).expect("repaired");
    let found = reports(&ledger);
    assert!(
        matches!(found.as_slice(), [(damage, RepairAction::Restored { missing, .. })]
            if damage.contains(&Damage::Table("captures".into())) && missing.is_empty()),
        "{found:?}"
    );
    for id in &ids {
        assert!(ledger.capture(id).expect("served").is_some());
    }
}

#[test]
fn a_read_of_a_damaged_overflow_page_is_refused_not_served() {
    let dir = tempfile::tempdir().expect("dir");
    let config = Config::new(dir.path().join("l.db"), dir.path().join("vault"));
    let mut ledger = support::open(&config, 1, 7);
    let id = stage(&mut ledger, 0);
    let overflow = first_overflow_page(&ledger);
    ledger.close().expect("close");
    flip_in_page(&config.path, overflow, 100);
    let ledger = support::open(&config, 1, 7);
    match ledger.capture(&id) {
        Err(e) => assert_eq!(e.kind(), "corrupt", "{e}"),
        Ok(served) => panic!("served a damaged overflow page: {served:?}"),
    }
}

/// The first overflow page of the `captures` table.
fn first_overflow_page(ledger: &Ledger) -> u32 {
    ledger
        .connection()
        .query_row(
            "SELECT pageno FROM dbstat WHERE name = 'captures' AND pagetype = 'overflow' LIMIT 1",
            [],
            |r| r.get(0),
        )
        .expect("an overflow page")
}
