//! The two checksums the shim computes: the page checksum kept in a page's
//! last 8 reserved bytes ([`page_checksum`], the same Fletcher-style sum as
//! SQLite's `cksumvfs`, so files stay readable by that extension) and the
//! WAL's cumulative frame checksum ([`wal_checksum`], as in SQLite's
//! `walChecksumBytes`), which the shim recomputes when it fills in a page
//! checksum of a WAL frame.

/// Bytes at the end of each page that hold its checksum.
pub const RESERVE_BYTES: usize = 8;

/// Whether a read or write of `len` bytes is a whole page (SQLite pages are
/// powers of two from 512 to 65536 bytes).
pub(crate) fn is_page(len: usize) -> bool {
    (512..=65536).contains(&len) && len.is_power_of_two()
}

/// The checksum of `page` (whose last [`RESERVE_BYTES`] are excluded).
pub fn page_checksum(page: &[u8]) -> [u8; 8] {
    let body = &page[..page.len().saturating_sub(RESERVE_BYTES)];
    let (mut s1, mut s2) = (0u32, 0u32);
    for pair in body.chunks_exact(8) {
        let a = u32::from_le_bytes([pair[0], pair[1], pair[2], pair[3]]);
        let b = u32::from_le_bytes([pair[4], pair[5], pair[6], pair[7]]);
        s1 = s1.wrapping_add(a).wrapping_add(s2);
        s2 = s2.wrapping_add(b).wrapping_add(s1);
    }
    let mut out = [0u8; 8];
    out[..4].copy_from_slice(&s1.to_le_bytes());
    out[4..].copy_from_slice(&s2.to_le_bytes());
    out
}

/// Whether `page`'s stored checksum matches its content.
pub fn page_checksum_ok(page: &[u8]) -> bool {
    page.len() > RESERVE_BYTES && page[page.len() - RESERVE_BYTES..] == page_checksum(page)
}

/// Write `page`'s checksum into its last [`RESERVE_BYTES`].
pub(crate) fn seal_page(page: &mut [u8]) {
    let sum = page_checksum(page);
    let at = page.len() - RESERVE_BYTES;
    page[at..].copy_from_slice(&sum);
}

/// SQLite's WAL checksum over `data` (a multiple of 8 bytes), continuing
/// from `seed`. `big_endian` is the WAL header magic's low bit.
pub(crate) fn wal_checksum(big_endian: bool, data: &[u8], seed: [u32; 2]) -> [u32; 2] {
    let [mut s1, mut s2] = seed;
    let word = |b: &[u8]| {
        let bytes = [b[0], b[1], b[2], b[3]];
        if big_endian {
            u32::from_be_bytes(bytes)
        } else {
            u32::from_le_bytes(bytes)
        }
    };
    for pair in data.chunks_exact(8) {
        s1 = s1.wrapping_add(word(&pair[..4])).wrapping_add(s2);
        s2 = s2.wrapping_add(word(&pair[4..])).wrapping_add(s1);
    }
    [s1, s2]
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

    #[test]
    fn zero_page_has_zero_checksum() {
        assert_eq!(page_checksum(&[0u8; 4096]), [0u8; 8]);
        assert!(page_checksum_ok(&[0u8; 4096]));
    }

    #[test]
    fn sealed_page_verifies_and_a_flipped_bit_does_not() {
        let mut page: Vec<u8> = (0..4096u32).map(|i| (i * 31 % 251) as u8).collect();
        seal_page(&mut page);
        assert!(page_checksum_ok(&page));
        page[1234] ^= 0x10;
        assert!(!page_checksum_ok(&page));
    }

    #[test]
    fn every_single_bit_flip_is_detected() {
        let mut page: Vec<u8> = (0..512u32).map(|i| (i * 7 + 3) as u8).collect();
        seal_page(&mut page);
        for bit in 0..page.len() * 8 {
            page[bit / 8] ^= 1 << (bit % 8);
            assert!(!page_checksum_ok(&page), "flip of bit {bit} went unnoticed");
            page[bit / 8] ^= 1 << (bit % 8);
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
