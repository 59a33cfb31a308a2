//! What a reopen reads of a crash image's database and `-wal` files: [`wal_as_read`] and
//! [`hash_db_as_read`], so two crash images that differ only where no reopen reads are judged
//! once (docs/families.md, power-loss, "identical as read").
//!
//! SQLite's recovery (`walIndexRecover`) reads the 32-byte header, then whole frames while each
//! has the header's salts, a non-zero page number and the running checksum; the database it
//! serves ends at the last *commit* frame of that valid run (`mxFrame`). Frames after it are
//! never served, checkpointed or re-read: a writer overwrites from `mxFrame + 1`. A page with a
//! frame at or before `mxFrame` is read from the WAL, never from the database file, so the
//! file's copy of it is not read either (a checkpoint overwrites it). The ledger's open reads
//! more: whether the WAL is non-empty (an unclean shutdown), the database header's first 100
//! bytes (page checksums), and, in its WAL guard, past the first failing frame, but only when
//! that frame has the current salts, acting only when a frame at or after it with the current
//! salts is a commit frame. The WAL counts only up to `mxFrame` and database pages held by
//! the WAL do not count, unless such a frame exists or the header is not one SQLite accepts:
//! then both files count whole.

use std::collections::HashSet;
use std::hash::{Hash, Hasher};

/// Bytes of the WAL header.
const HEADER_BYTES: usize = 32;
/// Bytes of a frame header.
const FRAME_HEADER_BYTES: usize = 24;
/// The WAL magic number, low bit clear (set: checksums read big-endian words).
const MAGIC: u32 = 0x377f_0682;
/// The only WAL format version SQLite reads.
const VERSION: u32 = 3_007_000;
/// Bytes of the database header, which the ledger reads from the file itself.
const DB_HEADER_BYTES: usize = 100;

/// What a reopen reads of one WAL image (see the module doc).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WalAsRead<'a> {
    /// The bytes that decide: the header and the frames through the last commit frame of the
    /// valid run, or the whole file.
    pub bytes: &'a [u8],
    /// When `bytes` is that prefix: the page size and the pages it holds, which a reopen reads
    /// from the WAL instead of the database file.
    pub pages: Option<(usize, HashSet<u32>)>,
}

/// What a reopen reads of the WAL image `bytes` (see the module doc): the header and the frames
/// through the last commit frame of the valid run, or all of `bytes` when the header is not one
/// SQLite accepts or the ledger's WAL guard could look further.
pub fn wal_as_read(bytes: &[u8]) -> WalAsRead<'_> {
    let whole = WalAsRead { bytes, pages: None };
    let Some(header) = Header::parse(bytes) else {
        return whole;
    };
    let size = header.frame_bytes();
    let frames = bytes[HEADER_BYTES..].chunks_exact(size);
    let mut running = header.checksum;
    let mut committed = 0;
    let mut first_failing = None;
    for (index, frame) in frames.clone().enumerate() {
        match header.check_frame(frame, running) {
            Some(sum) => {
                running = sum;
                if be32(frame, 4) != 0 {
                    committed = index + 1;
                }
            }
            None => {
                first_failing = Some(index);
                break;
            }
        }
    }
    if let Some(failing) = first_failing {
        let guard_may_act = frames
            .clone()
            .skip(failing)
            .any(|frame| header.has_salts(frame) && be32(frame, 4) != 0);
        if guard_may_act {
            return whole;
        }
    }
    let pages = frames.take(committed).map(|frame| be32(frame, 0)).collect();
    WalAsRead {
        bytes: &bytes[..HEADER_BYTES + committed * size],
        pages: Some((header.page_size, pages)),
    }
}

/// Feeds `state` with what a reopen reads of the database image `db` beside the WAL `wal`: its
/// length, its first 100 bytes, and every page the WAL does not hold (with its number); the
/// whole file when the WAL counts whole, or the file's page size is not the WAL's.
pub fn hash_db_as_read<H: Hasher>(db: &[u8], wal: &WalAsRead<'_>, state: &mut H) {
    let masked = wal.pages.as_ref().filter(|(page_size, pages)| {
        !pages.is_empty()
            && db.len() >= DB_HEADER_BYTES
            && db.len().is_multiple_of(*page_size)
            && db_page_size(db) == *page_size
    });
    let Some((page_size, pages)) = masked else {
        db.hash(state);
        return;
    };
    db.len().hash(state);
    db[..DB_HEADER_BYTES].hash(state);
    for (index, page) in db.chunks_exact(*page_size).enumerate() {
        let number = u32::try_from(index + 1).unwrap_or(u32::MAX);
        if !pages.contains(&number) {
            number.hash(state);
            state.write(page);
        }
    }
}

/// The page size a database header gives (bytes 16-17, big-endian; 1 means 65,536).
fn db_page_size(db: &[u8]) -> usize {
    match u16::from_be_bytes([db[16], db[17]]) {
        1 => 65_536,
        size => usize::from(size),
    }
}

/// A WAL header SQLite's recovery accepts.
struct Header {
    big_endian: bool,
    page_size: usize,
    salts: [u32; 2],
    checksum: [u32; 2],
}

impl Header {
    /// The header of `bytes` when magic, version, page size and checksum are right.
    fn parse(bytes: &[u8]) -> Option<Header> {
        if bytes.len() < HEADER_BYTES {
            return None;
        }
        let magic = be32(bytes, 0);
        let page_size = be32(bytes, 8);
        let valid = magic & !1 == MAGIC
            && be32(bytes, 4) == VERSION
            && (512..=65_536).contains(&page_size)
            && page_size.is_power_of_two();
        let big_endian = magic & 1 == 1;
        let checksum = checksum(big_endian, &bytes[..24], [0, 0]);
        (valid && checksum == [be32(bytes, 24), be32(bytes, 28)]).then_some(Header {
            big_endian,
            page_size: page_size as usize,
            salts: [be32(bytes, 16), be32(bytes, 20)],
            checksum,
        })
    }

    fn frame_bytes(&self) -> usize {
        FRAME_HEADER_BYTES + self.page_size
    }

    fn has_salts(&self, frame: &[u8]) -> bool {
        [be32(frame, 8), be32(frame, 12)] == self.salts
    }

    /// The running checksum after `frame` when it is valid after `seed`.
    fn check_frame(&self, frame: &[u8], seed: [u32; 2]) -> Option<[u32; 2]> {
        if !self.has_salts(frame) || be32(frame, 0) == 0 {
            return None;
        }
        let sum = checksum(self.big_endian, &frame[..8], seed);
        let sum = checksum(self.big_endian, &frame[FRAME_HEADER_BYTES..], sum);
        (sum == [be32(frame, 16), be32(frame, 20)]).then_some(sum)
    }
}

fn be32(bytes: &[u8], at: usize) -> u32 {
    u32::from_be_bytes([bytes[at], bytes[at + 1], bytes[at + 2], bytes[at + 3]])
}

/// SQLite's WAL checksum over `data` (a multiple of 8 bytes) from `seed`.
fn checksum(big_endian: bool, data: &[u8], seed: [u32; 2]) -> [u32; 2] {
    let [mut s0, mut s1] = seed;
    for pair in data.chunks_exact(8) {
        let word = |at: usize| {
            let bytes = [pair[at], pair[at + 1], pair[at + 2], pair[at + 3]];
            if big_endian {
                u32::from_be_bytes(bytes)
            } else {
                u32::from_le_bytes(bytes)
            }
        };
        s0 = s0.wrapping_add(word(0)).wrapping_add(s1);
        s1 = s1.wrapping_add(word(4)).wrapping_add(s0);
    }
    [s0, s1]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_wal_sqlite_would_not_recover_counts_whole() {
        for bytes in [&b""[..], &[7u8; 31][..], &[0u8; 4096][..]] {
            assert_eq!(wal_as_read(bytes), WalAsRead { bytes, pages: None });
        }
    }

    #[test]
    fn without_a_recoverable_wal_the_database_counts_whole() {
        let db = vec![3u8; 8192];
        let hash = |db: &[u8], wal: &WalAsRead<'_>| {
            let mut state = std::hash::DefaultHasher::new();
            hash_db_as_read(db, wal, &mut state);
            state.finish()
        };
        let mut other = db.clone();
        other[5000] = 4;
        let none = wal_as_read(b"");
        assert_ne!(hash(&db, &none), hash(&other, &none));
    }
}
