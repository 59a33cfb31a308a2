//! The vault under power loss: [`VaultModel`] follows the ledger's file-system events
//! ([`ledger::fs_events`]) in the vault directory during a power-loss pass, and
//! [`VaultModel::apply`] turns a crash image's copy of the vault into what a power cut leaves.
//!
//! The vault's files are written with plain file I/O, not through SQLite, so the fault VFS does
//! not see them. A file renamed into place is durable only once the vault directory is
//! fsynced; until then a crash may leave the entry as it was before the rename (absent, or the
//! old file). Each such unsynced entry survives the cut as the crash mode says for directory
//! changes: never (`drop`), always (`keep`), with probability `p` (`torn`) or 1/2
//! (`sector-prefix`). File contents are fsynced before the rename by the ledger and are taken
//! as written.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::Mutex;

use ledger::fs_events::{self, FsEvent};
use rand::{RngExt, SeedableRng};
use rand_chacha::ChaCha8Rng;

use crate::backends::vfs::CrashMode;

/// The vault directory followed and its unsynced entries (name → content before the rename;
/// `None` = the entry did not exist).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct VaultModel {
    dir: PathBuf,
    pending: BTreeMap<String, Option<Vec<u8>>>,
}

static FOLLOWED: Mutex<Option<VaultModel>> = Mutex::new(None);

fn followed() -> std::sync::MutexGuard<'static, Option<VaultModel>> {
    FOLLOWED.lock().unwrap_or_else(|p| p.into_inner())
}

fn observe(event: FsEvent<'_>) {
    let mut guard = followed();
    let Some(model) = guard.as_mut() else {
        return;
    };
    match event {
        FsEvent::Replacing { target } if target.parent() == Some(model.dir.as_path()) => {
            if let Some(name) = target.file_name().and_then(|n| n.to_str()) {
                model
                    .pending
                    .entry(name.to_owned())
                    .or_insert_with(|| std::fs::read(target).ok());
            }
        }
        FsEvent::DirSynced { dir } if dir == model.dir => model.pending.clear(),
        _ => {}
    }
}

impl VaultModel {
    /// Start following the vault at `dir` (this process's ledger events), replacing any
    /// model followed before.
    pub fn follow(dir: &Path) {
        *followed() = Some(VaultModel {
            dir: dir.to_path_buf(),
            pending: BTreeMap::new(),
        });
        fs_events::set_observer(Some(observe));
    }

    /// Stop following (at the cut) and return what was followed.
    pub fn stop() -> Option<VaultModel> {
        fs_events::set_observer(None);
        followed().take()
    }

    /// Entries renamed into place since the last directory fsync.
    pub fn unsynced(&self) -> usize {
        self.pending.len()
    }

    /// Apply the cut to `image` (a copy of the vault at the cut), seeded; returns how many
    /// unsynced entries were kept.
    ///
    /// # Errors
    /// A file of the image cannot be removed or written.
    pub fn apply(&self, image: &Path, mode: CrashMode, seed: u64) -> std::io::Result<usize> {
        let mut kept = 0;
        for (name, before, survives) in self.survivors(mode, seed) {
            if survives {
                kept += 1;
                continue;
            }
            let path = image.join(name);
            match before {
                Some(bytes) => std::fs::write(&path, bytes)?,
                None => match std::fs::remove_file(&path) {
                    Err(e) if e.kind() != std::io::ErrorKind::NotFound => return Err(e),
                    _ => {}
                },
            }
        }
        Ok(kept)
    }

    /// [`VaultModel::apply`] on the vault's files in memory (name → content); the same draws.
    pub fn apply_to(&self, files: &mut VaultFiles, mode: CrashMode, seed: u64) -> usize {
        let mut kept = 0;
        for (name, before, survives) in self.survivors(mode, seed) {
            if survives {
                kept += 1;
            } else {
                match before {
                    Some(bytes) => files.insert(name.clone(), bytes.clone()),
                    None => files.remove(name),
                };
            }
        }
        kept
    }

    /// Each unsynced entry, what it held before, and whether the cut keeps it (seeded).
    fn survivors(&self, mode: CrashMode, seed: u64) -> Vec<(&String, &Option<Vec<u8>>, bool)> {
        let mut rng = ChaCha8Rng::seed_from_u64(seed ^ 0x7661_756c_7400);
        self.pending
            .iter()
            .map(|(name, before)| {
                let survives = match mode {
                    CrashMode::Drop => false,
                    CrashMode::Keep => true,
                    CrashMode::Torn { p } => rng.random_bool(p.clamp(0.0, 1.0)),
                    CrashMode::SectorPrefix => rng.random_bool(0.5),
                };
                (name, before, survives)
            })
            .collect()
    }
}

/// A vault's files in memory: name → content.
pub type VaultFiles = BTreeMap<String, Vec<u8>>;

/// One vault change recorded during a run, tagged like the fault VFS's write log (durable
/// mutations made before it).
#[derive(Debug, Clone)]
enum VaultChange {
    /// `name` was about to be replaced by a rename; what it held before.
    Replacing {
        name: String,
        before: Option<Vec<u8>>,
    },
    /// The vault directory was fsynced.
    DirSynced,
}

/// The vault's changes over one recorded run ([`VaultLog::record`]), from which its files and
/// its unsynced entries at any crash point are rebuilt ([`VaultLog::at_cut_before`]).
#[derive(Debug, Clone, Default)]
pub struct VaultLog {
    dir: PathBuf,
    changes: Vec<(u64, VaultChange)>,
    /// The vault's files when the run ended.
    last: VaultFiles,
}

struct VaultRecording {
    log: VaultLog,
    mutations: Box<dyn Fn() -> u64 + Send>,
}

static RECORDING: Mutex<Option<VaultRecording>> = Mutex::new(None);

fn recording() -> std::sync::MutexGuard<'static, Option<VaultRecording>> {
    RECORDING.lock().unwrap_or_else(|p| p.into_inner())
}

fn record(event: FsEvent<'_>) {
    let mut guard = recording();
    let Some(rec) = guard.as_mut() else {
        return;
    };
    let change = match event {
        FsEvent::Replacing { target } if target.parent() == Some(rec.log.dir.as_path()) => {
            let Some(name) = target.file_name().and_then(|n| n.to_str()) else {
                return;
            };
            VaultChange::Replacing {
                name: name.to_owned(),
                before: std::fs::read(target).ok(),
            }
        }
        FsEvent::DirSynced { dir } if dir == rec.log.dir => VaultChange::DirSynced,
        _ => return,
    };
    let tag = (rec.mutations)();
    rec.log.changes.push((tag, change));
}

impl VaultLog {
    /// Start recording the vault at `dir`; `mutations` tells the durable mutations made so far.
    pub fn record(dir: &Path, mutations: impl Fn() -> u64 + Send + 'static) {
        *recording() = Some(VaultRecording {
            log: VaultLog {
                dir: dir.to_path_buf(),
                ..VaultLog::default()
            },
            mutations: Box::new(mutations),
        });
        fs_events::set_observer(Some(record));
    }

    /// Stop recording at the end of the run and return the log with the vault's last files.
    pub fn stop() -> Option<VaultLog> {
        fs_events::set_observer(None);
        let mut log = recording().take()?.log;
        log.last = read_vault(&log.dir);
        Some(log)
    }

    /// The vault's files at a cut before durable mutation `point`, and its unsynced entries
    /// then (what [`VaultModel::follow`] would have followed up to the cut).
    pub fn at_cut_before(&self, point: u64) -> (VaultFiles, VaultModel) {
        let mut files = VaultFiles::new();
        let mut model = VaultModel {
            dir: self.dir.clone(),
            pending: BTreeMap::new(),
        };
        for (i, (tag, change)) in self.changes.iter().enumerate() {
            if *tag >= point {
                break;
            }
            match change {
                VaultChange::Replacing { name, before } => {
                    model
                        .pending
                        .entry(name.clone())
                        .or_insert_with(|| before.clone());
                    match self.content_after(i, name) {
                        Some(bytes) => files.insert(name.clone(), bytes),
                        None => files.remove(name),
                    };
                }
                VaultChange::DirSynced => model.pending.clear(),
            }
        }
        (files, model)
    }

    /// What replacement `index` of `name` left: what the next replacement of `name` found, or
    /// the file at the end of the run.
    fn content_after(&self, index: usize, name: &str) -> Option<Vec<u8>> {
        self.changes[index + 1..]
            .iter()
            .find_map(|(_, change)| match change {
                VaultChange::Replacing { name: n, before } if n == name => Some(before.clone()),
                _ => None,
            })
            .unwrap_or_else(|| self.last.get(name).cloned())
    }
}

/// The files of a vault directory (flat), or none when it is missing.
fn read_vault(dir: &Path) -> VaultFiles {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return VaultFiles::new();
    };
    entries
        .flatten()
        .filter(|e| e.path().is_file())
        .filter_map(|e| {
            let name = e.file_name().to_str()?.to_owned();
            Some((name, std::fs::read(e.path()).ok()?))
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_unsynced_rename_is_undone_by_drop_and_kept_by_keep() {
        let dir = tempfile::tempdir().unwrap();
        let vault = dir.path().join("vault");
        std::fs::create_dir(&vault).unwrap();
        std::fs::write(vault.join("old.md"), "v1").unwrap();
        VaultModel::follow(&vault);
        observe(FsEvent::Replacing {
            target: &vault.join("synced.md"),
        });
        observe(FsEvent::DirSynced { dir: &vault });
        observe(FsEvent::Replacing {
            target: &vault.join("old.md"),
        });
        observe(FsEvent::Replacing {
            target: &vault.join("new.md"),
        });
        let model = VaultModel::stop().unwrap();
        assert_eq!(model.unsynced(), 2);
        std::fs::write(vault.join("old.md"), "v2").unwrap();
        std::fs::write(vault.join("new.md"), "n").unwrap();
        std::fs::write(vault.join("synced.md"), "s").unwrap();
        let image = dir.path().join("image");
        std::fs::create_dir(&image).unwrap();
        for name in ["old.md", "new.md", "synced.md"] {
            std::fs::copy(vault.join(name), image.join(name)).unwrap();
        }
        assert_eq!(model.apply(&image, CrashMode::Keep, 1).unwrap(), 2);
        assert_eq!(model.apply(&image, CrashMode::Drop, 1).unwrap(), 0);
        assert_eq!(std::fs::read_to_string(image.join("old.md")).unwrap(), "v1");
        assert!(!image.join("new.md").exists());
        assert!(image.join("synced.md").exists());
    }
}

#[cfg(test)]
mod log_tests {
    use super::*;

    #[test]
    fn the_vault_at_a_cut_is_rebuilt_from_its_log() {
        let log = VaultLog {
            dir: PathBuf::from("/v"),
            changes: vec![
                (
                    2,
                    VaultChange::Replacing {
                        name: "a.md".into(),
                        before: None,
                    },
                ),
                (3, VaultChange::DirSynced),
                (
                    5,
                    VaultChange::Replacing {
                        name: "a.md".into(),
                        before: Some(b"a1".to_vec()),
                    },
                ),
            ],
            last: [("a.md".to_owned(), b"a2".to_vec())].into(),
        };
        let (files, model) = log.at_cut_before(2);
        assert!(files.is_empty() && model.pending.is_empty());
        let (files, model) = log.at_cut_before(3);
        assert_eq!(files["a.md"], b"a1");
        assert_eq!(model.pending["a.md"], None, "renamed, not yet synced");
        let (mut files, model) = log.at_cut_before(6);
        assert_eq!(files["a.md"], b"a2");
        assert_eq!(model.apply_to(&mut files, CrashMode::Drop, 1), 0);
        assert_eq!(files["a.md"], b"a1", "the drop undoes the unsynced rename");
    }
}
