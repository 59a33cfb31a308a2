//! Fault layers the harness injects into the ledger.
//!
//! The disk layer ([`vfs`]) injects, through a SQLite VFS wrapping the default one:
//! - I/O errors on read, write, sync, truncate, lock, open, delete, shm-map and fetch
//!   (once, Nth, from the Nth on, or with a seeded probability);
//! - short (torn) writes that keep only the first k 512-byte sectors;
//! - bit flips in the data a read returns (the file stays intact);
//! - power loss: a cut before the Nth mutation, then crash images that drop,
//!   keep or tear every write and directory change not yet synced.
pub mod vfs;
