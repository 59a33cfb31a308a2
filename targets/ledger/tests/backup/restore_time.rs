//! Restore time for a 100k-capture ledger (snapshot + archived segments).
//! A measurement, not a check: run it with
//! `cargo test --release -p ledger --test backup -- --ignored --nocapture restore_time`.

use std::time::Instant;

use ledger::backup::{RestoreTarget, plan_restore, restore};
use ledger::{ExportMode, StageOutcome};

use crate::support::{Env, voice};

#[test]
#[ignore = "measurement: prints restore timings for a 100k-capture ledger"]
fn restore_time_for_100k_captures() {
    let mut env = Env::with_step(1);
    let mut config = env.backups.clone();
    config.archive = true;
    config.verify = false;
    env.backups = config.clone();
    env.ledger.enable_wal_archive(&config).expect("enable");
    let started = Instant::now();
    env.ledger
        .connection()
        .execute_batch("PRAGMA synchronous = OFF")
        .expect("fast load");
    for n in 0..100_000 {
        env.ledger.stage(&voice(n)).expect("stage");
        if n % 10_000 == 9_999 {
            env.ledger.checkpoint_archived(&config).expect("checkpoint");
        }
    }
    let load = started.elapsed();
    let snap_started = Instant::now();
    let snapshot = env.ledger.backup(&config).expect("snapshot");
    let snap = snap_started.elapsed();
    // 10k archived transactions on top: 5k stages, 5k transcriptions,
    // archived every 100 transactions.
    let mut ids = Vec::new();
    for n in 100_000..105_000 {
        if let StageOutcome::Staged(id) = env.ledger.stage(&voice(n)).expect("stage") {
            ids.push(id);
        }
        if n % 100 == 99 {
            env.ledger.archive_wal(&config).expect("archive");
        }
    }
    for (i, id) in ids.iter().enumerate() {
        env.ledger
            .record_transcription(id, &format!("text {i}"))
            .expect("transcribe");
        if i % 100 == 99 {
            env.ledger.archive_wal(&config).expect("archive");
        }
    }
    env.ledger
        .record_export(&ids[0], ExportMode::Initial)
        .expect("export");
    env.ledger.archive_wal(&config).expect("archive");
    let into = env.path("restored.db");
    let restore_started = Instant::now();
    let plan = plan_restore(&config, RestoreTarget::Latest, &into).expect("plan");
    let planned = restore_started.elapsed();
    let report = restore(&plan).expect("restore");
    let total = restore_started.elapsed();
    let snapshot_only = env.path("snapshot-only.db");
    let snap_plan = plan_restore(
        &config,
        RestoreTarget::Txid {
            txid: snapshot.manifest.wal_position.expect("pos").txid,
        },
        &snapshot_only,
    )
    .expect("plan");
    let snap_only_started = Instant::now();
    restore(&snap_plan).expect("restore snapshot only");
    let snap_only = snap_only_started.elapsed();
    eprintln!(
        "load 100k: {load:?}; snapshot ({} bytes): {snap:?}; restore latest: plan {planned:?}, \
         total {total:?} ({} segments, {} transactions, {} frames, {} captures); \
         restore snapshot only: {snap_only:?}",
        snapshot.manifest.size_bytes,
        plan.segments.len(),
        report.applied_transactions,
        report.applied_frames,
        report.logical.captures,
    );
    assert_eq!(report.logical.captures, 105_000);
}
