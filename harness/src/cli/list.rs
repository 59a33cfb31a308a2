//! `resilience list`: scenarios with family, iterations and tags.

use super::{ListArgs, exit_codes, load_registry, select};

pub(super) fn list(args: &ListArgs) -> anyhow::Result<i32> {
    let registry = load_registry(&args.scenarios)?;
    let scenarios = select(&registry, args.filter.as_deref())?;
    let width = scenarios.iter().map(|s| s.name.len()).max().unwrap_or(0);
    let family_width = scenarios.iter().map(|s| s.family.len()).max().unwrap_or(0);
    println!(
        "{:width$}  {:family_width$}  {:>5}  TAGS",
        "NAME", "FAMILY", "ITERS"
    );
    for s in &scenarios {
        println!(
            "{:width$}  {:family_width$}  {:>5}  {}",
            s.name,
            s.family,
            s.iterations,
            s.tags.join(",")
        );
    }
    Ok(exit_codes::OK)
}
