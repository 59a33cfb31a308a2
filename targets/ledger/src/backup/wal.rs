//! Reading SQLite's WAL file format: [`Generation`], [`checksum`], [`scan_committed`].
//!
//! From <https://www.sqlite.org/fileformat2.html#walformat> and `wal.c`:
//! - a 32-byte header of big-endian u32s: magic `0x377f0682`/`0x377f0683`
//!   (the low bit says the checksum reads big-endian words), format version
//!   3007000, page size, checkpoint sequence, salt-1, salt-2, and a checksum
//!   of the first 24 bytes;
//! - frames of a 24-byte header (page number; for a commit frame the database
//!   size in pages after the commit, else 0; salt-1; salt-2; checksum-1/2)
//!   followed by one page;
//! - a frame is valid iff its salts equal the header's and its checksum
//!   equals the running checksum over the header and, for every frame up to
//!   and including it, the first 8 bytes of its header and its page;
//! - the checksum: `s0 += x[i] + s1; s1 += x[i+1] + s0` over u32 words;
//! - when the WAL restarts after a complete checkpoint, the checkpoint
//!   sequence is incremented, salt-1 incremented and salt-2 randomised, and
//!   frames are overwritten from the start (old frames after the new end
//!   stay in the file but fail the salt test).
//!
//! Only frames up to the last valid commit frame belong to committed
//! transactions; later valid frames are a transaction still being written.

use serde::{Deserialize, Serialize};

/// Bytes in the WAL header.
pub const WAL_HEADER_BYTES: usize = 32;
/// Bytes in a frame header.
pub const FRAME_HEADER_BYTES: usize = 24;
const MAGIC: u32 = 0x377f_0682;
const FORMAT_VERSION: u32 = 3_007_000;

/// One life of the WAL between two restarts, identified by its header.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Generation {
    /// Checkpoint sequence number.
    pub ckpt_seq: u32,
    /// Salt-1 (incremented at each restart).
    pub salt1: u32,
    /// Salt-2 (random at each restart).
    pub salt2: u32,
    /// Database page size.
    pub page_size: u32,
    /// Whether checksums read big-endian words (magic `0x377f0683`).
    pub big_endian: bool,
    /// The header's checksum: the seed of frame 1's checksum.
    pub header_checksum: [u32; 2],
}

impl Generation {
    /// Whether `next` is the generation a restart after `self` produces.
    pub fn followed_by(&self, next: &Generation) -> bool {
        next.ckpt_seq == self.ckpt_seq.wrapping_add(1)
            && next.salt1 == self.salt1.wrapping_add(1)
            && next.page_size == self.page_size
    }

    /// Bytes per frame (header plus page).
    pub fn frame_bytes(&self) -> usize {
        FRAME_HEADER_BYTES + self.page_size as usize
    }

    /// Byte offset of frame `index` (1-based) in the WAL file.
    pub fn frame_offset(&self, index: u32) -> u64 {
        WAL_HEADER_BYTES as u64 + u64::from(index.saturating_sub(1)) * self.frame_bytes() as u64
    }
}

fn be32(bytes: &[u8], at: usize) -> u32 {
    let mut word = [0u8; 4];
    word.copy_from_slice(&bytes[at..at + 4]);
    u32::from_be_bytes(word)
}

/// The running checksum over `data` (a multiple of 8 bytes) from `seed`.
pub fn checksum(big_endian: bool, data: &[u8], seed: [u32; 2]) -> [u32; 2] {
    let [mut s0, mut s1] = seed;
    for pair in data.chunks_exact(8) {
        let (a, b) = if big_endian {
            (be32(pair, 0), be32(pair, 4))
        } else {
            (
                u32::from_le_bytes([pair[0], pair[1], pair[2], pair[3]]),
                u32::from_le_bytes([pair[4], pair[5], pair[6], pair[7]]),
            )
        };
        s0 = s0.wrapping_add(a).wrapping_add(s1);
        s1 = s1.wrapping_add(b).wrapping_add(s0);
    }
    [s0, s1]
}

/// Parse a WAL header. `Ok(None)` when the header is absent or its checksum
/// fails (a WAL that was never completely written: it holds no frames).
///
/// # Errors
/// A description when the magic or version is not SQLite's.
pub fn parse_header(bytes: &[u8]) -> Result<Option<Generation>, String> {
    if bytes.len() < WAL_HEADER_BYTES {
        return Ok(None);
    }
    let magic = be32(bytes, 0);
    if magic & !1 != MAGIC {
        return Err(format!("bad WAL magic {magic:#010x}"));
    }
    let version = be32(bytes, 4);
    if version != FORMAT_VERSION {
        return Err(format!("unknown WAL format version {version}"));
    }
    let page_size = be32(bytes, 8);
    if !(512..=65_536).contains(&page_size) || !page_size.is_power_of_two() {
        return Err(format!("bad WAL page size {page_size}"));
    }
    let big_endian = magic & 1 == 1;
    let sum = checksum(big_endian, &bytes[..24], [0, 0]);
    if sum != [be32(bytes, 24), be32(bytes, 28)] {
        return Ok(None);
    }
    Ok(Some(Generation {
        ckpt_seq: be32(bytes, 12),
        salt1: be32(bytes, 16),
        salt2: be32(bytes, 20),
        page_size,
        big_endian,
        header_checksum: sum,
    }))
}

/// A frame's header fields.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FrameHeader {
    /// The page this frame holds.
    pub pgno: u32,
    /// For a commit frame, the database size in pages after the commit; else 0.
    pub db_size: u32,
}

/// Check one frame (`frame` = header plus page) against `generation` and
/// the running checksum `seed`; the new running checksum when valid.
pub fn check_frame(
    generation: &Generation,
    frame: &[u8],
    seed: [u32; 2],
) -> Option<(FrameHeader, [u32; 2])> {
    if frame.len() != generation.frame_bytes() {
        return None;
    }
    if be32(frame, 8) != generation.salt1 || be32(frame, 12) != generation.salt2 {
        return None;
    }
    let sum = checksum(generation.big_endian, &frame[..8], seed);
    let sum = checksum(generation.big_endian, &frame[FRAME_HEADER_BYTES..], sum);
    if sum != [be32(frame, 16), be32(frame, 20)] {
        return None;
    }
    let pgno = be32(frame, 0);
    if pgno == 0 {
        return None;
    }
    Some((
        FrameHeader {
            pgno,
            db_size: be32(frame, 4),
        },
        sum,
    ))
}

/// The committed frames found by [`scan_committed`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Committed {
    /// How many frames (from the first scanned) belong to committed transactions.
    pub frames: u32,
    /// For each commit: its frame (0-based from the first scanned) and db size.
    pub commits: Vec<(u32, u32)>,
    /// The running checksum after the last commit frame (the seed if none).
    pub checksum_after: [u32; 2],
}

/// Validate frames in `bytes` (which starts at a frame boundary) from `seed`,
/// stopping at the first invalid or incomplete frame, and return those up to
/// the last commit frame.
pub fn scan_committed(generation: &Generation, bytes: &[u8], seed: [u32; 2]) -> Committed {
    let mut result = Committed {
        frames: 0,
        commits: Vec::new(),
        checksum_after: seed,
    };
    let mut running = seed;
    for (i, frame) in bytes.chunks_exact(generation.frame_bytes()).enumerate() {
        let Some((header, sum)) = check_frame(generation, frame, running) else {
            break;
        };
        running = sum;
        if header.db_size != 0 {
            let index = u32::try_from(i).unwrap_or(u32::MAX);
            result.commits.push((index, header.db_size));
            result.frames = index.saturating_add(1);
            result.checksum_after = sum;
        }
    }
    result
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn checksum_matches_the_documented_recurrence() {
        let data: Vec<u8> = (1u32..=4).flat_map(|w| w.to_be_bytes()).collect();
        // s0 = 1 + 0 = 1; s1 = 2 + 1 = 3; s0 = 1 + 3 + 3 = 7; s1 = 3 + 4 + 7 = 14
        assert_eq!(checksum(true, &data, [0, 0]), [7, 14]);
        let le: Vec<u8> = (1u32..=4).flat_map(|w| w.to_le_bytes()).collect();
        assert_eq!(checksum(false, &le, [0, 0]), [7, 14]);
    }

    #[test]
    fn short_or_unfinished_headers_hold_no_frames() {
        assert_eq!(parse_header(&[0; 10]), Ok(None));
        let mut header = vec![0u8; 32];
        header[..4].copy_from_slice(&0x377f_0682u32.to_be_bytes());
        header[4..8].copy_from_slice(&3_007_000u32.to_be_bytes());
        header[8..12].copy_from_slice(&4096u32.to_be_bytes());
        assert_eq!(parse_header(&header), Ok(None));
        header[0] = 0;
        assert!(parse_header(&header).is_err());
    }
}
