//! Mounting the caching file system ([`LocalMount`], in the daemon process) and always
//! unmounting it: when dropped (also while a panic unwinds), a lazy `umount2` (root),
//! `fusermount3 -u -z`, then `umount -l` while `/proc/mounts` still lists it, then the session
//! thread is joined. Root mounts with `mount(2)` itself (fuser tries that first), so only
//! another user needs `fusermount3`. A worker killed outright cannot run `Drop`: the supervisor
//! sweeps every mount below the iteration's directory after each iteration ([`unmount_below`]).

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::{Arc, Mutex, OnceLock};

use fuser::{BackgroundSession, Config, MountOption, SessionACL};
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;

use super::fs::{CacheState, CachingFs, SharedState, lock};
use super::model::{CrashImage, write_image};
use crate::backends::vfs::{CrashImageStats, CrashMode};

/// The source name of every caching mount in `/proc/mounts`.
pub const FS_NAME: &str = "resilience-cache";

/// Mixed into the seed of the crash images' random choices.
const IMAGE_SALT: u64 = 0xF05E_1A2E_0000_0001;

/// A caching file system mounted by this process (the daemon side); unmounted when dropped.
pub struct LocalMount {
    session: Option<BackgroundSession>,
    mountpoint: PathBuf,
    state: SharedState,
    rng: Mutex<ChaCha8Rng>,
}

impl LocalMount {
    /// Mounts a fresh caching file system at `mountpoint` (created, must be empty), keeping
    /// durable state in `backing` (created); crash images draw from `seed`.
    ///
    /// # Errors
    /// The directories cannot be made or the kernel refused the mount (the reason).
    pub fn mount(mountpoint: &Path, backing: &Path, seed: u64) -> Result<LocalMount, String> {
        for dir in [mountpoint, backing] {
            std::fs::create_dir_all(dir).map_err(|e| format!("{}: {e}", dir.display()))?;
        }
        let state: SharedState = Arc::new(Mutex::new(CacheState::default()));
        let fs = CachingFs::new(Arc::clone(&state), backing.to_path_buf());
        let mut config = Config::default();
        config.mount_options = vec![MountOption::FSName(FS_NAME.into()), MountOption::NoAtime];
        config.acl = SessionACL::All;
        let session = fuser::spawn_mount(fs, mountpoint, &config)
            .map_err(|e| format!("mount at {} refused: {e}", mountpoint.display()))?;
        Ok(LocalMount {
            session: Some(session),
            mountpoint: mountpoint.to_path_buf(),
            state,
            rng: Mutex::new(ChaCha8Rng::seed_from_u64(seed ^ IMAGE_SALT)),
        })
    }

    /// Where the file system is mounted.
    pub fn mountpoint(&self) -> &Path {
        &self.mountpoint
    }

    /// Arms a cut before durable mutation `n` (1-based) of this mount.
    pub fn arm_cut(&self, n: u64) {
        lock(&self.state).armed = Some(n);
    }

    /// Cuts the power now: every later request fails with `EIO`.
    pub fn cut_now(&self) {
        lock(&self.state).cut = true;
    }

    /// Whether the power has been cut.
    pub fn has_crashed(&self) -> bool {
        lock(&self.state).cut
    }

    /// Durable mutations observed so far.
    pub fn mutations(&self) -> u64 {
        lock(&self.state).mutations
    }

    /// The first error writing the backing directory, if any.
    pub fn backing_error(&self) -> Option<String> {
        lock(&self.state).backing_error.clone()
    }

    /// What survives the cut under `mode` (each call draws the next random choices).
    pub fn crash_image(&self, mode: CrashMode) -> (CrashImage, CrashImageStats) {
        let state = lock(&self.state);
        let mut rng = self.rng.lock().unwrap_or_else(|p| p.into_inner());
        state.model.crash_image(mode, &mut *rng)
    }

    /// Writes the crash image under `mode` below `dest`.
    ///
    /// # Errors
    /// An I/O error writing the image.
    pub fn write_crash_image(
        &self,
        dest: &Path,
        mode: CrashMode,
    ) -> std::io::Result<CrashImageStats> {
        let (image, stats) = self.crash_image(mode);
        write_image(&image, dest)?;
        Ok(stats)
    }
}

impl Drop for LocalMount {
    fn drop(&mut self) {
        force_unmount(&self.mountpoint);
        if let Some(session) = self.session.take() {
            let _ = session.join();
        }
        let _ = std::fs::remove_dir(&self.mountpoint);
    }
}

/// Whether `/proc/mounts` lists a mount at `path`.
pub fn is_mounted(path: &Path) -> bool {
    let listed = path.to_string_lossy().replace(' ', "\\040");
    std::fs::read_to_string("/proc/mounts").is_ok_and(|mounts| {
        mounts
            .lines()
            .any(|line| line.split(' ').nth(1) == Some(listed.as_str()))
    })
}

/// Unmounts every caching file system mounted at or below `dir` (what a killed worker left);
/// returns how many it found.
pub fn unmount_below(dir: &Path) -> usize {
    let Ok(mounts) = std::fs::read_to_string("/proc/mounts") else {
        return 0;
    };
    let prefix = dir.to_string_lossy().replace(' ', "\\040");
    let mut found = 0;
    for line in mounts.lines() {
        let mut fields = line.split(' ');
        let (Some(source), Some(point)) = (fields.next(), fields.next()) else {
            continue;
        };
        if source == FS_NAME && point.starts_with(prefix.as_str()) {
            found += 1;
            force_unmount(Path::new(&point.replace("\\040", " ")));
        }
    }
    found
}

/// The unmounts, in order, while `/proc/mounts` still lists the mount: a lazy `umount2` (which
/// only root may call), `fusermount3 -u -z`, then `umount -l`.
fn force_unmount(path: &Path) {
    let _ = nix::mount::umount2(path, nix::mount::MntFlags::MNT_DETACH);
    for (program, args) in [("fusermount3", ["-u", "-z"]), ("umount", ["-l", "-f"])] {
        if !is_mounted(path) {
            return;
        }
        let _ = Command::new(program).args(args).arg(path).output();
    }
}

/// Whether this machine can mount the caching file system; the reason when not. Probed once
/// per process with a real mount and unmount in a temporary directory.
pub fn fuse_available() -> Result<(), String> {
    static PROBE: OnceLock<Result<(), String>> = OnceLock::new();
    PROBE.get_or_init(probe).clone()
}

fn probe() -> Result<(), String> {
    let dev = Path::new("/dev/fuse");
    if !dev.exists() {
        return Err("no /dev/fuse".into());
    }
    if nix::unistd::geteuid().is_root() {
        std::fs::OpenOptions::new()
            .read(true)
            .write(true)
            .open(dev)
            .map_err(|e| format!("/dev/fuse cannot be opened: {e}"))?;
    } else {
        let has = |program: &str| {
            Command::new(program)
                .arg("--version")
                .output()
                .is_ok_and(|o| o.status.success() || !o.stderr.is_empty() || !o.stdout.is_empty())
        };
        if !has("fusermount3") && !has("fusermount") {
            return Err(
                "no fusermount3 (Debian package fuse3), which a user other than root needs to mount"
                    .into(),
            );
        }
    }
    let scratch = tempfile::tempdir().map_err(|e| format!("temporary directory: {e}"))?;
    let mount = LocalMount::mount(
        &scratch.path().join("mnt"),
        &scratch.path().join("backing"),
        0,
    )?;
    let probe_file = mount.mountpoint().join("probe");
    std::fs::write(&probe_file, b"probe").map_err(|e| format!("write through the mount: {e}"))?;
    drop(mount);
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    #[ignore = "serves and uses the mount in one process, which deadlocked (under load, and once at idle in a full test run): the daemon process (integration tests in tests/integration/fuse.rs) is the supported set-up"]
    fn sqlite_runs_on_the_mount_and_a_cut_leaves_only_synced_state() {
        fuse_available().expect("FUSE must be available on this machine and in CI");
        let dir = tempfile::tempdir().unwrap();
        let mnt = dir.path().join("mnt");
        let mount = LocalMount::mount(&mnt, &dir.path().join("backing"), 1).unwrap();
        let db = mnt.join("t.db");
        {
            let conn = rusqlite::Connection::open(&db).unwrap();
            conn.pragma_update(None, "journal_mode", "wal").unwrap();
            conn.pragma_update(None, "synchronous", "full").unwrap();
            conn.execute_batch("CREATE TABLE t(x); INSERT INTO t VALUES (1);")
                .unwrap();
            let dirfd = std::fs::File::open(&mnt).unwrap();
            dirfd.sync_all().unwrap();
            conn.pragma_update(None, "synchronous", "off").unwrap();
            conn.execute_batch("INSERT INTO t VALUES (2);").unwrap();
            mount.cut_now();
            assert!(conn.execute_batch("INSERT INTO t VALUES (3);").is_err());
        }
        let image = dir.path().join("image");
        mount.write_crash_image(&image, CrashMode::Drop).unwrap();
        assert!(mount.backing_error().is_none());
        drop(mount);
        assert!(!is_mounted(&mnt), "unmounted when dropped");
        let conn = rusqlite::Connection::open(image.join("t.db")).unwrap();
        let rows: Vec<i64> = conn
            .prepare("SELECT x FROM t ORDER BY x")
            .unwrap()
            .query_map([], |r| r.get(0))
            .unwrap()
            .map(Result::unwrap)
            .collect();
        assert_eq!(rows, [1], "the unsynced second insert is lost");
    }

    #[test]
    #[ignore = "serves and uses the mount in one process, which deadlocked (under load, and once at idle in a full test run): the daemon process (integration tests in tests/integration/fuse.rs) is the supported set-up"]
    fn the_mount_is_gone_after_a_panic_in_its_owner() {
        fuse_available().expect("FUSE must be available on this machine and in CI");
        let dir = tempfile::tempdir().unwrap();
        let mnt = dir.path().join("mnt");
        let backing = dir.path().join("backing");
        let result = std::panic::catch_unwind(|| {
            let _mount = LocalMount::mount(&mnt, &backing, 1).unwrap();
            assert!(is_mounted(&mnt));
            panic!("owner panics while mounted");
        });
        assert!(result.is_err());
        assert!(!is_mounted(&mnt));
    }
}
