//! Query-plan validation: each hot query is run through `EXPLAIN QUERY PLAN`
//! and checked against the index it is meant to use: [`check`] and [`PlanWarning`].
//!
//! A plan that does not name the expected index, scans a table, or sorts in a
//! temp B-tree is a warning naming the query, so a dropped or changed index
//! shows up in health before it shows up as latency.

use serde::{Deserialize, Serialize};

use crate::db::Db;
use crate::ops::query;

/// One query the ledger depends on being fast.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PlannedQuery {
    /// Stable name, used in warnings.
    pub name: &'static str,
    /// The SQL, with its `?N` parameters.
    pub sql: String,
    /// The index the plan must use.
    pub expected_index: &'static str,
}

/// The audit lookup by capture (prune's sweep uses the same access path).
pub(crate) const AUDIT_BY_CAPTURE_SQL: &str =
    "SELECT id, mode, exported_at FROM exports_audit WHERE capture_id = ?1";

/// The queries checked: recovery (whole set and queue), export queue, dedup (both keys), audit, prune.
pub fn planned_queries() -> Vec<PlannedQuery> {
    vec![
        PlannedQuery {
            name: "recoverable_captures",
            sql: query::recoverable_sql(),
            expected_index: "captures_recoverable",
        },
        PlannedQuery {
            name: "recovery_queue",
            sql: query::recovery_queue_sql(),
            expected_index: "captures_recoverable",
        },
        PlannedQuery {
            name: "pending_exports",
            sql: query::pending_sql(),
            expected_index: "captures_recoverable",
        },
        PlannedQuery {
            name: "duplicate_by_hash",
            sql: query::DUPLICATE_BY_HASH_SQL.to_owned(),
            expected_index: "sqlite_autoindex_captures_2",
        },
        PlannedQuery {
            name: "duplicate_by_channel",
            sql: query::DUPLICATE_BY_CHANNEL_SQL.to_owned(),
            expected_index: "captures_channel_native",
        },
        PlannedQuery {
            name: "audit_by_capture",
            sql: AUDIT_BY_CAPTURE_SQL.to_owned(),
            expected_index: "exports_audit_capture",
        },
        PlannedQuery {
            name: "prune_candidates",
            sql: crate::ops::prune::candidates_sql(),
            expected_index: "captures_status_created",
        },
    ]
}

/// A query whose plan is not what it should be.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PlanWarning {
    /// The query's name.
    pub query: String,
    /// The index it should use.
    pub expected_index: String,
    /// What is wrong: `"missing index"`, `"full scan"`, `"temp b-tree sort"` or `"cannot plan: …"`.
    pub problem: String,
    /// The plan's detail lines.
    pub plan: Vec<String>,
}

impl std::fmt::Display for PlanWarning {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "query {} does not use index {} ({}); plan: {}; run `ledger maintain`, which refreshes the planner's statistics (ANALYZE) whenever a query ignores its index; if the warning stays, recreate the index (reopen the ledger)",
            self.query,
            self.expected_index,
            self.problem,
            self.plan.join(" / ")
        )
    }
}

/// The detail lines of `EXPLAIN QUERY PLAN sql` (its parameters left NULL).
pub(crate) fn explain(db: Db<'_>, sql: &str) -> rusqlite::Result<Vec<String>> {
    let mut stmt = db.conn.prepare(&format!("EXPLAIN QUERY PLAN {sql}"))?;
    let mut rows = stmt.raw_query();
    let mut lines = Vec::new();
    while let Some(row) = rows.next()? {
        lines.push(row.get::<_, String>(3)?);
    }
    Ok(lines)
}

/// What is wrong with `plan` for `query`, if anything.
fn judge(query: &PlannedQuery, plan: &[String]) -> Option<&'static str> {
    if plan.iter().any(|line| line.contains("TEMP B-TREE")) {
        return Some("temp b-tree sort");
    }
    if plan
        .iter()
        .any(|line| line.starts_with("SCAN ") && !line.contains(" USING "))
    {
        return Some("full scan");
    }
    let uses_index = plan
        .iter()
        .any(|line| line.contains(&format!("INDEX {}", query.expected_index)));
    (!uses_index).then_some("missing index")
}

/// Check every [`planned_queries`] entry; an empty result means every plan is as expected.
pub(crate) fn check(db: Db<'_>) -> Vec<PlanWarning> {
    planned_queries()
        .into_iter()
        .filter_map(|query| {
            let (problem, plan) = match explain(db, &query.sql) {
                Ok(plan) => (judge(&query, &plan)?.to_owned(), plan),
                Err(error) => (format!("cannot plan: {error}"), Vec::new()),
            };
            Some(PlanWarning {
                query: query.name.to_owned(),
                expected_index: query.expected_index.to_owned(),
                problem,
                plan,
            })
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use rusqlite::Connection;
    use std::path::Path;

    fn migrated() -> Connection {
        let conn = Connection::open_in_memory().expect("db");
        crate::schema::migrate(Db::new(&conn, Path::new(":memory:"))).expect("schema");
        conn
    }

    #[test]
    fn a_fresh_schema_has_no_plan_warnings() {
        let conn = migrated();
        let warnings = check(Db::new(&conn, Path::new(":memory:")));
        assert!(warnings.is_empty(), "{warnings:#?}");
    }

    #[test]
    fn dropping_the_status_index_names_the_prune_query() {
        let conn = migrated();
        conn.execute_batch("DROP INDEX captures_status_created")
            .expect("drop");
        let warnings = check(Db::new(&conn, Path::new(":memory:")));
        let names: Vec<_> = warnings.iter().map(|w| w.query.as_str()).collect();
        assert_eq!(names, ["prune_candidates"], "{warnings:#?}");
    }

    #[test]
    fn judge_flags_scans_and_sorts() {
        let query = PlannedQuery {
            name: "q",
            sql: String::new(),
            expected_index: "i",
        };
        assert_eq!(judge(&query, &["SCAN t".into()]), Some("full scan"));
        assert_eq!(
            judge(
                &query,
                &[
                    "SEARCH t USING INDEX i (a=?)".into(),
                    "USE TEMP B-TREE FOR ORDER BY".into()
                ]
            ),
            Some("temp b-tree sort")
        );
        assert_eq!(
            judge(&query, &["SEARCH t USING INDEX i (a=?)".into()]),
            None
        );
        assert_eq!(
            judge(&query, &["SEARCH t USING INDEX j (a=?)".into()]),
            Some("missing index")
        );
    }
}
