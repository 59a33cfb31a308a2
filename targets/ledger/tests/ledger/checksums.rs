//! Page checksums: a flipped bit is an error with checksums on and a silent
//! wrong answer with them off; WAL frames stay recoverable; migration; stacking.

use std::fs;
use std::path::Path;

use ledger::{Config, Ledger, LedgerError, checksum};
use rusqlite::{Connection, OpenFlags};

use crate::support::{self, Fixture, count, voice};

fn page_size(file: &[u8]) -> usize {
    match u16::from_be_bytes([file[16], file[17]]) {
        1 => 65536,
        n => usize::from(n),
    }
}

/// Every page of the main database file has a valid checksum.
fn all_pages_sealed(path: &Path) -> bool {
    let file = fs::read(path).expect("read db");
    let size = page_size(&file);
    file.chunks(size).all(checksum::page_checksum_ok)
}

/// Flip one bit inside the first occurrence of `needle` in `path`; returns its offset.
fn flip_in(path: &Path, needle: &[u8]) -> usize {
    let mut bytes = fs::read(path).expect("read");
    let at = bytes
        .windows(needle.len())
        .position(|w| w == needle)
        .expect("needle in file");
    bytes[at + needle.len() - 1] ^= 0x01;
    fs::write(path, bytes).expect("write");
    at
}

fn staged_and_closed(config: &Config) -> String {
    let mut ledger = support::open(config, 1, 7);
    let id = match ledger.stage(&voice(1)).expect("stage") {
        ledger::StageOutcome::Staged(id) => id,
        other => panic!("{other:?}"),
    };
    ledger.close().expect("close");
    id
}

fn config_in(dir: &Path, checksums: bool) -> Config {
    let mut config = Config::new(dir.join("ledger.db"), dir.join("vault"));
    config.tuning.page_checksums = checksums;
    config
}

#[test]
fn without_checksums_a_flipped_bit_is_returned_silently() {
    let dir = tempfile::tempdir().expect("dir");
    let config = config_in(dir.path(), false);
    let id = staged_and_closed(&config);
    assert_eq!(
        checksum::reserve_bytes_of(&config.path).expect("header"),
        Some(0)
    );
    flip_in(&config.path, b"memos/1.m4a");
    let ledger = support::open(&config, 1, 7);
    let capture = ledger.capture(&id).expect("read succeeds").expect("row");
    assert_ne!(
        capture.raw_content, "memos/1.m4a",
        "the damage is served as data"
    );
}

#[test]
fn with_checksums_a_flipped_bit_is_a_corrupt_error_naming_the_page() {
    let dir = tempfile::tempdir().expect("dir");
    let config = config_in(dir.path(), true);
    let id = staged_and_closed(&config);
    assert_eq!(
        checksum::reserve_bytes_of(&config.path).expect("header"),
        Some(8)
    );
    assert!(all_pages_sealed(&config.path));
    let at = flip_in(&config.path, b"memos/1.m4a");
    let page = at / page_size(&fs::read(&config.path).expect("read")) + 1;
    let ledger = support::open(&config, 1, 7);
    match ledger.capture(&id) {
        Err(LedgerError::Corrupt { detail, .. }) => {
            assert!(detail.contains(&format!("page {page}")), "{detail}");
            assert!(detail.contains("ledger.db"), "{detail}");
        }
        other => panic!("expected Corrupt, got {other:?}"),
    }
}

#[test]
fn committed_wal_frames_survive_crash_recovery() {
    let mut fixture = Fixture::new();
    for n in 0..40 {
        fixture.stage(&voice(n));
    }
    let crashed = tempfile::tempdir().expect("dir");
    let db = crashed.path().join("ledger.db");
    fs::copy(&fixture.config.path, &db).expect("copy db");
    let wal = fixture.config.path.with_extension("db-wal");
    assert!(
        fs::metadata(&wal).expect("wal").len() > 0,
        "frames are in the WAL"
    );
    fs::copy(&wal, crashed.path().join("ledger.db-wal")).expect("copy wal");
    let plain = Connection::open_with_flags(&db, OpenFlags::SQLITE_OPEN_READ_ONLY).expect("plain");
    assert_eq!(
        count(&plain, "SELECT count(*) FROM captures"),
        40,
        "plain WAL recovery keeps every frame"
    );
    drop(plain);
    let config = Config::new(&db, crashed.path().join("vault"));
    let ledger = support::open(&config, 1, 9);
    assert_eq!(ledger.recoverable_captures().expect("recover").len(), 40);
    ledger.close().expect("close checkpoints");
    assert!(all_pages_sealed(&db));
}

#[test]
fn a_flipped_bit_in_a_wal_frame_is_detected() {
    let mut fixture = Fixture::new();
    let id = fixture.stage(&voice(77));
    let wal = fixture.config.path.with_extension("db-wal");
    flip_in(&wal, b"memos/77.m4a");
    match fixture.ledger.capture(&id) {
        Ok(Some(capture)) => assert_eq!(
            capture.raw_content, "memos/77.m4a",
            "served from the page cache"
        ),
        other => panic!("{other:?}"),
    }
    let reopened = Ledger::open(&fixture.config).expect("opens, refusing every call");
    let detail = reopened
        .corruption()
        .expect("the unclean-shutdown check found it")
        .to_string();
    assert!(detail.contains("WAL frame of page"), "{detail}");
    assert!(
        detail.contains(&id),
        "the unreadable capture is named: {detail}"
    );
    assert!(matches!(
        reopened.capture(&id),
        Err(LedgerError::Corrupt { .. })
    ));
}

#[test]
fn an_existing_database_is_migrated_by_vacuum() {
    let dir = tempfile::tempdir().expect("dir");
    let plain = config_in(dir.path(), false);
    let id = staged_and_closed(&plain);
    assert_eq!(
        checksum::reserve_bytes_of(&plain.path).expect("header"),
        Some(0)
    );
    let with = config_in(dir.path(), true);
    let ledger = support::open(&with, 1, 7);
    assert_eq!(
        ledger.capture(&id).expect("read").map(|c| c.raw_content),
        Some("memos/1.m4a".into())
    );
    let mode: String = ledger
        .connection()
        .query_row("PRAGMA journal_mode", [], |r| r.get(0))
        .expect("mode");
    assert_eq!(mode, "wal");
    ledger.close().expect("close");
    assert_eq!(
        checksum::reserve_bytes_of(&with.path).expect("header"),
        Some(8)
    );
    assert!(all_pages_sealed(&with.path));
}

#[test]
fn plain_sqlite_reads_a_checksummed_database() {
    let dir = tempfile::tempdir().expect("dir");
    let config = config_in(dir.path(), true);
    staged_and_closed(&config);
    let plain =
        Connection::open_with_flags(&config.path, OpenFlags::SQLITE_OPEN_READ_ONLY).expect("plain");
    assert_eq!(count(&plain, "SELECT count(*) FROM captures"), 1);
    let check: String = plain
        .query_row("PRAGMA integrity_check", [], |r| r.get(0))
        .expect("check");
    assert_eq!(check, "ok");
}

#[test]
fn stacks_over_the_vfs_the_config_names() {
    let dir = tempfile::tempdir().expect("dir");
    let mut config = config_in(dir.path(), true);
    config.vfs = Some("unix".into());
    let id = staged_and_closed(&config);
    flip_in(&config.path, b"memos/1.m4a");
    let ledger = support::open(&config, 1, 7);
    assert!(matches!(
        ledger.capture(&id),
        Err(LedgerError::Corrupt { .. })
    ));
    assert_eq!(
        checksum::vfs_name(Some("unix")).expect("registered"),
        "ledger-checksum/unix"
    );
    config.vfs = Some("no-such-vfs".into());
    assert!(matches!(
        Ledger::open(&config),
        Err(LedgerError::Open { .. })
    ));
}

#[test]
fn verification_can_be_switched_off_per_connection_for_forensics() {
    let dir = tempfile::tempdir().expect("dir");
    let config = config_in(dir.path(), true);
    let id = staged_and_closed(&config);
    flip_in(&config.path, b"memos/1.m4a");
    let ledger = support::open(&config, 1, 7);
    let on: String = ledger
        .connection()
        .query_row("PRAGMA checksum_verification", [], |r| r.get(0))
        .expect("pragma");
    assert_eq!(on, "1");
    ledger
        .connection()
        .execute_batch("PRAGMA checksum_verification=OFF")
        .expect("off");
    assert!(
        ledger
            .capture(&id)
            .expect("served without verification")
            .is_some()
    );
}

/// How many pages of the main database file carry each code (version 1,
/// version 2), and how many verify under neither.
fn pages_by_code(path: &Path) -> (usize, usize, usize) {
    let file = fs::read(path).expect("read db");
    let size = page_size(&file);
    file.chunks(size).fold((0, 0, 0), |(v1, v2, bad), page| {
        match checksum::page_code(page) {
            Some(checksum::PageCode::Fletcher) => (v1 + 1, v2, bad),
            Some(checksum::PageCode::Crc32c) => (v1, v2 + 1, bad),
            None => (v1, v2, bad + 1),
        }
    })
}

/// Rewrite every page's reserved bytes in version 1 (`cksumvfs`'s sum), as
/// the ledger wrote them before the CRC32C format.
fn reseal_as_version_1(path: &Path) {
    let mut file = fs::read(path).expect("read db");
    let size = page_size(&file);
    for page in file.chunks_mut(size) {
        let sum = checksum::PageCode::Fletcher.checksum(page);
        let at = page.len() - checksum::RESERVE_BYTES;
        page[at..].copy_from_slice(&sum);
    }
    fs::write(path, file).expect("write db");
}

#[test]
fn new_pages_are_sealed_in_crc32c() {
    let dir = tempfile::tempdir().expect("dir");
    let config = config_in(dir.path(), true);
    staged_and_closed(&config);
    let (v1, v2, bad) = pages_by_code(&config.path);
    assert_eq!((v1, bad), (0, 0));
    assert!(v2 > 0);
}

#[test]
fn a_version_1_database_is_read_verified_and_migrated_on_write() {
    let dir = tempfile::tempdir().expect("dir");
    let config = config_in(dir.path(), true);
    let id = staged_and_closed(&config);
    reseal_as_version_1(&config.path);
    let (v1, v2, bad) = pages_by_code(&config.path);
    assert_eq!((v2, bad), (0, 0), "every page in version 1");

    let damaged = tempfile::tempdir().expect("dir");
    let damaged_config = config_in(damaged.path(), true);
    fs::copy(&config.path, &damaged_config.path).expect("copy");
    flip_in(&damaged_config.path, b"memos/1.m4a");
    let ledger = support::open(&damaged_config, 1, 7);
    assert!(
        matches!(ledger.capture(&id), Err(LedgerError::Corrupt { .. })),
        "a version-1 page is still verified"
    );
    drop(ledger);

    let mut ledger = support::open(&config, 1, 8);
    assert_eq!(
        ledger.capture(&id).expect("read").map(|c| c.raw_content),
        Some("memos/1.m4a".into())
    );
    for n in 2..40 {
        ledger.stage(&voice(n)).expect("stage");
    }
    ledger.close().expect("close");
    let (after_v1, after_v2, after_bad) = pages_by_code(&config.path);
    assert_eq!(after_bad, 0);
    assert!(after_v2 > 0, "pages written since are in version 2");
    assert!(after_v1 < v1, "rewritten pages left version 1");
    let ledger = support::open(&config, 1, 9);
    assert_eq!(ledger.recoverable_captures().expect("read all").len(), 39);
}
