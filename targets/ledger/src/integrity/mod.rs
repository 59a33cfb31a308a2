//! Corruption detection and repair: classifying damage, scheduled checks,
//! `REINDEX` repair, and the [`RestoreSource`] hook for verified backups.

pub(crate) mod classify;
