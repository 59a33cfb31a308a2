//! Printing each query's `EXPLAIN QUERY PLAN` once per schema variant, with
//! perfkit's plan check on the ledger schema: [`print_plan`].

use perfkit::{check_plan, query_plan};
use rusqlite::Connection;

use crate::BenchError;
use crate::dataset::Variant;
use crate::queries::Query;

/// Prints the plan of `query` on `conn` to stderr; on the ledger schema, also
/// whether it uses the intended index without a temp B-tree. Returns the
/// problems found (empty when the plan is as intended or there is no intent).
///
/// # Errors
/// [`BenchError::Sqlite`] when SQLite cannot explain the query.
pub fn print_plan(
    conn: &Connection,
    query: Query,
    variant: Variant,
) -> Result<Vec<String>, BenchError> {
    let sql = query.sql(variant);
    let plan = query_plan(conn, &sql).map_err(|error| BenchError::Setting {
        var: "query plan",
        value: format!("{}: {error}", query.name()),
        hint: "the query no longer prepares on this schema",
    })?;
    eprintln!("plan {} on {}:", query.name(), variant.label());
    for row in &plan {
        eprintln!("    {}", row.detail);
    }
    let problems: Vec<String> = match (variant, query.intended_plan()) {
        (Variant::Ledger, Some(expectation)) => check_plan(&plan, &expectation)
            .iter()
            .map(ToString::to_string)
            .collect(),
        _ => Vec::new(),
    };
    for problem in &problems {
        eprintln!("    plan check: {problem}");
    }
    Ok(problems)
}
