//! Damage inside the WAL that SQLite's recovery would hide: [`WalBreak`],
//! found and handled before SQLite opens the database by [`guard`], which
//! says what it did in a [`WalGuard`].
//!
//! SQLite's recovery walks the frame-checksum chain from the WAL header and
//! stops at the first frame that fails it: that frame and every later one are
//! ignored, committed or not. That is right for a torn tail after a crash, and
//! silent loss of acknowledged writes when a frame in the middle was damaged
//! at rest. The two differ in what follows the bad frame: each frame header
//! stores the running checksum its writer computed, so the frames after a
//! damaged one still validate when the chain is resumed from the damaged
//! frame's stored checksum. A *break* is a frame with the current salts that
//! fails the chain while the resumed chain after it reaches a commit (or the
//! damaged frame is itself a commit frame).
//!
//! Were the lost transactions acknowledged? With `synchronous=FULL` (or
//! `EXTRA`) every commit fsyncs the WAL before it returns, so when another
//! transaction committed after the damaged frame's own, the damaged frame was
//! durable before the later one was written: the damage happened at rest
//! (*proven*). A break inside the last transaction, or with
//! `synchronous=NORMAL`/`OFF` (no sync at commit), can also be an unsynced
//! write torn by a power cut, which the durability contract allows to lose:
//! it is logged and a copy kept, and SQLite's recovery stands (*ambiguous*).
//!
//! Repair, in order: the damaged frames from the WAL archive
//! ([`crate::Tuning::wal_archive_dir`]; same generation, and each must pass
//! the chain); else, for a proven break whose damaged page image fails its
//! page checksum (so every later read of that image is caught), re-sealing
//! the chain so recovery keeps the later transactions: the integrity check
//! after open then deals with the damaged page (`REINDEX`, or naming the
//! captures it makes unreadable); else the ledger stops serving. The WAL as
//! found is always kept as `<db>-wal.damaged-<n>`.

use std::fs;
use std::io::Write;
use std::path::{Path, PathBuf};

use crate::backup::wal::{self, FRAME_HEADER_BYTES, Generation, WAL_HEADER_BYTES};
use crate::checksum;
use crate::config::{Config, JournalMode, Synchronous};

/// A damaged WAL frame with committed frames after it (see the module doc).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WalBreak {
    /// The damaged frame (1-based).
    pub frame: u32,
    /// The page its header names.
    pub page: u32,
    /// Transactions that committed at or after it: SQLite's recovery drops them all.
    pub transactions_lost: u32,
    /// The last commit frame (1-based) of the chain resumed after it.
    pub last_commit: u32,
    /// Whether the damage is proven to have happened at rest.
    pub proven: bool,
}

impl std::fmt::Display for WalBreak {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "WAL frame {} (page {}) fails its checksum with {} committed transaction(s) at or \
             after it (through frame {}), which SQLite's recovery would drop; {}",
            self.frame,
            self.page,
            self.transactions_lost,
            self.last_commit,
            if self.proven {
                "a later transaction committed after it, so it was durable: damage at rest"
            } else {
                "it may be a write torn by a power cut (last transaction, or no sync at commit)"
            }
        )
    }
}

/// What [`guard`] did about a break.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum WalRepair {
    /// The archived copies of these frames (1-based) replaced the damaged ones.
    FromArchive(Vec<u32>),
    /// The chain was re-sealed over the damaged page image, which fails its
    /// page checksum: recovery keeps the later transactions, and every read
    /// of the damaged image is refused as corrupt.
    Resealed,
    /// Left as it was: why.
    NotRepaired(String),
}

/// A break found at open and what was done.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WalGuard {
    /// The (first) break.
    pub found: WalBreak,
    /// The WAL as found, kept for repair and forensics (`None` if the copy failed).
    pub copy: Option<PathBuf>,
    /// What was done.
    pub repair: WalRepair,
}

impl WalGuard {
    /// Whether the ledger may serve: repaired, or ambiguous (the contract allows the loss).
    pub fn may_serve(&self) -> bool {
        !matches!(self.repair, WalRepair::NotRepaired(_)) || !self.found.proven
    }
}

/// A break and what is needed to repair it.
struct Scanned {
    generation: Generation,
    /// Running checksum before the damaged frame.
    seed_before: [u32; 2],
    found: WalBreak,
}

fn be32(bytes: &[u8], at: usize) -> u32 {
    u32::from_be_bytes([bytes[at], bytes[at + 1], bytes[at + 2], bytes[at + 3]])
}

/// The first break in the WAL image `bytes`; `durable_commits` says whether
/// each commit was synced (`synchronous` FULL or EXTRA), `indexed_through`
/// is the last frame the WAL index (`-shm`) recorded as committed.
fn scan(bytes: &[u8], durable_commits: bool, indexed_through: Option<u32>) -> Option<Scanned> {
    let generation = wal::parse_header(bytes).ok()??;
    let size = generation.frame_bytes();
    let frames = &bytes[WAL_HEADER_BYTES..];
    let mut running = generation.header_checksum;
    let mut index = 0usize;
    let damaged = loop {
        let frame = frames.get(index * size..(index + 1) * size)?;
        match wal::check_frame(&generation, frame, running) {
            Some((_, sum)) => running = sum,
            None => break frame,
        }
        index += 1;
    };
    if be32(damaged, 8) != generation.salt1 || be32(damaged, 12) != generation.salt2 {
        return None;
    }
    let stored = [be32(damaged, 16), be32(damaged, 20)];
    let own_commit = be32(damaged, 4) != 0;
    let after = wal::scan_committed(&generation, &frames[(index + 1) * size..], stored);
    let frame = u32::try_from(index + 1).ok()?;
    let transactions_lost = u32::from(own_commit) + u32::try_from(after.commits.len()).ok()?;
    if transactions_lost == 0 {
        return None;
    }
    let last_commit = after.commits.last().map_or(frame, |(i, _)| frame + 1 + i);
    Some(Scanned {
        generation,
        seed_before: running,
        found: WalBreak {
            frame,
            page: be32(damaged, 0),
            transactions_lost,
            last_commit,
            proven: durable_commits
                && (transactions_lost >= 2 || indexed_through.is_some_and(|mx| mx >= last_commit)),
        },
    })
}

fn frame_range(generation: &Generation, frame: u32) -> std::ops::Range<usize> {
    let start = usize::try_from(generation.frame_offset(frame)).unwrap_or(usize::MAX);
    start..start.saturating_add(generation.frame_bytes())
}

/// Recompute the stored checksums from the damaged frame through the last commit.
fn reseal(bytes: &mut [u8], scanned: &Scanned) {
    let generation = &scanned.generation;
    let mut running = scanned.seed_before;
    for index in scanned.found.frame..=scanned.found.last_commit {
        let frame = &mut bytes[frame_range(generation, index)];
        let sum = wal::checksum(generation.big_endian, &frame[..8], running);
        let sum = wal::checksum(generation.big_endian, &frame[FRAME_HEADER_BYTES..], sum);
        frame[16..20].copy_from_slice(&sum[0].to_be_bytes());
        frame[20..24].copy_from_slice(&sum[1].to_be_bytes());
        running = sum;
    }
}

/// Replace damaged frames by their archived copies while the archive has
/// them and they pass the chain; the frames replaced.
fn patch_from_archive(bytes: &mut [u8], archive: &Path) -> Vec<u32> {
    let mut replaced = Vec::new();
    while let Some(scanned) = scan(bytes, true, None) {
        let frame = scanned.found.frame;
        let Some(copy) = crate::backup::archived_frame(archive, &scanned.generation, frame) else {
            break;
        };
        if replaced.contains(&frame)
            || wal::check_frame(&scanned.generation, &copy, scanned.seed_before).is_none()
        {
            break;
        }
        bytes[frame_range(&scanned.generation, frame)].copy_from_slice(&copy);
        replaced.push(frame);
    }
    replaced
}

/// Reserved bytes per page: from the database header, else from the newest
/// image of page 1 in the WAL (a database never checkpointed is empty).
fn reserve_bytes(db: &Path, bytes: &[u8], generation: &Generation) -> Option<u8> {
    if let Ok(Some(reserve)) = checksum::reserve_bytes_of(db) {
        return Some(reserve);
    }
    bytes[WAL_HEADER_BYTES..]
        .chunks_exact(generation.frame_bytes())
        .rfind(|frame| be32(frame, 0) == 1 && be32(frame, 8) == generation.salt1)
        .map(|frame| frame[FRAME_HEADER_BYTES + 20])
}

/// Whether re-sealing is safe: page checksums are on and the damaged page
/// image fails its own, so every read of it will be refused.
fn resealable(config: &Config, bytes: &[u8], scanned: &Scanned) -> Result<(), String> {
    let generation = &scanned.generation;
    let frame = &bytes[frame_range(generation, scanned.found.frame)];
    if checksum::page_checksum_ok(&frame[FRAME_HEADER_BYTES..]) {
        return Err("the page image is intact, so the frame header is damaged".into());
    }
    if !config.tuning.page_checksums
        || reserve_bytes(&config.path, bytes, generation) != Some(checksum::RESERVE_BYTES as u8)
    {
        return Err("no page checksums: the damaged page could be served unnoticed".into());
    }
    Ok(())
}

/// The last frame the WAL index (`<db>-shm`, left by a process that did not
/// close) records as committed, when its header is intact (both copies equal,
/// checksum right) and its salts are those of the WAL image `bytes`. The
/// writer records a commit there only after the commit's frames are written
/// (and, with `synchronous=FULL`, synced), so it proves they were committed.
fn indexed_through(db: &Path, bytes: &[u8]) -> Option<u32> {
    let mut name = db.as_os_str().to_owned();
    name.push("-shm");
    let shm = fs::read(PathBuf::from(name)).ok()?;
    let (header, copy) = (shm.get(..48)?, shm.get(48..96)?);
    let native = |at: usize| {
        u32::from_ne_bytes([header[at], header[at + 1], header[at + 2], header[at + 3]])
    };
    let sum = wal::checksum(cfg!(target_endian = "big"), &header[..40], [0, 0]);
    let intact = header == copy && header[12] == 1 && sum == [native(40), native(44)];
    (intact && bytes.get(16..24)? == &header[32..40]).then(|| native(16))
}

/// Whether the WAL at `path` has a whole frame with the current salts that
/// fails the checksum chain: the only case in which [`scan`] can find a
/// break. Streamed a frame at a time through one reused buffer, so a sound
/// WAL (the usual case at open, however large) is never held in memory; the
/// rare WAL that fails here is then read whole for [`scan`] and the repair.
/// An unreadable or headerless WAL is `false` (nothing to guard: SQLite's
/// recovery decides).
fn chain_fails_within_generation(path: &Path) -> bool {
    use std::io::Read;
    let Ok(file) = fs::File::open(path) else {
        return false;
    };
    let mut reader = std::io::BufReader::with_capacity(1 << 16, file);
    let mut header = [0u8; WAL_HEADER_BYTES];
    if reader.read_exact(&mut header).is_err() {
        return false;
    }
    let Ok(Some(generation)) = wal::parse_header(&header) else {
        return false;
    };
    let mut frame = vec![0u8; generation.frame_bytes()];
    let mut running = generation.header_checksum;
    while reader.read_exact(&mut frame).is_ok() {
        match wal::check_frame(&generation, &frame, running) {
            Some((_, sum)) => running = sum,
            None => {
                return be32(&frame, 8) == generation.salt1 && be32(&frame, 12) == generation.salt2;
            }
        }
    }
    false
}

/// `<db>-wal`.
fn wal_path(db: &Path) -> PathBuf {
    crate::sidecar::sidecar(db, "-wal")
}

/// Write `bytes` to the first free `<db>-wal.damaged-<n>` and fsync it.
fn keep_copy(wal: &Path, bytes: &[u8]) -> Option<PathBuf> {
    (1..1000).find_map(|n| {
        let mut name = wal.as_os_str().to_owned();
        name.push(format!(".damaged-{n}"));
        let path = PathBuf::from(name);
        let mut file = fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .open(&path)
            .ok()?;
        file.write_all(bytes).and_then(|()| file.sync_all()).ok()?;
        Some(path)
    })
}

/// Rewrite the WAL in place with `bytes` (same length) and fsync it.
fn rewrite(wal: &Path, bytes: &[u8]) -> std::io::Result<()> {
    let mut file = fs::OpenOptions::new().write(true).open(wal)?;
    file.write_all(bytes)?;
    file.sync_all()
}

/// The archive directory of `config`, relative paths taken from the database's directory.
fn archive_dir(config: &Config) -> Option<PathBuf> {
    let dir = config.tuning.wal_archive_dir.as_ref()?;
    Some(match config.path.parent() {
        Some(parent) if dir.is_relative() => parent.join(dir),
        _ => dir.clone(),
    })
}

/// Before SQLite opens a WAL database: find a break in its `-wal`, keep a
/// copy, and repair it when it can (see the module doc). `None` when the
/// WAL is absent, sound, or only has a torn tail.
pub(crate) fn guard(config: &Config) -> Option<WalGuard> {
    if config.tuning.journal_mode != JournalMode::Wal {
        return None;
    }
    if_mutant!(WalDamageIgnored, {
        return None;
    });
    let wal = wal_path(&config.path);
    if !chain_fails_within_generation(&wal) {
        return None;
    }
    let mut bytes = fs::read(&wal).ok()?;
    let durable = matches!(
        config.tuning.synchronous,
        Synchronous::Full | Synchronous::Extra
    );
    let indexed = indexed_through(&config.path, &bytes);
    let first = scan(&bytes, durable, indexed)?;
    let copy = keep_copy(&wal, &bytes);
    let restored = archive_dir(config)
        .map(|dir| patch_from_archive(&mut bytes, &dir))
        .unwrap_or_default();
    let repair = match scan(&bytes, durable, indexed) {
        None => WalRepair::FromArchive(restored),
        Some(left) if !left.found.proven => WalRepair::NotRepaired(
            "not proven to be damage at rest; SQLite's recovery keeps the transactions before it"
                .into(),
        ),
        Some(left) => match resealable(config, &bytes, &left) {
            Ok(()) => {
                reseal(&mut bytes, &left);
                WalRepair::Resealed
            }
            Err(why) => WalRepair::NotRepaired(why),
        },
    };
    let repair = match repair {
        WalRepair::NotRepaired(_) => repair,
        done => match rewrite(&wal, &bytes) {
            Ok(()) => done,
            Err(e) => WalRepair::NotRepaired(format!("could not rewrite the WAL: {e}")),
        },
    };
    Some(WalGuard {
        found: first.found,
        copy,
        repair,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    const PAGE: usize = 512;

    /// A WAL image of `commits` single-frame transactions on pages 1, 2, ...
    /// (each page sealed with its page checksum).
    fn wal_image(commits: u32) -> Vec<u8> {
        let mut bytes = Vec::new();
        for word in [0x377f_0682u32, 3_007_000, PAGE as u32, 0, 11, 22] {
            bytes.extend_from_slice(&word.to_be_bytes());
        }
        let mut running = wal::checksum(false, &bytes, [0, 0]);
        bytes.extend_from_slice(&running[0].to_be_bytes());
        bytes.extend_from_slice(&running[1].to_be_bytes());
        for n in 1..=commits {
            let mut frame = vec![0u8; FRAME_HEADER_BYTES + PAGE];
            frame[..4].copy_from_slice(&n.to_be_bytes());
            frame[4..8].copy_from_slice(&n.to_be_bytes());
            frame[8..12].copy_from_slice(&11u32.to_be_bytes());
            frame[12..16].copy_from_slice(&22u32.to_be_bytes());
            let page = &mut frame[FRAME_HEADER_BYTES..];
            page.iter_mut()
                .enumerate()
                .for_each(|(i, b)| *b = (i as u32 * n) as u8);
            page[20] = checksum::RESERVE_BYTES as u8;
            let sum = checksum::page_checksum(page);
            page[PAGE - checksum::RESERVE_BYTES..].copy_from_slice(&sum);
            running = wal::checksum(false, &frame[..8], running);
            running = wal::checksum(false, &frame[FRAME_HEADER_BYTES..], running);
            frame[16..20].copy_from_slice(&running[0].to_be_bytes());
            frame[20..24].copy_from_slice(&running[1].to_be_bytes());
            bytes.extend_from_slice(&frame);
        }
        bytes
    }

    fn flip_in_frame(bytes: &mut [u8], frame: usize) {
        bytes[WAL_HEADER_BYTES + (frame - 1) * (FRAME_HEADER_BYTES + PAGE) + 100] ^= 4;
    }

    #[test]
    fn a_sound_wal_or_a_torn_tail_is_no_break() {
        let sound = wal_image(4);
        assert!(scan(&sound, true, None).is_none());
        let mut torn = sound.clone();
        torn.truncate(torn.len() - 100);
        assert!(scan(&torn, true, None).is_none());
    }

    #[test]
    fn the_streamed_pre_check_flags_exactly_a_failing_frame_of_the_current_generation() {
        let dir = tempfile::tempdir().unwrap();
        let flags = |name: &str, bytes: &[u8]| {
            let path = dir.path().join(name);
            fs::write(&path, bytes).unwrap();
            chain_fails_within_generation(&path)
        };
        let sound = wal_image(4);
        assert!(!flags("sound", &sound));
        let mut torn = sound.clone();
        torn.truncate(torn.len() - 100);
        assert!(!flags("torn", &torn), "a partial last frame is a torn tail");
        let mut damaged = wal_image(5);
        flip_in_frame(&mut damaged, 2);
        assert!(flags("damaged", &damaged));
        let mut stale = sound.clone();
        stale.extend_from_slice(&wal_image(2)[WAL_HEADER_BYTES..]);
        let stale_frame = WAL_HEADER_BYTES + 4 * (FRAME_HEADER_BYTES + PAGE);
        stale[stale_frame + 8] ^= 0xff; // an old generation's salt
        assert!(!flags("stale", &stale), "frames of an older generation");
        assert!(!chain_fails_within_generation(&dir.path().join("absent")));
    }

    #[test]
    fn damage_before_later_commits_is_a_proven_break() {
        let mut bytes = wal_image(5);
        flip_in_frame(&mut bytes, 2);
        let found = scan(&bytes, true, None).expect("break").found;
        assert_eq!(
            found,
            WalBreak {
                frame: 2,
                page: 2,
                transactions_lost: 4,
                last_commit: 5,
                proven: true
            }
        );
        assert!(!scan(&bytes, false, None).expect("break").found.proven);
    }

    #[test]
    fn damage_in_the_last_transaction_is_ambiguous() {
        let mut bytes = wal_image(3);
        flip_in_frame(&mut bytes, 3);
        let found = scan(&bytes, true, None).expect("break").found;
        assert_eq!((found.frame, found.transactions_lost), (3, 1));
        assert!(!found.proven);
    }

    #[test]
    fn resealing_restores_the_chain_through_the_last_commit() {
        let mut bytes = wal_image(5);
        flip_in_frame(&mut bytes, 2);
        let scanned = scan(&bytes, true, None).expect("break");
        reseal(&mut bytes, &scanned);
        assert!(scan(&bytes, true, None).is_none());
        let generation = wal::parse_header(&bytes).unwrap().unwrap();
        let all = wal::scan_committed(
            &generation,
            &bytes[WAL_HEADER_BYTES..],
            generation.header_checksum,
        );
        assert_eq!(all.frames, 5);
    }

    #[test]
    fn a_damaged_frame_header_with_an_intact_page_is_not_resealed() {
        let dir = tempfile::tempdir().unwrap();
        let config = Config::new(dir.path().join("l.db"), dir.path().join("v"));
        let mut bytes = wal_image(4);
        bytes[WAL_HEADER_BYTES + 2] ^= 1; // frame 1's page number, page image intact
        let scanned = scan(&bytes, true, None).expect("break");
        let why = resealable(&config, &bytes, &scanned).expect_err("header damage");
        assert!(why.contains("header"), "{why}");
        let mut body = wal_image(4);
        flip_in_frame(&mut body, 1);
        let scanned = scan(&body, true, None).expect("break");
        assert_eq!(resealable(&config, &body, &scanned), Ok(()));
    }
}
