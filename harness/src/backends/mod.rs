//! Where the ledger's files live while a family injects faults: the fault VFS inside SQLite
//! ([`vfs`]) and the drive loop through it ([`vfs_drive`]).

pub mod vfs;
pub mod vfs_drive;
