//! The power-loss model ([`PowerLossModel`]): what a disk holds durably and
//! what is still pending, and the crash images ([`CrashMode`]) built from it.
//!
//! Files are inodes; paths are directory entries pointing at inodes.
//! - An inode has its durable content (as of its last successful `xSync`) and
//!   the ordered writes and truncates since then. `xSync` makes them durable.
//! - A directory entry has its durable target (inode or absent) and the ordered
//!   changes since the directory was last synced (create = point at a new inode,
//!   delete = absent). A directory sync makes every pending change in that
//!   directory durable (what `fsync` on a directory does).
//! - When directories are synced is decided by the caller
//!   ([`Controller`](super::controller::Controller)), mirroring the unix VFS.
//!
//! A crash image starts from the durable state and keeps, drops or tears each
//! pending change per [`CrashMode`]; pieces are 512-byte sectors aligned on
//! the file offset, applied in their original order.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::path::{Path, PathBuf};

use rand::RngExt;
use serde::{Deserialize, Serialize};

/// The granularity of torn writes.
pub const SECTOR: u64 = 512;

/// What survives of the unsynced state in a crash image.
///
/// TOML: `"drop"`, `"keep"`, `{ torn = { p = 0.5 } }`, `"sector-prefix"`.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum CrashMode {
    /// Only durable state survives: contents as of the last sync, directory
    /// entries as of the last directory sync.
    Drop,
    /// Everything survives: the image equals the real files at the cut (minus `-shm`).
    Keep,
    /// Each 512-byte piece of each unsynced write, each unsynced truncate and
    /// each unsynced directory change survives with probability `p` (seeded).
    Torn {
        /// Survival probability of each piece, in `0..=1`.
        p: f64,
    },
    /// Per sector, a random-length prefix (in time order) of the unsynced
    /// writes touching it survives; unsynced truncates and directory changes
    /// survive with probability 1/2 each.
    SectorPrefix,
}

/// What a crash image contains, for reports.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub struct CrashImageStats {
    /// Files written into the image.
    pub files: usize,
    /// Unsynced writes in the image's files.
    pub pending_writes: usize,
    /// Sector pieces of unsynced writes that survived.
    pub kept_pieces: usize,
    /// Sector pieces of unsynced writes that were lost.
    pub dropped_pieces: usize,
    /// Unsynced directory changes (create/delete) that survived.
    pub dir_changes_kept: usize,
    /// Unsynced directory changes that were lost.
    pub dir_changes_dropped: usize,
}

type InodeId = u64;

/// The files of a crash image: full original path and content, sorted by path.
pub type ImageFiles = Vec<(PathBuf, Vec<u8>)>;

#[derive(Debug)]
enum Pending {
    Write { offset: u64, data: Vec<u8> },
    Truncate { size: u64 },
}

#[derive(Debug, Default)]
struct Inode {
    durable: Vec<u8>,
    pending: Vec<Pending>,
}

#[derive(Debug, Default)]
struct Entry {
    durable: Option<InodeId>,
    current: Option<InodeId>,
    /// Each change sets the entry: `Some` = created, `None` = deleted.
    pending: Vec<Option<InodeId>>,
}

/// Durable and pending state of every file the VFS tracks, keyed by full path.
#[derive(Debug, Default)]
pub(super) struct PowerLossModel {
    inodes: HashMap<InodeId, Inode>,
    entries: BTreeMap<PathBuf, Entry>,
    next_inode: InodeId,
}

impl PowerLossModel {
    /// Whether the model knows `path` as currently present.
    pub(super) fn is_present(&self, path: &Path) -> bool {
        self.entries.get(path).is_some_and(|e| e.current.is_some())
    }

    /// A file that existed before the shim saw it: durable entry, durable `content`.
    pub(super) fn adopt_existing(&mut self, path: &Path, content: Vec<u8>) {
        let id = self.new_inode(content);
        let entry = self.entries.entry(path.to_path_buf()).or_default();
        entry.durable = Some(id);
        entry.current = Some(id);
        entry.pending.clear();
        self.collect_garbage();
    }

    /// A file the shim created: empty inode, pending directory entry.
    pub(super) fn create(&mut self, path: &Path) {
        let id = self.new_inode(Vec::new());
        let entry = self.entries.entry(path.to_path_buf()).or_default();
        entry.current = Some(id);
        entry.pending.push(Some(id));
    }

    /// A successful write of `data` at `offset`.
    pub(super) fn write(&mut self, path: &Path, offset: u64, data: &[u8]) {
        if let Some(inode) = self.current_inode(path) {
            inode.pending.push(Pending::Write {
                offset,
                data: data.to_vec(),
            });
        }
    }

    /// A successful truncate (or size change) to `size`.
    pub(super) fn truncate(&mut self, path: &Path, size: u64) {
        if let Some(inode) = self.current_inode(path) {
            inode.pending.push(Pending::Truncate { size });
        }
    }

    /// The current (real) length of `path` per the model.
    pub(super) fn current_len(&self, path: &Path) -> Option<u64> {
        let id = self.entries.get(path)?.current?;
        let inode = self.inodes.get(&id)?;
        let mut len = inode.durable.len() as u64;
        for op in &inode.pending {
            len = match op {
                Pending::Write { offset, data } => len.max(offset + data.len() as u64),
                Pending::Truncate { size } => *size,
            };
        }
        Some(len)
    }

    /// A successful `xSync`: the file's pending content becomes durable.
    pub(super) fn sync(&mut self, path: &Path) {
        if let Some(inode) = self.current_inode(path) {
            for op in std::mem::take(&mut inode.pending) {
                apply(&mut inode.durable, &op);
            }
        }
    }

    /// A directory sync: every pending change of entries in `dir` becomes durable.
    pub(super) fn sync_dir(&mut self, dir: &Path) {
        for (path, entry) in &mut self.entries {
            if path.parent() == Some(dir) {
                entry.durable = entry.current;
                entry.pending.clear();
            }
        }
        self.collect_garbage();
    }

    /// A successful unlink; durable at once only when the directory is synced.
    pub(super) fn delete(&mut self, path: &Path, sync_dir: bool) {
        if let Some(entry) = self.entries.get_mut(path) {
            entry.current = None;
            entry.pending.push(None);
        }
        if sync_dir && let Some(dir) = path.parent() {
            self.sync_dir(dir);
        }
    }

    /// Builds the disk contents after a power cut: `(file name, bytes)` sorted by path.
    pub(super) fn image<R: rand::Rng>(
        &self,
        mode: CrashMode,
        rng: &mut R,
    ) -> (ImageFiles, CrashImageStats) {
        let mut stats = CrashImageStats::default();
        let mut files = Vec::new();
        for (path, entry) in &self.entries {
            let mut survivor = entry.durable;
            for change in &entry.pending {
                if keep(mode, rng) {
                    stats.dir_changes_kept += 1;
                    survivor = *change;
                } else {
                    stats.dir_changes_dropped += 1;
                }
            }
            let Some(inode) = survivor.and_then(|id| self.inodes.get(&id)) else {
                continue;
            };
            files.push((path.clone(), materialize(inode, mode, rng, &mut stats)));
        }
        stats.files = files.len();
        (files, stats)
    }

    fn new_inode(&mut self, durable: Vec<u8>) -> InodeId {
        let id = self.next_inode;
        self.next_inode += 1;
        self.inodes.insert(
            id,
            Inode {
                durable,
                pending: Vec::new(),
            },
        );
        id
    }

    fn current_inode(&mut self, path: &Path) -> Option<&mut Inode> {
        let id = self.entries.get(path)?.current?;
        self.inodes.get_mut(&id)
    }

    /// Drops inodes no entry can reach any more (old journals).
    fn collect_garbage(&mut self) {
        let live: HashSet<InodeId> = self
            .entries
            .values()
            .flat_map(|e| {
                e.durable
                    .into_iter()
                    .chain(e.current)
                    .chain(e.pending.iter().flatten().copied())
            })
            .collect();
        self.inodes.retain(|id, _| live.contains(id));
    }
}

/// Checks a crash mode's parameters.
///
/// # Errors
/// [`super::VfsError::InvalidCrashMode`] for a torn probability outside `0..=1`.
pub(super) fn validate_mode(mode: CrashMode) -> Result<(), super::VfsError> {
    match mode {
        CrashMode::Torn { p } if !(0.0..=1.0).contains(&p) => Err(
            super::VfsError::InvalidCrashMode(format!("torn p = {p} is not within 0..=1")),
        ),
        _ => Ok(()),
    }
}

/// Whether one unsynced truncate or directory change survives.
fn keep<R: rand::Rng>(mode: CrashMode, rng: &mut R) -> bool {
    match mode {
        CrashMode::Drop => false,
        CrashMode::Keep => true,
        CrashMode::Torn { p } => rng.random_bool(p.clamp(0.0, 1.0)),
        CrashMode::SectorPrefix => rng.random_bool(0.5),
    }
}

fn apply(buf: &mut Vec<u8>, op: &Pending) {
    match op {
        Pending::Write { offset, data } => write_at(buf, *offset, data),
        Pending::Truncate { size } => buf.resize(*size as usize, 0),
    }
}

fn write_at(buf: &mut Vec<u8>, offset: u64, data: &[u8]) {
    let start = offset as usize;
    let end = start + data.len();
    if buf.len() < end {
        buf.resize(end, 0);
    }
    buf[start..end].copy_from_slice(data);
}

/// The pieces of a write, split on aligned sector boundaries: `(sector, offset, bytes)`.
fn pieces(offset: u64, data: &[u8]) -> impl Iterator<Item = (u64, u64, &[u8])> {
    let mut pos = 0usize;
    std::iter::from_fn(move || {
        if pos >= data.len() {
            return None;
        }
        let at = offset + pos as u64;
        let room = (SECTOR - at % SECTOR) as usize;
        let len = room.min(data.len() - pos);
        let piece = (at / SECTOR, at, &data[pos..pos + len]);
        pos += len;
        Some(piece)
    })
}

/// The content of one inode after the crash.
fn materialize<R: rand::Rng>(
    inode: &Inode,
    mode: CrashMode,
    rng: &mut R,
    stats: &mut CrashImageStats,
) -> Vec<u8> {
    let mut buf = inode.durable.clone();
    // SectorPrefix: how many of the writes touching each sector survive.
    let mut prefix: BTreeMap<u64, (usize, usize)> = BTreeMap::new();
    if mode == CrashMode::SectorPrefix {
        for op in &inode.pending {
            if let Pending::Write { offset, data } = op {
                for (sector, _, _) in pieces(*offset, data) {
                    prefix.entry(sector).or_default().0 += 1;
                }
            }
        }
        for (touching, survive) in prefix.values_mut() {
            *survive = rng.random_range(0..=*touching);
            *touching = 0;
        }
    }
    for op in &inode.pending {
        match op {
            Pending::Write { offset, data } => {
                stats.pending_writes += 1;
                for (sector, at, bytes) in pieces(*offset, data) {
                    let kept = match mode {
                        CrashMode::SectorPrefix => {
                            let (seen, survive) = prefix.get_mut(&sector).expect("counted above");
                            *seen += 1;
                            *seen <= *survive
                        }
                        other => keep(other, rng),
                    };
                    if kept {
                        stats.kept_pieces += 1;
                        write_at(&mut buf, at, bytes);
                    } else {
                        stats.dropped_pieces += 1;
                    }
                }
            }
            Pending::Truncate { .. } => {
                if keep(mode, rng) {
                    apply(&mut buf, op);
                }
            }
        }
    }
    buf
}

/// A short, file-name-safe label for a crash mode (`drop`, `keep`, `torn-0.5`, `sector-prefix`).
pub fn mode_label(mode: CrashMode) -> String {
    match mode {
        CrashMode::Drop => "drop".into(),
        CrashMode::Keep => "keep".into(),
        CrashMode::Torn { p } => format!("torn-{p}"),
        CrashMode::SectorPrefix => "sector-prefix".into(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::SeedableRng;

    fn rng() -> rand_chacha::ChaCha8Rng {
        rand_chacha::ChaCha8Rng::seed_from_u64(3)
    }

    fn image(model: &PowerLossModel, mode: CrashMode) -> ImageFiles {
        model.image(mode, &mut rng()).0
    }

    #[test]
    fn drop_keeps_synced_content_and_durable_entries_only() {
        let mut m = PowerLossModel::default();
        let db = Path::new("/d/db");
        let wal = Path::new("/d/db-wal");
        m.adopt_existing(db, b"old".to_vec());
        m.write(db, 0, b"new!");
        m.create(wal);
        m.write(wal, 0, b"frame");
        m.sync(wal);
        assert_eq!(
            image(&m, CrashMode::Drop),
            vec![(db.to_path_buf(), b"old".to_vec())]
        );
        m.sync_dir(Path::new("/d"));
        let keep = image(&m, CrashMode::Keep);
        assert_eq!(keep[0].1, b"new!");
        assert_eq!(keep[1].1, b"frame");
        assert_eq!(image(&m, CrashMode::Drop)[1].1, b"frame");
    }

    #[test]
    fn unsynced_delete_leaves_the_old_file() {
        let mut m = PowerLossModel::default();
        let j = Path::new("/d/db-journal");
        m.create(j);
        m.write(j, 0, b"hot");
        m.sync(j);
        m.sync_dir(Path::new("/d"));
        m.delete(j, false);
        assert_eq!(
            image(&m, CrashMode::Drop),
            vec![(j.to_path_buf(), b"hot".to_vec())]
        );
        assert!(image(&m, CrashMode::Keep).is_empty());
        m.delete(j, true);
        assert!(image(&m, CrashMode::Drop).is_empty());
    }

    #[test]
    fn torn_and_prefix_pieces_are_aligned_sectors() {
        let split: Vec<_> = pieces(500, &[1u8; 600])
            .map(|(s, at, b)| (s, at, b.len()))
            .collect();
        assert_eq!(split, vec![(0, 500, 12), (1, 512, 512), (2, 1024, 76)]);
        let mut m = PowerLossModel::default();
        let f = Path::new("/d/f");
        m.adopt_existing(f, vec![0; 2048]);
        m.write(f, 0, &[1; 2048]);
        m.write(f, 0, &[2; 2048]);
        let (files, stats) = m.image(CrashMode::SectorPrefix, &mut rng());
        assert_eq!(stats.kept_pieces + stats.dropped_pieces, 8);
        // Each sector holds a prefix: 0s, then 1s, then 2s; never a 2 over a dropped 1 alone.
        for sector in files[0].1.chunks(512) {
            assert!(sector.iter().all(|&b| b == sector[0]));
        }
        let (_, torn) = m.image(CrashMode::Torn { p: 1.0 }, &mut rng());
        assert_eq!(torn.dropped_pieces, 0);
    }

    #[test]
    fn current_len_follows_truncates() {
        let mut m = PowerLossModel::default();
        let f = Path::new("/d/f");
        m.create(f);
        m.write(f, 100, b"x");
        assert_eq!(m.current_len(f), Some(101));
        m.truncate(f, 10);
        assert_eq!(m.current_len(f), Some(10));
    }
}
