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
        let mut rng = ChaCha8Rng::seed_from_u64(seed ^ 0x7661_756c_7400);
        let mut kept = 0;
        for (name, before) in &self.pending {
            let survives = match mode {
                CrashMode::Drop => false,
                CrashMode::Keep => true,
                CrashMode::Torn { p } => rng.random_bool(p.clamp(0.0, 1.0)),
                CrashMode::SectorPrefix => rng.random_bool(0.5),
            };
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
