//! `resilience list`: scenarios with family, iterations and tags, and (on stderr) how many a
//! run without `--filter` leaves out and why.

use super::output::out_line;
use super::{EXPECTED_FAIL_TAG, ListArgs, SLOW_TAG, exit_codes, hidden_by_default, load_registry};
use crate::scenario::Scenario;

pub(super) fn list(args: &ListArgs) -> anyhow::Result<i32> {
    let registry = load_registry(&args.scenarios)?;
    let scenarios = if args.all {
        registry.scenarios().to_vec()
    } else {
        super::select(&registry, args.filter.as_deref())?
    };
    let scenarios = super::with_overrides(&args.scenarios, &scenarios)?;
    let width = scenarios.iter().map(|s| s.name.len()).max().unwrap_or(0);
    let family_width = scenarios.iter().map(|s| s.family.len()).max().unwrap_or(0);
    out_line(format_args!(
        "{:width$}  {:family_width$}  {:>5}  TAGS",
        "NAME", "FAMILY", "ITERS"
    ))?;
    for s in &scenarios {
        out_line(format_args!(
            "{:width$}  {:family_width$}  {:>5}  {}",
            s.name,
            s.family,
            s.iterations,
            s.tags.join(",")
        ))?;
    }
    if !args.all
        && args.filter.is_none()
        && let Some(note) = hidden_note(registry.scenarios())
    {
        eprintln!("{note}");
    }
    Ok(exit_codes::OK)
}

/// "N more scenarios are hidden: ..." for the scenarios a run without `--filter` leaves out,
/// or `None` when there are none.
fn hidden_note(all: &[Scenario]) -> Option<String> {
    let hidden: Vec<&Scenario> = all.iter().filter(|s| hidden_by_default(s)).collect();
    if hidden.is_empty() {
        return None;
    }
    let tagged = |tag: &str| {
        hidden
            .iter()
            .filter(|s| s.tags.iter().any(|t| t == tag))
            .count()
    };
    Some(format!(
        "{} more scenario(s) hidden, as a run without --filter leaves them out: {} `{SLOW_TAG}` \
         (perf measurements, minutes each) and {} `{EXPECTED_FAIL_TAG}` (known gaps that fail by \
         design); `resilience list --all` shows them, `--filter NAME` runs them",
        hidden.len(),
        tagged(SLOW_TAG),
        tagged(EXPECTED_FAIL_TAG),
    ))
}
