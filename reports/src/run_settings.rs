//! [`special_settings`]: what made a run different from the default run, read from its
//! recorded command line (so merged and older results have it too): planted bugs and other
//! `--set` overrides, the iteration count, the time budget, exhaustive power loss, shrinking.

/// One setting of a run that a reader of its report should know about.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Setting {
    /// What it is, in words (`planted bug`, `--set`, `iterations per scenario`, ...).
    pub label: String,
    /// Its value as given.
    pub value: String,
    /// True when it changes what is being tested (a planted bug): shown first and highlighted.
    pub loud: bool,
}

/// The `--set` key that plants a bug in the ledger.
const MUTANT_KEY: &str = "target.mutant";

/// The settings of `command` (the argv of `resilience run`) that differ from a default run,
/// in command-line order, planted bugs first.
pub fn special_settings(command: &[String]) -> Vec<Setting> {
    let mut settings = Vec::new();
    let mut args = command.iter().skip(1).peekable();
    while let Some(arg) = args.next() {
        let (flag, inline) = match arg.split_once('=') {
            Some((flag, value)) if flag.starts_with("--") => (flag, Some(value.to_owned())),
            _ => (arg.as_str(), None),
        };
        let label = match flag {
            "--set" => "--set",
            "--iterations" => "iterations per scenario",
            "--time-budget" => "time budget",
            "--shrink-budget" => "shrink budget",
            "--capsules" => "capsules written to",
            "--exhaustive" => {
                settings.push(setting("exhaustive power loss", "every crash point"));
                continue;
            }
            _ => continue,
        };
        let Some(value) = inline.or_else(|| args.next().cloned()) else {
            continue;
        };
        match value.split_once('=') {
            Some((key, mutant)) if flag == "--set" && key.trim() == MUTANT_KEY => {
                settings.push(Setting {
                    label: "planted bug".into(),
                    value: mutant.trim().to_owned(),
                    loud: true,
                })
            }
            _ => settings.push(setting(label, &value)),
        }
    }
    settings.sort_by_key(|s| !s.loud);
    settings
}

fn setting(label: &str, value: &str) -> Setting {
    Setting {
        label: label.to_owned(),
        value: value.to_owned(),
        loud: false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn argv(text: &str) -> Vec<String> {
        text.split_whitespace().map(str::to_owned).collect()
    }

    #[test]
    fn overrides_and_budgets_are_found_in_either_spelling() {
        let settings = special_settings(&argv(
            "resilience run --filter x --set target.synchronous=off --iterations=5 \
             --set target.mutant=durability-off --time-budget 90s --exhaustive --out o",
        ));
        let shown: Vec<(String, String, bool)> = settings
            .into_iter()
            .map(|s| (s.label, s.value, s.loud))
            .collect();
        assert_eq!(
            shown,
            [
                ("planted bug".into(), "durability-off".into(), true),
                ("--set".into(), "target.synchronous=off".into(), false),
                ("iterations per scenario".into(), "5".into(), false),
                ("time budget".into(), "90s".into(), false),
                (
                    "exhaustive power loss".into(),
                    "every crash point".into(),
                    false
                ),
            ]
        );
    }

    #[test]
    fn a_default_run_has_no_special_settings() {
        assert!(special_settings(&argv("resilience run --seed 1 --out o --jobs 2")).is_empty());
    }
}
