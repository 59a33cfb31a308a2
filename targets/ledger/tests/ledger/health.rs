//! `ledger health --json` on a database a workload produced: every metric is
//! there, and an `insta` snapshot pins the report's shape (values that vary,
//! such as sizes, times and latencies, are reduced to their JSON type).

use std::process::Command;

use ledger::{ExportMode, StageOutcome};
use serde_json::Value;

use crate::support::{Fixture, email, voice};

/// Keys and types, not values; an array is shown by its first element.
fn shape(value: &Value) -> Value {
    match value {
        Value::Null => Value::from("<null>"),
        Value::Bool(_) => Value::from("<bool>"),
        Value::Number(_) => Value::from("<number>"),
        Value::String(_) => Value::from("<string>"),
        Value::Array(items) => Value::Array(items.first().map(shape).into_iter().collect()),
        Value::Object(map) => Value::Object(
            map.iter()
                .map(|(key, value)| (key.clone(), shape(value)))
                .collect(),
        ),
    }
}

fn workload(fixture: &mut Fixture) {
    for n in 0..12 {
        let id = fixture.stage(&voice(n));
        match n % 4 {
            0 => {
                fixture
                    .ledger
                    .record_transcription(&id, &format!("memo {n}"))
                    .expect("transcribe");
                fixture
                    .ledger
                    .record_export(&id, ExportMode::Initial)
                    .expect("export");
            }
            1 => {
                fixture
                    .ledger
                    .mark_transcription_failed(&id, "model timed out")
                    .expect("fail");
                fixture
                    .ledger
                    .record_export(&id, ExportMode::Placeholder)
                    .expect("placeholder");
            }
            2 => {
                fixture
                    .ledger
                    .record_transcription(&id, &format!("memo {n}"))
                    .expect("transcribe");
            }
            _ => {}
        }
    }
    assert!(matches!(
        fixture.ledger.stage(&email("hello")).expect("stage"),
        StageOutcome::Staged(_)
    ));
    fixture.verified_backup();
    fixture.ledger.maintain(false).expect("maintain");
}

fn run_cli(args: &[&str]) -> (Option<i32>, String, String) {
    let output = Command::new(env!("CARGO_BIN_EXE_ledger"))
        .args(args)
        .output()
        .expect("run ledger");
    (
        output.status.code(),
        String::from_utf8_lossy(&output.stdout).into_owned(),
        String::from_utf8_lossy(&output.stderr).into_owned(),
    )
}

#[test]
fn health_json_reports_every_metric_with_a_stable_shape() {
    let mut fixture = Fixture::new();
    workload(&mut fixture);
    let db = fixture.config.path.display().to_string();
    let (code, stdout, stderr) = run_cli(&["health", "--json", "--db", &db]);
    assert_eq!(code, Some(0), "{stdout}\n{stderr}");
    let report: Value = serde_json::from_str(&stdout).expect("health is JSON");
    let metrics = &report["metrics"];
    assert_eq!(report["status"], "healthy", "{stdout}");
    assert_eq!(metrics["queue_depth"], 7);
    assert_eq!(metrics["exports"]["placeholder"], 3);
    assert_eq!(metrics["exports"]["total"], 6);
    assert_eq!(
        metrics["errors_last_24h"].as_object().map(|m| m.len()),
        Some(0)
    );
    assert_eq!(metrics["backup"]["health"], "healthy");
    assert!(
        metrics["backup"]["last_verified_path"].is_string(),
        "{stdout}"
    );
    assert!(metrics["storage"]["database_bytes"].as_u64().unwrap_or(0) > 0);
    for op in [
        "stage",
        "record_export",
        "pending_exports",
        "recoverable_captures",
    ] {
        assert!(
            metrics["operations"][op]["latency"]["p95_us"].is_u64(),
            "{op}"
        );
    }
    insta::assert_json_snapshot!("health_shape", shape(&report), {
        ".capacity.days_left" => "[optional number]",
        ".capacity.growth_bytes_per_day" => "[optional number]",
        ".metrics.cache.hits" => "[optional number]",
        ".metrics.cache.misses" => "[optional number]",
        ".metrics.cache.hit_ratio" => "[optional number]",
        ".open.leftover_wal_bytes" => "[optional number]",
    });
}

#[test]
fn health_exits_1_when_unhealthy_and_check_names_a_dropped_index() {
    let mut fixture = Fixture::new();
    workload(&mut fixture);
    fixture
        .conn()
        .execute_batch("DROP INDEX captures_status_created")
        .expect("drop");
    let db = fixture.config.path.display().to_string();
    let (code, stdout, _) = run_cli(&["check", "--db", &db]);
    assert_eq!(code, Some(1), "{stdout}");
    assert!(stdout.contains("prune_candidates"), "{stdout}");
    fixture
        .conn()
        .execute_batch("PRAGMA foreign_keys = OFF; DELETE FROM captures WHERE status = 'exported' AND id IN (SELECT capture_id FROM exports_audit LIMIT 1);")
        .expect("orphan an audit row");
    let (code, stdout, _) = run_cli(&["health", "--db", &db]);
    assert_eq!(code, Some(1), "{stdout}");
    assert!(stdout.contains("Unhealthy"), "{stdout}");
}

#[test]
fn a_missing_database_names_the_path_and_what_to_do() {
    let dir = tempfile::tempdir().expect("temp dir");
    let missing = dir.path().join("nope.db");
    for command in ["health", "check", "maintain", "stats"] {
        let (code, _, stderr) = run_cli(&[command, "--db", &missing.display().to_string()]);
        assert_eq!(code, Some(2), "{command}: {stderr}");
        assert!(
            stderr.contains("nope.db") && stderr.contains("pass --db"),
            "{stderr}"
        );
        assert!(!missing.exists(), "{command} must not create the database");
    }
}

#[test]
fn maintain_dry_run_and_stats_print_reports() {
    let mut fixture = Fixture::new();
    workload(&mut fixture);
    let db = fixture.config.path.display().to_string();
    let (code, stdout, _) = run_cli(&["maintain", "--dry-run", "--json", "--db", &db]);
    assert_eq!(code, Some(0));
    let report: Value = serde_json::from_str(&stdout).expect("json");
    assert_eq!(report["dry_run"], true);
    let (code, stdout, _) = run_cli(&["stats", "--db", &db]);
    assert_eq!(code, Some(0));
    assert_eq!(stdout.lines().count(), 1, "one JSON line");
    let snapshot: ledger::MetricsSnapshot = serde_json::from_str(&stdout).expect("snapshot");
    assert_eq!(snapshot.queue_depth, 7);
}
