//! Power loss: crash images against the real files and against acknowledged commits.

use std::path::Path;

use harness::backends::vfs::{CrashMode, CrashTrigger, FaultEventKind, FaultVfs, VfsOptions};
use rand::{RngExt, SeedableRng};
use rand_chacha::ChaCha8Rng;

use crate::common::{
    Recovered, create_db, insert_workload, open, recover, register, snapshot, subdir, tempdir,
};

const ITERATIONS: u64 = 200;
const TRANSACTIONS: i64 = 24;

fn tracking() -> VfsOptions {
    VfsOptions {
        track_power_loss: true,
        skip_real_sync: true,
        ..VfsOptions::default()
    }
}

/// Runs the workload on a fresh database in `dir` with a cut before mutation
/// `crash_at` (or at the end); returns the acknowledged ids.
fn crash_run(
    vfs: &FaultVfs,
    dir: &Path,
    journal: &str,
    sync: &str,
    seed: u64,
    crash_at: u64,
) -> Vec<i64> {
    let db = dir.join("c.db");
    create_db(&db, journal);
    vfs.reset();
    vfs.set_seed(seed);
    vfs.arm_power_loss(CrashTrigger::BeforeNthMutation(crash_at));
    let conn = open(vfs, &db).unwrap();
    conn.pragma_update(None, "journal_mode", journal).unwrap();
    conn.pragma_update(None, "synchronous", sync).unwrap();
    conn.pragma_update(None, "wal_autocheckpoint", 8).unwrap();
    let acked = insert_workload(&conn, TRANSACTIONS);
    if !vfs.has_crashed() {
        vfs.power_cut_now();
    }
    drop(conn);
    acked
}

fn image(vfs: &FaultVfs, dir: &Path, name: &str, mode: CrashMode) -> Recovered {
    let dest = subdir(dir, name);
    vfs.write_crash_image(&dest, mode).unwrap();
    recover(&dest.join("c.db"))
}

fn modes() -> [(&'static str, CrashMode); 3] {
    [
        ("drop", CrashMode::Drop),
        ("torn", CrashMode::Torn { p: 0.5 }),
        ("prefix", CrashMode::SectorPrefix),
    ]
}

#[test]
fn keep_image_equals_the_real_files_at_the_cut() {
    for (journal, forward_fetch) in [
        ("wal", false),
        ("delete", false),
        ("wal", true),
        ("truncate", false),
    ] {
        let vfs = register(VfsOptions {
            forward_fetch,
            ..tracking()
        });
        for crash_at in (1..60).step_by(7) {
            let dir = tempdir();
            let db = dir.path().join("c.db");
            create_db(&db, journal);
            vfs.reset();
            vfs.arm_power_loss(CrashTrigger::BeforeNthMutation(crash_at));
            let conn = open(&vfs, &db).unwrap();
            conn.pragma_update(None, "journal_mode", journal).unwrap();
            conn.pragma_update(None, "wal_autocheckpoint", 8).unwrap();
            if forward_fetch {
                conn.pragma_update(None, "mmap_size", 1 << 20).unwrap();
            }
            insert_workload(&conn, TRANSACTIONS);
            assert!(vfs.has_crashed(), "{journal}: cut at {crash_at} never came");
            let at_cut = snapshot(dir.path());
            drop(conn);
            assert_eq!(
                snapshot(dir.path()),
                at_cut,
                "closing after the cut changed the disk"
            );
            let dest = subdir(dir.path(), "keep");
            vfs.write_crash_image(&dest, CrashMode::Keep).unwrap();
            let kept = snapshot(&dest);
            assert_eq!(
                kept.keys().collect::<Vec<_>>(),
                at_cut.keys().collect::<Vec<_>>(),
                "{journal} mmap={forward_fetch} cut at {crash_at}"
            );
            for (name, bytes) in &at_cut {
                assert!(
                    kept[name] == *bytes,
                    "{journal} mmap={forward_fetch} cut at {crash_at}: {name} differs"
                );
            }
        }
    }
}

#[test]
fn wal_full_never_loses_an_acknowledged_commit() {
    let vfs = register(tracking());
    let mut rng = ChaCha8Rng::seed_from_u64(0xF011);
    let mut lost_in_flight = 0;
    let mut mid_workload = 0;
    for seed in 0..ITERATIONS {
        let dir = tempdir();
        let crash_at = rng.random_range(1..=110);
        let acked = crash_run(&vfs, dir.path(), "wal", "FULL", seed, crash_at);
        mid_workload += usize::from(acked.len() < TRANSACTIONS as usize);
        for (name, mode) in modes() {
            let got = image(&vfs, dir.path(), name, mode);
            let ctx = format!("seed {seed} cut at {crash_at} {name}: {got:?} acked {acked:?}");
            assert_eq!(got.integrity, "ok", "{ctx}");
            assert_eq!(got.bad_payloads, 0, "{ctx}");
            for id in &acked {
                assert!(got.ids.contains(id), "acknowledged {id} lost: {ctx}");
            }
            let attempted = acked.len() as i64 + 1;
            assert!(got.ids.iter().all(|&id| id <= attempted), "{ctx}");
            lost_in_flight += usize::from(got.ids.len() == acked.len());
        }
    }
    assert!(lost_in_flight > 0);
    assert!(
        mid_workload > ITERATIONS as usize / 2,
        "cuts land inside the workload: {mid_workload}"
    );
}

#[test]
fn synchronous_off_with_a_rollback_journal_is_caught() {
    let vfs = register(tracking());
    let mut rng = ChaCha8Rng::seed_from_u64(0x0FF);
    let mut failures = 0;
    for seed in 0..ITERATIONS / 4 {
        let dir = tempdir();
        let crash_at = rng.random_range(1..=80);
        let acked = crash_run(&vfs, dir.path(), "delete", "OFF", seed, crash_at);
        for (name, mode) in modes() {
            let got = image(&vfs, dir.path(), name, mode);
            let lost = acked.iter().any(|id| !got.ids.contains(id));
            if got.integrity != "ok" || lost || got.bad_payloads > 0 {
                failures += 1;
            }
        }
    }
    assert!(
        failures > 0,
        "synchronous=OFF must lose or corrupt something under power loss"
    );
}

#[test]
fn wal_normal_may_lose_commits_but_keeps_a_consistent_prefix() {
    let vfs = register(tracking());
    let mut rng = ChaCha8Rng::seed_from_u64(0x40);
    let mut lost_acked = 0;
    for seed in 0..ITERATIONS / 2 {
        let dir = tempdir();
        let crash_at = rng.random_range(1..=90);
        let acked = crash_run(&vfs, dir.path(), "wal", "NORMAL", seed, crash_at);
        let got = image(&vfs, dir.path(), "drop", CrashMode::Drop);
        let ctx = format!("seed {seed} cut at {crash_at}: {got:?} acked {acked:?}");
        assert_eq!(got.integrity, "ok", "{ctx}");
        assert_eq!(got.bad_payloads, 0, "{ctx}");
        let k = got.ids.len() as i64;
        assert_eq!(got.ids, (1..=k).collect::<Vec<_>>(), "not a prefix: {ctx}");
        lost_acked += usize::from(k < acked.len() as i64);
    }
    assert!(
        lost_acked > 0,
        "WAL+NORMAL should lose acknowledged commits in Drop mode"
    );
}

#[test]
fn a_created_file_never_dir_synced_is_absent_from_a_drop_image() {
    let dir = tempdir();
    let db = dir.path().join("new.db");
    let vfs = register(tracking());
    let conn = open(&vfs, &db).unwrap();
    conn.pragma_update(None, "synchronous", "OFF").unwrap();
    conn.execute_batch("CREATE TABLE t(id INTEGER PRIMARY KEY, v BLOB NOT NULL)")
        .unwrap();
    vfs.power_cut_now();
    drop(conn);
    let dropped = subdir(dir.path(), "drop");
    let stats = vfs.write_crash_image(&dropped, CrashMode::Drop).unwrap();
    assert!(snapshot(&dropped).is_empty(), "{stats:?}");
    assert!(stats.dir_changes_dropped >= 1);
    let kept = subdir(dir.path(), "keep");
    vfs.write_crash_image(&kept, CrashMode::Keep).unwrap();
    assert_eq!(snapshot(&kept).keys().collect::<Vec<_>>(), vec!["new.db"]);
    assert!(matches!(
        vfs.events().last().unwrap().kind,
        FaultEventKind::PowerCut
    ));
}

#[test]
fn a_crash_image_before_any_cut_is_an_error() {
    let vfs = register(tracking());
    let dir = tempdir();
    let err = vfs
        .write_crash_image(dir.path(), CrashMode::Drop)
        .unwrap_err();
    assert!(err.to_string().contains("no power cut"), "{err}");
}
