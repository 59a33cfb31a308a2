//! The FUSE backend: a file system with its own cache (the LazyFS model) that the ledger runs
//! on with SQLite's default VFS, so every system call (the database's, the journal's, the
//! WAL's and the vault's) is observed, and a power cut leaves what the durability definition
//! of `docs/durability.md` says survives.
//!
//! - [`model`]: the cache, durable versus current state per inode, and crash images;
//! - [`fs`]: the FUSE requests answered from the cache, mutations counted, the cut;
//! - [`drive`]: the drive loop of the ledger on a mount;
//! - [`mount`]: mounting (in the daemon process) and always unmounting;
//! - [`daemon`]: the daemon process the drive worker starts and commands ([`FuseMount`]); [`fuse_available`] says whether this machine can (and why not).

pub mod daemon;
pub mod drive;
pub mod fs;
pub mod model;
pub mod mount;

pub use daemon::FuseMount;
pub use model::{CacheModel, CrashImage};
pub use mount::{LocalMount, fuse_available, is_mounted, unmount_below};
