//! Automated maintenance driven by a manual clock: what is due when, what
//! runs, and retention only after a verified backup.

use std::sync::Arc;

use ledger::maintenance::Step;
use ledger::{BackupConfig, Config, ExportMode, ManualClock};

use crate::support::{START_MS, email, open_manual};

const DAY: i64 = 86_400_000;

fn steps(report: &ledger::MaintenanceReport) -> Vec<Step> {
    report.steps.iter().map(|s| s.step).collect()
}

#[test]
fn daily_steps_run_once_a_day_and_each_is_reported() {
    let dir = tempfile::tempdir().expect("temp dir");
    let config = Config::new(dir.path().join("l.db"), dir.path().join("vault"));
    let clock = Arc::new(ManualClock::new(START_MS));
    let mut ledger = open_manual(&config, &clock);
    let first = ledger.maintain(false).expect("maintain");
    assert!(first.succeeded(), "{first:#?}");
    assert_eq!(
        steps(&first),
        [Step::IndexCheck, Step::Optimize, Step::RecordTrends]
    );
    assert!(first.steps.iter().all(|s| s.ran && s.error.is_none()));
    clock.advance(DAY - 1);
    assert_eq!(
        steps(&ledger.maintain(false).expect("maintain")),
        [Step::RecordTrends]
    );
    clock.advance(1);
    let dry = ledger.maintain(true).expect("dry run");
    assert!(dry.dry_run && dry.steps.iter().all(|s| !s.ran));
    assert_eq!(
        steps(&dry),
        [Step::IndexCheck, Step::Optimize, Step::RecordTrends]
    );
}

#[test]
fn retention_prunes_only_exports_older_than_the_verified_backup_and_90_days() {
    let dir = tempfile::tempdir().expect("temp dir");
    let config = Config::new(dir.path().join("l.db"), dir.path().join("vault"));
    let clock = Arc::new(ManualClock::new(START_MS));
    let mut ledger = open_manual(&config, &clock);
    let mut exported = Vec::new();
    for n in 0..4 {
        if n == 2 {
            let before = ledger.maintain(true).expect("maintain");
            assert!(
                !steps(&before).contains(&Step::RetentionPrune),
                "no backup yet"
            );
            let mut backups = BackupConfig::new(dir.path().join("backups"));
            backups.step_pause = std::time::Duration::ZERO;
            let backup = ledger.backup(&backups).expect("backup");
            assert_eq!(backup.status.consecutive_failures, 0, "{backup:#?}");
            clock.advance(DAY);
        }
        let id = match ledger.stage(&email(&format!("mail {n}"))).expect("stage") {
            ledger::StageOutcome::Staged(id) => id,
            other => panic!("{other:?}"),
        };
        ledger
            .record_transcription(&id, "text")
            .expect("transcribe");
        ledger
            .record_export(&id, ExportMode::Initial)
            .expect("export");
        exported.push(id);
        clock.advance(10 * DAY);
    }
    clock.advance(200 * DAY);
    assert!(ledger.capture(&exported[0]).expect("read").is_some());
    let report = ledger.maintain(false).expect("maintain");
    let prune = report
        .steps
        .iter()
        .find(|s| s.step == Step::RetentionPrune)
        .expect("retention ran");
    assert_eq!(prune.detail, "pruned 2 exported captures", "{report:#?}");
    assert!(ledger.capture(&exported[1]).expect("read").is_none());
    assert!(ledger.capture(&exported[2]).expect("read").is_some());
}

#[test]
fn a_large_wal_is_checkpointed_and_free_pages_are_vacuumed() {
    let dir = tempfile::tempdir().expect("temp dir");
    let mut config = Config::new(dir.path().join("l.db"), dir.path().join("vault"));
    config.tuning.maintenance.checkpoint_wal_bytes = 0;
    config.tuning.maintenance.vacuum_free_fraction = 0.0;
    let clock = Arc::new(ManualClock::new(START_MS));
    let mut ledger = open_manual(&config, &clock);
    ledger
        .connection()
        .execute_batch(
            "CREATE TABLE scratch(x); INSERT INTO scratch SELECT zeroblob(4000) FROM json_each('[1,2,3,4,5,6,7,8,9,10]'); DROP TABLE scratch;",
        )
        .expect("make free pages");
    let report = ledger.maintain(false).expect("maintain");
    assert!(report.succeeded(), "{report:#?}");
    assert!(steps(&report).contains(&Step::Vacuum), "{report:#?}");
    assert!(steps(&report).contains(&Step::Checkpoint), "{report:#?}");
    let snapshot = ledger.metrics_snapshot().expect("snapshot");
    assert_eq!(snapshot.storage.freelist_pages, 0);
}

/// Statistics gathered while `exports_audit` was near empty (as a close's `PRAGMA optimize`
/// leaves them) and a table that grew since: a plan warning whose remedy, `ledger maintain`,
/// must refresh the statistics although far fewer than `analyze-min-rows` captures exist.
#[test]
fn maintain_refreshes_statistics_that_make_a_query_ignore_its_index() {
    let dir = tempfile::tempdir().expect("temp dir");
    let config = Config::new(dir.path().join("l.db"), dir.path().join("vault"));
    let clock = Arc::new(ManualClock::new(START_MS));
    let mut ledger = open_manual(&config, &clock);
    let first = match ledger.stage(&email("first")).expect("stage") {
        ledger::StageOutcome::Staged(id) => id,
        other => panic!("{other:?}"),
    };
    ledger
        .record_export(&first, ExportMode::DuplicateSkip)
        .expect("export");
    ledger
        .connection()
        .execute_batch("ANALYZE")
        .expect("analyze");
    for n in 0..40 {
        if let ledger::StageOutcome::Staged(id) =
            ledger.stage(&email(&format!("mail {n}"))).expect("stage")
        {
            ledger
                .record_export(&id, ExportMode::DuplicateSkip)
                .expect("export");
        }
    }
    let warned = ledger.health().expect("health");
    assert!(
        !warned.checks.plan_warnings.is_empty(),
        "stale statistics mislead the planner: {:?}",
        warned.checks.plan_warnings
    );
    let due: Vec<Step> = warned.maintenance_due.iter().map(|d| d.step).collect();
    assert!(due.contains(&Step::Analyze), "{due:?}");
    let report = ledger.maintain(false).expect("maintain");
    assert!(report.succeeded(), "{report:#?}");
    let healed = ledger.health().expect("health");
    assert!(
        healed.checks.plan_warnings.is_empty(),
        "{:?}",
        healed.checks.plan_warnings
    );
    let due: Vec<Step> = healed.maintenance_due.iter().map(|d| d.step).collect();
    assert!(!due.contains(&Step::Analyze), "{due:?}");
}
