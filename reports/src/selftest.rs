//! The self-test's kill matrix: [`KillMatrix`], one [`KillRow`] per (mutant, family).
//!
//! `resilience selftest` runs each planted bug of the ledger against the families that should
//! catch it, and the real ledger over every family; the matrix records which bugs were caught
//! (with the first failing check), which survived, and whether the real ledger raised a false
//! alarm. It is stored in `results.json` as `selftest` and shown in `report.html`.

use serde::{Deserialize, Serialize};

/// The self-test's outcome.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct KillMatrix {
    /// One row per (mutant, family) pair of the catalogue.
    pub rows: Vec<KillRow>,
    /// Iterations of the real ledger that did not pass (false alarms), as `scenario#iteration`.
    pub false_alarms: Vec<String>,
    /// Iterations the real ledger ran over every family.
    pub real_iterations: u64,
}

/// One mutant against one family.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct KillRow {
    /// The mutant's catalogue name (`target.mutant`).
    pub mutant: String,
    /// The bug, in one sentence.
    pub description: String,
    /// The family (or scenario filter) expected to catch it.
    pub family: String,
    /// What happened.
    pub verdict: KillVerdict,
    /// The first check that failed (caught), or why nothing could be judged.
    #[serde(default)]
    pub first_failing_check: Option<String>,
    /// Iterations run.
    #[serde(default)]
    pub iterations: u64,
    /// Iterations in which a check failed.
    #[serde(default)]
    pub failed: u64,
    /// The command that re-runs the first failing iteration.
    #[serde(default)]
    pub replay: Option<String>,
}

/// The verdict of one cell.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum KillVerdict {
    /// A check failed: the harness caught the bug.
    Caught,
    /// Every check held: the bug survived.
    Missed,
    /// The family that should catch it does not exist yet.
    NoFamilyYet,
    /// The family exists, but the bug is catalogued and not built yet.
    NotBuilt,
}

impl KillVerdict {
    /// The label shown in the matrix.
    pub fn label(self) -> &'static str {
        match self {
            KillVerdict::Caught => "caught",
            KillVerdict::Missed => "MISSED",
            KillVerdict::NoFamilyYet => "no family yet",
            KillVerdict::NotBuilt => "not built yet",
        }
    }
}

impl KillMatrix {
    /// True when no mutant survived and the real ledger raised no false alarm.
    pub fn passed(&self) -> bool {
        self.false_alarms.is_empty() && self.rows.iter().all(|r| r.verdict != KillVerdict::Missed)
    }
}
