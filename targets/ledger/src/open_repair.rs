//! A database that does not open because a page SQLite must read before
//! anything else is damaged (page 1: the 100-byte header with the page size
//! and page count, and the root of `sqlite_schema`), repaired before the
//! ledger's connection is made: [`rebuild_unopenable`].
//!
//! With a backup chain configured (`tuning.wal_archive_dir`), the newest
//! verified snapshot plus every archived transaction is rebuilt beside the
//! damaged file and renamed over it, as for table damage
//! ([`crate::chain_repair`]). The header is not patched in place from what
//! the ledger knows: page size and reserve are known, but the page count,
//! the freelist and the schema cookie are not, and a guessed header that
//! SQLite accepts would serve whatever the guess makes of the pages, with
//! nothing to verify it against. The rebuilt copy is verified (integrity,
//! the snapshot's logical hash) before it is used.
//!
//! What the archive does not reach is named per capture: the damaged file is
//! read through a copy that carries the rebuilt copy's header (with the
//! damaged file's own page count), used only to list its captures and
//! compare their rows with the rebuilt ones; a capture missing from the
//! rebuilt copy or held there in another state is refused, never served
//! stale or as absent. When the damaged file cannot be listed even so, the
//! repair is not made (what it would lose could not be named).

use std::fs;
use std::io::{Read, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};

use rusqlite::{Connection, OpenFlags};

use crate::backup::rebuild::rebuild_beside;
use crate::chain_repair::{Row, backup_chain, not_reached, put_in_place, rows_of};
use crate::checksum;
use crate::config::Config;
use crate::error::LedgerError;
use crate::integrity::repair::listed_capture_ids;
use crate::integrity::{CheckLevel, CorruptionReport, Damage, Findings, RepairAction};
use crate::sidecar::sidecar;

/// Header bytes of a database file (page 1's first 100).
const HEADER_BYTES: usize = 100;

/// Rebuild the database of `config`, which failed to open with `error`
/// (a `corrupt` one), from its backup chain; the report of what was found
/// and done (the caller records it once the ledger exists).
///
/// # Errors
/// `error` itself, its detail saying why nothing was rebuilt: no backup
/// chain configured (and which setting would have repaired it), the rebuild
/// failed, or the damaged file's captures could not be listed.
pub(crate) fn rebuild_unopenable(
    config: &Config,
    error: LedgerError,
) -> Result<CorruptionReport, LedgerError> {
    let LedgerError::Corrupt { path, detail, .. } = error else {
        return Err(error);
    };
    let refuse = |why: String| LedgerError::Corrupt {
        path: path.clone(),
        detail: format!("{detail}; {why}"),
        unreadable: list_through_a_copy(config),
    };
    let Some(chain) = backup_chain(config) else {
        return Err(refuse(
            "a backup directory with WAL archiving (tuning `wal-archive-dir`) would have \
             rebuilt it from the newest snapshot and the archive"
                .to_owned(),
        ));
    };
    let faults = checksum::faults_for(&config.path);
    let damage = damage_of(&faults, &detail);
    let rebuilt = rebuild_beside(&chain, &config.path)
        .map_err(|e| refuse(format!("rebuilding from the backup chain failed: {e}")))?;
    let discard = |why: String| {
        let _ = fs::remove_file(&rebuilt.path);
        refuse(why)
    };
    let (listed, undamaged) = read_damaged(&config.path, &rebuilt.path).map_err(|why| {
        discard(format!(
            "the damaged file's captures cannot be listed ({why}), so what the backup chain \
             does not reach could not be named: not rebuilt"
        ))
    })?;
    let restored = Connection::open_with_flags(
        &rebuilt.path,
        OpenFlags::SQLITE_OPEN_READ_ONLY | OpenFlags::SQLITE_OPEN_NO_MUTEX,
    )
    .map(|conn| rows_of(&conn, &listed))
    .map_err(|e| discard(format!("the rebuilt copy does not open: {e}")))?;
    let missing = not_reached(&listed, &undamaged, &restored);
    put_in_place(&config.path, &rebuilt.path).map_err(refuse)?;
    Ok(CorruptionReport {
        findings: Findings {
            level: CheckLevel::Quick,
            messages: vec![detail.clone()],
            checksum_faults: faults,
        },
        damage: vec![damage],
        action: RepairAction::Restored {
            backup: rebuilt.backup,
            missing,
        },
        unreadable: Vec::new(),
    })
}

/// The capture ids of the database of `config`, which does not open through the ledger, read
/// from a copy of it (and of its `-wal`) through SQLite's default VFS, with no page-checksum
/// verification and a damaged schema tolerated ([`listed_capture_ids`]): every capture it lists
/// is refused while the database does not open, so the refusal names them. When the copy lists
/// nothing (a flipped header field SQLite needs: page size, payload fractions, text encoding),
/// it is read again under the header the ledger writes for a new database ([`ledger_header`]),
/// used only to list ids, never to serve. Empty when neither reads.
fn list_through_a_copy(config: &Config) -> Vec<String> {
    let db = config.path.as_path();
    let copy = sidecar(db, ".listing");
    let remove_copy = || {
        for suffix in ["", "-wal", "-shm"] {
            let _ = fs::remove_file(sidecar(&copy, suffix));
        }
    };
    let fresh_copy = || {
        remove_copy();
        fs::copy(db, &copy).is_ok()
            && (!sidecar(db, "-wal").exists()
                || fs::copy(sidecar(db, "-wal"), sidecar(&copy, "-wal")).is_ok())
    };
    let mut listed = if fresh_copy() {
        list_ids_of(&copy)
    } else {
        Vec::new()
    };
    if listed.is_empty() && fresh_copy() {
        let header = ledger_header(config, db);
        let written = fs::OpenOptions::new()
            .write(true)
            .open(&copy)
            .and_then(|mut file| file.write_all(&header));
        if written.is_ok() {
            listed = list_ids_of(&copy);
        }
    }
    remove_copy();
    listed
}

/// The capture ids the database at `path` lists (empty when it does not open).
fn list_ids_of(path: &Path) -> Vec<String> {
    Connection::open_with_flags(
        path,
        OpenFlags::SQLITE_OPEN_READ_WRITE | OpenFlags::SQLITE_OPEN_NO_MUTEX,
    )
    .map(|conn| listed_capture_ids(&conn))
    .unwrap_or_default()
}

/// The 100-byte header the ledger's SQLite writes for a new database of `config`, for the file
/// at `db`: the page size from its WAL's header (else SQLite's default, 4096), the page-checksum
/// reserve when the ledger seals pages, UTF-8, schema format 4, the WAL file format when the
/// ledger runs in WAL mode, and a page count SQLite takes from the file's length (the
/// version-valid-for field left unequal to the change counter). The freelist is left empty:
/// a read does not need it.
fn ledger_header(config: &Config, db: &Path) -> [u8; HEADER_BYTES] {
    let mut wal_header = [0u8; 12];
    let page_size = fs::File::open(sidecar(db, "-wal"))
        .and_then(|mut wal| wal.read_exact(&mut wal_header))
        .ok()
        .map(|()| {
            u32::from_be_bytes([wal_header[8], wal_header[9], wal_header[10], wal_header[11]])
        })
        .filter(|size| size.is_power_of_two() && (512..=65_536).contains(size))
        .unwrap_or(4096);
    let format = if config.tuning.journal_mode == crate::config::JournalMode::Wal {
        2
    } else {
        1
    };
    let mut header = [0u8; HEADER_BYTES];
    header[..16].copy_from_slice(b"SQLite format 3\0");
    let size_field = if page_size == 65_536 {
        1
    } else {
        page_size as u16
    };
    header[16..18].copy_from_slice(&size_field.to_be_bytes());
    header[18] = format;
    header[19] = format;
    header[20] = if config.tuning.page_checksums {
        checksum::RESERVE_BYTES as u8
    } else {
        0
    };
    header[21..24].copy_from_slice(&[64, 32, 32]);
    header[24..28].copy_from_slice(&1u32.to_be_bytes());
    header[44..48].copy_from_slice(&4u32.to_be_bytes());
    header[56..60].copy_from_slice(&1u32.to_be_bytes());
    header[96..100].copy_from_slice(&3_045_000u32.to_be_bytes());
    header
}

/// What the failed open implicates: page 1 (by its checksum, or SQLite's
/// "not a database") is the header; another page is named as found.
fn damage_of(faults: &[checksum::ChecksumFault], detail: &str) -> Damage {
    match faults.last().and_then(|f| f.page) {
        Some(1) => Damage::Header,
        Some(page) => Damage::Unknown(format!("page {page}, read before the database opened")),
        None if detail.contains("not a database") => Damage::Header,
        None => Damage::Unknown(detail.to_owned()),
    }
}

/// The capture ids the damaged file `db` lists and their rows, read
/// (without page checksums) through a copy that carries `rebuilt`'s header.
fn read_damaged(
    db: &Path,
    rebuilt: &Path,
) -> Result<(Vec<String>, std::collections::BTreeMap<String, Row>), String> {
    let mut reading = db.as_os_str().to_owned();
    reading.push(".reading");
    let reading = PathBuf::from(reading);
    let read = (|| {
        fs::copy(db, &reading).map_err(|e| format!("copying it failed: {e}"))?;
        let header = header_for(&reading, rebuilt)?;
        let mut file = fs::OpenOptions::new()
            .write(true)
            .open(&reading)
            .map_err(|e| e.to_string())?;
        file.seek(SeekFrom::Start(0))
            .and_then(|_| file.write_all(&header))
            .map_err(|e| e.to_string())?;
        drop(file);
        let conn = Connection::open_with_flags(
            &reading,
            OpenFlags::SQLITE_OPEN_READ_ONLY | OpenFlags::SQLITE_OPEN_NO_MUTEX,
        )
        .map_err(|e| e.to_string())?;
        let listed = listed_capture_ids(&conn);
        if listed.is_empty() {
            let count: i64 = conn
                .query_row("SELECT count(*) FROM captures", [], |r| r.get(0))
                .map_err(|e| e.to_string())?;
            if count > 0 {
                return Err(format!("{count} captures, none listed by id"));
            }
        }
        let rows = rows_of(&conn, &listed);
        Ok((listed, rows))
    })();
    let _ = fs::remove_file(&reading);
    read
}

/// `rebuilt`'s header with `reading`'s own page count (from its length, the
/// count trusted: version-valid-for set to the change counter) and the
/// rollback-journal file format (a read-only open then needs no `-wal`).
fn header_for(reading: &Path, rebuilt: &Path) -> Result<Vec<u8>, String> {
    let rebuilt = fs::read(rebuilt).map_err(|e| format!("reading the rebuilt copy failed: {e}"))?;
    let mut header = rebuilt
        .get(..HEADER_BYTES)
        .ok_or("the rebuilt copy has no header")?
        .to_vec();
    let page_size = match u16::from_be_bytes([header[16], header[17]]) {
        1 => 65_536,
        n => u64::from(n),
    };
    let length = fs::metadata(reading).map_err(|e| e.to_string())?.len();
    let pages = u32::try_from(length / page_size.max(512)).map_err(|e| e.to_string())?;
    header[28..32].copy_from_slice(&pages.to_be_bytes());
    header.copy_within(24..28, 92);
    header[18] = 1;
    header[19] = 1;
    Ok(header)
}
