//! Archive segment files: WAL frames of complete transactions plus their metadata: [`SegmentHeader`].
//!
//! Layout of `seg-<seq>.walseg`: the 8 bytes `LDGWSEG1`, a big-endian u32
//! length, the JSON [`SegmentHeader`], `frame_count` raw WAL frames (frame
//! header plus page, exactly as SQLite wrote them), and a sha256 of all the
//! preceding bytes. Frames keep their WAL checksums, so a restore re-checks
//! the chain from `checksum_before`; the trailing sha256 also covers the JSON.

use std::fs::{self, File};
use std::io::Read;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use super::error::BackupError;
use super::fsutil::write_durably;
use super::wal::Generation;

const MAGIC: &[u8; 8] = b"LDGWSEG1";

/// One committed transaction in a segment.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct CommitRecord {
    /// The archive's transaction number.
    pub txid: u64,
    /// Index (0-based, within the segment) of its commit frame.
    pub frame: u32,
    /// Database size in pages after it.
    pub db_size: u32,
    /// When the archiver first saw it committed (ledger clock): an upper
    /// bound of the real commit time, exact when archiving follows each write.
    pub commit_ms: i64,
}

/// What a segment holds.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SegmentHeader {
    /// Segment format version (1).
    pub format: u32,
    /// Position in the archive: consecutive within a lineage.
    pub seq: u64,
    /// The lineage it continues.
    pub lineage: u64,
    /// The WAL generation the frames come from.
    pub generation: Generation,
    /// WAL index (1-based) of its first frame.
    pub first_frame: u32,
    /// Frames it holds.
    pub frame_count: u32,
    /// Running WAL checksum before its first frame.
    pub checksum_before: [u32; 2],
    /// Running WAL checksum after its last frame.
    pub checksum_after: [u32; 2],
    /// Its transactions, in commit order (txids consecutive).
    pub commits: Vec<CommitRecord>,
    /// When it was written (ledger clock).
    pub archived_at_ms: i64,
}

impl SegmentHeader {
    /// The first transaction number it holds.
    pub fn first_txid(&self) -> u64 {
        self.commits.first().map_or(0, |c| c.txid)
    }

    /// The last transaction number it holds.
    pub fn last_txid(&self) -> u64 {
        self.commits.last().map_or(0, |c| c.txid)
    }
}

/// The file name of segment `seq`.
pub fn file_name(seq: u64) -> String {
    format!("seg-{seq:012}.walseg")
}

/// Write a segment durably.
pub(crate) fn write(
    dir: &Path,
    header: &SegmentHeader,
    frames: &[u8],
) -> Result<PathBuf, BackupError> {
    let path = dir.join(file_name(header.seq));
    let json = serde_json::to_vec(header).map_err(|error| BackupError::Segment {
        path: path.clone(),
        detail: error.to_string(),
    })?;
    let mut bytes = Vec::with_capacity(12 + json.len() + frames.len() + 32);
    bytes.extend_from_slice(MAGIC);
    bytes.extend_from_slice(&(json.len() as u32).to_be_bytes());
    bytes.extend_from_slice(&json);
    bytes.extend_from_slice(frames);
    let digest = Sha256::digest(&bytes);
    bytes.extend_from_slice(&digest);
    write_durably(&path, &bytes)?;
    Ok(path)
}

fn damaged(path: &Path, detail: impl Into<String>) -> BackupError {
    BackupError::Segment {
        path: path.to_path_buf(),
        detail: detail.into(),
    }
}

fn parse_header(path: &Path, bytes: &[u8]) -> Result<(SegmentHeader, usize), BackupError> {
    if bytes.len() < 12 || &bytes[..8] != MAGIC {
        return Err(damaged(path, "not a segment (bad magic)"));
    }
    let len = u32::from_be_bytes([bytes[8], bytes[9], bytes[10], bytes[11]]) as usize;
    let json = bytes
        .get(12..12 + len)
        .ok_or_else(|| damaged(path, "truncated header"))?;
    let header: SegmentHeader =
        serde_json::from_slice(json).map_err(|error| damaged(path, error.to_string()))?;
    Ok((header, 12 + len))
}

/// Read only a segment's header (for planning).
///
/// # Errors
/// [`BackupError::Io`] or [`BackupError::Segment`].
pub(crate) fn read_header(path: &Path) -> Result<SegmentHeader, BackupError> {
    let mut file = File::open(path).map_err(BackupError::io("open segment", path))?;
    let mut prefix = [0u8; 12];
    file.read_exact(&mut prefix)
        .map_err(|_| damaged(path, "truncated header"))?;
    let len = u32::from_be_bytes([prefix[8], prefix[9], prefix[10], prefix[11]]) as usize;
    let mut bytes = prefix.to_vec();
    bytes.resize(12 + len, 0);
    file.read_exact(&mut bytes[12..])
        .map_err(|_| damaged(path, "truncated header"))?;
    Ok(parse_header(path, &bytes)?.0)
}

/// Read a whole segment, checking its sha256 and its frame count: the header
/// and the frame bytes.
///
/// # Errors
/// [`BackupError::Io`] or [`BackupError::Segment`].
pub(crate) fn read(path: &Path) -> Result<(SegmentHeader, Vec<u8>), BackupError> {
    let bytes = fs::read(path).map_err(BackupError::io("read segment", path))?;
    if bytes.len() < 44 {
        return Err(damaged(path, "truncated"));
    }
    let (body, digest) = bytes.split_at(bytes.len() - 32);
    if Sha256::digest(body).as_slice() != digest {
        return Err(damaged(path, "sha256 mismatch (truncated or altered)"));
    }
    let (header, start) = parse_header(path, body)?;
    let frames = body[start..].to_vec();
    if frames.len() != header.frame_count as usize * header.generation.frame_bytes() {
        return Err(damaged(
            path,
            "frame bytes do not match the header's frame count",
        ));
    }
    Ok((header, frames))
}

/// Every segment in `dir` (header only), by seq. A missing directory is empty.
///
/// # Errors
/// [`BackupError::Io`] or [`BackupError::Segment`] for an unreadable one.
pub(crate) fn list(dir: &Path) -> Result<Vec<(PathBuf, SegmentHeader)>, BackupError> {
    if !dir.is_dir() {
        return Ok(Vec::new());
    }
    let mut paths: Vec<PathBuf> = fs::read_dir(dir)
        .map_err(BackupError::io("list WAL archive", dir))?
        .filter_map(|entry| entry.ok())
        .map(|entry| entry.path())
        .filter(|path| {
            path.file_name()
                .and_then(|n| n.to_str())
                .is_some_and(|n| n.starts_with("seg-") && n.ends_with(".walseg"))
        })
        .collect();
    paths.sort();
    paths
        .into_iter()
        .map(|path| read_header(&path).map(|header| (path, header)))
        .collect()
}

/// The archived copy of WAL frame `frame` (1-based) of `generation`, from the
/// segments in `dir`: the first one (by seq) of that generation (same salts)
/// whose range holds it. `None` when no intact segment has it.
pub(crate) fn archived_frame(dir: &Path, generation: &Generation, frame: u32) -> Option<Vec<u8>> {
    let frame_bytes = generation.frame_bytes();
    list(dir).ok()?.into_iter().find_map(|(path, header)| {
        let same = header.generation.salt1 == generation.salt1
            && header.generation.salt2 == generation.salt2
            && header.generation.page_size == generation.page_size;
        let end = header.first_frame.checked_add(header.frame_count)?;
        if !same || !(header.first_frame..end).contains(&frame) {
            return None;
        }
        let (_, frames) = read(&path).ok()?;
        let at = (frame - header.first_frame) as usize * frame_bytes;
        frames.get(at..at + frame_bytes).map(<[u8]>::to_vec)
    })
}
