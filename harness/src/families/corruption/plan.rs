//! Damage to the files at rest: [`Corruption`], applied by the harness between the drive phase
//! and the check phase (the drive worker, after the workload, with the ledger gone).
//!
//! Targets ([`CorruptionTarget`]): a page of an index of `captures`, a page of the `captures`
//! table, a frame of the WAL (the drive worker then leaves the ledger without closing it, as a
//! crash would, so the WAL is still there), or the 100-byte database header. Offsets are drawn
//! from the iteration seed; the bytes chosen are inside the page body (never its reserved
//! checksum bytes), so with page checksums on every flip is visible to the ledger.
//!
//! What the ledger must survive: index-only damage is repaired (`REINDEX`) and then every check
//! holds; table damage is reported as a typed `corrupt` error and never served; every
//! acknowledged capture is intact or named missing by the ledger (`corruption_accounted`).

use std::path::Path;

use rand::{RngExt, SeedableRng};
use rand_chacha::ChaCha8Rng;
use rusqlite::{Connection, OpenFlags};
use serde::{Deserialize, Serialize};

use crate::oracle::{InjectedDamage, ObjectKind};

/// Which part of the files is damaged.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum CorruptionTarget {
    /// A b-tree page of one of the indexes on `captures`.
    IndexPage,
    /// A b-tree page of the `captures` table.
    TablePage,
    /// The page image of one WAL frame (the WAL is left behind as after a crash).
    WalFrame,
    /// The database header (the first 100 bytes of page 1).
    Header,
    /// An overflow page of the `captures` table (a row too large for its leaf spills into a
    /// chain of them); it belongs to the table.
    OverflowPage,
    /// A trunk page of the freelist (SQLite reads it to allocate and to check): free space.
    FreelistPage,
}

/// Damage at rest: `bits` seeded bit flips in one seeded unit of `target`.
///
/// TOML:
/// ```toml
/// [fault]
/// kind = "corruption"
/// target = "index-page"
/// bits = 1
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case", deny_unknown_fields)]
pub struct Corruption {
    /// What to damage.
    pub target: CorruptionTarget,
    /// Distinct bits flipped (default 1).
    #[serde(default = "one")]
    pub bits: u32,
    /// With a WAL archive: after this operation (0-based), a second connection checkpoints and
    /// truncates the WAL, as a process without archiving would; the next archive finds the
    /// break and takes a new verified backup that starts a new lineage, so two verified
    /// backups precede the damage and only the newest one's chain reaches every capture.
    #[serde(default)]
    pub archive_restart_after: Option<usize>,
}

/// What [`Corruption::apply`] did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Applied {
    /// Deterministic words for the trace (no paths).
    pub description: String,
    /// The b-tree whose page was damaged (none for the header or a WAL frame).
    pub object: Option<InjectedDamage>,
}

fn one() -> u32 {
    1
}

/// Failures applying the damage (the harness's own, never a verdict).
#[derive(Debug, thiserror::Error)]
pub enum CorruptionError {
    /// The database could not be inspected to find a target page.
    #[error("failed to find a {target:?} to damage in {path}: {source}")]
    Inspect {
        /// What was looked for.
        target: CorruptionTarget,
        /// The database.
        path: String,
        /// SQLite's error.
        #[source]
        source: rusqlite::Error,
    },
    /// The file could not be read or written.
    #[error("failed to damage {path}: {source}")]
    Io {
        /// The file.
        path: String,
        /// The I/O error.
        #[source]
        source: std::io::Error,
    },
}

/// Bytes at the end of each page the ledger keeps its checksum in (left alone).
const RESERVED: u64 = ledger::checksum::RESERVE_BYTES as u64;

impl Corruption {
    /// Whether the drive worker must leave the WAL behind (not close the ledger).
    pub fn keeps_wal(&self) -> bool {
        self.target == CorruptionTarget::WalFrame
    }

    /// Checks what serde cannot.
    ///
    /// # Errors
    /// A message naming what is wrong.
    pub fn validate(&self) -> Result<(), String> {
        if self.bits == 0 {
            return Err("[fault] corruption: bits must be at least 1".into());
        }
        Ok(())
    }

    /// Checks what needs the scenario: a restart of the archive needs an archive.
    ///
    /// # Errors
    /// A message naming what is wrong.
    pub fn validate_in(&self, scenario: &crate::scenario::Scenario) -> Result<(), String> {
        self.validate()?;
        if self.archive_restart_after.is_some() && scenario.target.wal_archive_dir.is_none() {
            return Err(
                "[fault] corruption: archive-restart-after needs target.wal-archive-dir".into(),
            );
        }
        Ok(())
    }

    /// Flips the bits in the database at `db` (or its `-wal`), chosen from `seed`; returns a
    /// deterministic description (no paths) and, for a b-tree page, the object damaged; `None`
    /// when there was nothing to damage (no page of that kind, an empty WAL).
    ///
    /// # Errors
    /// The database cannot be inspected or the file cannot be written.
    pub fn apply(&self, db: &Path, seed: u64) -> Result<Option<Applied>, CorruptionError> {
        let mut rng = ChaCha8Rng::seed_from_u64(seed ^ 0x636f_7272_7570_7421);
        let mut object = None;
        let (file, range, what) = match self.target {
            CorruptionTarget::Header => (db.to_path_buf(), (16, 100), "the database header".into()),
            CorruptionTarget::IndexPage
            | CorruptionTarget::TablePage
            | CorruptionTarget::OverflowPage
            | CorruptionTarget::FreelistPage => {
                let picked = if self.target == CorruptionTarget::FreelistPage {
                    pick_free_page(db, &mut rng)?
                } else {
                    self.pick_page(db, &mut rng)?
                };
                let Some((page, page_size, name)) = picked else {
                    return Ok(None);
                };
                let start = (u64::from(page) - 1) * page_size + if page == 1 { 100 } else { 0 };
                let end = u64::from(page) * page_size - RESERVED;
                let kind = match self.target {
                    CorruptionTarget::IndexPage => ObjectKind::Index,
                    CorruptionTarget::FreelistPage => ObjectKind::FreeSpace,
                    _ => ObjectKind::Table,
                };
                let what = match kind {
                    ObjectKind::FreeSpace => format!("free page {page} (a freelist {name})"),
                    _ if self.target == CorruptionTarget::OverflowPage => {
                        format!("overflow page {page} of {name}")
                    }
                    _ => format!("page {page} of {name}"),
                };
                object = Some(InjectedDamage { kind, name, page });
                (db.to_path_buf(), (start, end), what)
            }
            CorruptionTarget::WalFrame => {
                let mut wal = db.as_os_str().to_owned();
                wal.push("-wal");
                let wal = std::path::PathBuf::from(wal);
                let Some((frame, start, end)) = pick_frame(&wal, &mut rng)? else {
                    return Ok(None);
                };
                (
                    wal,
                    (start, end),
                    format!("the page image of WAL frame {frame}"),
                )
            }
        };
        let offsets = flip(&file, range, self.bits, &mut rng)?;
        Ok(Some(Applied {
            description: format!(
                "corruption: flipped {} bit(s) in {what} at byte(s) {offsets:?}",
                self.bits
            ),
            object,
        }))
    }

    fn pick_page(
        &self,
        db: &Path,
        rng: &mut ChaCha8Rng,
    ) -> Result<Option<(u32, u64, String)>, CorruptionError> {
        let inspect = |source| CorruptionError::Inspect {
            target: self.target,
            path: db.display().to_string(),
            source,
        };
        let conn =
            Connection::open_with_flags(db, OpenFlags::SQLITE_OPEN_READ_ONLY).map_err(inspect)?;
        let kind = match self.target {
            CorruptionTarget::IndexPage => "index",
            _ => "table",
        };
        let page_types = match self.target {
            CorruptionTarget::OverflowPage => "'overflow'",
            _ => "'leaf', 'internal'",
        };
        let page_size: i64 = conn
            .query_row("PRAGMA page_size", [], |r| r.get(0))
            .map_err(inspect)?;
        let mut stmt = conn
            .prepare(&format!(
                "SELECT d.pageno, d.name FROM dbstat d JOIN sqlite_schema s ON s.name = d.name
                 WHERE s.tbl_name = 'captures' AND s.type = ?1 AND d.pagetype IN ({page_types})
                 ORDER BY d.pageno"
            ))
            .map_err(inspect)?;
        let pages: Vec<(u32, String)> = stmt
            .query_map([kind], |r| Ok((r.get(0)?, r.get(1)?)))
            .and_then(|rows| rows.collect())
            .map_err(inspect)?;
        if pages.is_empty() {
            return Ok(None);
        }
        let (page, name) = pages[rng.random_range(0..pages.len())].clone();
        Ok(Some((page, page_size.max(512) as u64, name)))
    }
}

/// A seeded trunk page of the freelist of the database at `db` (walked from the header):
/// (page, page size, `trunk`). The leaf pages a trunk lists are left alone: SQLite never reads
/// them (a reused leaf is overwritten whole), so damage there is harmless by construction.
fn pick_free_page(
    db: &Path,
    rng: &mut ChaCha8Rng,
) -> Result<Option<(u32, u64, String)>, CorruptionError> {
    let bytes = std::fs::read(db).map_err(|source| CorruptionError::Io {
        path: db.display().to_string(),
        source,
    })?;
    let be = |at: usize| -> Option<u32> {
        Some(u32::from_be_bytes(bytes.get(at..at + 4)?.try_into().ok()?))
    };
    let page_size = match bytes.get(16..18).map(|b| u16::from_be_bytes([b[0], b[1]])) {
        Some(1) => 65_536,
        Some(n) if n >= 512 => usize::from(n),
        _ => return Ok(None),
    };
    let pages = bytes.len() / page_size;
    let mut free: Vec<(u32, &str)> = Vec::new();
    let mut trunk = be(32).unwrap_or(0);
    while trunk != 0 && (trunk as usize) <= pages && free.len() <= pages {
        let at = (trunk as usize - 1) * page_size;
        free.push((trunk, "trunk"));
        trunk = be(at).unwrap_or(0);
    }
    if free.is_empty() {
        return Ok(None);
    }
    let (page, role) = free[rng.random_range(0..free.len())];
    Ok(Some((page, page_size as u64, role.to_owned())))
}

/// A seeded frame of the WAL at `wal`: (frame number from 1, first and end byte of its page).
fn pick_frame(
    wal: &Path,
    rng: &mut ChaCha8Rng,
) -> Result<Option<(u64, u64, u64)>, CorruptionError> {
    let io = |source| CorruptionError::Io {
        path: wal.display().to_string(),
        source,
    };
    let bytes = match std::fs::read(wal) {
        Ok(bytes) => bytes,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(io(e)),
    };
    if bytes.len() < 32 {
        return Ok(None);
    }
    let page_size = u64::from(u32::from_be_bytes([
        bytes[8], bytes[9], bytes[10], bytes[11],
    ]));
    let frame_size = 24 + page_size;
    let frames = (bytes.len() as u64 - 32) / frame_size.max(1);
    if page_size < 512 || frames == 0 {
        return Ok(None);
    }
    let frame = rng.random_range(0..frames);
    let start = 32 + frame * frame_size + 24;
    Ok(Some((frame + 1, start, start + page_size - RESERVED)))
}

/// Flips `bits` distinct seeded bits of `file` within bytes `range`; returns the byte offsets.
fn flip(
    file: &Path,
    (start, end): (u64, u64),
    bits: u32,
    rng: &mut ChaCha8Rng,
) -> Result<Vec<u64>, CorruptionError> {
    let io = |source| CorruptionError::Io {
        path: file.display().to_string(),
        source,
    };
    let mut bytes = std::fs::read(file).map_err(io)?;
    if end > bytes.len() as u64 {
        return Err(io(std::io::Error::other(format!(
            "bytes {start}..{end} are past the end of the file ({} bytes): the target is not in it",
            bytes.len()
        ))));
    }
    let mut chosen: Vec<u64> = Vec::new();
    let total = end.saturating_sub(start) * 8;
    while (chosen.len() as u64) < u64::from(bits).min(total) {
        let bit = start * 8 + rng.random_range(0..total);
        if !chosen.contains(&bit) {
            chosen.push(bit);
        }
    }
    chosen.sort_unstable();
    for bit in &chosen {
        bytes[(bit / 8) as usize] ^= 1 << (bit % 8);
    }
    std::fs::write(file, &bytes).map_err(io)?;
    Ok(chosen.iter().map(|bit| bit / 8).collect())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::families::FaultPlan;

    #[test]
    fn toml_shape_and_validation() {
        let plan: FaultPlan =
            toml::from_str("kind = \"corruption\"\ntarget = \"wal-frame\"\n").unwrap();
        let FaultPlan::Corruption(c) = plan else {
            panic!("not a corruption plan: {plan:?}")
        };
        assert_eq!(c.target, CorruptionTarget::WalFrame);
        assert_eq!(c.bits, 1);
        assert!(c.keeps_wal());
        assert_eq!(c.archive_restart_after, None);
        assert!(Corruption { bits: 0, ..c }.validate().is_err());
        assert!(toml::from_str::<FaultPlan>("kind = \"corruption\"\ntarget = \"disk\"").is_err());
    }

    #[test]
    fn flips_exactly_the_seeded_bits_inside_the_range() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("f");
        std::fs::write(&file, vec![0u8; 4096]).unwrap();
        let mut rng = ChaCha8Rng::seed_from_u64(7);
        let offsets = flip(&file, (1000, 1100), 3, &mut rng).unwrap();
        let after = std::fs::read(&file).unwrap();
        let ones: u32 = after.iter().map(|b| b.count_ones()).sum();
        assert_eq!(ones, 3);
        assert!(
            offsets.iter().all(|o| (1000..1100).contains(o)),
            "{offsets:?}"
        );
    }
}
