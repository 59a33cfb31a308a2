//! [`shrink_plan`]: the smallest workload plan that still fails, by delta debugging.
//!
//! Shrinking is a transformation of a plan value: remove chunks of operations (halves, then
//! quarters, down to single operations) and keep each removal under which the iteration still
//! fails the same way. Every candidate is judged by the caller's predicate, which re-runs it in
//! a worker; the number of tries is bounded.

use crate::workload::Operation;

/// How a shrink went.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ShrinkOutcome {
    /// The smallest failing plan found.
    pub plan: Vec<Operation>,
    /// Candidates tried.
    pub tries: usize,
    /// True when the budget ran out before single-operation removals were exhausted.
    pub budget_spent: bool,
}

/// Removes operations from `plan` while `still_fails` holds, trying at most `budget` candidates.
/// `still_fails(plan)` must be true for the original plan (the caller observed the failure).
pub fn shrink_plan(
    plan: &[Operation],
    budget: usize,
    still_fails: &mut dyn FnMut(&[Operation]) -> bool,
) -> ShrinkOutcome {
    let mut current: Vec<Operation> = plan.to_vec();
    let mut tries = 0;
    let mut chunk = current.len().div_ceil(2).max(1);
    loop {
        let mut removed_any = false;
        let mut start = 0;
        while start < current.len() {
            if tries >= budget {
                return ShrinkOutcome {
                    plan: current,
                    tries,
                    budget_spent: true,
                };
            }
            let end = (start + chunk).min(current.len());
            let candidate: Vec<Operation> = current[..start]
                .iter()
                .chain(&current[end..])
                .cloned()
                .collect();
            tries += 1;
            if !candidate.is_empty() && still_fails(&candidate) {
                current = candidate;
                removed_any = true;
            } else {
                start = end;
            }
        }
        if chunk == 1 && !removed_any {
            return ShrinkOutcome {
                plan: current,
                tries,
                budget_spent: false,
            };
        }
        if !removed_any {
            chunk = chunk.div_ceil(2).max(1);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::scenario::WorkloadSpec;
    use crate::workload::generate;

    fn plan(n: usize) -> Vec<Operation> {
        generate(
            &WorkloadSpec {
                operations: n,
                ..WorkloadSpec::default()
            },
            3,
        )
    }

    #[test]
    fn shrinks_to_exactly_the_operations_the_failure_needs() {
        let original = plan(200);
        let stages: Vec<&Operation> = original
            .iter()
            .filter(|o| matches!(o, Operation::Stage { .. }))
            .collect();
        let needed = [stages[3].clone(), stages[stages.len() - 2].clone()];
        let mut fails = |candidate: &[Operation]| needed.iter().all(|op| candidate.contains(op));
        let outcome = shrink_plan(&original, 1000, &mut fails);
        assert_eq!(outcome.plan, needed);
        assert!(!outcome.budget_spent);
        assert!(
            outcome.tries < 200,
            "delta debugging, not one removal at a time: {}",
            outcome.tries
        );
    }

    #[test]
    fn respects_the_budget_and_keeps_a_failing_plan() {
        let original = plan(100);
        let needed = original
            .iter()
            .rfind(|o| matches!(o, Operation::Stage { .. }))
            .unwrap()
            .clone();
        let mut calls = 0;
        let mut fails = |candidate: &[Operation]| {
            calls += 1;
            candidate.contains(&needed)
        };
        let outcome = shrink_plan(&original, 5, &mut fails);
        assert!(outcome.budget_spent);
        assert_eq!(outcome.tries, 5);
        assert!(calls <= 5);
        assert!(outcome.plan.contains(&needed));
        assert!(outcome.plan.len() < 100);
    }

    #[test]
    fn a_plan_that_never_fails_again_stays_whole() {
        let original = plan(30);
        let outcome = shrink_plan(&original, 100, &mut |_| false);
        assert_eq!(outcome.plan, original);
    }
}
