//! [`iteration_seed`]: one seed per (base seed, scenario, iteration), stable across runs and
//! machines, so `replay` reproduces an iteration from the run's base seed.

use sha2::{Digest, Sha256};

/// The seed of iteration `iteration` of `scenario` in a run with base seed `base`.
pub fn iteration_seed(base: u64, scenario: &str, iteration: u32) -> u64 {
    let digest = Sha256::digest(format!("{base}:{scenario}:{iteration}").as_bytes());
    u64::from_le_bytes(digest[..8].try_into().expect("sha256 has 32 bytes"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn seeds_are_stable_and_distinct() {
        assert_eq!(iteration_seed(1, "a", 0), iteration_seed(1, "a", 0));
        assert_ne!(iteration_seed(1, "a", 0), iteration_seed(1, "a", 1));
        assert_ne!(iteration_seed(1, "a", 0), iteration_seed(2, "a", 0));
        assert_ne!(iteration_seed(1, "a", 0), iteration_seed(1, "b", 0));
    }
}
