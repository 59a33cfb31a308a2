//! Bit flips on read: the data a read returns is corrupted, the file is not
//! (latent sector corruption as seen by SQLite). [`flip_bits`] is the whole
//! mechanism; the rules are [`BitFlipRule`](super::BitFlipRule)s.

use rand::RngExt;

/// Flips `count` distinct seeded bits of `buf` (fewer if `buf` is smaller)
/// and returns their absolute file positions (`(offset + byte) * 8 + bit`), sorted.
pub(super) fn flip_bits<R: rand::Rng>(
    buf: &mut [u8],
    offset: i64,
    count: u32,
    rng: &mut R,
) -> Vec<u64> {
    let total_bits = buf.len() as u64 * 8;
    let want = u64::from(count).min(total_bits);
    let mut chosen: Vec<u64> = Vec::with_capacity(want as usize);
    while (chosen.len() as u64) < want {
        let bit = rng.random_range(0..total_bits);
        if !chosen.contains(&bit) {
            chosen.push(bit);
        }
    }
    chosen.sort_unstable();
    let base = offset.max(0) as u64 * 8;
    chosen
        .into_iter()
        .map(|bit| {
            buf[(bit / 8) as usize] ^= 1 << (bit % 8);
            base + bit
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::SeedableRng;

    #[test]
    fn flips_exactly_the_reported_bits() {
        let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(1);
        let original = vec![0xA5u8; 64];
        let mut buf = original.clone();
        let bits = flip_bits(&mut buf, 4096, 5, &mut rng);
        assert_eq!(bits.len(), 5);
        let mut diff = Vec::new();
        for (i, (a, b)) in original.iter().zip(&buf).enumerate() {
            for bit in 0..8 {
                if (a ^ b) & (1 << bit) != 0 {
                    diff.push((4096 + i as u64) * 8 + bit);
                }
            }
        }
        assert_eq!(diff, bits);
    }

    #[test]
    fn never_more_bits_than_the_buffer_has() {
        let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(2);
        let mut buf = [0u8; 1];
        assert_eq!(flip_bits(&mut buf, 0, 100, &mut rng).len(), 8);
        assert_eq!(buf[0], 0xFF);
    }
}
