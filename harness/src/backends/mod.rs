//! Where the ledger's files live while a family injects faults: the fault VFS inside SQLite
//! ([`vfs`]) and the drive loop through it ([`vfs_drive`]), or a FUSE file system with its
//! own cache that sees every system call ([`fuse`]).

pub(crate) mod counting;
pub mod fuse;
pub mod vfs;
pub mod vfs_drive;
