//! ULID generation from the ledger's clock and a seedable rng: [`IdGenerator`].

use rand::RngExt;
use rand::SeedableRng;
use rand_chacha::ChaCha8Rng;
use ulid::Ulid;

/// Makes ULIDs; deterministic when seeded.
#[derive(Debug)]
pub(crate) struct IdGenerator {
    rng: ChaCha8Rng,
}

impl IdGenerator {
    /// Seeded from `seed`, or from the thread rng when `None`.
    pub(crate) fn new(seed: Option<u64>) -> IdGenerator {
        let rng = match seed {
            Some(seed) => ChaCha8Rng::seed_from_u64(seed),
            None => ChaCha8Rng::from_rng(&mut rand::rng()),
        };
        IdGenerator { rng }
    }

    /// A new ULID text whose time part is `now_ms` (clamped at 0).
    pub(crate) fn next(&mut self, now_ms: i64) -> String {
        let millis = u64::try_from(now_ms).unwrap_or(0);
        Ulid::from_parts(millis, self.rng.random::<u128>()).to_string()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn seeded_generators_agree() {
        let mut a = IdGenerator::new(Some(9));
        let mut b = IdGenerator::new(Some(9));
        for now in [0, 5, 5, 1_700_000_000_000] {
            let id = a.next(now);
            assert_eq!(id.len(), 26);
            assert_eq!(id, b.next(now));
        }
    }

    #[test]
    fn unseeded_generators_differ() {
        assert_ne!(
            IdGenerator::new(None).next(1),
            IdGenerator::new(None).next(1)
        );
    }
}
