//! The FUSE daemon in a process of its own ([`FuseMount`]): the drive worker starts
//! `resilience __worker fuse-daemon SPEC.json`, which mounts the caching file system and
//! answers one command per line on its stdin (`arm N`, `cut`, `crashed`, `mutations`,
//! `backing-error`, `image MODE-JSON\tDEST`) with one JSON line on its stdout. The process
//! that runs the ledger is never the one that serves its file system, so a worker killed
//! mid-request cannot hang on itself; when the drive closes the daemon's stdin (or dies),
//! the daemon unmounts and exits.

use std::io::{BufRead, BufReader, Write};
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdin, ChildStdout, Command, Stdio};
use std::sync::Mutex;

use serde::{Deserialize, Serialize};

use super::mount::LocalMount;
use crate::backends::vfs::{CrashImageStats, CrashMode};

/// The worker phase name of the daemon.
pub const PHASE: &str = "fuse-daemon";

/// What the daemon mounts.
#[derive(Debug, Clone, Serialize, Deserialize)]
struct DaemonSpec {
    mountpoint: PathBuf,
    backing: PathBuf,
    seed: u64,
}

/// Runs the daemon: mounts, says `ready` (or the reason it cannot), serves commands until
/// stdin closes, unmounts.
///
/// # Errors
/// The spec cannot be read, or stdout is gone.
pub fn serve(spec: &Path) -> anyhow::Result<()> {
    let spec: DaemonSpec = serde_json::from_slice(&std::fs::read(spec)?)?;
    let mut out = std::io::stdout().lock();
    let mount = match LocalMount::mount(&spec.mountpoint, &spec.backing, spec.seed) {
        Ok(mount) => mount,
        Err(reason) => {
            writeln!(out, "{}", serde_json::to_string(&Err::<(), _>(reason))?)?;
            return Ok(());
        }
    };
    writeln!(out, "{}", serde_json::to_string(&Ok::<(), String>(()))?)?;
    out.flush()?;
    for line in std::io::stdin().lock().lines() {
        let line = line?;
        let (command, rest) = line.split_once(' ').unwrap_or((line.as_str(), ""));
        let answer = match command {
            "arm" => {
                mount.arm_cut(rest.parse()?);
                serde_json::to_string(&())?
            }
            "cut" => {
                mount.cut_now();
                serde_json::to_string(&())?
            }
            "crashed" => serde_json::to_string(&mount.has_crashed())?,
            "mutations" => serde_json::to_string(&mount.mutations())?,
            "backing-error" => serde_json::to_string(&mount.backing_error())?,
            "image" => {
                let (mode, dest) = rest.split_once('\t').unwrap_or((rest, ""));
                let mode: CrashMode = serde_json::from_str(mode)?;
                let stats = mount
                    .write_crash_image(Path::new(dest), mode)
                    .map_err(|e| format!("{dest}: {e}"));
                serde_json::to_string(&stats)?
            }
            other => anyhow::bail!("unknown fuse-daemon command {other:?}"),
        };
        writeln!(out, "{answer}")?;
        out.flush()?;
    }
    drop(mount);
    Ok(())
}

/// A caching file system served by a daemon process; unmounted when dropped.
pub struct FuseMount {
    child: Child,
    io: Mutex<Option<(ChildStdin, BufReader<ChildStdout>)>>,
    mountpoint: PathBuf,
}

impl FuseMount {
    /// Starts a daemon (this executable, `__worker fuse-daemon`) that mounts a fresh caching
    /// file system at `mountpoint`, durable state in `backing`; crash images draw from `seed`.
    ///
    /// # Errors
    /// The daemon could not start, or the mount was refused (the reason).
    pub fn mount(mountpoint: &Path, backing: &Path, seed: u64) -> Result<FuseMount, String> {
        let parent = mountpoint.parent().unwrap_or(Path::new("."));
        let spec_path = parent.join("fuse-daemon.json");
        let spec = DaemonSpec {
            mountpoint: mountpoint.to_path_buf(),
            backing: backing.to_path_buf(),
            seed,
        };
        std::fs::create_dir_all(parent).map_err(|e| format!("{}: {e}", parent.display()))?;
        std::fs::write(&spec_path, serde_json::to_vec(&spec).expect("plain data"))
            .map_err(|e| format!("{}: {e}", spec_path.display()))?;
        let exe = std::env::current_exe().map_err(|e| format!("own executable: {e}"))?;
        let mut child = Command::new(exe)
            .args(["__worker", PHASE])
            .arg(&spec_path)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .spawn()
            .map_err(|e| format!("cannot start the FUSE daemon: {e}"))?;
        let stdin = child.stdin.take().expect("piped");
        let stdout = BufReader::new(child.stdout.take().expect("piped"));
        let mount = FuseMount {
            child,
            io: Mutex::new(Some((stdin, stdout))),
            mountpoint: mountpoint.to_path_buf(),
        };
        let ready: Result<(), String> = mount.read_answer()?;
        ready.map(|()| mount)
    }

    /// Where the file system is mounted.
    pub fn mountpoint(&self) -> &Path {
        &self.mountpoint
    }

    /// Arms a cut before durable mutation `n` (1-based) of this mount.
    pub fn arm_cut(&self, n: u64) {
        let _: Result<(), _> = self.ask(&format!("arm {n}"));
    }

    /// Cuts the power now: every later request fails with `EIO`.
    pub fn cut_now(&self) {
        let _: Result<(), _> = self.ask("cut");
    }

    /// Whether the power has been cut (a daemon that stopped answering counts as cut).
    pub fn has_crashed(&self) -> bool {
        self.ask("crashed").unwrap_or(true)
    }

    /// Durable mutations observed so far.
    pub fn mutations(&self) -> u64 {
        self.ask("mutations").unwrap_or(0)
    }

    /// The first error writing the backing directory, or of the daemon itself.
    pub fn backing_error(&self) -> Option<String> {
        self.ask("backing-error").unwrap_or_else(Some)
    }

    /// Writes the crash image under `mode` below `dest`.
    ///
    /// # Errors
    /// An I/O error writing the image, or the daemon failed.
    pub fn write_crash_image(
        &self,
        dest: &Path,
        mode: CrashMode,
    ) -> std::io::Result<CrashImageStats> {
        let mode = serde_json::to_string(&mode).expect("plain data");
        let answer: Result<Result<CrashImageStats, String>, String> =
            self.ask(&format!("image {mode}\t{}", dest.display()));
        answer
            .and_then(|inner| inner)
            .map_err(std::io::Error::other)
    }

    fn ask<T: serde::de::DeserializeOwned>(&self, command: &str) -> Result<T, String> {
        {
            let mut guard = self.io.lock().unwrap_or_else(|p| p.into_inner());
            let io = guard.as_mut().ok_or("the FUSE daemon is closed")?;
            writeln!(io.0, "{command}")
                .and_then(|()| io.0.flush())
                .map_err(|e| format!("the FUSE daemon is gone: {e}"))?;
        }
        self.read_answer()
    }

    fn read_answer<T: serde::de::DeserializeOwned>(&self) -> Result<T, String> {
        let mut guard = self.io.lock().unwrap_or_else(|p| p.into_inner());
        let io = guard.as_mut().ok_or("the FUSE daemon is closed")?;
        let mut line = String::new();
        match io.1.read_line(&mut line) {
            Ok(0) | Err(_) => Err("the FUSE daemon is gone".into()),
            Ok(_) => serde_json::from_str(&line)
                .map_err(|e| format!("the FUSE daemon answered {line:?}: {e}")),
        }
    }
}

impl Drop for FuseMount {
    fn drop(&mut self) {
        // Closing stdin makes the daemon unmount and exit.
        drop(self.io.get_mut().unwrap_or_else(|p| p.into_inner()).take());
        let _ = self.child.wait();
        super::mount::unmount_below(&self.mountpoint);
    }
}
