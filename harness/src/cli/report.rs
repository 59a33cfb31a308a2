//! `resilience report merge DIR... --out DIR`: one report from the shards of a run.
//!
//! Each shard's kept files (`failures/`, `capsules/`, and `candidates/` of an explored shard)
//! are copied into `<out>/<shard folder name>/`, and the merged results name them there, so the
//! merged output is self-contained. An explored run also gets `job-summary.md`, and with `--history`
//! its new failure signatures are appended to `<history>/signatures.txt`.

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
        let name = shard_folder(dir)?;
        part.iterations
            .iter_mut()
            .for_each(|it| it.rebase_kept_files(&name));
        if let Some(explore) = &mut part.explore {
            for sig in &mut explore.signatures {
                if let Some(candidate) = &mut sig.candidate {
                    *candidate = format!("{name}/{candidate}");
                }
            }
        }
        parts.push(part);
    }
    let merged = reports::merge::merge(&parts).map_err(|e| UsageError(e.to_string()))?;
    let earlier = match &args.history {
        Some(dir) => history::read_last(dir, TREND_RUNS)
            .with_context(|| format!("cannot read the history in {}", dir.display()))?,
        None => Vec::new(),
    };
    super::create_out_dir(&args.out)?;
    for dir in &args.shards {
        let name = shard_folder(dir)?;
        for kept in ["failures", "capsules", "candidates"] {
            copy_tree(&dir.join(kept), &args.out.join(&name).join(kept))
                .with_context(|| format!("cannot copy {}", dir.join(kept).display()))?;
        }
    }
    write_atomically(&args.out.join("results.json"), &merged)?;
    reports::write_file_atomically(
        &args.out.join("junit.xml"),
        reports::junit::render(&merged).as_bytes(),
    )?;
    reports::write_file_atomically(
        &args.out.join("report.html"),
        reports::html::render(&merged, &earlier).as_bytes(),
    )?;
    if let Some(explore) = &merged.explore {
        reports::write_file_atomically(
            &args.out.join(super::explore::JOB_SUMMARY),
            reports::explore::job_summary(&merged).as_bytes(),
        )?;
        if let Some(dir) = &args.history {
            reports::explore::append_new_signatures(
                &dir.join(SIGNATURES_FILE),
                &explore.signatures,
            )?;
        }
    }
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

/// The signature history file in a `--history` directory (what `explore --history` reads).
pub const SIGNATURES_FILE: &str = "signatures.txt";

/// The folder name a shard's kept files get in the merged output.
fn shard_folder(dir: &std::path::Path) -> anyhow::Result<String> {
    dir.canonicalize()
        .ok()
        .and_then(|d| d.file_name().map(|n| n.to_string_lossy().into_owned()))
        .ok_or_else(|| UsageError(format!("{} is not a shard directory", dir.display())).into())
}

/// Copies the tree at `from` to `to` (nothing when `from` does not exist).
fn copy_tree(from: &std::path::Path, to: &std::path::Path) -> std::io::Result<()> {
    if !from.is_dir() {
        return Ok(());
    }
    std::fs::create_dir_all(to)?;
    for entry in std::fs::read_dir(from)? {
        let entry = entry?;
        let target = to.join(entry.file_name());
        if entry.file_type()?.is_dir() {
            copy_tree(&entry.path(), &target)?;
        } else {
            std::fs::copy(entry.path(), target)?;
        }
    }
    Ok(())
}
