//! What `resilience explore` adds to a run's results: [`ExploreSummary`] (rounds, fresh
//! iterations, coverage, what the budget cut) and the failure [`Signature`]s, new or known,
//! with [`job_summary`], the Markdown a CI job shows.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::results::RunResults;

/// The exploration part of `results.json` (absent for `run`).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct ExploreSummary {
    /// `--time-budget` in seconds, if given.
    pub time_budget_secs: Option<u64>,
    /// `--max-iterations`, if given.
    pub max_iterations: Option<u64>,
    /// Rounds of fresh seeds after the default set.
    pub rounds: u64,
    /// Iterations of the default set (round 0) that finished.
    pub default_iterations: u64,
    /// Iterations on fresh seeds that finished.
    pub fresh_iterations: u64,
    /// Iterations planned for the round in progress when the budget ran out, never started.
    pub skipped_by_budget: u64,
    /// Distinct coverage keys seen (summed over scenarios).
    pub coverage_keys: u64,
    /// One entry per failure signature, in order of first appearance.
    pub signatures: Vec<Signature>,
}

impl ExploreSummary {
    /// Signatures no capsule and no history knew.
    pub fn new_signatures(&self) -> usize {
        self.signatures.iter().filter(|s| !s.known).count()
    }

    /// Signatures already known (a capsule in `scenarios/regressions/` or the history).
    pub fn known_signatures(&self) -> usize {
        self.signatures.iter().filter(|s| s.known).count()
    }

    /// Folds another shard's summary in: counts add up, signatures are united by id.
    pub fn merge(&mut self, other: &ExploreSummary) {
        self.rounds = self.rounds.max(other.rounds);
        self.default_iterations += other.default_iterations;
        self.fresh_iterations += other.fresh_iterations;
        self.skipped_by_budget += other.skipped_by_budget;
        self.coverage_keys += other.coverage_keys;
        for theirs in &other.signatures {
            match self.signatures.iter_mut().find(|s| s.id == theirs.id) {
                Some(ours) => ours.count += theirs.count,
                None => self.signatures.push(theirs.clone()),
            }
        }
    }
}

/// A group of failures that look the same: same scenario, first failing check, fault shapes
/// and shape of the discrepancy (seeds, ids and numbers blanked).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Signature {
    /// Short stable id: the first 12 hex digits of SHA-256 of `canonical`.
    pub id: String,
    /// Scenario.
    pub scenario: String,
    /// First failing check (or `error` for an iteration that could not be judged).
    pub check: String,
    /// The fault shapes, each with the kind of operation it hit.
    pub faults: Vec<String>,
    /// The first line of the failing check's detail, normalised.
    pub shape: String,
    /// Iterations with this signature.
    pub count: u64,
    /// True when known before this run (a capsule or the history names the id).
    pub known: bool,
    /// The first iteration with it.
    pub first_iteration: u32,
    /// Its replay command.
    pub replay: String,
    /// The capsule candidate written for it (relative to the output directory), if shrunk.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub candidate: Option<String>,
    /// The command that replays the candidate.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub candidate_replay: Option<String>,
}

/// The Markdown a CI job summary shows for an explored run: iterations, skipped, signatures
/// new and known, and for each new one its replay commands.
pub fn job_summary(results: &RunResults) -> String {
    let mut md = String::new();
    let s = &results.summary;
    let verdict = if results.interrupted {
        "interrupted"
    } else if s.failed + s.errors > 0 {
        "failed"
    } else {
        "passed"
    };
    md.push_str(&format!("## Resilience nightly: {verdict}\n\n"));
    md.push_str(&format!(
        "{} iterations: {} passed, {} failed, {} errors; {} lost acknowledged writes.\n\n",
        s.iterations, s.passed, s.failed, s.errors, s.lost_acknowledged
    ));
    let skipped: BTreeMap<&str, u64> =
        results
            .skipped
            .iter()
            .fold(BTreeMap::new(), |mut by_reason, skip| {
                *by_reason.entry(skip.reason.as_str()).or_default() += skip.count;
                by_reason
            });
    for (reason, count) in &skipped {
        md.push_str(&format!("Skipped: {count} iteration(s) ({reason}).\n\n"));
    }
    let Some(explore) = &results.explore else {
        return md;
    };
    md.push_str(&format!(
        "Explored: {} default-set and {} fresh-seed iterations over {} round(s), {} coverage keys.\n\n",
        explore.default_iterations, explore.fresh_iterations, explore.rounds, explore.coverage_keys
    ));
    md.push_str(&format!(
        "Failure signatures: **{} new**, {} known.\n\n",
        explore.new_signatures(),
        explore.known_signatures()
    ));
    if !explore.signatures.is_empty() {
        md.push_str("| signature | new | scenario | check | iterations | replay |\n");
        md.push_str("|---|---|---|---|---|---|\n");
        for sig in &explore.signatures {
            let replay = sig.candidate_replay.as_deref().unwrap_or(&sig.replay);
            md.push_str(&format!(
                "| `{}` | {} | {} | {} | {} | `{}` |\n",
                sig.id,
                if sig.known { "" } else { "new" },
                sig.scenario,
                sig.check,
                sig.count,
                replay
            ));
        }
        md.push('\n');
    }
    md
}

/// Appends each new signature to the history file at `path` (created if missing): its id,
/// scenario, check and shape, one per line; the id is what a later run reads.
pub fn append_new_signatures(
    path: &std::path::Path,
    signatures: &[Signature],
) -> std::io::Result<()> {
    use std::io::Write;
    if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
        std::fs::create_dir_all(dir)?;
    }
    let mut file = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(path)?;
    for sig in signatures.iter().filter(|s| !s.known) {
        writeln!(
            file,
            "{} {} {} {}",
            sig.id, sig.scenario, sig.check, sig.shape
        )?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn signature(id: &str, known: bool) -> Signature {
        Signature {
            id: id.into(),
            scenario: "s".into(),
            check: "integrity".into(),
            faults: Vec::new(),
            shape: "x".into(),
            count: 2,
            known,
            first_iteration: 0,
            replay: "resilience replay s --seed 1 --iteration 0".into(),
            candidate: None,
            candidate_replay: None,
        }
    }

    #[test]
    fn merged_shards_unite_signatures_and_add_counts() {
        let mut a = ExploreSummary {
            fresh_iterations: 3,
            signatures: vec![signature("aa", false)],
            ..ExploreSummary::default()
        };
        let b = ExploreSummary {
            fresh_iterations: 4,
            signatures: vec![signature("aa", false), signature("bb", true)],
            ..ExploreSummary::default()
        };
        a.merge(&b);
        assert_eq!(a.fresh_iterations, 7);
        assert_eq!(a.signatures.len(), 2);
        assert_eq!(a.signatures[0].count, 4);
        assert_eq!((a.new_signatures(), a.known_signatures()), (1, 1));
    }
}
