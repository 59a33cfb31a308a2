//! The Fletcher-style sum of SQLite's WAL: the WAL's cumulative frame
//! checksum ([`wal_checksum`], as in SQLite's `walChecksumBytes`), which the
//! shim recomputes when it fills in a page checksum of a WAL frame, and the
//! version-1 page checksum (`cksumvfs`'s, in [`super::page_code`]).

/// Lanes summed at once by [`fletcher`]: independent running sums the CPU
/// overlaps, where one sum waits on its previous step.
const LANES: usize = 4;

/// `M^n`, where `M = [[1, 1], [1, 2]]` is one step of the sum on `(s1, s2)`
/// (`s1 += a + s2; s2 += b + s1`), mod 2^32.
fn step_power(mut n: usize) -> [u32; 4] {
    let mul = |x: [u32; 4], y: [u32; 4]| {
        [
            x[0].wrapping_mul(y[0])
                .wrapping_add(x[1].wrapping_mul(y[2])),
            x[0].wrapping_mul(y[1])
                .wrapping_add(x[1].wrapping_mul(y[3])),
            x[2].wrapping_mul(y[0])
                .wrapping_add(x[3].wrapping_mul(y[2])),
            x[2].wrapping_mul(y[1])
                .wrapping_add(x[3].wrapping_mul(y[3])),
        ]
    };
    let (mut result, mut base) = ([1, 0, 0, 1], [1, 1, 1, 2]);
    while n > 0 {
        if n & 1 == 1 {
            result = mul(result, base);
        }
        base = mul(base, base);
        n >>= 1;
    }
    result
}

thread_local! {
    /// The last `(n, M^n)` computed by [`step_power_cached`].
    static LAST_POWER: std::cell::Cell<(usize, [u32; 4])> =
        const { std::cell::Cell::new((0, [1, 0, 0, 1])) };
}

/// [`step_power`], remembered for the last `n` (every frame of a WAL has the
/// same length, so the power is computed once per page size and thread).
fn step_power_cached(n: usize) -> [u32; 4] {
    LAST_POWER.with(|last| {
        let (known, power) = last.get();
        if known == n {
            return power;
        }
        let power = step_power(n);
        last.set((n, power));
        power
    })
}

#[inline(always)]
fn word<const BIG_ENDIAN: bool>(bytes: &[u8]) -> u32 {
    let bytes = [bytes[0], bytes[1], bytes[2], bytes[3]];
    if BIG_ENDIAN {
        u32::from_be_bytes(bytes)
    } else {
        u32::from_le_bytes(bytes)
    }
}

#[inline(always)]
fn step<const BIG_ENDIAN: bool>(s: &mut [u32; 2], pair: &[u8]) {
    s[0] = s[0]
        .wrapping_add(word::<BIG_ENDIAN>(&pair[..4]))
        .wrapping_add(s[1]);
    s[1] = s[1]
        .wrapping_add(word::<BIG_ENDIAN>(&pair[4..8]))
        .wrapping_add(s[0]);
}

/// The Fletcher-style sum SQLite's WAL and `cksumvfs` use (`s1 += a + s2;
/// s2 += b + s1` over pairs of u32 words), continuing from `seed`.
///
/// The sum is linear: after `n` steps from `s`, it is `M^n s` plus the sum
/// of the same `n` steps from zero. So the data is cut into [`LANES`]
/// contiguous runs summed side by side from zero (no run waits on another),
/// then joined in order: `s = M^len s + run`. Same result as the one-by-one
/// loop, about three times faster on a 4 KiB page.
fn fletcher<const BIG_ENDIAN: bool>(data: &[u8], seed: [u32; 2]) -> [u32; 2] {
    let pairs = data.len() / 8;
    let run = pairs / LANES;
    let mut state = seed;
    if run >= 16 {
        let (runs, _) = data.split_at(run * LANES * 8);
        let (r0, rest) = runs.split_at(run * 8);
        let (r1, rest) = rest.split_at(run * 8);
        let (r2, r3) = rest.split_at(run * 8);
        let mut s = [[0u32; 2]; LANES];
        for (((p0, p1), p2), p3) in r0
            .chunks_exact(8)
            .zip(r1.chunks_exact(8))
            .zip(r2.chunks_exact(8))
            .zip(r3.chunks_exact(8))
        {
            step::<BIG_ENDIAN>(&mut s[0], p0);
            step::<BIG_ENDIAN>(&mut s[1], p1);
            step::<BIG_ENDIAN>(&mut s[2], p2);
            step::<BIG_ENDIAN>(&mut s[3], p3);
        }
        let m = step_power(run);
        for part in s {
            state = [
                m[0].wrapping_mul(state[0])
                    .wrapping_add(m[1].wrapping_mul(state[1]))
                    .wrapping_add(part[0]),
                m[2].wrapping_mul(state[0])
                    .wrapping_add(m[3].wrapping_mul(state[1]))
                    .wrapping_add(part[1]),
            ];
        }
        for pair in data[run * LANES * 8..pairs * 8].chunks_exact(8) {
            step::<BIG_ENDIAN>(&mut state, pair);
        }
        return state;
    }
    for pair in data.chunks_exact(8) {
        step::<BIG_ENDIAN>(&mut state, pair);
    }
    state
}

/// Whether a read or write of `len` bytes is a whole page (SQLite pages are
/// powers of two from 512 to 65536 bytes).
pub(crate) fn is_page(len: usize) -> bool {
    (512..=65536).contains(&len) && len.is_power_of_two()
}

/// SQLite's WAL checksum over `data` (a multiple of 8 bytes), continuing
/// from `seed`. `big_endian` is the WAL header magic's low bit.
pub(crate) fn wal_checksum(big_endian: bool, data: &[u8], seed: [u32; 2]) -> [u32; 2] {
    if big_endian {
        fletcher::<true>(data, seed)
    } else {
        fletcher::<false>(data, seed)
    }
}

/// The WAL checksum of a frame whose last 8 page bytes changed from `old_tail`
/// to `new_tail` and whose chain now starts from `seed` instead of `old_seed`,
/// from the checksum `old_sum` of the frame as it was (`pairs` = 8-byte pairs
/// summed: 1 for the frame header's first 8 bytes plus the page's). No pass
/// over the page: the sum is linear, so `new = old + M^pairs (seed - old_seed)
/// + (da, da + db)`, where `(da, db)` is the change of the last pair.
pub(crate) fn wal_checksum_update(
    big_endian: bool,
    pairs: usize,
    (old_seed, seed): ([u32; 2], [u32; 2]),
    old_sum: [u32; 2],
    (old_tail, new_tail): (&[u8], &[u8]),
) -> [u32; 2] {
    let m = step_power_cached(pairs);
    let d = [
        seed[0].wrapping_sub(old_seed[0]),
        seed[1].wrapping_sub(old_seed[1]),
    ];
    let shift = [
        m[0].wrapping_mul(d[0])
            .wrapping_add(m[1].wrapping_mul(d[1])),
        m[2].wrapping_mul(d[0])
            .wrapping_add(m[3].wrapping_mul(d[1])),
    ];
    let words = |tail: &[u8]| {
        if big_endian {
            (word::<true>(&tail[..4]), word::<true>(&tail[4..8]))
        } else {
            (word::<false>(&tail[..4]), word::<false>(&tail[4..8]))
        }
    };
    let ((a0, b0), (a1, b1)) = (words(old_tail), words(new_tail));
    let (da, db) = (a1.wrapping_sub(a0), b1.wrapping_sub(b0));
    [
        old_sum[0].wrapping_add(shift[0]).wrapping_add(da),
        old_sum[1]
            .wrapping_add(shift[1])
            .wrapping_add(da)
            .wrapping_add(db),
    ]
}

/// Read a big-endian checksum pair as stored in WAL headers.
pub(crate) fn read_pair(bytes: &[u8]) -> [u32; 2] {
    [
        u32::from_be_bytes([bytes[0], bytes[1], bytes[2], bytes[3]]),
        u32::from_be_bytes([bytes[4], bytes[5], bytes[6], bytes[7]]),
    ]
}

/// Store a checksum pair big-endian, as WAL headers do.
pub(crate) fn write_pair(pair: [u32; 2], out: &mut [u8]) {
    out[..4].copy_from_slice(&pair[0].to_be_bytes());
    out[4..8].copy_from_slice(&pair[1].to_be_bytes());
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The sum one pair at a time, as SQLite's `walChecksumBytes` writes it.
    fn serial(big_endian: bool, data: &[u8], seed: [u32; 2]) -> [u32; 2] {
        let mut s = seed;
        for pair in data.chunks_exact(8) {
            if big_endian {
                step::<true>(&mut s, pair);
            } else {
                step::<false>(&mut s, pair);
            }
        }
        s
    }

    #[test]
    fn the_lane_sum_equals_the_serial_sum() {
        let data: Vec<u8> = (0..70_000u32)
            .map(|i| (i.wrapping_mul(2_654_435_761) >> 13) as u8)
            .collect();
        for len in [0, 8, 64, 504, 512, 4088, 4096, 4104, 65_528, 65_536] {
            for seed in [[0, 0], [7, 11], [u32::MAX, 123_456_789]] {
                for big_endian in [false, true] {
                    assert_eq!(
                        wal_checksum(big_endian, &data[..len], seed),
                        serial(big_endian, &data[..len], seed),
                        "len {len} seed {seed:?} big-endian {big_endian}"
                    );
                }
            }
        }
    }

    #[test]
    fn the_frame_update_equals_a_full_recompute() {
        let mut frame: Vec<u8> = (0..4104u32).map(|i| (i * 37 % 253) as u8).collect();
        for big_endian in [false, true] {
            let (old_seed, seed) = ([3, 4], [99, 1_000_001]);
            let old_sum = serial(big_endian, &frame, old_seed);
            let old_tail = frame[4096..].to_vec();
            frame[4096..].copy_from_slice(&[9, 8, 7, 6, 5, 4, 3, 2]);
            let updated = wal_checksum_update(
                big_endian,
                frame.len() / 8,
                (old_seed, seed),
                old_sum,
                (&old_tail, &frame[4096..]),
            );
            assert_eq!(updated, serial(big_endian, &frame, seed));
        }
    }

    #[test]
    fn page_sizes_are_powers_of_two_from_512() {
        assert!(is_page(512) && is_page(4096) && is_page(65536));
        assert!(!is_page(24) && !is_page(4120) && !is_page(100) && !is_page(131072));
    }

    #[test]
    fn wal_checksum_matches_both_byte_orders() {
        let data = [1u8, 0, 0, 0, 2, 0, 0, 0];
        assert_eq!(wal_checksum(false, &data, [0, 0]), [1, 3]);
        let be = [0u8, 0, 0, 1, 0, 0, 0, 2];
        assert_eq!(wal_checksum(true, &be, [0, 0]), [1, 3]);
        let mut stored = [0u8; 8];
        write_pair([1, 3], &mut stored);
        assert_eq!(read_pair(&stored), [1, 3]);
    }
}
