//! [`Filter`]: which scenarios a run takes, from an expression like `torn-writes,smoke` or
//! `power-loss/*wal*`.
//!
//! The expression is a comma-separated list of globs; a scenario is selected when any glob
//! matches its name, its family, one of its tags, or `family/name`.

use globset::{Glob, GlobMatcher};

use super::Scenario;

/// A parsed filter expression.
#[derive(Debug, Clone)]
pub struct Filter {
    expression: String,
    globs: Vec<GlobMatcher>,
}

/// A filter that is malformed or selects nothing.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum FilterError {
    /// A glob that does not parse.
    #[error("invalid filter `{expression}`: {reason}")]
    Invalid {
        /// The expression.
        expression: String,
        /// The glob error.
        reason: String,
    },
    /// Nothing matched; `suggestions` holds the closest names, families and tags.
    #[error("filter `{expression}` matches no scenario{}", suggestion_text(.suggestions))]
    NoMatch {
        /// The expression.
        expression: String,
        /// Close matches, best first.
        suggestions: Vec<String>,
    },
}

fn suggestion_text(suggestions: &[String]) -> String {
    if suggestions.is_empty() {
        "; `resilience list` shows what exists".to_owned()
    } else {
        format!(
            "; did you mean: {}? (`resilience list` shows all)",
            suggestions.join(", ")
        )
    }
}

impl Filter {
    /// Parses `a,b,c` into globs.
    pub fn parse(expression: &str) -> Result<Filter, FilterError> {
        let globs = expression
            .split(',')
            .map(str::trim)
            .filter(|part| !part.is_empty())
            .map(|part| {
                Glob::new(part)
                    .map(|g| g.compile_matcher())
                    .map_err(|e| FilterError::Invalid {
                        expression: expression.to_owned(),
                        reason: e.to_string(),
                    })
            })
            .collect::<Result<Vec<_>, _>>()?;
        if globs.is_empty() {
            return Err(FilterError::Invalid {
                expression: expression.to_owned(),
                reason: "the filter is empty".into(),
            });
        }
        Ok(Filter {
            expression: expression.to_owned(),
            globs,
        })
    }

    /// True when some glob matches the scenario's name, family, tags or `family/name`.
    pub fn matches(&self, scenario: &Scenario) -> bool {
        let qualified = format!("{}/{}", scenario.family, scenario.name);
        let mut keys = [
            scenario.name.as_str(),
            scenario.family.as_str(),
            qualified.as_str(),
        ]
        .into_iter()
        .chain(scenario.tags.iter().map(String::as_str));
        keys.any(|key| self.globs.iter().any(|g| g.is_match(key)))
    }

    /// The scenarios selected, in the given order; an error with close matches when none is.
    pub fn select<'a>(&self, scenarios: &'a [Scenario]) -> Result<Vec<&'a Scenario>, FilterError> {
        let selected: Vec<&Scenario> = scenarios.iter().filter(|s| self.matches(s)).collect();
        if selected.is_empty() {
            return Err(FilterError::NoMatch {
                expression: self.expression.clone(),
                suggestions: self.suggestions(scenarios),
            });
        }
        Ok(selected)
    }

    /// Names, families and tags closest to the filter's parts (Jaro-Winkler), at most five.
    fn suggestions(&self, scenarios: &[Scenario]) -> Vec<String> {
        let mut candidates: Vec<String> = scenarios
            .iter()
            .flat_map(|s| {
                [s.name.clone(), s.family.clone()]
                    .into_iter()
                    .chain(s.tags.iter().cloned())
            })
            .collect();
        candidates.sort();
        candidates.dedup();
        let parts: Vec<&str> = self.expression.split(',').map(str::trim).collect();
        let mut scored: Vec<(f64, String)> = candidates
            .into_iter()
            .map(|c| {
                let score = parts
                    .iter()
                    .map(|p| strsim::jaro_winkler(&p.replace('*', ""), &c))
                    .fold(0.0, f64::max);
                (score, c)
            })
            .filter(|(score, _)| *score >= 0.7)
            .collect();
        scored.sort_by(|a, b| b.0.total_cmp(&a.0).then_with(|| a.1.cmp(&b.1)));
        scored.into_iter().take(5).map(|(_, c)| c).collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::path::Path;

    fn scenario(family: &str, name: &str, tags: &[&str]) -> Scenario {
        let text = format!(
            "name = \"{name}\"\ndescription = \"d\"\ntags = [{}]\nchecks = [\"integrity\"]\n",
            tags.iter()
                .map(|t| format!("\"{t}\""))
                .collect::<Vec<_>>()
                .join(",")
        );
        Scenario::parse(Path::new("x.toml"), family, &text).unwrap()
    }

    fn all() -> Vec<Scenario> {
        vec![
            scenario("baseline", "baseline-mixed", &["smoke"]),
            scenario("process-crash", "kill-writer", &["smoke", "crash"]),
            scenario("process-crash", "kill-writer-long", &[]),
        ]
    }

    fn names(filter: &str) -> Vec<String> {
        let all = all();
        Filter::parse(filter)
            .unwrap()
            .select(&all)
            .unwrap()
            .iter()
            .map(|s| s.name.clone())
            .collect()
    }

    #[test]
    fn matches_names_families_tags_and_globs() {
        assert_eq!(names("baseline-mixed"), ["baseline-mixed"]);
        assert_eq!(names("process-crash"), ["kill-writer", "kill-writer-long"]);
        assert_eq!(names("smoke"), ["baseline-mixed", "kill-writer"]);
        assert_eq!(
            names("*-long,baseline"),
            ["baseline-mixed", "kill-writer-long"]
        );
        assert_eq!(names("process-crash/*long"), ["kill-writer-long"]);
    }

    #[test]
    fn no_match_names_close_matches() {
        let all = all();
        let err = Filter::parse("proces-crash")
            .unwrap()
            .select(&all)
            .unwrap_err();
        match &err {
            FilterError::NoMatch { suggestions, .. } => assert_eq!(suggestions[0], "process-crash"),
            other => panic!("{other:?}"),
        }
        assert!(
            err.to_string().contains("did you mean: process-crash"),
            "{err}"
        );
    }

    #[test]
    fn bad_globs_and_empty_filters_are_errors() {
        assert!(matches!(
            Filter::parse("[oops"),
            Err(FilterError::Invalid { .. })
        ));
        assert!(matches!(
            Filter::parse(" , "),
            Err(FilterError::Invalid { .. })
        ));
    }
}
