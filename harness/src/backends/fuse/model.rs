//! The FUSE backend's cache ([`CacheModel`]): every file and directory of the mount, what a
//! process sees now and what is durable, and the crash images ([`CrashMode`]) built from it.
//!
//! The rules are the durability definition of `docs/durability.md`, the same as the fault
//! VFS's power-loss model, here applied to system calls instead of SQLite's VFS calls:
//! - a file's writes and truncates are pending until `fsync`/`fdatasync` of that file;
//! - a directory's entry changes (create, mkdir, rename in or out, unlink, rmdir) are pending
//!   until `fsync` of that directory; a rename within one directory is one change;
//! - a crash image starts from the durable state and keeps, drops or tears each pending change
//!   per crash mode: file pieces are 512-byte sectors aligned on the file offset, applied in
//!   their original order; entry changes are kept or dropped whole, in order.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::ffi::{OsStr, OsString};
use std::path::{Path, PathBuf};

use rand::RngExt;

use crate::backends::vfs::{CrashImageStats, CrashMode};

/// The granularity of torn writes (as in the fault VFS).
pub const SECTOR: u64 = 512;

/// An inode number of the mount; the root directory is [`ROOT`].
pub type Ino = u64;

/// The mount's root directory (FUSE's root inode number).
pub const ROOT: Ino = 1;

/// Why a cache operation was refused (each maps to an errno).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CacheError {
    /// No such inode or entry (`ENOENT`).
    NotFound,
    /// The name is taken (`EEXIST`).
    Exists,
    /// A directory was expected (`ENOTDIR`).
    NotDir,
    /// A file was expected (`EISDIR`).
    IsDir,
    /// The directory still has entries (`ENOTEMPTY`).
    NotEmpty,
}

#[derive(Debug, Clone)]
enum Pending {
    Write { offset: u64, data: Vec<u8> },
    Truncate { size: u64 },
}

#[derive(Debug, Default)]
struct FileNode {
    current: Vec<u8>,
    durable: Vec<u8>,
    pending: Vec<Pending>,
}

/// One change of a directory's entries: each name and what it points at afterwards.
type EntryChange = Vec<(OsString, Option<Ino>)>;

#[derive(Debug, Default)]
struct DirNode {
    current: BTreeMap<OsString, Ino>,
    durable: BTreeMap<OsString, Ino>,
    pending: Vec<EntryChange>,
}

#[derive(Debug)]
enum Node {
    File(FileNode),
    Dir(DirNode),
}

/// Whether an inode is a file or a directory.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NodeKind {
    /// A regular file.
    File,
    /// A directory.
    Dir,
}

/// A crash image: relative paths of the surviving directories and files with their bytes.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct CrashImage {
    /// Surviving directories below the root, relative to it.
    pub dirs: BTreeSet<PathBuf>,
    /// Surviving files, relative to the root, with their content.
    pub files: BTreeMap<PathBuf, Vec<u8>>,
}

/// Every inode of the mount with its current and durable state.
#[derive(Debug)]
pub struct CacheModel {
    nodes: HashMap<Ino, Node>,
    next: Ino,
}

impl Default for CacheModel {
    fn default() -> Self {
        let mut nodes = HashMap::new();
        nodes.insert(ROOT, Node::Dir(DirNode::default()));
        CacheModel {
            nodes,
            next: ROOT + 1,
        }
    }
}

impl CacheModel {
    /// The kind of `ino`, if it exists.
    pub fn kind(&self, ino: Ino) -> Option<NodeKind> {
        self.nodes.get(&ino).map(|node| match node {
            Node::File(_) => NodeKind::File,
            Node::Dir(_) => NodeKind::Dir,
        })
    }

    /// The current length of file `ino` (0 for a directory).
    pub fn len(&self, ino: Ino) -> u64 {
        match self.nodes.get(&ino) {
            Some(Node::File(f)) => f.current.len() as u64,
            _ => 0,
        }
    }

    /// The inode `name` in directory `parent` points at now.
    pub fn lookup(&self, parent: Ino, name: &OsStr) -> Option<Ino> {
        self.dir(parent).ok()?.current.get(name).copied()
    }

    /// The current entries of directory `ino`, by name.
    ///
    /// # Errors
    /// [`CacheError::NotDir`] or [`CacheError::NotFound`].
    pub fn entries(&self, ino: Ino) -> Result<Vec<(OsString, Ino)>, CacheError> {
        Ok(self
            .dir(ino)?
            .current
            .iter()
            .map(|(name, ino)| (name.clone(), *ino))
            .collect())
    }

    /// Up to `size` bytes of file `ino` from `offset`, as a process sees them now.
    ///
    /// # Errors
    /// [`CacheError::IsDir`] or [`CacheError::NotFound`].
    pub fn read(&self, ino: Ino, offset: u64, size: u32) -> Result<&[u8], CacheError> {
        let file = self.file(ino)?;
        let start = (offset as usize).min(file.current.len());
        let end = start.saturating_add(size as usize).min(file.current.len());
        Ok(&file.current[start..end])
    }

    /// Creates an empty file (or a directory) `name` in `parent`: a pending entry.
    ///
    /// # Errors
    /// [`CacheError::Exists`], [`CacheError::NotDir`] or [`CacheError::NotFound`].
    pub fn create(&mut self, parent: Ino, name: &OsStr, kind: NodeKind) -> Result<Ino, CacheError> {
        if self.dir(parent)?.current.contains_key(name) {
            return Err(CacheError::Exists);
        }
        let ino = self.next;
        self.next += 1;
        let node = match kind {
            NodeKind::File => Node::File(FileNode::default()),
            NodeKind::Dir => Node::Dir(DirNode::default()),
        };
        self.nodes.insert(ino, node);
        self.change(parent, vec![(name.to_owned(), Some(ino))])?;
        Ok(ino)
    }

    /// Writes `data` at `offset` of file `ino`: pending until the file is synced.
    ///
    /// # Errors
    /// [`CacheError::IsDir`] or [`CacheError::NotFound`].
    pub fn write(&mut self, ino: Ino, offset: u64, data: &[u8]) -> Result<(), CacheError> {
        let file = self.file_mut(ino)?;
        write_at(&mut file.current, offset, data);
        file.pending.push(Pending::Write {
            offset,
            data: data.to_vec(),
        });
        Ok(())
    }

    /// Sets the length of file `ino`: pending until the file is synced.
    ///
    /// # Errors
    /// [`CacheError::IsDir`] or [`CacheError::NotFound`].
    pub fn truncate(&mut self, ino: Ino, size: u64) -> Result<(), CacheError> {
        let file = self.file_mut(ino)?;
        file.current.resize(size as usize, 0);
        file.pending.push(Pending::Truncate { size });
        Ok(())
    }

    /// `fsync`/`fdatasync` of `ino`: a file's pending content becomes durable, a directory's
    /// pending entry changes become durable.
    ///
    /// # Errors
    /// [`CacheError::NotFound`].
    pub fn sync(&mut self, ino: Ino) -> Result<(), CacheError> {
        match self.nodes.get_mut(&ino).ok_or(CacheError::NotFound)? {
            Node::File(file) => {
                file.durable.clone_from(&file.current);
                file.pending.clear();
            }
            Node::Dir(dir) => {
                dir.durable.clone_from(&dir.current);
                dir.pending.clear();
            }
        }
        Ok(())
    }

    /// Removes entry `name` of `parent` (a file, or an empty directory when `dir`).
    ///
    /// # Errors
    /// [`CacheError::NotFound`], [`CacheError::IsDir`], [`CacheError::NotDir`] or
    /// [`CacheError::NotEmpty`].
    pub fn remove(&mut self, parent: Ino, name: &OsStr, dir: bool) -> Result<(), CacheError> {
        let ino = self.lookup(parent, name).ok_or(CacheError::NotFound)?;
        match (self.kind(ino), dir) {
            (Some(NodeKind::Dir), false) => return Err(CacheError::IsDir),
            (Some(NodeKind::File), true) => return Err(CacheError::NotDir),
            (Some(NodeKind::Dir), true) if !self.dir(ino)?.current.is_empty() => {
                return Err(CacheError::NotEmpty);
            }
            _ => {}
        }
        self.change(parent, vec![(name.to_owned(), None)])
    }

    /// Renames `name` in `parent` to `new_name` in `new_parent`, replacing a file there. Within
    /// one directory it is one entry change; across two, one change in each.
    ///
    /// # Errors
    /// [`CacheError::NotFound`], [`CacheError::NotDir`], or [`CacheError::IsDir`] when a
    /// directory would be replaced.
    pub fn rename(
        &mut self,
        parent: Ino,
        name: &OsStr,
        new_parent: Ino,
        new_name: &OsStr,
    ) -> Result<(), CacheError> {
        let ino = self.lookup(parent, name).ok_or(CacheError::NotFound)?;
        self.dir(new_parent)?;
        if let Some(old) = self.lookup(new_parent, new_name)
            && self.kind(old) == Some(NodeKind::Dir)
        {
            return Err(CacheError::IsDir);
        }
        if parent == new_parent {
            if name == new_name {
                return Ok(());
            }
            return self.change(
                parent,
                vec![(name.to_owned(), None), (new_name.to_owned(), Some(ino))],
            );
        }
        self.change(parent, vec![(name.to_owned(), None)])?;
        self.change(new_parent, vec![(new_name.to_owned(), Some(ino))])
    }

    /// What survives a power cut under `mode`, drawing from `rng`; directories are walked from
    /// the root by name, so the same history and seed give the same image.
    pub fn crash_image<R: rand::Rng>(
        &self,
        mode: CrashMode,
        rng: &mut R,
    ) -> (CrashImage, CrashImageStats) {
        let mut image = CrashImage::default();
        let mut stats = CrashImageStats::default();
        let mut contents: HashMap<Ino, Vec<u8>> = HashMap::new();
        let mut stack = vec![(PathBuf::new(), ROOT)];
        while let Some((path, ino)) = stack.pop() {
            let Some(Node::Dir(dir)) = self.nodes.get(&ino) else {
                continue;
            };
            let mut survivors = dir.durable.clone();
            for change in &dir.pending {
                if keep(mode, rng) {
                    stats.dir_changes_kept += 1;
                    for (name, target) in change {
                        match target {
                            Some(target) => survivors.insert(name.clone(), *target),
                            None => survivors.remove(name),
                        };
                    }
                } else {
                    stats.dir_changes_dropped += 1;
                }
            }
            let mut subdirs = Vec::new();
            for (name, child) in survivors {
                let child_path = path.join(&name);
                match self.nodes.get(&child) {
                    Some(Node::Dir(_)) => {
                        image.dirs.insert(child_path.clone());
                        subdirs.push((child_path, child));
                    }
                    Some(Node::File(file)) if !is_shm(&name) => {
                        let bytes = contents
                            .entry(child)
                            .or_insert_with(|| materialize(file, mode, rng, &mut stats));
                        image.files.insert(child_path, bytes.clone());
                    }
                    _ => {}
                }
            }
            stack.extend(subdirs.into_iter().rev());
        }
        stats.files = image.files.len();
        (image, stats)
    }

    /// The durable paths of `ino` (a file can have more than one after a torn rename), relative
    /// to the root; empty when no durable entry reaches it yet.
    pub fn durable_paths(&self, ino: Ino) -> Vec<PathBuf> {
        let mut found = Vec::new();
        let mut stack = vec![(PathBuf::new(), ROOT)];
        if ino == ROOT {
            return vec![PathBuf::new()];
        }
        while let Some((path, dir)) = stack.pop() {
            let Some(Node::Dir(node)) = self.nodes.get(&dir) else {
                continue;
            };
            for (name, child) in &node.durable {
                if *child == ino {
                    found.push(path.join(name));
                }
                if self.kind(*child) == Some(NodeKind::Dir) {
                    stack.push((path.join(name), *child));
                }
            }
        }
        found
    }

    /// The durable content of file `ino`, or the durable entries of directory `ino`.
    pub fn durable(&self, ino: Ino) -> Option<Durable<'_>> {
        match self.nodes.get(&ino)? {
            Node::File(file) => Some(Durable::File(&file.durable)),
            Node::Dir(dir) => Some(Durable::Dir(&dir.durable)),
        }
    }

    fn change(&mut self, dir: Ino, change: EntryChange) -> Result<(), CacheError> {
        let node = self.dir_mut(dir)?;
        for (name, target) in &change {
            match target {
                Some(ino) => node.current.insert(name.clone(), *ino),
                None => node.current.remove(name),
            };
        }
        node.pending.push(change);
        Ok(())
    }

    fn dir(&self, ino: Ino) -> Result<&DirNode, CacheError> {
        match self.nodes.get(&ino) {
            Some(Node::Dir(dir)) => Ok(dir),
            Some(Node::File(_)) => Err(CacheError::NotDir),
            None => Err(CacheError::NotFound),
        }
    }

    fn dir_mut(&mut self, ino: Ino) -> Result<&mut DirNode, CacheError> {
        match self.nodes.get_mut(&ino) {
            Some(Node::Dir(dir)) => Ok(dir),
            Some(Node::File(_)) => Err(CacheError::NotDir),
            None => Err(CacheError::NotFound),
        }
    }

    fn file(&self, ino: Ino) -> Result<&FileNode, CacheError> {
        match self.nodes.get(&ino) {
            Some(Node::File(file)) => Ok(file),
            Some(Node::Dir(_)) => Err(CacheError::IsDir),
            None => Err(CacheError::NotFound),
        }
    }

    fn file_mut(&mut self, ino: Ino) -> Result<&mut FileNode, CacheError> {
        match self.nodes.get_mut(&ino) {
            Some(Node::File(file)) => Ok(file),
            Some(Node::Dir(_)) => Err(CacheError::IsDir),
            None => Err(CacheError::NotFound),
        }
    }
}

/// The durable state of one inode.
#[derive(Debug)]
pub enum Durable<'a> {
    /// A file's durable bytes.
    File(&'a [u8]),
    /// A directory's durable entries.
    Dir(&'a BTreeMap<OsString, Ino>),
}

/// SQLite's shared-memory index: never in an image (SQLite rebuilds it), as in the fault VFS.
pub fn is_shm(name: &OsStr) -> bool {
    name.to_string_lossy().ends_with("-shm")
}

/// Whether one pending truncate or entry change survives.
fn keep<R: rand::Rng>(mode: CrashMode, rng: &mut R) -> bool {
    match mode {
        CrashMode::Drop => false,
        CrashMode::Keep => true,
        CrashMode::Torn { p } => rng.random_bool(p.clamp(0.0, 1.0)),
        CrashMode::SectorPrefix => rng.random_bool(0.5),
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

/// The sector-aligned pieces of a write: `(sector, offset, bytes)`.
fn pieces(offset: u64, data: &[u8]) -> Vec<(u64, u64, &[u8])> {
    let mut out = Vec::new();
    let mut pos = 0usize;
    while pos < data.len() {
        let at = offset + pos as u64;
        let len = ((SECTOR - at % SECTOR) as usize).min(data.len() - pos);
        out.push((at / SECTOR, at, &data[pos..pos + len]));
        pos += len;
    }
    out
}

/// The content of one file after the cut: durable bytes plus the pending pieces `mode` keeps.
fn materialize<R: rand::Rng>(
    file: &FileNode,
    mode: CrashMode,
    rng: &mut R,
    stats: &mut CrashImageStats,
) -> Vec<u8> {
    let mut buf = file.durable.clone();
    // Sector prefix: per sector, how many of the writes touching it survive (drawn up front).
    let mut survive: BTreeMap<u64, usize> = BTreeMap::new();
    if mode == CrashMode::SectorPrefix {
        let mut touching: BTreeMap<u64, usize> = BTreeMap::new();
        for op in &file.pending {
            if let Pending::Write { offset, data } = op {
                for (sector, _, _) in pieces(*offset, data) {
                    *touching.entry(sector).or_default() += 1;
                }
            }
        }
        for (sector, count) in touching {
            survive.insert(sector, rng.random_range(0..=count));
        }
    }
    let mut seen: BTreeMap<u64, usize> = BTreeMap::new();
    for op in &file.pending {
        match op {
            Pending::Write { offset, data } => {
                stats.pending_writes += 1;
                for (sector, at, bytes) in pieces(*offset, data) {
                    let kept = if mode == CrashMode::SectorPrefix {
                        let n = seen.entry(sector).or_default();
                        *n += 1;
                        *n <= survive[&sector]
                    } else {
                        keep(mode, rng)
                    };
                    if kept {
                        stats.kept_pieces += 1;
                        write_at(&mut buf, at, bytes);
                    } else {
                        stats.dropped_pieces += 1;
                    }
                }
            }
            Pending::Truncate { size } => {
                if keep(mode, rng) {
                    buf.resize(*size as usize, 0);
                }
            }
        }
    }
    buf
}

/// Writes `image` below `dest` (created if missing).
///
/// # Errors
/// The first I/O error.
pub fn write_image(image: &CrashImage, dest: &Path) -> std::io::Result<()> {
    std::fs::create_dir_all(dest)?;
    for dir in &image.dirs {
        std::fs::create_dir_all(dest.join(dir))?;
    }
    for (path, bytes) in &image.files {
        std::fs::write(dest.join(path), bytes)?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::SeedableRng;

    fn image(model: &CacheModel, mode: CrashMode) -> CrashImage {
        let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(3);
        model.crash_image(mode, &mut rng).0
    }

    fn names(image: &CrashImage) -> Vec<String> {
        image
            .files
            .keys()
            .map(|p| p.display().to_string())
            .collect()
    }

    #[test]
    fn a_file_is_durable_after_its_fsync_and_its_entry_after_the_directory_fsync() {
        let mut m = CacheModel::default();
        let db = m.create(ROOT, "db".as_ref(), NodeKind::File).unwrap();
        m.write(db, 0, b"one").unwrap();
        assert!(image(&m, CrashMode::Drop).files.is_empty());
        assert_eq!(names(&image(&m, CrashMode::Keep)), ["db"]);
        m.sync(db).unwrap();
        assert!(
            image(&m, CrashMode::Drop).files.is_empty(),
            "entry not synced"
        );
        m.sync(ROOT).unwrap();
        m.write(db, 0, b"two").unwrap();
        assert_eq!(image(&m, CrashMode::Drop).files[Path::new("db")], b"one");
        assert_eq!(image(&m, CrashMode::Keep).files[Path::new("db")], b"two");
        m.sync(db).unwrap();
        assert_eq!(image(&m, CrashMode::Drop).files[Path::new("db")], b"two");
    }

    #[test]
    fn an_unsynced_unlink_or_rename_is_undone_by_drop() {
        let mut m = CacheModel::default();
        let vault = m.create(ROOT, "vault".as_ref(), NodeKind::Dir).unwrap();
        let journal = m
            .create(ROOT, "db-journal".as_ref(), NodeKind::File)
            .unwrap();
        m.write(journal, 0, b"hot").unwrap();
        m.sync(journal).unwrap();
        m.sync(ROOT).unwrap();
        m.remove(ROOT, "db-journal".as_ref(), false).unwrap();
        let temp = m
            .create(vault, ".a.md.tmp".as_ref(), NodeKind::File)
            .unwrap();
        m.write(temp, 0, b"note").unwrap();
        m.sync(temp).unwrap();
        m.rename(vault, ".a.md.tmp".as_ref(), vault, "a.md".as_ref())
            .unwrap();
        let dropped = image(&m, CrashMode::Drop);
        assert_eq!(names(&dropped), ["db-journal"]);
        assert!(dropped.dirs.contains(Path::new("vault")));
        assert_eq!(names(&image(&m, CrashMode::Keep)), ["vault/a.md"]);
        m.sync(vault).unwrap();
        m.sync(ROOT).unwrap();
        assert_eq!(names(&image(&m, CrashMode::Drop)), ["vault/a.md"]);
        assert_eq!(m.durable_paths(temp), [PathBuf::from("vault/a.md")]);
    }

    #[test]
    fn sector_prefix_keeps_a_prefix_in_time_of_each_sector() {
        let mut m = CacheModel::default();
        let f = m.create(ROOT, "f".as_ref(), NodeKind::File).unwrap();
        m.write(f, 0, &[0; 2048]).unwrap();
        m.sync(f).unwrap();
        m.sync(ROOT).unwrap();
        m.write(f, 0, &[1; 2048]).unwrap();
        m.write(f, 0, &[2; 2048]).unwrap();
        let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(9);
        let (img, stats) = m.crash_image(CrashMode::SectorPrefix, &mut rng);
        assert_eq!(stats.kept_pieces + stats.dropped_pieces, 8);
        for sector in img.files[Path::new("f")].chunks(512) {
            assert!(sector.iter().all(|&b| b == sector[0]));
        }
        let (_, torn) = m.crash_image(CrashMode::Torn { p: 1.0 }, &mut rng);
        assert_eq!(torn.dropped_pieces, 0);
    }

    #[test]
    fn shm_never_reaches_an_image_and_refusals_name_the_reason() {
        let mut m = CacheModel::default();
        m.create(ROOT, "db-shm".as_ref(), NodeKind::File).unwrap();
        assert!(image(&m, CrashMode::Keep).files.is_empty());
        assert_eq!(
            m.create(ROOT, "db-shm".as_ref(), NodeKind::File),
            Err(CacheError::Exists)
        );
        let d = m.create(ROOT, "d".as_ref(), NodeKind::Dir).unwrap();
        m.create(d, "x".as_ref(), NodeKind::File).unwrap();
        assert_eq!(
            m.remove(ROOT, "d".as_ref(), true),
            Err(CacheError::NotEmpty)
        );
        assert_eq!(m.remove(ROOT, "d".as_ref(), false), Err(CacheError::IsDir));
    }
}
