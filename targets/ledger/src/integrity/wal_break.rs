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
//!
//! Everything here reads the WAL a frame at a time through [`super::wal_frames`] and holds a
//! repair's changes beside the file until they are written in place, so a WAL of any size,
//! sound or damaged, is never held in memory whole.

use std::fs;
use std::ops::ControlFlow;
use std::path::{Path, PathBuf};

use super::wal_frames::WalFrames;
use crate::backup::wal::{self, FRAME_HEADER_BYTES};
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
    /// Running checksum before the damaged frame.
    seed_before: [u32; 2],
    /// The damaged frame as read (header and page).
    damaged: Vec<u8>,
    found: WalBreak,
}

fn be32(bytes: &[u8], at: usize) -> u32 {
    u32::from_be_bytes([bytes[at], bytes[at + 1], bytes[at + 2], bytes[at + 3]])
}

/// The first frame of the current generation that fails the chain, and the chain resumed
/// after it from its stored checksum.
struct Resumed {
    frame: u32,
    seed_before: [u32; 2],
    damaged: Vec<u8>,
    running: [u32; 2],
    commits: u32,
    last_commit: Option<u32>,
}

/// The first break in `wal` (see the module doc), in one streamed pass: the chain from the
/// header to the first frame that fails it, then the chain resumed after that frame; frames of
/// an older generation end the scan. `durable_commits` says whether each commit was synced
/// (`synchronous` FULL or EXTRA), `indexed_through` is the last frame the WAL index (`-shm`)
/// recorded as committed.
///
/// # Errors
/// A read of the WAL failed.
fn scan(
    wal: &WalFrames,
    durable_commits: bool,
    indexed_through: Option<u32>,
) -> std::io::Result<Option<Scanned>> {
    let generation = *wal.generation();
    let mut running = generation.header_checksum;
    let mut resumed: Option<Resumed> = None;
    wal.each(1, |index, frame| {
        let Some(after) = resumed.as_mut() else {
            if let Some((_, sum)) = wal::check_frame(&generation, frame, running) {
                running = sum;
                return ControlFlow::Continue(());
            }
            if be32(frame, 8) != generation.salt1 || be32(frame, 12) != generation.salt2 {
                return ControlFlow::Break(());
            }
            resumed = Some(Resumed {
                frame: index,
                seed_before: running,
                damaged: frame.to_vec(),
                running: [be32(frame, 16), be32(frame, 20)],
                commits: 0,
                last_commit: None,
            });
            return ControlFlow::Continue(());
        };
        let Some((header, sum)) = wal::check_frame(&generation, frame, after.running) else {
            return ControlFlow::Break(());
        };
        after.running = sum;
        if header.db_size != 0 {
            after.commits += 1;
            after.last_commit = Some(index);
        }
        ControlFlow::Continue(())
    })?;
    let Some(after) = resumed else {
        return Ok(None);
    };
    let own_commit = be32(&after.damaged, 4) != 0;
    let transactions_lost = u32::from(own_commit) + after.commits;
    if transactions_lost == 0 {
        return Ok(None);
    }
    let last_commit = after.last_commit.unwrap_or(after.frame);
    Ok(Some(Scanned {
        seed_before: after.seed_before,
        found: WalBreak {
            frame: after.frame,
            page: be32(&after.damaged, 0),
            transactions_lost,
            last_commit,
            proven: durable_commits
                && (transactions_lost >= 2 || indexed_through.is_some_and(|mx| mx >= last_commit)),
        },
        damaged: after.damaged,
    }))
}

/// Recompute the stored checksums from the damaged frame through the last commit.
///
/// # Errors
/// A read of the WAL failed.
fn reseal(wal: &mut WalFrames, scanned: &Scanned) -> std::io::Result<()> {
    let generation = *wal.generation();
    let (first, last) = (scanned.found.frame, scanned.found.last_commit);
    let mut running = scanned.seed_before;
    let mut sums = Vec::new();
    wal.each(first, |index, frame| {
        let sum = wal::checksum(generation.big_endian, &frame[..8], running);
        running = wal::checksum(generation.big_endian, &frame[FRAME_HEADER_BYTES..], sum);
        sums.push(running);
        if index >= last {
            ControlFlow::Break(())
        } else {
            ControlFlow::Continue(())
        }
    })?;
    wal.reseal(first, sums);
    Ok(())
}

/// Replace damaged frames by their archived copies while the archive has
/// them and they pass the chain; the frames replaced.
///
/// # Errors
/// A read of the WAL failed.
fn patch_from_archive(wal: &mut WalFrames, archive: &Path) -> std::io::Result<Vec<u32>> {
    let mut replaced = Vec::new();
    while let Some(scanned) = scan(wal, true, None)? {
        let frame = scanned.found.frame;
        let generation = *wal.generation();
        let Some(copy) = crate::backup::archived_frame(archive, &generation, frame) else {
            break;
        };
        if replaced.contains(&frame)
            || wal::check_frame(&generation, &copy, scanned.seed_before).is_none()
        {
            break;
        }
        wal.replace(frame, copy);
        replaced.push(frame);
    }
    Ok(replaced)
}

/// Reserved bytes per page: from the database header, else from the newest
/// image of page 1 in the WAL (a database never checkpointed is empty).
///
/// # Errors
/// A read of the WAL failed.
fn reserve_bytes(db: &Path, wal: &WalFrames) -> std::io::Result<Option<u8>> {
    if let Ok(Some(reserve)) = checksum::reserve_bytes_of(db) {
        return Ok(Some(reserve));
    }
    let salt1 = wal.generation().salt1;
    let mut newest = None;
    wal.each(1, |_, frame| {
        if be32(frame, 0) == 1 && be32(frame, 8) == salt1 {
            newest = Some(frame[FRAME_HEADER_BYTES + 20]);
        }
        ControlFlow::Continue(())
    })?;
    Ok(newest)
}

/// Whether re-sealing is safe: page checksums are on and the damaged page
/// image fails its own, so every read of it will be refused.
fn resealable(config: &Config, wal: &WalFrames, scanned: &Scanned) -> Result<(), String> {
    if checksum::page_checksum_ok(&scanned.damaged[FRAME_HEADER_BYTES..]) {
        return Err("the page image is intact, so the frame header is damaged".into());
    }
    let reserve =
        reserve_bytes(&config.path, wal).map_err(|e| format!("could not read the WAL: {e}"))?;
    if !config.tuning.page_checksums || reserve != Some(checksum::RESERVE_BYTES as u8) {
        return Err("no page checksums: the damaged page could be served unnoticed".into());
    }
    Ok(())
}

/// The last frame the WAL index (`<db>-shm`, left by a process that did not
/// close) records as committed, when its header is intact (both copies equal,
/// checksum right) and its salts are those of the WAL header `wal_header`. The
/// writer records a commit there only after the commit's frames are written
/// (and, with `synchronous=FULL`, synced), so it proves they were committed.
fn indexed_through(db: &Path, wal_header: &[u8]) -> Option<u32> {
    use std::io::Read;
    let mut shm = [0u8; 96];
    fs::File::open(crate::sidecar::sidecar(db, "-shm"))
        .and_then(|mut file| file.read_exact(&mut shm))
        .ok()?;
    let (header, copy) = (&shm[..48], &shm[48..96]);
    let native = |at: usize| {
        u32::from_ne_bytes([header[at], header[at + 1], header[at + 2], header[at + 3]])
    };
    let sum = wal::checksum(cfg!(target_endian = "big"), &header[..40], [0, 0]);
    let intact = header == copy && header[12] == 1 && sum == [native(40), native(44)];
    (intact && wal_header.get(16..24)? == &header[32..40]).then(|| native(16))
}

/// `<db>-wal`.
fn wal_path(db: &Path) -> PathBuf {
    crate::sidecar::sidecar(db, "-wal")
}

/// Copy the WAL at `wal` as it is to the first free `<db>-wal.damaged-<n>` and fsync it.
fn keep_copy(wal: &Path) -> Option<PathBuf> {
    (1..1000).find_map(|n| {
        let mut name = wal.as_os_str().to_owned();
        name.push(format!(".damaged-{n}"));
        let path = PathBuf::from(name);
        let mut file = fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .open(&path)
            .ok()?;
        let copied = fs::File::open(wal).and_then(|mut from| std::io::copy(&mut from, &mut file));
        copied.and_then(|_| file.sync_all()).ok()?;
        Some(path)
    })
}

/// The archive directory of `config`, relative paths taken from the database's directory.
fn archive_dir(config: &Config) -> Option<PathBuf> {
    let dir = config.tuning.wal_archive_dir.as_ref()?;
    Some(match config.path.parent() {
        Some(parent) if dir.is_relative() => parent.join(dir),
        _ => dir.clone(),
    })
}

/// The repair of a WAL with a break, in memory beside `frames` (written back by the caller
/// unless it is [`WalRepair::NotRepaired`]): the archive's copies of the damaged frames, else
/// re-sealing a proven break over a page that fails its checksum.
///
/// # Errors
/// A read of the WAL failed.
fn repair(
    config: &Config,
    frames: &mut WalFrames,
    durable: bool,
    indexed: Option<u32>,
) -> std::io::Result<WalRepair> {
    let restored = match archive_dir(config) {
        Some(dir) => patch_from_archive(frames, &dir)?,
        None => Vec::new(),
    };
    Ok(match scan(frames, durable, indexed)? {
        None => WalRepair::FromArchive(restored),
        Some(left) if !left.found.proven => WalRepair::NotRepaired(
            "not proven to be damage at rest; SQLite's recovery keeps the transactions before it"
                .into(),
        ),
        Some(left) => match resealable(config, frames, &left) {
            Ok(()) => {
                reseal(frames, &left)?;
                WalRepair::Resealed
            }
            Err(why) => WalRepair::NotRepaired(why),
        },
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
    let mut frames = WalFrames::open(&wal).ok()??;
    let durable = matches!(
        config.tuning.synchronous,
        Synchronous::Full | Synchronous::Extra
    );
    let indexed = indexed_through(&config.path, frames.header());
    let first = scan(&frames, durable, indexed).ok()??;
    let copy = keep_copy(&wal);
    let repair = match repair(config, &mut frames, durable, indexed) {
        Ok(repair) => repair,
        Err(e) => WalRepair::NotRepaired(format!("could not read the WAL: {e}")),
    };
    let repair = match repair {
        WalRepair::NotRepaired(_) => repair,
        done => match frames.write_back() {
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
    use crate::backup::wal::WAL_HEADER_BYTES;

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

    /// `bytes` written to a WAL file in a fresh directory, opened.
    fn frames_of(bytes: &[u8]) -> (tempfile::TempDir, WalFrames) {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("l.db-wal");
        fs::write(&path, bytes).unwrap();
        let frames = WalFrames::open(&path).unwrap().expect("a valid header");
        (dir, frames)
    }

    fn scanned(bytes: &[u8], durable: bool) -> Option<Scanned> {
        scan(&frames_of(bytes).1, durable, None).unwrap()
    }

    #[test]
    fn a_sound_wal_a_torn_tail_or_an_older_generation_is_no_break() {
        let sound = wal_image(4);
        assert!(scanned(&sound, true).is_none());
        let mut torn = sound.clone();
        torn.truncate(torn.len() - 100);
        assert!(scanned(&torn, true).is_none(), "a partial last frame");
        let mut torn_commit = wal_image(4);
        flip_in_frame(&mut torn_commit, 4);
        torn_commit[WAL_HEADER_BYTES + 3 * (FRAME_HEADER_BYTES + PAGE) + 4..][..4]
            .copy_from_slice(&[0; 4]);
        assert!(
            scanned(&torn_commit, true).is_none(),
            "a failing last frame that commits nothing"
        );
        let mut stale = sound.clone();
        stale.extend_from_slice(&wal_image(2)[WAL_HEADER_BYTES..]);
        let stale_frame = WAL_HEADER_BYTES + 4 * (FRAME_HEADER_BYTES + PAGE);
        stale[stale_frame + 8] ^= 0xff; // an old generation's salt
        assert!(
            scanned(&stale, true).is_none(),
            "frames of an older generation"
        );
    }

    #[test]
    fn damage_before_later_commits_is_a_proven_break() {
        let mut bytes = wal_image(5);
        flip_in_frame(&mut bytes, 2);
        let found = scanned(&bytes, true).expect("break");
        assert_eq!(
            found.found,
            WalBreak {
                frame: 2,
                page: 2,
                transactions_lost: 4,
                last_commit: 5,
                proven: true
            }
        );
        assert_eq!(found.damaged, bytes[frame_at(2)..frame_at(3)]);
        assert!(!scanned(&bytes, false).expect("break").found.proven);
    }

    fn frame_at(frame: usize) -> usize {
        WAL_HEADER_BYTES + (frame - 1) * (FRAME_HEADER_BYTES + PAGE)
    }

    #[test]
    fn damage_in_the_last_transaction_is_ambiguous() {
        let mut bytes = wal_image(3);
        flip_in_frame(&mut bytes, 3);
        let found = scanned(&bytes, true).expect("break").found;
        assert_eq!((found.frame, found.transactions_lost), (3, 1));
        assert!(!found.proven);
    }

    #[test]
    fn resealing_restores_the_chain_through_the_last_commit() {
        let mut bytes = wal_image(5);
        flip_in_frame(&mut bytes, 2);
        let (dir, mut frames) = frames_of(&bytes);
        let found = scan(&frames, true, None).unwrap().expect("break");
        reseal(&mut frames, &found).unwrap();
        assert!(scan(&frames, true, None).unwrap().is_none(), "in memory");
        assert_eq!(fs::read(dir.path().join("l.db-wal")).unwrap(), bytes);
        frames.write_back().unwrap();
        let written = fs::read(dir.path().join("l.db-wal")).unwrap();
        assert!(scanned(&written, true).is_none(), "written back");
        let generation = wal::parse_header(&written).unwrap().unwrap();
        let all = wal::scan_committed(
            &generation,
            &written[WAL_HEADER_BYTES..],
            generation.header_checksum,
        );
        assert_eq!(all.frames, 5);
        let unsealed = |image: &[u8]| {
            let mut image = image.to_vec();
            for frame in 1..=5 {
                image[frame_at(frame) + 16..][..8].fill(0);
            }
            image
        };
        assert_eq!(
            unsealed(&written),
            unsealed(&bytes),
            "only stored checksums changed"
        );
    }

    #[test]
    fn a_damaged_frame_header_with_an_intact_page_is_not_resealed() {
        let dir = tempfile::tempdir().unwrap();
        let config = Config::new(dir.path().join("l.db"), dir.path().join("v"));
        let mut bytes = wal_image(4);
        bytes[WAL_HEADER_BYTES + 2] ^= 1; // frame 1's page number, page image intact
        let (_dir, frames) = frames_of(&bytes);
        let found = scan(&frames, true, None).unwrap().expect("break");
        let why = resealable(&config, &frames, &found).expect_err("header damage");
        assert!(why.contains("header"), "{why}");
        let mut body = wal_image(4);
        flip_in_frame(&mut body, 1);
        let (_dir, frames) = frames_of(&body);
        let found = scan(&frames, true, None).unwrap().expect("break");
        assert_eq!(resealable(&config, &frames, &found), Ok(()));
    }
}
