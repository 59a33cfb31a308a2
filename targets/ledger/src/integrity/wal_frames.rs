//! A `-wal` file read one frame at a time, with a repair's changes held beside it until they are
//! written back: [`WalFrames`]. The WAL-damage guard ([`super::wal_break`]) scans, patches and
//! re-seals through it, so a WAL of any size is never held in memory whole: what it holds is one
//! frame buffer, a read-ahead buffer, the frames replaced from the archive and the re-sealed
//! frames' new checksums (8 bytes each).

use std::collections::BTreeMap;
use std::fs::{self, File};
use std::io::{self, BufReader, Read, Seek, SeekFrom};
use std::ops::ControlFlow;
use std::os::unix::fs::FileExt;
use std::path::{Path, PathBuf};

use crate::backup::wal::{self, Generation, WAL_HEADER_BYTES};

/// Bytes read ahead while streaming frames.
const READ_AHEAD: usize = 1 << 16;

/// Where a frame's stored checksum sits in its header.
const STORED_CHECKSUM: std::ops::Range<usize> = 16..24;

/// A WAL file with a valid header, its whole frames readable one at a time; frames replaced
/// and checksums re-sealed in memory are seen by every read and written by
/// [`WalFrames::write_back`].
pub(super) struct WalFrames {
    path: PathBuf,
    file: File,
    header: [u8; WAL_HEADER_BYTES],
    generation: Generation,
    /// Whole frames in the file when it was opened.
    count: u32,
    /// Frames (1-based) replaced whole.
    replaced: BTreeMap<u32, Vec<u8>>,
    /// New stored checksums for consecutive frames from the first (1-based).
    resealed: Option<(u32, Vec<[u32; 2]>)>,
}

impl WalFrames {
    /// Opens the WAL at `path`: `Ok(None)` when it has no valid header (nothing to guard).
    ///
    /// # Errors
    /// The file cannot be opened or read.
    pub(super) fn open(path: &Path) -> io::Result<Option<WalFrames>> {
        let mut file = File::open(path)?;
        let mut header = [0u8; WAL_HEADER_BYTES];
        if file.read_exact(&mut header).is_err() {
            return Ok(None);
        }
        let Ok(Some(generation)) = wal::parse_header(&header) else {
            return Ok(None);
        };
        let frames = file
            .metadata()?
            .len()
            .saturating_sub(WAL_HEADER_BYTES as u64)
            / generation.frame_bytes() as u64;
        Ok(Some(WalFrames {
            path: path.to_owned(),
            file,
            header,
            generation,
            count: u32::try_from(frames).unwrap_or(u32::MAX),
            replaced: BTreeMap::new(),
            resealed: None,
        }))
    }

    /// The WAL header's 32 bytes.
    pub(super) fn header(&self) -> &[u8; WAL_HEADER_BYTES] {
        &self.header
    }

    /// The generation the header names.
    pub(super) fn generation(&self) -> &Generation {
        &self.generation
    }

    /// Calls `visit(index, frame)` for each whole frame from `from` (1-based) on, in order,
    /// with this WAL's in-memory changes applied, until it breaks.
    ///
    /// # Errors
    /// A read failed.
    pub(super) fn each(
        &self,
        from: u32,
        mut visit: impl FnMut(u32, &[u8]) -> ControlFlow<()>,
    ) -> io::Result<()> {
        if from == 0 || from > self.count {
            return Ok(());
        }
        let mut file = &self.file;
        file.seek(SeekFrom::Start(self.generation.frame_offset(from)))?;
        let mut reader = BufReader::with_capacity(READ_AHEAD, file);
        let mut frame = vec![0u8; self.generation.frame_bytes()];
        for index in from..=self.count {
            reader.read_exact(&mut frame)?;
            self.apply_changes(index, &mut frame);
            if visit(index, &frame).is_break() {
                break;
            }
        }
        Ok(())
    }

    fn apply_changes(&self, index: u32, frame: &mut [u8]) {
        if let Some(copy) = self.replaced.get(&index) {
            frame.copy_from_slice(copy);
        }
        if let Some(sum) = self.resealed_sum(index) {
            frame[STORED_CHECKSUM].copy_from_slice(&stored(sum));
        }
    }

    fn resealed_sum(&self, index: u32) -> Option<[u32; 2]> {
        let (first, sums) = self.resealed.as_ref()?;
        sums.get(usize::try_from(index.checked_sub(*first)?).ok()?)
            .copied()
    }

    /// Replaces frame `index` (1-based) by `frame` (a whole frame) for later reads.
    pub(super) fn replace(&mut self, index: u32, frame: Vec<u8>) {
        debug_assert_eq!(frame.len(), self.generation.frame_bytes());
        self.replaced.insert(index, frame);
    }

    /// Sets the stored checksums of frames `first`, `first + 1`, ... (1-based) to `sums`.
    pub(super) fn reseal(&mut self, first: u32, sums: Vec<[u32; 2]>) {
        self.resealed = Some((first, sums));
    }

    /// Writes the replaced frames, then the re-sealed checksums, into the file in place, and
    /// fsyncs it.
    ///
    /// # Errors
    /// The file cannot be opened for writing, written or synced.
    pub(super) fn write_back(&self) -> io::Result<()> {
        let file = fs::OpenOptions::new().write(true).open(&self.path)?;
        for (&index, frame) in &self.replaced {
            file.write_all_at(frame, self.generation.frame_offset(index))?;
        }
        if let Some((first, sums)) = &self.resealed {
            for (index, sum) in (*first..).zip(sums) {
                let at = self.generation.frame_offset(index) + STORED_CHECKSUM.start as u64;
                file.write_all_at(&stored(*sum), at)?;
            }
        }
        file.sync_all()
    }
}

/// A checksum as a frame header stores it (two big-endian words).
fn stored(sum: [u32; 2]) -> [u8; 8] {
    let mut bytes = [0u8; 8];
    bytes[..4].copy_from_slice(&sum[0].to_be_bytes());
    bytes[4..].copy_from_slice(&sum[1].to_be_bytes());
    bytes
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::backup::wal::FRAME_HEADER_BYTES;

    const PAGE: u32 = 512;

    /// A WAL image of `frames` frames (not a valid chain: only the header's checksum is right).
    fn image(frames: u32) -> Vec<u8> {
        let mut bytes = Vec::new();
        for word in [0x377f_0682u32, 3_007_000, PAGE, 0, 11, 22] {
            bytes.extend_from_slice(&word.to_be_bytes());
        }
        let sum = wal::checksum(false, &bytes, [0, 0]);
        bytes.extend_from_slice(&stored(sum));
        for n in 1..=frames {
            let mut frame = vec![n as u8; FRAME_HEADER_BYTES + PAGE as usize];
            frame[..4].copy_from_slice(&n.to_be_bytes());
            bytes.extend_from_slice(&frame);
        }
        bytes
    }

    fn collect(frames: &WalFrames, from: u32) -> Vec<Vec<u8>> {
        let mut seen = Vec::new();
        frames
            .each(from, |_, frame| {
                seen.push(frame.to_vec());
                ControlFlow::Continue(())
            })
            .unwrap();
        seen
    }

    #[test]
    fn frames_stream_in_order_with_changes_applied_and_are_written_back() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("w");
        let mut bytes = image(5);
        bytes.extend_from_slice(&[7; 100]); // a torn tail: not a whole frame
        fs::write(&path, &bytes).unwrap();
        let mut frames = WalFrames::open(&path).unwrap().expect("a valid header");
        assert_eq!(frames.header(), &bytes[..WAL_HEADER_BYTES]);
        let size = frames.generation().frame_bytes();
        let all = collect(&frames, 1);
        assert_eq!(all.len(), 5);
        assert_eq!(
            all.concat(),
            bytes[WAL_HEADER_BYTES..WAL_HEADER_BYTES + 5 * size]
        );
        assert_eq!(collect(&frames, 4).len(), 2);
        assert!(collect(&frames, 6).is_empty());

        frames.replace(2, vec![0xaa; size]);
        frames.reseal(2, vec![[1, 2], [3, 4]]);
        let changed = collect(&frames, 1);
        assert_eq!(changed[0], all[0]);
        assert_eq!(&changed[1][..16], &[0xaa; 16]);
        assert_eq!(changed[1][STORED_CHECKSUM], stored([1, 2]));
        assert_eq!(changed[2][STORED_CHECKSUM], stored([3, 4]));
        assert_eq!(changed[2][24..], all[2][24..]);
        assert_eq!(fs::read(&path).unwrap(), bytes, "nothing written yet");

        frames.write_back().unwrap();
        let written = fs::read(&path).unwrap();
        assert_eq!(written.len(), bytes.len());
        assert_eq!(
            written[WAL_HEADER_BYTES..][..3 * size],
            changed[..3].concat()
        );
        assert_eq!(
            written[WAL_HEADER_BYTES + 3 * size..],
            bytes[WAL_HEADER_BYTES + 3 * size..]
        );
    }

    #[test]
    fn a_wal_without_a_valid_header_is_none() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("w");
        fs::write(&path, [0u8; 10]).unwrap();
        assert!(WalFrames::open(&path).unwrap().is_none());
        let mut bad = image(1);
        bad[30] ^= 1;
        fs::write(&path, bad).unwrap();
        assert!(WalFrames::open(&path).unwrap().is_none());
        assert!(WalFrames::open(&dir.path().join("absent")).is_err());
    }
}
