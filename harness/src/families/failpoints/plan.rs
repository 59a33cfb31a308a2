//! Fail points inside the ledger: [`FailPoints`], actions set per named point with the `fail`
//! crate's grammar, and the crash at every point in turn.
//!
//! The ledger's fail points (`ledger::<operation>::<step>`, listed by
//! [`ledger::failpoint::every`]) sit between the steps of each multi-step operation. A scenario
//! sets, per point, `action[->action...]` with `action = [p%][cnt*]task[(arg)]` and `task` one
//! of `off`, `return`, `sleep(ms)`, `panic`, `pause`, `print`, `yield`, `delay(ms)`.
//!
//! Replay: the fail crate draws `p%` from an unseeded thread RNG. [`deterministic_actions`]
//! therefore decides every `p%` draw in advance from the iteration's seed and the point's name,
//! for the first `horizon` hits, and hands the fail crate a chain of counted actions without any
//! `%` (`1*off->2*return->...`): the fail crate takes the first action whose count is not used
//! up, so the chain is exactly that hit-by-hit sequence, and past the horizon the point is off.
//! A spec without `%` is passed through unchanged.
//!
//! `panic` is a crash at exactly that step: the drive worker's panic hook aborts the process
//! before any unwinding (no destructor rolls anything back), after telling the supervisor, which
//! then judges the iteration like a `kill -9` (see `families/failpoints/prepare.rs`).
//!
//! What the ledger must survive: a crash or an error at any point leaves nothing acknowledged
//! lost and nothing partial; after reopening and resuming, an export is done exactly once (one
//! vault file, one audit row) and a prune only ever deletes what a verified backup holds.

use std::collections::BTreeMap;

use rand::{RngExt, SeedableRng};
use rand_chacha::ChaCha8Rng;
use serde::{Deserialize, Serialize};

/// Fail-point actions of a scenario.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case", deny_unknown_fields)]
pub struct FailPoints {
    /// Actions per fail point name, in the fail crate's grammar (see the module doc).
    #[serde(default)]
    pub actions: BTreeMap<String, String>,
    /// Crash (`panic`) at every fail point of the ledger in turn: one drive worker and one check
    /// worker per point, all in one iteration. Excludes `actions`.
    #[serde(default)]
    pub crash_at_each: bool,
    /// Hits per point whose `p%` draws are decided from the seed; later hits do nothing.
    #[serde(default = "default_horizon")]
    pub horizon: u32,
}

fn default_horizon() -> u32 {
    1000
}

impl Default for FailPoints {
    fn default() -> Self {
        FailPoints {
            actions: BTreeMap::new(),
            crash_at_each: false,
            horizon: default_horizon(),
        }
    }
}

/// One parsed action: `[p%][cnt*]task[(arg)]`.
#[derive(Debug, Clone, PartialEq)]
struct Action {
    /// Probability in 0..=1 (1 when no `p%`).
    freq: f64,
    /// Times it may fire (`None`: unlimited).
    count: Option<u64>,
    /// The task as the fail crate spells it, argument included (`sleep(10)`).
    task: String,
}

/// The tasks the fail crate knows, and whether each needs an argument.
const TASKS: [(&str, bool); 8] = [
    ("off", false),
    ("return", false),
    ("sleep", true),
    ("panic", false),
    ("pause", false),
    ("print", false),
    ("yield", false),
    ("delay", true),
];

fn parse_action(text: &str) -> Result<Action, String> {
    let text = text.trim();
    let (freq, rest) = match text.split_once('%') {
        Some((p, rest)) if !p.contains('(') => {
            let p: f64 = p
                .trim()
                .parse()
                .map_err(|e| format!("bad probability `{p}%`: {e}"))?;
            if !(0.0..=100.0).contains(&p) {
                return Err(format!("probability `{p}%` is not within 0..=100"));
            }
            (p / 100.0, rest)
        }
        _ => (1.0, text),
    };
    let (count, rest) = match rest.split_once('*') {
        Some((n, rest)) if !n.contains('(') => {
            let n: u64 = n
                .trim()
                .parse()
                .map_err(|e| format!("bad count `{n}*`: {e}"))?;
            (Some(n), rest)
        }
        _ => (None, rest),
    };
    let rest = rest.trim();
    let (name, arg) = match rest.split_once('(') {
        Some((name, arg)) => {
            let arg = arg
                .strip_suffix(')')
                .ok_or_else(|| format!("`{rest}` has no closing parenthesis"))?;
            (name.trim(), Some(arg))
        }
        None => (rest, None),
    };
    let Some((_, needs_arg)) = TASKS.iter().find(|(t, _)| *t == name) else {
        let known: Vec<&str> = TASKS.iter().map(|(t, _)| *t).collect();
        return Err(format!(
            "unknown task `{name}` (known: {})",
            known.join(", ")
        ));
    };
    if *needs_arg {
        let ms = arg.ok_or_else(|| format!("`{name}` needs milliseconds: `{name}(10)`"))?;
        ms.trim()
            .parse::<u64>()
            .map_err(|e| format!("`{name}({ms})`: {e}"))?;
    }
    // `panic` always takes the fail crate's own message, which names the point: the worker's
    // panic hook recognises a fail-point crash by it.
    let task = match (name, arg) {
        ("panic", _) | (_, None) => name.to_owned(),
        (_, Some(arg)) => format!("{name}({arg})"),
    };
    Ok(Action { freq, count, task })
}

fn parse(spec: &str) -> Result<Vec<Action>, String> {
    spec.split("->").map(parse_action).collect()
}

/// A seed for one point's draws: the iteration's seed mixed with the point's name (FNV-1a).
fn point_seed(seed: u64, name: &str) -> u64 {
    let mut hash: u64 = 0xcbf2_9ce4_8422_2325;
    for byte in name.bytes() {
        hash ^= u64::from(byte);
        hash = hash.wrapping_mul(0x0100_0000_01b3);
    }
    seed ^ hash
}

/// The action chain handed to `fail::cfg` for point `name`: `spec` with every `p%` decided
/// from `seed` for the first `horizon` hits (see the module doc).
///
/// # Errors
/// A message naming what in `spec` is not the fail crate's grammar.
pub fn deterministic_actions(
    spec: &str,
    seed: u64,
    name: &str,
    horizon: u32,
) -> Result<String, String> {
    let actions = parse(spec)?;
    let render = |a: &Action| match a.count {
        Some(n) => format!("{n}*{}", a.task),
        None => a.task.clone(),
    };
    if actions.iter().all(|a| a.freq >= 1.0) {
        return Ok(actions.iter().map(render).collect::<Vec<_>>().join("->"));
    }
    let mut rng = ChaCha8Rng::seed_from_u64(point_seed(seed, name));
    let mut left: Vec<Option<u64>> = actions.iter().map(|a| a.count).collect();
    let mut runs: Vec<(u64, String)> = Vec::new();
    for _ in 0..horizon {
        let mut task = "off".to_owned();
        for (action, left) in actions.iter().zip(left.iter_mut()) {
            if *left == Some(0) {
                continue;
            }
            if action.freq < 1.0 && !rng.random_bool(action.freq) {
                continue;
            }
            if let Some(n) = left {
                *n -= 1;
            }
            task = action.task.clone();
            break;
        }
        match runs.last_mut() {
            Some((n, last)) if *last == task => *n += 1,
            _ => runs.push((1, task)),
        }
    }
    Ok(runs
        .into_iter()
        .map(|(n, task)| format!("{n}*{task}"))
        .collect::<Vec<_>>()
        .join("->"))
}

/// True when `name` is a fail point the ledger has.
fn known(name: &str) -> bool {
    ledger::failpoint::every().contains(&name)
}

/// An error for a name the ledger does not have, with the closest one.
fn unknown_point(name: &str) -> String {
    let closest = ledger::failpoint::every()
        .into_iter()
        .min_by_key(|known| strsim::levenshtein(known, name));
    format!(
        "`{name}` is not a fail point of the ledger{}",
        closest
            .map(|c| format!(" (closest: `{c}`)"))
            .unwrap_or_default()
    )
}

impl FailPoints {
    /// Checks names and grammar.
    ///
    /// # Errors
    /// A message naming the bad point or action.
    pub fn validate(&self) -> Result<(), String> {
        if self.crash_at_each && !self.actions.is_empty() {
            return Err("`crash-at-each` sets the actions itself: drop `actions`".into());
        }
        if !self.crash_at_each && self.actions.is_empty() {
            return Err("set `actions` (point = \"action\") or `crash-at-each = true`".into());
        }
        if self.horizon == 0 {
            return Err("`horizon` must be at least 1".into());
        }
        for (name, spec) in &self.actions {
            if !known(name) {
                return Err(unknown_point(name));
            }
            parse(spec).map_err(|e| format!("`{name}` = \"{spec}\": {e}"))?;
        }
        Ok(())
    }

    /// The plan that crashes at `point` alone (one step of `crash-at-each`).
    pub fn crash_at(point: &str) -> FailPoints {
        FailPoints {
            actions: BTreeMap::from([(point.to_owned(), "panic".to_owned())]),
            ..FailPoints::default()
        }
    }

    /// True when some action may crash the worker (`panic`).
    pub fn may_crash(&self) -> bool {
        self.crash_at_each
            || self
                .actions
                .values()
                .any(|spec| parse(spec).is_ok_and(|a| a.iter().any(|a| a.task == "panic")))
    }

    /// Configures the fail crate's registry of this process: every point's deterministic chain
    /// for `seed`. Call once, in the drive worker, before the ledger opens.
    ///
    /// # Errors
    /// The point and what the fail crate or the grammar refused.
    pub fn arm(&self, seed: u64) -> Result<Vec<(String, String)>, String> {
        let mut armed = Vec::new();
        for (name, spec) in &self.actions {
            let chain = deterministic_actions(spec, seed, name, self.horizon)?;
            fail::cfg(name.clone(), &chain).map_err(|e| format!("fail point `{name}`: {e}"))?;
            armed.push((name.clone(), chain));
        }
        Ok(armed)
    }
}

/// True when a panic message is the fail crate's crash at a point (`failpoint NAME panic`);
/// gives the point's name.
pub fn crash_point(panic_message: &str) -> Option<&str> {
    panic_message
        .strip_prefix("failpoint ")?
        .strip_suffix(" panic")
        .filter(|name| name.starts_with("ledger::"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn plain_specs_pass_through() {
        let chain = deterministic_actions("1*return->sleep(5)", 7, "ledger::a::b", 10);
        assert_eq!(chain.unwrap(), "1*return->sleep(5)");
        assert_eq!(
            deterministic_actions("panic(boom)", 7, "x", 10).unwrap(),
            "panic"
        );
    }

    /// Expands a chain of counted actions into the task of each hit, as the fail crate runs it.
    fn hits(chain: &str) -> Vec<String> {
        chain
            .split("->")
            .flat_map(|part| {
                let (n, task) = part.split_once('*').unwrap();
                std::iter::repeat_n(task.to_owned(), n.parse().unwrap())
            })
            .collect()
    }

    #[test]
    fn percentages_are_decided_by_the_seed() {
        let a = deterministic_actions("50%return", 1, "ledger::p::q", 200).unwrap();
        assert_eq!(
            a,
            deterministic_actions("50%return", 1, "ledger::p::q", 200).unwrap()
        );
        assert_ne!(
            a,
            deterministic_actions("50%return", 2, "ledger::p::q", 200).unwrap()
        );
        assert_ne!(
            a,
            deterministic_actions("50%return", 1, "ledger::p::r", 200).unwrap()
        );
        let fired = hits(&a).iter().filter(|t| *t == "return").count();
        assert_eq!(hits(&a).len(), 200);
        assert!((60..140).contains(&fired), "{fired} of 200 at 50%");
        assert!(!a.contains('%'));
    }

    #[test]
    fn counts_and_fallbacks_follow_the_fail_crate() {
        let chain = deterministic_actions("50%2*return->sleep(1)", 3, "n", 50).unwrap();
        let seq = hits(&chain);
        assert_eq!(seq.iter().filter(|t| *t == "return").count(), 2);
        assert_eq!(seq.iter().filter(|t| *t == "sleep(1)").count(), 48);
        // The fail crate itself accepts the translated chain.
        let scenario = fail::FailScenario::setup();
        fail::cfg("harness::grammar::check", &chain).expect("fail accepts the chain");
        scenario.teardown();
    }

    #[test]
    fn grammar_errors_name_the_problem() {
        assert!(parse("explode").unwrap_err().contains("unknown task"));
        assert!(parse("sleep").unwrap_err().contains("milliseconds"));
        assert!(parse("150%return").unwrap_err().contains("0..=100"));
        assert!(parse("x*return").unwrap_err().contains("count"));
    }

    #[test]
    fn validation_knows_the_ledger_points() {
        let plan = FailPoints {
            actions: BTreeMap::from([("ledger::export::after_vault_writ".into(), "return".into())]),
            ..FailPoints::default()
        };
        let err = plan.validate().unwrap_err();
        assert!(
            err.contains("closest: `ledger::export::after_vault_write`"),
            "{err}"
        );
        assert!(
            FailPoints::crash_at("ledger::export::before_commit")
                .validate()
                .is_ok()
        );
        assert!(FailPoints::crash_at("ledger::export::before_commit").may_crash());
    }

    #[test]
    fn crash_messages_name_the_point() {
        assert_eq!(
            crash_point("failpoint ledger::export::before_commit panic"),
            Some("ledger::export::before_commit")
        );
        assert_eq!(crash_point("index out of bounds"), None);
    }
}
