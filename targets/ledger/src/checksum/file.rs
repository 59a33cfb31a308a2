//! What the checksum shim does with each open file, in safe code:
//! [`ChecksumFile`] seals pages on write and verifies them on read.
//!
//! Main database: a write of a whole page gets its checksum in its last 8
//! bytes; a read of a whole page is verified. Which databases carry checksums
//! is read from the header itself (byte 20, reserved bytes per page, must be
//! 8), as `cksumvfs` does, so a database without reserved bytes passes
//! through untouched.
//!
//! WAL: SQLite writes each frame as a 24-byte header, whose cumulative
//! checksum already covers the page, then the page. Sealing the page changes
//! its last 8 bytes, so the shim holds the header back, seals the page,
//! recomputes the frame checksum from the previous frame's (as stored on
//! disk) and writes both. SQLite's own in-memory running checksum then
//! differs from the file's, which is harmless: every reader (recovery, other
//! connections, plain SQLite) recomputes the chain from the file, and every
//! frame this shim writes continues the chain found in the file. Frames
//! written with zeroed salts (SQLite rewrites their checksums at commit,
//! `walRewriteChecksums`) are sealed but keep their header as given.

use std::collections::VecDeque;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};

use super::ChecksumFault;
use super::algo::{is_page, read_pair, wal_checksum, wal_checksum_update, write_pair};
use super::page_code::{RESERVE_BYTES, page_checksum_ok, seal_page};

/// A SQLite result code.
pub(crate) type Code = i32;

const SQLITE_IOERR_DATA: Code = 8202;
const SQLITE_IOERR_WRITE: Code = 778;
const WAL_HEADER: usize = 32;
const FRAME_HEADER: usize = 24;
const FAULT_LOG_CAP: usize = 256;

static FAULTS: Mutex<VecDeque<ChecksumFault>> = Mutex::new(VecDeque::new());
static FAULT_COUNT: AtomicU64 = AtomicU64::new(0);

fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
}

/// Every checksum mismatch seen in this process, newest last (at most 256 kept).
pub(crate) fn recent_faults() -> Vec<ChecksumFault> {
    lock(&FAULTS).iter().cloned().collect()
}

/// How many checksum mismatches this process has seen.
pub(crate) fn fault_count() -> u64 {
    FAULT_COUNT.load(Ordering::Relaxed)
}

fn record(fault: ChecksumFault) {
    FAULT_COUNT.fetch_add(1, Ordering::Relaxed);
    let mut faults = lock(&FAULTS);
    if faults.len() == FAULT_LOG_CAP {
        faults.pop_front();
    }
    faults.push_back(fault);
}

/// The file underneath the shim.
pub(crate) trait RealFile {
    /// Read exactly `buf.len()` bytes at `offset`.
    fn read(&mut self, buf: &mut [u8], offset: i64) -> Result<(), Code>;
    /// Write `data` at `offset`.
    fn write(&mut self, data: &[u8], offset: i64) -> Result<(), Code>;
}

/// What a main database file and its WAL share.
#[derive(Debug)]
pub(crate) struct DbState {
    /// The database's header says 8 reserved bytes per page: checksums apply.
    active: AtomicBool,
    /// Verification on reads (off only while the integrity check describes damage).
    verify: AtomicBool,
    /// Pages whose failed verification is tolerated while verification is on (the pages a
    /// repair knows damaged; every other page is still verified).
    tolerated: Mutex<Vec<u32>>,
}

/// How many times a tolerated page that fails its checksum is read again before its damaged
/// image is passed on: a transient flip reads right the next time, damage at rest never does.
const TOLERATED_REREADS: usize = 2;

impl DbState {
    pub(crate) fn new() -> Arc<DbState> {
        Arc::new(DbState {
            active: AtomicBool::new(false),
            verify: AtomicBool::new(true),
            tolerated: Mutex::new(Vec::new()),
        })
    }

    /// Verification on for every page but `pages` (`[]`: every page); returns whether it is
    /// now on (never for a database without checksums).
    pub(crate) fn verify_except(&self, pages: Vec<u32>) -> bool {
        *lock(&self.tolerated) = pages;
        self.verify.store(true, Ordering::Relaxed);
        self.verifying()
    }

    /// The pages verification tolerates (empty unless a repair set them).
    #[cfg(test)]
    pub(crate) fn tolerated(&self) -> Vec<u32> {
        lock(&self.tolerated).clone()
    }

    fn tolerates(&self, page: u32) -> bool {
        lock(&self.tolerated).contains(&page)
    }

    fn active(&self) -> bool {
        self.active.load(Ordering::Relaxed)
    }

    fn verifying(&self) -> bool {
        self.active() && self.verify.load(Ordering::Relaxed)
    }

    /// Turn verification on (for every page: no page stays tolerated) or off; returns whether
    /// it is now on (never on for a database without checksums).
    pub(crate) fn set_verify(&self, on: bool) -> bool {
        if on {
            lock(&self.tolerated).clear();
        }
        self.verify.store(on, Ordering::Relaxed);
        self.verifying()
    }

    /// Whether reads are verified.
    pub(crate) fn verifying_now(&self) -> bool {
        self.verifying()
    }

    fn learn_from_header(&self, bytes: &[u8], offset: i64) {
        if offset == 0 && bytes.len() >= 100 && bytes.starts_with(b"SQLite format 3\0") {
            self.active
                .store(usize::from(bytes[20]) == RESERVE_BYTES, Ordering::Relaxed);
        }
    }
}

#[derive(Debug, Clone, Copy)]
struct WalHeader {
    big_endian: bool,
    salt: [u8; 8],
    checksum: [u32; 2],
}

impl WalHeader {
    fn parse(bytes: &[u8]) -> Option<WalHeader> {
        let magic = u32::from_be_bytes([bytes[0], bytes[1], bytes[2], bytes[3]]);
        if magic & !1 != 0x377f_0682 {
            return None;
        }
        let mut salt = [0u8; 8];
        salt.copy_from_slice(&bytes[16..24]);
        Some(WalHeader {
            big_endian: magic & 1 == 1,
            salt,
            checksum: read_pair(&bytes[24..32]),
        })
    }
}

/// The last frame written: offset, salts, its checksum in the file, and the
/// checksum SQLite gave it (SQLite's running sum, which seeds its next frame).
#[derive(Debug, Clone, Copy)]
struct LastFrame {
    at: i64,
    salt: [u8; 8],
    sum: [u32; 2],
    given: [u32; 2],
}

/// The WAL writer's memory: a held-back frame header and the last frame written.
#[derive(Debug, Default)]
struct WalWriter {
    pending: Option<(i64, [u8; FRAME_HEADER])>,
    last: Option<LastFrame>,
    header: Option<WalHeader>,
}

thread_local! {
    /// The buffer pages are sealed in (no allocation per write).
    static SEALED: std::cell::RefCell<Vec<u8>> = const { std::cell::RefCell::new(Vec::new()) };
}

/// A page SQLite asked to write: its own buffer when the shim may fill the
/// reserved bytes in place (as `cksumvfs` does), else a borrowed one.
enum Written<'a> {
    /// SQLite's buffer, sealed in place.
    InPlace(&'a mut [u8]),
    /// A buffer that must not change: sealed in a copy.
    Borrowed(&'a [u8]),
}

impl Written<'_> {
    fn bytes(&self) -> &[u8] {
        match self {
            Written::InPlace(data) => data,
            Written::Borrowed(data) => data,
        }
    }

    /// Run `body` on the page sealed: in place, or in a reused copy.
    fn with_sealed<T>(self, body: impl FnOnce(&[u8]) -> T) -> T {
        match self {
            Written::InPlace(page) => {
                seal_page(page);
                body(page)
            }
            Written::Borrowed(page) => SEALED.with(|buffer| {
                let mut buffer = buffer.borrow_mut();
                buffer.clear();
                buffer.extend_from_slice(page);
                seal_page(&mut buffer);
                body(&buffer)
            }),
        }
    }
}

/// Which file of a database this is.
#[derive(Debug)]
enum Role {
    Main,
    Wal(Mutex<WalWriter>),
}

/// One open main-database or WAL file behind the shim.
#[derive(Debug)]
pub(crate) struct ChecksumFile {
    path: String,
    db: Arc<DbState>,
    role: Role,
}

impl ChecksumFile {
    /// A main database file.
    pub(crate) fn main(path: String) -> ChecksumFile {
        ChecksumFile {
            path,
            db: DbState::new(),
            role: Role::Main,
        }
    }

    /// A WAL file sharing its database's state.
    pub(crate) fn wal(path: String, db: Arc<DbState>) -> ChecksumFile {
        ChecksumFile {
            path,
            db,
            role: Role::Wal(Mutex::new(WalWriter::default())),
        }
    }

    /// The state a WAL opened for this database must share.
    pub(crate) fn db_state(&self) -> &Arc<DbState> {
        &self.db
    }

    /// Whether this is the main database file.
    pub(crate) fn is_main(&self) -> bool {
        matches!(self.role, Role::Main)
    }

    /// Write out a held-back WAL frame header; call before any other operation.
    pub(crate) fn flush(&self, real: &mut dyn RealFile) -> Result<(), Code> {
        let Role::Wal(writer) = &self.role else {
            return Ok(());
        };
        let mut writer = lock(writer);
        flush_pending(&mut writer, real)
    }

    /// Check what a successful read returned. A page that fails its checksum fails the read,
    /// unless verification tolerates it ([`DbState::verify_except`]): then it is read again
    /// (at most [`TOLERATED_REREADS`] times) and the first image that verifies replaces it, or
    /// the damaged image is passed on.
    pub(crate) fn after_read(
        &self,
        real: &mut dyn RealFile,
        buf: &mut [u8],
        offset: i64,
    ) -> Result<(), Code> {
        if self.is_main() {
            self.db.learn_from_header(buf, offset);
        }
        if !is_page(buf.len()) || !self.db.verifying() || page_checksum_ok(buf) {
            return Ok(());
        }
        if_mutant!(ChecksumsNotVerified, {
            return Ok(());
        });
        let page = self.page_number(real, offset, buf.len());
        if page.is_some_and(|p| self.db.tolerates(p)) {
            reread_tolerated(real, buf, offset);
            return Ok(());
        }
        record(ChecksumFault {
            file: self.path.clone(),
            offset,
            page,
            in_wal: !self.is_main(),
        });
        Err(SQLITE_IOERR_DATA)
    }

    /// Whether SQLite may memory-map this file's pages: only a main database
    /// without checksums (a mapped page would bypass verification).
    pub(crate) fn maps_pages(&self) -> bool {
        self.is_main() && !self.db.active()
    }

    /// The database page a read at `offset` holds (for a WAL frame, read from its header).
    fn page_number(&self, real: &mut dyn RealFile, offset: i64, len: usize) -> Option<u32> {
        match self.role {
            Role::Main => page_number(offset, len),
            Role::Wal(_) => {
                let mut number = [0u8; 4];
                real.read(&mut number, offset - FRAME_HEADER as i64)
                    .ok()
                    .map(|()| u32::from_be_bytes(number))
            }
        }
    }

    /// Write `data` at `offset`, sealing whole pages in a copy.
    pub(crate) fn write(
        &self,
        real: &mut dyn RealFile,
        data: &[u8],
        offset: i64,
    ) -> Result<(), Code> {
        self.write_page(real, Written::Borrowed(data), offset)
    }

    /// Write `data` at `offset`, sealing whole pages in place.
    pub(crate) fn write_in_place(
        &self,
        real: &mut dyn RealFile,
        data: &mut [u8],
        offset: i64,
    ) -> Result<(), Code> {
        self.write_page(real, Written::InPlace(data), offset)
    }

    fn write_page(
        &self,
        real: &mut dyn RealFile,
        data: Written<'_>,
        offset: i64,
    ) -> Result<(), Code> {
        match &self.role {
            Role::Main => {
                self.db.learn_from_header(data.bytes(), offset);
                if self.db.active() && is_page(data.bytes().len()) {
                    data.with_sealed(|page| real.write(page, offset))
                } else {
                    real.write(data.bytes(), offset)
                }
            }
            Role::Wal(writer) => {
                let mut writer = lock(writer);
                self.write_wal(&mut writer, real, data, offset)
            }
        }
    }

    fn write_wal(
        &self,
        writer: &mut WalWriter,
        real: &mut dyn RealFile,
        written: Written<'_>,
        offset: i64,
    ) -> Result<(), Code> {
        let data = written.bytes();
        if !self.db.active() {
            flush_pending(writer, real)?;
            return real.write(data, offset);
        }
        if data.len() == FRAME_HEADER && offset >= WAL_HEADER as i64 {
            flush_pending(writer, real)?;
            let mut header = [0u8; FRAME_HEADER];
            header.copy_from_slice(data);
            writer.pending = Some((offset, header));
            return Ok(());
        }
        if offset == 0 && data.len() == WAL_HEADER {
            flush_pending(writer, real)?;
            writer.header = WalHeader::parse(data);
            writer.last = None;
            return real.write(data, offset);
        }
        if !is_page(data.len()) {
            flush_pending(writer, real)?;
            return real.write(data, offset);
        }
        let mut old_tail = [0u8; RESERVE_BYTES];
        old_tail.copy_from_slice(&data[data.len() - RESERVE_BYTES..]);
        written.with_sealed(|page| match writer.pending.take() {
            Some((at, header)) if at + FRAME_HEADER as i64 == offset => {
                write_frame(writer, real, at, header, (page, &old_tail))
            }
            other => {
                writer.pending = other;
                flush_pending(writer, real)?;
                real.write(page, offset)
            }
        })
    }
}

/// Reads a tolerated page again until an image verifies (kept in `buf`); when none does, `buf`
/// keeps the damaged image.
fn reread_tolerated(real: &mut dyn RealFile, buf: &mut [u8], offset: i64) {
    let mut again = vec![0u8; buf.len()];
    for _ in 0..TOLERATED_REREADS {
        if real.read(&mut again, offset).is_ok() && page_checksum_ok(&again) {
            buf.copy_from_slice(&again);
            return;
        }
    }
}

fn page_number(offset: i64, len: usize) -> Option<u32> {
    u32::try_from(offset / len as i64 + 1).ok()
}

fn flush_pending(writer: &mut WalWriter, real: &mut dyn RealFile) -> Result<(), Code> {
    if let Some((at, header)) = writer.pending.take() {
        real.write(&header, at)?;
        let sum = read_pair(&header[16..24]);
        remember(writer, at, &header, sum);
    }
    Ok(())
}

fn remember(writer: &mut WalWriter, at: i64, header: &[u8; FRAME_HEADER], given: [u32; 2]) {
    let mut salt = [0u8; 8];
    salt.copy_from_slice(&header[8..16]);
    writer.last = Some(LastFrame {
        at,
        salt,
        sum: read_pair(&header[16..24]),
        given,
    });
}

/// Write a frame whose page was sealed (`page`; its last 8 bytes were
/// `old_tail` when SQLite summed it): fix its checksum first. When the frame
/// before is the one this writer wrote, the new sum is derived from SQLite's
/// without a pass over the page ([`wal_checksum_update`]); else recomputed.
fn write_frame(
    writer: &mut WalWriter,
    real: &mut dyn RealFile,
    at: i64,
    mut header: [u8; FRAME_HEADER],
    (page, old_tail): (&[u8], &[u8]),
) -> Result<(), Code> {
    let chained = header[8..24].iter().any(|&b| b != 0);
    let given = read_pair(&header[16..24]);
    if chained {
        let mut salt = [0u8; 8];
        salt.copy_from_slice(&header[8..16]);
        let (big_endian, seed, given_seed) = chain_before(writer, real, at, page.len(), salt)?;
        let recompute = || {
            let sum = wal_checksum(big_endian, &header[..8], seed);
            wal_checksum(big_endian, page, sum)
        };
        let sum = match given_seed {
            Some(given_seed) => {
                let tail = &page[page.len() - RESERVE_BYTES..];
                let pairs = (8 + page.len()) / 8;
                let sum = wal_checksum_update(
                    big_endian,
                    pairs,
                    (given_seed, seed),
                    given,
                    (old_tail, tail),
                );
                debug_assert_eq!(sum, recompute(), "derived frame checksum");
                sum
            }
            None => recompute(),
        };
        write_pair(sum, &mut header[16..24]);
    }
    real.write(&header, at)?;
    real.write(page, at + FRAME_HEADER as i64)?;
    if chained {
        remember(writer, at, &header, given);
    }
    Ok(())
}

/// Byte order, the file's running checksum, and SQLite's when known.
type Chain = (bool, [u32; 2], Option<[u32; 2]>);

/// The byte order and running checksum that the frame at `at` continues, and
/// SQLite's running sum there when known (the frame before is this writer's).
fn chain_before(
    writer: &mut WalWriter,
    real: &mut dyn RealFile,
    at: i64,
    page_len: usize,
    salt: [u8; 8],
) -> Result<Chain, Code> {
    let header = match writer.header {
        Some(header) if header.salt == salt => header,
        _ => {
            let mut bytes = [0u8; WAL_HEADER];
            real.read(&mut bytes, 0)?;
            let header = WalHeader::parse(&bytes).ok_or(SQLITE_IOERR_WRITE)?;
            writer.header = Some(header);
            header
        }
    };
    if header.salt != salt {
        return Err(SQLITE_IOERR_WRITE);
    }
    if at == WAL_HEADER as i64 {
        return Ok((header.big_endian, header.checksum, Some(header.checksum)));
    }
    let previous = at - (page_len + FRAME_HEADER) as i64;
    if let Some(last) = writer.last
        && last.at == previous
        && last.salt == salt
    {
        return Ok((header.big_endian, last.sum, Some(last.given)));
    }
    let mut stored = [0u8; 16];
    real.read(&mut stored, previous + 8)?;
    if stored[..8] != salt {
        return Err(SQLITE_IOERR_WRITE);
    }
    Ok((header.big_endian, read_pair(&stored[8..]), None))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Default)]
    struct MemFile(Vec<u8>);

    impl RealFile for MemFile {
        fn read(&mut self, buf: &mut [u8], offset: i64) -> Result<(), Code> {
            let at = offset as usize;
            let end = at + buf.len();
            if end > self.0.len() {
                return Err(522);
            }
            buf.copy_from_slice(&self.0[at..end]);
            Ok(())
        }

        fn write(&mut self, data: &[u8], offset: i64) -> Result<(), Code> {
            let at = offset as usize;
            if self.0.len() < at + data.len() {
                self.0.resize(at + data.len(), 0);
            }
            self.0[at..at + data.len()].copy_from_slice(data);
            Ok(())
        }
    }

    fn active_db() -> Arc<DbState> {
        let db = DbState::new();
        let mut page = vec![0u8; 512];
        page[..16].copy_from_slice(b"SQLite format 3\0");
        page[20] = 8;
        db.learn_from_header(&page, 0);
        db
    }

    fn wal_header(salt: [u8; 8]) -> [u8; 32] {
        let mut h = [0u8; 32];
        h[..4].copy_from_slice(&0x377f_0682u32.to_be_bytes());
        h[8..12].copy_from_slice(&512u32.to_be_bytes());
        h[16..24].copy_from_slice(&salt);
        let sum = wal_checksum(false, &h[..24], [0, 0]);
        write_pair(sum, &mut h[24..32]);
        h
    }

    /// Frames as SQLite would encode them over the unsealed page.
    fn frame_header(pgno: u32, salt: [u8; 8], seed: [u32; 2], page: &[u8]) -> ([u8; 24], [u32; 2]) {
        let mut h = [0u8; 24];
        h[..4].copy_from_slice(&pgno.to_be_bytes());
        h[8..16].copy_from_slice(&salt);
        let sum = wal_checksum(false, &h[..8], seed);
        let sum = wal_checksum(false, page, sum);
        write_pair(sum, &mut h[16..24]);
        (h, sum)
    }

    /// Walks the chain the way SQLite's WAL recovery does; returns valid frames.
    fn valid_frames(wal: &[u8], page_len: usize) -> usize {
        let header = WalHeader::parse(wal).expect("wal header");
        let mut seed = header.checksum;
        let mut count = 0;
        let mut at = WAL_HEADER;
        while at + FRAME_HEADER + page_len <= wal.len() {
            let h = &wal[at..at + FRAME_HEADER];
            let page = &wal[at + FRAME_HEADER..at + FRAME_HEADER + page_len];
            let sum = wal_checksum(false, &h[..8], seed);
            let sum = wal_checksum(false, page, sum);
            if h[8..16] != header.salt[..] || read_pair(&h[16..24]) != sum {
                break;
            }
            seed = sum;
            count += 1;
            at += FRAME_HEADER + page_len;
        }
        count
    }

    #[test]
    fn sealed_wal_frames_keep_a_valid_chain() {
        let file = ChecksumFile::wal("t-wal".into(), active_db());
        let mut real = MemFile::default();
        let salt = [1, 2, 3, 4, 5, 6, 7, 8];
        let header = wal_header(salt);
        file.write(&mut real, &header, 0).expect("header");
        let mut seed = WalHeader::parse(&header).expect("parse").checksum;
        for frame in 0..3u32 {
            let page = vec![frame as u8 + 1; 512];
            let (h, sum) = frame_header(frame + 1, salt, seed, &page);
            seed = sum;
            let at = 32 + i64::from(frame) * (512 + 24);
            file.write(&mut real, &h, at).expect("frame header");
            file.write(&mut real, &page, at + 24).expect("page");
        }
        file.flush(&mut real).expect("flush");
        assert_eq!(valid_frames(&real.0, 512), 3);
        for frame in 0..3usize {
            let at = 32 + frame * (512 + 24) + 24;
            assert!(page_checksum_ok(&real.0[at..at + 512]), "frame {frame}");
        }
    }

    #[test]
    fn a_second_writer_continues_the_chain_from_disk() {
        let db = active_db();
        let first = ChecksumFile::wal("t-wal".into(), Arc::clone(&db));
        let second = ChecksumFile::wal("t-wal".into(), db);
        let mut real = MemFile::default();
        let salt = [9; 8];
        let header = wal_header(salt);
        first.write(&mut real, &header, 0).expect("header");
        let seed = WalHeader::parse(&header).expect("parse").checksum;
        let page = vec![7u8; 512];
        let (h, stale_seed) = frame_header(1, salt, seed, &page);
        first.write(&mut real, &h, 32).expect("h1");
        first.write(&mut real, &page, 56).expect("p1");
        let (h2, _) = frame_header(2, salt, stale_seed, &page);
        second.write(&mut real, &h2, 32 + 536).expect("h2");
        second.write(&mut real, &page, 32 + 536 + 24).expect("p2");
        assert_eq!(valid_frames(&real.0, 512), 2);
    }

    #[test]
    fn a_flipped_bit_in_a_page_read_is_an_io_data_error() {
        let file = ChecksumFile::main("t.db".into());
        let mut real = MemFile::default();
        let mut page = vec![0u8; 512];
        page[..16].copy_from_slice(b"SQLite format 3\0");
        page[20] = 8;
        page[100] = 42;
        file.write(&mut real, &page, 0).expect("write");
        let mut buf = vec![0u8; 512];
        real.read(&mut buf, 0).expect("read");
        file.after_read(&mut real, &mut buf, 0).expect("verifies");
        buf[300] ^= 4;
        let before = fault_count();
        assert_eq!(
            file.after_read(&mut real, &mut buf, 0),
            Err(SQLITE_IOERR_DATA)
        );
        assert!(fault_count() > before);
        assert!(!file.db_state().set_verify(false));
        file.after_read(&mut real, &mut buf, 0)
            .expect("verification off");
    }

    /// Two sealed 512-byte pages written through `file`: page 1 (the header) and page 2.
    fn two_pages(file: &ChecksumFile, real: &mut MemFile) {
        let mut header = vec![0u8; 512];
        header[..16].copy_from_slice(b"SQLite format 3\0");
        header[20] = 8;
        file.write(real, &header, 0).expect("page 1");
        file.write(real, &[7u8; 512], 512).expect("page 2");
    }

    #[test]
    fn only_tolerated_pages_pass_a_failed_verification() {
        let file = ChecksumFile::main("t.db".into());
        let mut real = MemFile::default();
        two_pages(&file, &mut real);
        let damaged = |real: &mut MemFile, at: usize| {
            real.0[at + 40] ^= 1;
            real.0[at..at + 512].to_vec()
        };
        let mut page2 = damaged(&mut real, 512);
        assert!(file.db_state().verify_except(vec![2]));
        assert_eq!(file.db_state().tolerated(), [2]);
        file.after_read(&mut real, &mut page2, 512)
            .expect("page 2 is tolerated");
        assert_eq!(page2, real.0[512..1024], "the damaged image is passed on");
        let mut page1 = damaged(&mut real, 0);
        assert_eq!(
            file.after_read(&mut real, &mut page1, 0),
            Err(SQLITE_IOERR_DATA),
            "page 1 is not tolerated"
        );
        assert!(file.db_state().set_verify(true));
        assert!(file.db_state().tolerated().is_empty(), "ON clears the set");
        assert_eq!(
            file.after_read(&mut real, &mut page2, 512),
            Err(SQLITE_IOERR_DATA)
        );
    }

    #[test]
    fn a_tolerated_page_read_wrong_once_is_read_again() {
        let file = ChecksumFile::main("t.db".into());
        let mut real = MemFile::default();
        two_pages(&file, &mut real);
        let mut flipped = real.0[512..1024].to_vec();
        flipped[100] ^= 8;
        file.db_state().verify_except(vec![2]);
        file.after_read(&mut real, &mut flipped, 512)
            .expect("tolerated");
        assert!(
            page_checksum_ok(&flipped),
            "a transient flip is replaced by the image read again"
        );
    }

    #[test]
    fn databases_without_reserved_bytes_pass_through() {
        let file = ChecksumFile::main("t.db".into());
        let mut real = MemFile::default();
        let mut page = vec![5u8; 512];
        page[..16].copy_from_slice(b"SQLite format 3\0");
        page[20] = 0;
        file.write(&mut real, &page, 0).expect("write");
        assert_eq!(real.0, page);
        file.after_read(&mut real, &mut page, 0)
            .expect("no verification");
    }
}
