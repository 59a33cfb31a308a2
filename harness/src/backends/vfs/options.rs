//! What the fault VFS is registered with ([`VfsOptions`]), when a power cut happens
//! ([`CrashTrigger`]), and its errors ([`VfsError`]).

use std::path::PathBuf;

use serde::{Deserialize, Serialize};

/// Options fixed at registration.
#[derive(Debug, Clone, Default)]
pub struct VfsOptions {
    /// Use `sqlite3_io_methods` version 3 forwarding `xFetch`/`xUnfetch`, so
    /// mmap works; `false` = version 2, every read goes through `xRead`.
    pub forward_fetch: bool,
    /// Keep the durable-state model needed for crash images.
    pub track_power_loss: bool,
    /// When tracking power loss, do not call the real `xSync` on tracked files
    /// (faster; durability is simulated by the model).
    pub skip_real_sync: bool,
}

/// When a power cut happens.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum CrashTrigger {
    /// Cut just before the Nth write/sync/truncate on a main DB, WAL or journal,
    /// counted from the moment of arming (1-based). That call fails, as does every later one.
    BeforeNthMutation(u64),
}

/// Errors of the fault VFS.
#[derive(Debug, thiserror::Error)]
pub enum VfsError {
    /// A VFS of this name is already registered in this process.
    #[error("a VFS named {0:?} is already registered; pick a unique name per process")]
    NameTaken(String),
    /// The name cannot be passed to SQLite.
    #[error("VFS name {0:?} contains a NUL byte")]
    BadName(String),
    /// SQLite has no default VFS to wrap.
    #[error("SQLite has no default VFS to wrap")]
    NoDefaultVfs,
    /// `sqlite3_vfs_register` failed.
    #[error("failed to register VFS {name:?}: SQLite error code {code}")]
    Register {
        /// The VFS name.
        name: String,
        /// The SQLite result code.
        code: i32,
    },
    /// A rule that can never apply or whose error does not fit its op.
    #[error("invalid fault rule {rule}: {reason}")]
    InvalidRule {
        /// The rule, debug-printed.
        rule: String,
        /// What is wrong with it.
        reason: String,
    },
    /// A crash image was requested before any power cut.
    #[error("no power cut has happened: arm one with arm_power_loss or call power_cut_now first")]
    NoPowerCut,
    /// A crash image was requested from a VFS registered without `track_power_loss`.
    #[error("power loss is not tracked: register the VFS with track_power_loss = true")]
    NotTracking,
    /// A crash mode with out-of-range parameters.
    #[error("invalid crash mode: {0}")]
    InvalidCrashMode(String),
    /// Two tracked files with the same name in different directories.
    #[error("two tracked files are named {0:?}; a crash image holds one directory")]
    DuplicateImageName(String),
    /// Writing the crash image failed.
    #[error("failed to write crash image file {path}")]
    Image {
        /// The file being written.
        path: PathBuf,
        /// The I/O error.
        #[source]
        source: std::io::Error,
    },
}
