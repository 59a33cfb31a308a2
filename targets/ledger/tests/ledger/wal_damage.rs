//! A WAL frame damaged at rest after a crash: the ledger finds it before
//! SQLite's recovery would silently drop every later transaction, keeps the
//! WAL as found, and repairs it (from the WAL archive, or by re-sealing the
//! chain over a page image its page checksum refuses), or says why not.

use std::fs;
use std::path::{Path, PathBuf};

use ledger::backup::BackupConfig;
use ledger::integrity::{CheckLevel, RepairAction};
use ledger::{Config, Ledger, SafetyEventKind, StageOutcome, Synchronous};

use crate::support::{self, count, voice};

/// Frames of a WAL: (page number, commit?), from its 32-byte header on.
fn frames(wal: &[u8]) -> (usize, Vec<(u32, bool)>) {
    let be = |at: usize| u32::from_be_bytes([wal[at], wal[at + 1], wal[at + 2], wal[at + 3]]);
    let page_size = be(8) as usize;
    let list = wal[32..]
        .chunks_exact(24 + page_size)
        .map(|f| (be_slice(f, 0), be_slice(f, 4) != 0))
        .collect();
    (page_size, list)
}

fn be_slice(bytes: &[u8], at: usize) -> u32 {
    u32::from_be_bytes([bytes[at], bytes[at + 1], bytes[at + 2], bytes[at + 3]])
}

fn with_suffix(path: &Path, suffix: &str) -> PathBuf {
    let mut name = path.as_os_str().to_owned();
    name.push(suffix);
    PathBuf::from(name)
}

/// Stage `n` captures without checkpointing (archiving each when `archive`,
/// after a snapshot and a checkpoint, so every frame in the WAL is archived),
/// then copy the files as a crash leaves them (WAL and index included) into
/// `into`; the config of the copy and the ids staged.
fn crashed_copy(
    dir: &Path,
    into: &Path,
    n: u32,
    synchronous: Synchronous,
    archive: Option<&BackupConfig>,
) -> (Config, Vec<String>) {
    let mut config = Config::new(dir.join("l.db"), dir.join("vault"));
    config.tuning.synchronous = synchronous;
    let mut ledger = support::open(&config, 1, 7);
    ledger
        .connection()
        .pragma_update(None, "wal_autocheckpoint", 0)
        .expect("no checkpoints");
    if let Some(backup) = archive {
        ledger.enable_wal_archive(backup).expect("archive on");
        ledger.backup(backup).expect("pinned snapshot");
        ledger
            .checkpoint_archived(backup)
            .expect("every later frame is archived");
    }
    let mut ids = Vec::new();
    for k in 0..n {
        match ledger.stage(&voice(k)).expect("stage") {
            StageOutcome::Staged(id) => ids.push(id),
            other => panic!("{other:?}"),
        }
        if let Some(backup) = archive {
            ledger.archive_wal(backup).expect("archive");
        }
    }
    fs::create_dir_all(into).expect("dir");
    for suffix in ["", "-wal", "-shm"] {
        fs::copy(
            with_suffix(&config.path, suffix),
            with_suffix(&into.join("l.db"), suffix),
        )
        .expect("copy as a crash leaves it");
    }
    drop(ledger);
    let mut copy = config.clone();
    copy.path = into.join("l.db");
    copy.vault_dir = into.join("vault");
    (copy, ids)
}

/// Flip a bit in the page image of the first frame `choose` accepts (given
/// the frame list and an index); the frame number (1-based).
fn damage_frame(config: &Config, choose: impl Fn(&[(u32, bool)], usize) -> bool) -> usize {
    let wal_path = with_suffix(&config.path, "-wal");
    let mut wal = fs::read(&wal_path).expect("wal");
    let (page_size, list) = frames(&wal);
    let index = (0..list.len())
        .find(|&i| choose(&list, i))
        .expect("a frame to damage");
    wal[32 + index * (24 + page_size) + 24 + 200] ^= 0x10;
    fs::write(&wal_path, wal).expect("write wal");
    index + 1
}

/// Commits after frame `i` (0-based) in `list`.
fn commits_after(list: &[(u32, bool)], i: usize) -> usize {
    list[i + 1..].iter().filter(|(_, commit)| *commit).count()
}

fn wal_actions(ledger: &Ledger) -> Vec<RepairAction> {
    ledger
        .safety_events()
        .iter()
        .filter_map(|e| match &e.kind {
            SafetyEventKind::Corruption(report) => Some(report.action.clone()),
            _ => None,
        })
        .collect()
}

fn all_served(ledger: &Ledger, ids: &[String]) {
    for id in ids {
        let capture = ledger.capture(id).expect("served").expect("present");
        assert_eq!(&capture.id, id);
    }
}

#[test]
fn a_damaged_frame_whose_page_is_rewritten_later_is_resealed_and_nothing_is_lost() {
    let dir = tempfile::tempdir().expect("dir");
    let (config, ids) = crashed_copy(
        &dir.path().join("a"),
        &dir.path().join("b"),
        12,
        Synchronous::Full,
        None,
    );
    let frame = damage_frame(&config, |list, i| {
        list[i].0 > 1
            && commits_after(list, i) >= 3
            && list[i + 1..].iter().any(|(page, _)| *page == list[i].0)
    });
    let mut ledger = support::open(&config, 1, 7);
    let actions = wal_actions(&ledger);
    assert!(
        matches!(actions.as_slice(), [RepairAction::WalResealed { frame: f, .. }] if *f as usize == frame),
        "{actions:?}"
    );
    assert_eq!(ledger.safety_counters().corruptions, 1);
    assert_eq!(ledger.safety_counters().repairs, 1);
    assert!(with_suffix(&config.path, "-wal.damaged-1").exists());
    all_served(&ledger, &ids);
    assert_eq!(
        count(
            ledger.connection(),
            "SELECT count(*) FROM errors_log WHERE stage = 'integrity'"
        ),
        1
    );
    ledger.check_integrity(CheckLevel::Full).expect("sound");
}

#[test]
fn a_damaged_frame_is_restored_from_the_wal_archive() {
    let dir = tempfile::tempdir().expect("dir");
    let backup = BackupConfig::new(dir.path().join("a/backups"));
    let (mut config, ids) = crashed_copy(
        &dir.path().join("a"),
        &dir.path().join("b"),
        12,
        Synchronous::Full,
        Some(&backup),
    );
    config.tuning.wal_archive_dir = Some(backup.archive_dir());
    let frame = damage_frame(&config, |list, i| i > 0 && commits_after(list, i) >= 3);
    let mut ledger = support::open(&config, 1, 7);
    assert_eq!(
        wal_actions(&ledger),
        [RepairAction::WalFramesRestored(vec![frame as u32])]
    );
    all_served(&ledger, &ids);
    ledger.check_integrity(CheckLevel::Full).expect("sound");
}

#[test]
fn without_a_sync_at_commit_a_break_is_kept_as_recovered_and_logged() {
    let dir = tempfile::tempdir().expect("dir");
    let (config, ids) = crashed_copy(
        &dir.path().join("a"),
        &dir.path().join("b"),
        12,
        Synchronous::Normal,
        None,
    );
    damage_frame(&config, |list, i| i > 0 && commits_after(list, i) >= 3);
    let ledger = support::open(&config, 1, 7);
    assert_eq!(wal_actions(&ledger), []);
    assert_eq!(ledger.safety_counters().wal_breaks_ambiguous, 1);
    assert!(with_suffix(&config.path, "-wal.damaged-1").exists());
    let served = ids
        .iter()
        .filter(|id| ledger.capture(id).expect("read").is_some())
        .count();
    assert!(
        served < ids.len(),
        "SQLite's recovery dropped the later ones"
    );
    let health = ledger.health().expect("health");
    assert_eq!(health.status, ledger::HealthStatus::Degraded, "{health:?}");
    assert!(
        health
            .problems
            .iter()
            .any(|p| p.what.contains("WAL checksum break")),
        "{:?}",
        health.problems
    );
}

#[test]
fn damage_without_page_checksums_stops_the_ledger_serving() {
    let dir = tempfile::tempdir().expect("dir");
    let (mut config, ids) = crashed_copy(
        &dir.path().join("a"),
        &dir.path().join("b"),
        12,
        Synchronous::Full,
        None,
    );
    config.tuning.page_checksums = false;
    damage_frame(&config, |list, i| i > 0 && commits_after(list, i) >= 3);
    let mut ledger = support::open(&config, 1, 7);
    let report = ledger.corruption().expect("poisoned").clone();
    assert!(
        matches!(report.action, RepairAction::NotRepaired(ref why) if why.contains("kept as")),
        "{report}"
    );
    assert_eq!(
        ledger.capture(&ids[0]).expect_err("refused").kind(),
        "corrupt"
    );
    assert_eq!(
        ledger.stage(&voice(99)).expect_err("refused").kind(),
        "corrupt"
    );
    let health = ledger.health().expect("health");
    assert_eq!(health.status, ledger::HealthStatus::Unhealthy);
    assert!(
        health
            .problems
            .iter()
            .any(|p| p.what.contains("stopped serving")),
        "{:?}",
        health.problems
    );
}
