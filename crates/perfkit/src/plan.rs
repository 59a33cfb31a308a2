//! Query-plan validation: does `EXPLAIN QUERY PLAN` use the intended index,
//! without a temp B-tree or a full scan? [`check_plan`], [`PlanProblem`].

use rusqlite::Connection;
use serde::{Deserialize, Serialize};

use super::error::PerfError;

/// One line of `EXPLAIN QUERY PLAN`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PlanRow {
    /// Node id.
    pub id: i64,
    /// Parent node id (0 at the top).
    pub parent: i64,
    /// SQLite's text, e.g. `SEARCH captures USING INDEX captures_recoverable (created_at>?)`.
    pub detail: String,
}

/// The plan of `sql` on `conn`; parameters are bound to NULL, which does not
/// change the plan shape (SQLite plans before it sees values).
///
/// # Errors
/// [`PerfError::Plan`] when SQLite cannot prepare the query.
pub fn query_plan(conn: &Connection, sql: &str) -> Result<Vec<PlanRow>, PerfError> {
    let plan_err = |source| PerfError::Plan {
        sql: sql.to_owned(),
        source,
    };
    let mut stmt = conn
        .prepare(&format!("EXPLAIN QUERY PLAN {sql}"))
        .map_err(plan_err)?;
    for index in 1..=stmt.parameter_count() {
        stmt.raw_bind_parameter(index, rusqlite::types::Null)
            .map_err(plan_err)?;
    }
    let mut rows = stmt.raw_query();
    let mut plan = Vec::new();
    while let Some(row) = rows.next().map_err(plan_err)? {
        plan.push(PlanRow {
            id: row.get(0).map_err(plan_err)?,
            parent: row.get(1).map_err(plan_err)?,
            detail: row.get(3).map_err(plan_err)?,
        });
    }
    Ok(plan)
}

/// What a query's plan must look like.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct PlanExpectation {
    /// An index some plan step must use (by name).
    pub uses_index: Option<String>,
    /// No `USE TEMP B-TREE` step (no sort or grouping outside an index).
    pub no_temp_btree: bool,
    /// Tables that must not be scanned without an index.
    pub no_full_scan_of: Vec<String>,
    /// No automatic (per-query, transient) index.
    pub no_automatic_index: bool,
}

impl PlanExpectation {
    /// Uses `index` and needs no temp B-tree: the usual expectation for a
    /// query an index was built for.
    pub fn index_without_sort(index: &str) -> PlanExpectation {
        PlanExpectation {
            uses_index: Some(index.into()),
            no_temp_btree: true,
            no_full_scan_of: Vec::new(),
            no_automatic_index: true,
        }
    }
}

/// A way a plan misses its expectation.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, thiserror::Error)]
#[serde(rename_all = "kebab-case", tag = "kind")]
pub enum PlanProblem {
    /// The intended index is not used by any step.
    #[error("the plan does not use index {index}")]
    MissingIndex {
        /// The index expected.
        index: String,
    },
    /// A temp B-tree (an explicit sort or grouping).
    #[error("the plan sorts outside an index: {detail}")]
    TempBTree {
        /// The plan step.
        detail: String,
    },
    /// A table scanned without an index.
    #[error("the plan scans {table} without an index: {detail}")]
    FullScan {
        /// The table.
        table: String,
        /// The plan step.
        detail: String,
    },
    /// An automatic index built for this query alone.
    #[error("the plan builds an automatic index: {detail}")]
    AutomaticIndex {
        /// The plan step.
        detail: String,
    },
}

fn uses_index(detail: &str, index: &str) -> bool {
    let words: Vec<&str> = detail.split_whitespace().collect();
    words
        .windows(2)
        .any(|pair| pair[0] == "INDEX" && pair[1] == index)
}

fn scans_without_index(detail: &str, table: &str) -> bool {
    let mut words = detail.split_whitespace();
    words.next() == Some("SCAN") && words.next() == Some(table) && !detail.contains(" USING ")
}

/// Every way `plan` misses `expectation` (empty: the plan is as intended).
pub fn check_plan(plan: &[PlanRow], expectation: &PlanExpectation) -> Vec<PlanProblem> {
    let mut problems = Vec::new();
    if let Some(index) = &expectation.uses_index
        && !plan.iter().any(|row| uses_index(&row.detail, index))
    {
        problems.push(PlanProblem::MissingIndex {
            index: index.clone(),
        });
    }
    for row in plan {
        let detail = &row.detail;
        if expectation.no_temp_btree && detail.contains("TEMP B-TREE") {
            problems.push(PlanProblem::TempBTree {
                detail: detail.clone(),
            });
        }
        if expectation.no_automatic_index && detail.contains("AUTOMATIC") {
            problems.push(PlanProblem::AutomaticIndex {
                detail: detail.clone(),
            });
        }
        for table in &expectation.no_full_scan_of {
            if scans_without_index(detail, table) {
                problems.push(PlanProblem::FullScan {
                    table: table.clone(),
                    detail: detail.clone(),
                });
            }
        }
    }
    problems
}

#[cfg(test)]
mod tests {
    use super::*;

    const QUERY: &str = "SELECT id FROM t WHERE status IN ('a','b') ORDER BY created_at, id";

    fn db(extra_ddl: &str) -> Connection {
        let conn = Connection::open_in_memory().unwrap();
        conn.execute_batch(&format!(
            "CREATE TABLE t (id TEXT PRIMARY KEY, status TEXT NOT NULL, created_at INTEGER NOT NULL);
             {extra_ddl}"
        ))
        .unwrap();
        conn
    }

    fn expectation() -> PlanExpectation {
        PlanExpectation {
            no_full_scan_of: vec!["t".into()],
            ..PlanExpectation::index_without_sort("t_pending")
        }
    }

    #[test]
    fn a_missing_index_is_flagged() {
        let conn = db("");
        let plan = query_plan(&conn, QUERY).unwrap();
        let problems = check_plan(&plan, &expectation());
        assert!(problems.contains(&PlanProblem::MissingIndex {
            index: "t_pending".into()
        }));
        assert!(
            problems
                .iter()
                .any(|p| matches!(p, PlanProblem::TempBTree { .. }))
        );
        assert!(
            problems
                .iter()
                .any(|p| matches!(p, PlanProblem::FullScan { table, .. } if table == "t"))
        );
    }

    #[test]
    fn the_intended_partial_index_passes() {
        let conn = db("CREATE INDEX t_pending ON t(created_at, id) WHERE status IN ('a','b');");
        let plan = query_plan(&conn, QUERY).unwrap();
        assert_eq!(check_plan(&plan, &expectation()), Vec::new(), "{plan:?}");
    }

    #[test]
    fn a_sorting_index_plan_is_flagged_for_its_temp_btree() {
        let conn = db("CREATE INDEX t_status ON t(status);");
        let plan = query_plan(&conn, QUERY).unwrap();
        let problems = check_plan(&plan, &PlanExpectation::index_without_sort("t_status"));
        assert_eq!(problems.len(), 1, "{plan:?}");
        assert!(matches!(problems[0], PlanProblem::TempBTree { .. }));
    }

    #[test]
    fn parameters_are_bound_to_null() {
        let conn = db("CREATE INDEX t_created ON t(created_at);");
        let plan = query_plan(&conn, "SELECT id FROM t WHERE created_at >= ?1").unwrap();
        assert!(
            check_plan(&plan, &PlanExpectation::index_without_sort("t_created")).is_empty(),
            "{plan:?}"
        );
    }

    #[test]
    fn an_unpreparable_query_names_itself() {
        let conn = db("");
        let error = query_plan(&conn, "SELECT nope FROM t").unwrap_err();
        assert!(error.to_string().contains("SELECT nope FROM t"));
    }
}
