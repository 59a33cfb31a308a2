//! The write log ([`WriteLog`]): every change the power-loss model saw during one run, each
//! tagged with the number of durable mutations made before it took effect, so the model's state
//! at any crash point can be rebuilt from a prefix of the log ([`LogReplay`]) instead of
//! re-running the workload up to that point (as ALICE and CrashMode do).
//!
//! Crash point `n` (a cut before durable mutation `n`, as
//! [`CrashTrigger::BeforeNthMutation`](super::CrashTrigger) makes it) holds exactly the
//! entries tagged below `n`: a write, sync or truncate that is mutation `k` is tagged `k`; an
//! open, unlink or size change between mutations `k` and `k + 1` is tagged `k`.

use std::path::{Path, PathBuf};

use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;

use super::VfsError;
use super::power_loss::{CrashImageStats, CrashMode, ImageFiles, PowerLossModel};

/// One change to the power-loss model.
#[derive(Debug, Clone)]
pub(super) enum ModelOp {
    /// A file found on disk when first opened or unlinked.
    Adopt { path: PathBuf, content: Vec<u8> },
    /// A file the VFS created.
    Create { path: PathBuf },
    /// A successful write.
    Write {
        path: PathBuf,
        offset: u64,
        data: Vec<u8>,
    },
    /// A successful truncate or size change.
    Truncate { path: PathBuf, size: u64 },
    /// A successful `xSync`.
    Sync { path: PathBuf },
    /// A directory sync.
    SyncDir { dir: PathBuf },
    /// A successful unlink.
    Delete { path: PathBuf, sync_dir: bool },
}

impl ModelOp {
    /// Applies the change to `model`.
    pub(super) fn apply(self, model: &mut PowerLossModel) {
        match self {
            ModelOp::Adopt { path, content } => model.adopt_existing(&path, content),
            ModelOp::Create { path } => model.create(&path),
            ModelOp::Write { path, offset, data } => model.write(&path, offset, &data),
            ModelOp::Truncate { path, size } => model.truncate(&path, size),
            ModelOp::Sync { path } => model.sync(&path),
            ModelOp::SyncDir { dir } => model.sync_dir(&dir),
            ModelOp::Delete { path, sync_dir } => model.delete(&path, sync_dir),
        }
    }
}

/// The recorded changes of one run, in order, with the seed its crash images draw from.
#[derive(Debug, Clone, Default)]
pub struct WriteLog {
    entries: Vec<(u64, ModelOp)>,
    mutations: u64,
    image_seed: u64,
}

impl WriteLog {
    /// Wraps recorded `entries`; `mutations` durable mutations were made in all.
    pub(super) fn new(entries: Vec<(u64, ModelOp)>, mutations: u64, image_seed: u64) -> WriteLog {
        WriteLog {
            entries,
            mutations,
            image_seed,
        }
    }

    /// Durable mutations of the recorded run: crash points are `1..=mutations()`.
    pub fn mutations(&self) -> u64 {
        self.mutations
    }

    /// Changes recorded.
    pub fn len(&self) -> usize {
        self.entries.len()
    }

    /// Whether nothing was recorded.
    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// A replay from the empty disk; advance it with [`LogReplay::cut_before`].
    pub fn replay(&self) -> LogReplay<'_> {
        LogReplay {
            log: self,
            model: PowerLossModel::default(),
            next: 0,
        }
    }
}

/// The power-loss model rebuilt from a prefix of a [`WriteLog`], moving forward only.
#[derive(Debug)]
pub struct LogReplay<'a> {
    log: &'a WriteLog,
    model: PowerLossModel,
    next: usize,
}

impl LogReplay<'_> {
    /// Applies every entry a cut before durable mutation `point` keeps (those tagged below it).
    /// Points must not decrease.
    pub fn cut_before(&mut self, point: u64) {
        while let Some((tag, op)) = self.log.entries.get(self.next) {
            if *tag >= point {
                break;
            }
            op.clone().apply(&mut self.model);
            self.next += 1;
        }
    }

    /// The crash image `mode` makes of the current state: the same bytes the VFS writes after
    /// a real cut at this point of the same run ([`super::FaultVfs::write_crash_image`]).
    ///
    /// # Errors
    /// [`VfsError::InvalidCrashMode`] for a torn probability outside `0..=1`.
    pub fn image(&self, mode: CrashMode) -> Result<(ImageFiles, CrashImageStats), VfsError> {
        super::power_loss::validate_mode(mode)?;
        let mut rng = ChaCha8Rng::seed_from_u64(self.log.image_seed);
        Ok(self.model.image(mode, &mut rng))
    }
}

/// Writes image `files` into `dest` (created if missing), by file name.
///
/// # Errors
/// [`VfsError::DuplicateImageName`] when two files share a name, or an I/O error naming the path.
pub fn write_image_files(dest: &Path, files: &ImageFiles) -> Result<(), VfsError> {
    std::fs::create_dir_all(dest).map_err(|source| VfsError::Image {
        path: dest.to_path_buf(),
        source,
    })?;
    let mut names = std::collections::HashSet::new();
    for (path, bytes) in files {
        let name = path.file_name().unwrap_or(path.as_os_str()).to_owned();
        if !names.insert(name.clone()) {
            return Err(VfsError::DuplicateImageName(
                name.to_string_lossy().into_owned(),
            ));
        }
        let target = dest.join(&name);
        std::fs::write(&target, bytes).map_err(|source| VfsError::Image {
            path: target,
            source,
        })?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn write(path: &str, data: &[u8]) -> ModelOp {
        ModelOp::Write {
            path: PathBuf::from(path),
            offset: 0,
            data: data.to_vec(),
        }
    }

    #[test]
    fn a_cut_keeps_the_entries_tagged_below_it() {
        let log = WriteLog::new(
            vec![
                (
                    0,
                    ModelOp::Create {
                        path: "/d/db".into(),
                    },
                ),
                (0, ModelOp::SyncDir { dir: "/d".into() }),
                (1, write("/d/db", b"one")),
                (
                    2,
                    ModelOp::Sync {
                        path: "/d/db".into(),
                    },
                ),
                (3, write("/d/db", b"two")),
            ],
            3,
            9,
        );
        let mut replay = log.replay();
        replay.cut_before(1);
        let (files, _) = replay.image(CrashMode::Keep).unwrap();
        assert_eq!(files, vec![(PathBuf::from("/d/db"), Vec::new())]);
        replay.cut_before(3);
        assert_eq!(replay.image(CrashMode::Drop).unwrap().0[0].1, b"one");
        replay.cut_before(4);
        assert_eq!(replay.image(CrashMode::Keep).unwrap().0[0].1, b"two");
        assert_eq!(replay.image(CrashMode::Drop).unwrap().0[0].1, b"one");
        assert!(replay.image(CrashMode::Torn { p: 3.0 }).is_err());
    }
}
