//! The event vocabulary between the runner and the reporters: [`RunEvent`].
//!
//! This is the only interface between them. The runner emits events as the run goes; reporters
//! never look into the runner's state.

use serde::{Deserialize, Serialize};

use crate::results::{IterationResult, Shard};

/// One event of a run, in the order the runner emits them.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RunEvent {
    /// The run begins: what will run and with which settings.
    Started(RunStarted),
    /// One (scenario, iteration) has finished, passed or not.
    IterationFinished(Box<IterationResult>),
    /// Iterations of a scenario that were planned but not started (time budget spent or run
    /// interrupted).
    IterationsSkipped {
        /// Scenario name.
        scenario: String,
        /// How many of its iterations did not run.
        count: u64,
        /// Why they did not run.
        reason: String,
    },
    /// The run is over; reporters flush and finalise their outputs.
    Finished {
        /// Wall time of the whole run.
        wall_time_ms: u64,
        /// True when a signal (SIGINT or SIGTERM) stopped the run before every iteration ran.
        interrupted: bool,
    },
}

/// What a run is about to do.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RunStarted {
    /// Base seed of the run; each iteration's seed derives from it.
    pub base_seed: u64,
    /// The command line, for the record.
    pub command: Vec<String>,
    /// The filter expression, if any.
    pub filter: Option<String>,
    /// Scenarios selected, with their family.
    pub scenarios: Vec<ScenarioInfo>,
    /// Number of (scenario, iteration) pairs planned.
    pub planned_iterations: u64,
    /// Seconds since the Unix epoch when the run started.
    pub started_at_unix: u64,
    /// Version of the harness that produced the run.
    pub harness_version: String,
    /// Source revision (`git describe`), `unknown` outside a checkout.
    pub revision: String,
    /// The shard this run covers, if split.
    pub shard: Option<Shard>,
}

impl RunStarted {
    /// A small, fixed value for examples and tests.
    pub fn example() -> RunStarted {
        RunStarted {
            base_seed: 7,
            command: vec!["resilience".into(), "run".into()],
            filter: None,
            scenarios: vec![ScenarioInfo {
                name: "baseline-mixed".into(),
                family: "baseline".into(),
                tags: vec!["smoke".into()],
                description: "no fault".into(),
                planned_iterations: 1,
            }],
            planned_iterations: 1,
            started_at_unix: 0,
            harness_version: "0.0.0".into(),
            revision: "unknown".into(),
            shard: None,
        }
    }
}

/// A scenario as the reports show it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ScenarioInfo {
    /// Unique scenario name.
    pub name: String,
    /// Family (the folder under `scenarios/`).
    pub family: String,
    /// Tags used by filters.
    pub tags: Vec<String>,
    /// One-paragraph description from the scenario file.
    pub description: String,
    /// Iterations of it this run plans (after sharding).
    #[serde(default)]
    pub planned_iterations: u64,
}
