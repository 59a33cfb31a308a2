//! Page checksums: a SQLite VFS shim that keeps a checksum of every page in
//! the page's 8 reserved bytes, written on every write and verified on every
//! read of a page (main database and WAL frames), after the idea of SQLite's
//! `cksumvfs` (same `PRAGMA checksum_verification`, plus `='except:P,Q'`, which
//! verifies every page but the listed ones: the index repair reads only the
//! pages it knows damaged unverified). Pages are sealed with
//! CRC32C (format version 2, [`PageCode`]); pages of version 1 (`cksumvfs`'s
//! own sum) still verify and move to version 2 when they are next written.
//!
//! [`vfs_name`] registers the shim stacked over another VFS (the harness's
//! fault VFS, or the default one) and returns its name, which is
//! `ledger-checksum` over the default VFS and `ledger-checksum/<inner>` over
//! `<inner>`. A mismatch fails the read with `SQLITE_IOERR_DATA` and is
//! recorded as a [`ChecksumFault`]; the ledger turns it into
//! [`crate::LedgerError::Corrupt`] naming the file and page.
//!
//! Only databases whose header says 8 reserved bytes per page are checked;
//! others pass through untouched. The ledger asks for the reserve when it
//! creates a database (`SQLITE_FCNTL_RESERVE_BYTES`) and migrates an existing
//! one by `VACUUM` ([`crate::Tuning::page_checksums`]). Reserved bytes are
//! part of the file format: plain SQLite reads such a file normally (it only
//! skips the verification), but a plain *writer* leaves stale checksums that
//! the shim then reports, so write only through the ledger. SQLite's own
//! `cksumvfs` verifies version-1 pages only: it reports version-2 pages as
//! damaged.
//!
//! A checksummed database is never memory-mapped: `xFetch` answers "no
//! mapping" (as `cksumvfs` does), so every page comes through a verified
//! `xRead` into the page cache. Verifying mapped pages instead cost +49 % on
//! the recovery query (SQLite maps a page again for every access); see
//! `examples/safety_cost.rs`. `mmap_size` (and its fallback) therefore only
//! matters with `page-checksums = false`.
//!
//! The VFS itself is built on the `vfs-shim` crate, which holds all of its
//! unsafe code: nothing here needs any.
#![forbid(unsafe_code)]

mod algo;
mod file;
mod hooks;
pub(crate) mod layout;
mod page_code;

use std::fs::File;
use std::io::Read;
use std::path::Path;

pub use page_code::{
    CRC32C_TAG, PageCode, RESERVE_BYTES, page_checksum, page_checksum_ok, page_code,
};

/// Name of the checksum VFS over the default VFS; over a VFS `x` it is `ledger-checksum/x`.
pub const VFS_PREFIX: &str = "ledger-checksum";

/// SQLite's extended result code for a checksum mismatch (`SQLITE_IOERR_DATA`).
pub const IOERR_DATA: i32 = rusqlite::ffi::SQLITE_IOERR_DATA;

/// A page whose checksum did not match, as the shim saw it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ChecksumFault {
    /// The file read (the database or its `-wal`).
    pub file: String,
    /// Byte offset of the read.
    pub offset: i64,
    /// The database page number (for a WAL frame, the page it holds), when known.
    pub page: Option<u32>,
    /// Whether the page image came from the WAL.
    pub in_wal: bool,
}

impl std::fmt::Display for ChecksumFault {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let page = self
            .page
            .map_or_else(|| "an unknown page".to_owned(), |p| format!("page {p}"));
        let place = if self.in_wal { "WAL frame of " } else { "" };
        write!(
            f,
            "page checksum mismatch: {place}{page} in {} (offset {})",
            self.file, self.offset
        )
    }
}

/// Failures registering the checksum VFS.
#[derive(Debug, thiserror::Error)]
pub enum ChecksumError {
    /// The VFS to stack on is not registered.
    #[error(
        "failed to stack the checksum VFS: no VFS named {0:?} is registered; register it before opening"
    )]
    NoSuchVfs(String),
    /// A VFS name with a NUL byte.
    #[error("failed to register the checksum VFS: name {0:?} contains a NUL byte")]
    BadName(String),
    /// `sqlite3_vfs_register` failed.
    #[error("failed to register VFS {name:?}: SQLite error code {code}")]
    Register {
        /// The VFS name.
        name: String,
        /// The SQLite result code.
        code: i32,
    },
}

/// Register (once per process) the checksum VFS over `inner` (`None` = the
/// default VFS) and return its name, for `open_with_flags_and_vfs`.
///
/// # Errors
/// [`ChecksumError::NoSuchVfs`] when `inner` is not registered.
pub fn vfs_name(inner: Option<&str>) -> Result<String, ChecksumError> {
    let name = match inner {
        Some(inner) => format!("{VFS_PREFIX}/{inner}"),
        None => VFS_PREFIX.to_owned(),
    };
    hooks::register(&name, inner)?;
    Ok(name)
}

/// Every checksum mismatch seen in this process (newest last, at most 256).
pub fn recent_faults() -> Vec<ChecksumFault> {
    file::recent_faults()
}

/// The mismatches seen in the database `path` or its WAL.
pub fn faults_for(path: &Path) -> Vec<ChecksumFault> {
    let db = path.to_string_lossy();
    file::recent_faults()
        .into_iter()
        .filter(|f| f.file == db || f.file.strip_suffix("-wal") == Some(&db))
        .collect()
}

/// How many checksum mismatches this process has seen (for metrics).
pub fn fault_count() -> u64 {
    file::fault_count()
}

/// The reserved bytes per page recorded in the database header at `path`
/// (`None` for a missing or empty file).
///
/// # Errors
/// The file exists but cannot be read.
pub fn reserve_bytes_of(path: &Path) -> std::io::Result<Option<u8>> {
    let mut header = [0u8; 100];
    let mut file = match File::open(path) {
        Ok(file) => file,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(e),
    };
    match file.read_exact(&mut header) {
        Ok(()) if header.starts_with(b"SQLite format 3\0") => Ok(Some(header[20])),
        Ok(()) => Ok(None),
        Err(e) if e.kind() == std::io::ErrorKind::UnexpectedEof => Ok(None),
        Err(e) => Err(e),
    }
}

/// Ask SQLite for [`RESERVE_BYTES`] per page on `conn`'s main database
/// (effective when it is created or vacuumed).
pub(crate) fn request_reserve(conn: &rusqlite::Connection) -> Result<(), i32> {
    let mut reserve = RESERVE_BYTES as std::ffi::c_int;
    conn.file_control(
        Some(rusqlite::MAIN_DB),
        rusqlite::FileControl::ReserveBytes(&mut reserve),
    )
    .map_err(|e| sqlite_code(&e))
}

/// `sqlite3_db_release_memory` on `conn`: its result code (`SQLITE_OK`, 0).
pub(crate) fn release_memory(conn: &rusqlite::Connection) -> i32 {
    conn.release_memory()
        .map_or_else(|e| sqlite_code(&e), |()| 0)
}

/// The SQLite result code behind `error` (`SQLITE_ERROR` if it is not SQLite's).
fn sqlite_code(error: &rusqlite::Error) -> i32 {
    error
        .sqlite_error()
        .map_or(rusqlite::ffi::SQLITE_ERROR, |e| e.extended_code)
}
