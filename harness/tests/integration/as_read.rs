//! Crash images that differ only past the WAL's last valid commit, or in database pages the WAL
//! holds, are read identically by a reopen: the argument behind keying the exhaustive pass's
//! crash states by what a reopen reads (`power_loss::as_read`; docs/families.md, power-loss),
//! checked on the real ledger.

use std::hash::{DefaultHasher, Hasher};
use std::path::{Path, PathBuf};

use harness::engine::{
    CheckedDatabase, IterationJob, RunPlan, drive_options, evidence_after_reopen_at,
    execution_from, ledger_config_at,
};
use harness::families::power_loss::as_read::{hash_db_as_read, wal_as_read};
use harness::scenario::Registry;
use ledger::{ExportMode, Ledger, NewCapture, Source, StageOutcome};

use super::support::scenarios_dir;

/// A crash image: the database, its WAL and the vault's files.
#[derive(Clone)]
struct Image {
    db: Vec<u8>,
    wal: Vec<u8>,
    vault: Vec<(PathBuf, Vec<u8>)>,
}

fn snapshot_files(job: &IterationJob) -> Image {
    let mut wal_path = job.db_path.clone().into_os_string();
    wal_path.push("-wal");
    let vault = std::fs::read_dir(&job.vault_dir)
        .map(|entries| {
            entries
                .filter_map(Result::ok)
                .map(|e| {
                    (
                        PathBuf::from(e.file_name()),
                        std::fs::read(e.path()).unwrap(),
                    )
                })
                .collect()
        })
        .unwrap_or_default();
    Image {
        db: std::fs::read(&job.db_path).unwrap(),
        wal: std::fs::read(PathBuf::from(wal_path)).unwrap(),
        vault,
    }
}

fn stage(ledger: &mut Ledger, n: u32) -> String {
    let outcome = ledger
        .stage(&NewCapture {
            source: Source::Email,
            raw_content: format!("capture {n} with enough text to fill a few cells"),
            channel: Some("inbox".into()),
            channel_native_id: Some(format!("msg-{n}")),
        })
        .unwrap();
    match outcome {
        StageOutcome::Staged(id) => id,
        other => panic!("{other:?}"),
    }
}

/// What a reopen of `image` (written under `dir`) gives, as text: the snapshot, the recovery
/// queue and the resume, whether it reopened.
fn reopen_evidence(job: &IterationJob, image: &Image, dir: &Path) -> String {
    std::fs::create_dir_all(dir.join("vault")).unwrap();
    let target = CheckedDatabase {
        label: "variant".into(),
        db_path: dir.join("ledger.db"),
        vault_dir: dir.join("vault"),
    };
    std::fs::write(&target.db_path, &image.db).unwrap();
    std::fs::write(dir.join("ledger.db-wal"), &image.wal).unwrap();
    for (name, bytes) in &image.vault {
        std::fs::write(target.vault_dir.join(name), bytes).unwrap();
    }
    let (execution, _) = execution_from(&job.plan, &[]);
    let evidence = evidence_after_reopen_at(job, &execution, &target);
    format!(
        "{:?}\n{:?}\n{:?}\n{:?}",
        evidence.snapshot, evidence.recovery, evidence.reopen, evidence.backup_health
    )
}

/// The key of an image's database and WAL as read.
fn key_as_read(image: &Image) -> u64 {
    let wal = wal_as_read(&image.wal);
    let mut state = DefaultHasher::new();
    state.write(wal.bytes);
    hash_db_as_read(&image.db, &wal, &mut state);
    state.finish()
}

/// The WAL's page size, from its header.
fn frame_bytes(wal: &[u8]) -> usize {
    24 + u32::from_be_bytes([wal[8], wal[9], wal[10], wal[11]]) as usize
}

/// Garbage after the last commit, the frames of a transaction whose commit frame never arrived
/// (intact or torn), a database page the WAL holds overwritten (a checkpoint cut short): the
/// same reopen as without them, and the same key. A torn frame followed by its commit frame
/// (which the ledger's WAL guard inspects) keeps the whole WAL in the key; a committed
/// transaction, or a database page the WAL does not hold, changes both what a reopen reads and
/// the key.
#[test]
fn what_no_reopen_reads_changes_nothing_a_reopen_reads() {
    let registry = Registry::load(&scenarios_dir(), &[]).unwrap();
    let scenario = registry.get("power-loss-wal-full").unwrap().clone();
    let scratch = tempfile::tempdir().unwrap();
    let job = RunPlan::new(vec![scenario.clone()], 1, PathBuf::new()).job(
        &scenario,
        0,
        &scratch.path().join("live"),
    );
    std::fs::create_dir_all(job.db_path.parent().unwrap()).unwrap();
    let config = ledger_config_at(&job, &job.db_path, &job.vault_dir);
    let mut ledger = Ledger::open_with(&config, drive_options(&job)).unwrap();
    ledger
        .connection()
        .pragma_update(None, "wal_autocheckpoint", 0)
        .unwrap();
    let exported = stage(&mut ledger, 1);
    ledger.record_transcription(&exported, "words").unwrap();
    ledger
        .record_export(&exported, ExportMode::Initial)
        .unwrap();
    ledger
        .connection()
        .query_row("PRAGMA wal_checkpoint(TRUNCATE)", [], |_| Ok(()))
        .unwrap();
    let transcribed = stage(&mut ledger, 2);
    ledger
        .record_transcription(&transcribed, "more words")
        .unwrap();
    stage(&mut ledger, 3);
    let committed = snapshot_files(&job);
    stage(&mut ledger, 4);
    let later = snapshot_files(&job);
    drop(ledger);

    let size = frame_bytes(&committed.wal);
    let a_len = committed.wal.len();
    assert_eq!(later.db, committed.db, "no checkpoint in between");
    assert!(later.wal.starts_with(&committed.wal), "one WAL generation");
    let new_frames = (later.wal.len() - a_len) / size;
    assert!(
        new_frames >= 2,
        "the last stage wrote {new_frames} frame(s)"
    );
    let with_wal = |wal: Vec<u8>| Image {
        wal,
        ..committed.clone()
    };

    let mut garbage = committed.wal.clone();
    garbage.extend((0..3 * size).map(|i| (i * 7 + 13) as u8));
    let mut uncommitted = later.wal[..later.wal.len() - size].to_vec();
    let mut torn_uncommitted = uncommitted.clone();
    torn_uncommitted[a_len + 24..a_len + size].fill(0);
    uncommitted.extend_from_slice(&later.wal[later.wal.len() - size..later.wal.len() - 100]);
    let mut torn_then_commit = later.wal.clone();
    torn_then_commit[a_len + 24..a_len + size].fill(0);

    let pages_in_wal: Vec<u32> = committed.wal[32..]
        .chunks_exact(size)
        .map(|frame| u32::from_be_bytes([frame[0], frame[1], frame[2], frame[3]]))
        .collect();
    let page_count = committed.db.len() / (size - 24);
    let held = (2..=page_count as u32).find(|p| pages_in_wal.contains(p));
    let not_held = (2..=page_count as u32).find(|p| !pages_in_wal.contains(p));
    let (Some(held), Some(not_held)) = (held, not_held) else {
        panic!("pages {page_count}, in the WAL {pages_in_wal:?}");
    };
    let with_page = |page: u32, byte: u8| {
        let mut db = committed.db.clone();
        let start = (page as usize - 1) * (size - 24);
        db[start..start + size - 24].fill(byte);
        Image {
            db,
            ..committed.clone()
        }
    };

    let reference = reopen_evidence(&job, &committed, &scratch.path().join("committed"));
    assert!(reference.contains(&transcribed), "{reference}");
    let key = key_as_read(&committed);
    assert!(
        wal_as_read(&committed.wal).bytes == committed.wal,
        "all committed"
    );
    let same = [
        ("garbage", with_wal(garbage)),
        ("uncommitted", with_wal(uncommitted)),
        ("torn-uncommitted", with_wal(torn_uncommitted)),
        ("held-page", with_page(held, 0x5a)),
    ];
    for (name, image) in same {
        assert!(
            image.wal != committed.wal || image.db != committed.db,
            "{name}"
        );
        assert_eq!(key_as_read(&image), key, "{name}");
        let seen = reopen_evidence(&job, &image, &scratch.path().join(name));
        assert_eq!(seen, reference, "{name}");
    }
    let torn = wal_as_read(&torn_then_commit);
    assert!(
        torn.bytes == torn_then_commit && torn.pages.is_none(),
        "the WAL guard reads past the torn frame: the WAL and the database count whole"
    );
    let differ = [
        ("later", with_wal(later.wal)),
        ("page-not-held", with_page(not_held, 0)),
    ];
    for (name, image) in differ {
        assert_ne!(key_as_read(&image), key, "{name}");
        let seen = reopen_evidence(&job, &image, &scratch.path().join(name));
        assert_ne!(seen, reference, "{name}: read");
    }
}
