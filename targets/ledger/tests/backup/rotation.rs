//! Rotation: hourly/daily/weekly retention, never the newest verified
//! backup, never one a restore holds; dry runs delete nothing.

use std::collections::{BTreeMap, BTreeSet};
use std::path::PathBuf;

use ledger::backup::{
    self, BackupEntry, BackupState, KeepReason, RetentionPolicy, lock_for_restore, plan_rotation,
};
use proptest::prelude::*;

use crate::support::Env;

const HOUR: i64 = 3_600_000;

fn entry(i: usize, ms: i64, state: BackupState) -> BackupEntry {
    BackupEntry {
        path: PathBuf::from(format!("b{i}.db")),
        created_at_ms: ms,
        created_at_utc: backup::utc_text(ms),
        state,
        manifest: None,
    }
}

fn arb_entries() -> impl Strategy<Value = Vec<BackupEntry>> {
    prop::collection::vec(
        (
            0i64..60 * 24 * HOUR,
            prop::sample::select(vec![
                BackupState::Verified,
                BackupState::Unverified,
                BackupState::Failed,
                BackupState::Missing,
            ]),
        ),
        0..60,
    )
    .prop_map(|raw| {
        let mut entries: Vec<BackupEntry> = raw
            .into_iter()
            .enumerate()
            .map(|(i, (ms, state))| entry(i, 1_700_000_000_000 + ms, state))
            .collect();
        entries.sort_by(|a, b| (b.created_at_ms, &b.path).cmp(&(a.created_at_ms, &a.path)));
        entries
    })
}

fn check_period(
    entries: &[BackupEntry],
    kept: &[Vec<KeepReason>],
    count: u32,
    bucket: impl Fn(i64) -> i64,
    reason: KeepReason,
) -> Result<(), TestCaseError> {
    let usable =
        |e: &BackupEntry| matches!(e.state, BackupState::Verified | BackupState::Unverified);
    let mut newest: BTreeMap<i64, usize> = BTreeMap::new();
    for (i, e) in entries.iter().enumerate().filter(|(_, e)| usable(e)) {
        newest.entry(bucket(e.created_at_ms)).or_insert(i);
    }
    let expected: BTreeSet<usize> = newest
        .values()
        .rev()
        .take(count as usize)
        .copied()
        .collect();
    let actual: BTreeSet<usize> = (0..entries.len())
        .filter(|&i| kept[i].contains(&reason))
        .collect();
    prop_assert_eq!(actual, expected);
    Ok(())
}

proptest! {
    #[test]
    fn plan_follows_the_policy(
        entries in arb_entries(),
        hourly in 0u32..6, daily in 0u32..6, weekly in 0u32..4,
        busy_index in 0usize..60,
    ) {
        let policy = RetentionPolicy { hourly, daily, weekly };
        let in_use = |i: usize| i == busy_index;
        let decisions = plan_rotation(&entries, &policy, in_use);
        let kept: Vec<Vec<KeepReason>> = decisions.iter().map(|d| d.keep.clone()).collect();
        if let Some(i) = entries.iter().position(|e| e.state == BackupState::Verified) {
            prop_assert!(kept[i].contains(&KeepReason::NewestVerified));
        }
        check_period(&entries, &kept, hourly, |ms| ms.div_euclid(HOUR), KeepReason::Hourly)?;
        check_period(&entries, &kept, daily, |ms| ms.div_euclid(24 * HOUR), KeepReason::Daily)?;
        check_period(
            &entries, &kept, weekly,
            |ms| (ms.div_euclid(24 * HOUR) + 3).div_euclid(7), KeepReason::Weekly,
        )?;
        for (i, d) in decisions.iter().enumerate() {
            prop_assert_eq!(&d.path, &entries[i].path);
            if matches!(entries[i].state, BackupState::Failed | BackupState::Missing) {
                prop_assert!(d.keep.iter().all(|r| *r == KeepReason::InUse) || d.keep.is_empty());
            }
        }
    }
}

#[test]
fn rotate_keeps_the_policy_the_newest_verified_and_a_restoring_backup() {
    let mut env = Env::with_step(HOUR / 2);
    let mut paths = Vec::new();
    for n in 0..8 {
        env.stage(n);
        let mut config = env.backups.clone();
        config.verify = n == 2;
        paths.push(env.ledger.backup(&config).expect("backup").path);
    }
    // Newest first: 7..0. Each clock read is half an hour, a backup takes
    // several, so each backup is in its own hour.
    let mut config = env.backups.clone();
    config.retention = RetentionPolicy {
        hourly: 2,
        daily: 0,
        weekly: 0,
    };
    let _restoring = lock_for_restore(&paths[0]).expect("lock");

    let dry = backup::rotate(&config, true).expect("dry run");
    assert!(dry.dry_run);
    assert_eq!(dry.deleted.len(), 4, "{dry:?}");
    assert!(
        paths.iter().all(|p| p.exists()),
        "a dry run deletes nothing"
    );

    let report = backup::rotate(&config, false).expect("rotate");
    assert_eq!(report.deleted, dry.deleted);
    let left: BTreeSet<PathBuf> = backup::list_backups(&config)
        .expect("list")
        .backups
        .into_iter()
        .map(|b| b.path)
        .collect();
    let expected: BTreeSet<PathBuf> = [
        paths[7].clone(),
        paths[6].clone(),
        paths[2].clone(),
        paths[0].clone(),
    ]
    .into();
    assert_eq!(left, expected);
    for path in &report.deleted {
        assert!(!path.exists() && !backup::BackupManifest::path_for(path).exists());
    }
}
