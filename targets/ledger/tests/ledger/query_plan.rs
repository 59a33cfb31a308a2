//! The crash-resume query walks the partial index in order, without a sort.

use crate::support::{Fixture, email, voice};

fn plan(conn: &rusqlite::Connection) -> Vec<String> {
    let sql = format!("EXPLAIN QUERY PLAN {}", ledger::recoverable_captures_sql());
    let mut stmt = conn.prepare(&sql).expect("explain");
    stmt.query_map([], |row| row.get::<_, String>(3))
        .expect("plan rows")
        .collect::<Result<_, _>>()
        .expect("plan")
}

fn assert_sort_free_on_partial_index(conn: &rusqlite::Connection) {
    let plan = plan(conn);
    assert!(
        plan.iter()
            .any(|line| line.contains("captures_recoverable")),
        "{plan:?}"
    );
    assert!(
        plan.iter().all(|line| !line.contains("TEMP B-TREE")),
        "{plan:?}"
    );
}

#[test]
fn recovery_query_uses_the_partial_index_without_sorting() {
    let mut fixture = Fixture::new();
    assert_sort_free_on_partial_index(fixture.conn());
    for n in 0..50 {
        fixture.stage(&voice(n));
        fixture.stage(&email(&format!("mail {n}")));
    }
    fixture.conn().execute_batch("ANALYZE").expect("analyze");
    assert_sort_free_on_partial_index(fixture.conn());
}

#[test]
fn recovery_returns_non_terminal_oldest_first() {
    let mut fixture = Fixture::new();
    let a = fixture.stage(&voice(1));
    let b = fixture.stage(&voice(2));
    let c = fixture.stage(&voice(3));
    fixture
        .ledger
        .record_export(&b, ledger::ExportMode::DuplicateSkip)
        .expect("skip");
    fixture
        .ledger
        .mark_transcription_failed(&c, "x")
        .expect("fail");
    let ids: Vec<String> = fixture
        .ledger
        .recoverable_captures()
        .expect("recover")
        .into_iter()
        .map(|capture| capture.id)
        .collect();
    assert_eq!(ids, [a, c.clone()]);
    let pending: Vec<String> = fixture
        .ledger
        .pending_exports(10)
        .expect("pending")
        .into_iter()
        .map(|capture| capture.id)
        .collect();
    assert_eq!(pending, [c]);
}

#[test]
fn dropping_a_composite_index_is_a_plan_warning_naming_the_query() {
    for (index, queries) in [
        ("captures_status_created", vec!["prune_candidates"]),
        (
            "captures_recoverable",
            vec!["recoverable_captures", "recovery_queue", "pending_exports"],
        ),
        ("captures_channel_native", vec!["duplicate_by_channel"]),
    ] {
        let fixture = Fixture::new();
        assert!(
            fixture
                .ledger
                .check(false)
                .expect("check")
                .plan_warnings
                .is_empty()
        );
        fixture
            .conn()
            .execute_batch(&format!("DROP INDEX {index}"))
            .expect("drop");
        let warned: Vec<String> = fixture
            .ledger
            .check(false)
            .expect("check")
            .plan_warnings
            .into_iter()
            .map(|warning| warning.query)
            .collect();
        assert_eq!(warned, queries, "after dropping {index}");
        let health = fixture.ledger.health().expect("health");
        assert!(
            health.problems.iter().any(|p| p.what.contains(queries[0])),
            "{:#?}",
            health.problems
        );
    }
}

#[test]
fn every_planned_query_is_clean_after_analyze() {
    let mut fixture = Fixture::new();
    for n in 0..200 {
        let id = fixture.stage(&voice(n));
        if n % 3 == 0 {
            fixture
                .ledger
                .record_transcription(&id, &format!("t{n}"))
                .expect("transcribe");
        }
    }
    fixture.conn().execute_batch("ANALYZE").expect("analyze");
    let warnings = fixture.ledger.check(false).expect("check").plan_warnings;
    assert!(warnings.is_empty(), "{warnings:#?}");
}
