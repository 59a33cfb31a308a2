//! `resilience report merge DIR... --out DIR`: one report from the shards of a run.

use anyhow::Context;
use reports::history::{self, TREND_RUNS};
use reports::json::{read_results, write_atomically};

use super::{MergeArgs, UsageError, exit_codes};

pub(super) fn merge(args: &MergeArgs) -> anyhow::Result<i32> {
    let mut parts = Vec::new();
    for dir in &args.shards {
        let path = dir.join("results.json");
        let mut part = read_results(&path).map_err(|e| {
            UsageError(format!("cannot read shard results {}: {e}", path.display()))
        })?;
        let shard_dir = dir.display().to_string();
        part.iterations
            .iter_mut()
            .for_each(|it| it.rebase_kept_files(&shard_dir));
        parts.push(part);
    }
    let merged = reports::merge::merge(&parts).map_err(|e| UsageError(e.to_string()))?;
    let earlier = match &args.history {
        Some(dir) => history::read_last(dir, TREND_RUNS)
            .with_context(|| format!("cannot read the history in {}", dir.display()))?,
        None => Vec::new(),
    };
    super::create_out_dir(&args.out)?;
    write_atomically(&args.out.join("results.json"), &merged)?;
    reports::write_file_atomically(
        &args.out.join("junit.xml"),
        reports::junit::render(&merged).as_bytes(),
    )?;
    reports::write_file_atomically(
        &args.out.join("report.html"),
        reports::html::render(&merged, &earlier).as_bytes(),
    )?;
    if let Some(dir) = &args.history {
        history::append(dir, &history::HistoryEntry::from_results(&merged))?;
    }
    let s = &merged.summary;
    eprintln!(
        "resilience: merged {} shard(s): {} iterations, {} passed, {} failed, {} errors, {} lost acknowledged",
        parts.len(),
        s.iterations,
        s.passed,
        s.failed,
        s.errors,
        s.lost_acknowledged
    );
    super::run::report_paths(&args.out);
    Ok(if s.all_passed() {
        exit_codes::OK
    } else {
        exit_codes::CHECK_FAILED
    })
}
