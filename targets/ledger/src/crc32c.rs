//! CRC-32C (Castagnoli, the CRC of iSCSI and ext4): the page checksum of
//! format version 2 ([`crate::checksum::PageCode`]). On x86-64 CPUs with
//! SSE 4.2 it runs the `crc32` instruction over 8 bytes at a time (one
//! instruction per word, no table); elsewhere the `crc32c` crate computes the
//! same value. Kept out of the checksum module, which forbids `unsafe`: the
//! one unsafe call here enters a function compiled for SSE 4.2 after checking
//! at run time that the CPU has it.

/// The CRC-32C of `data` (initial value and final XOR `0xFFFF_FFFF`).
pub fn crc32c(data: &[u8]) -> u32 {
    #[cfg(target_arch = "x86_64")]
    if std::arch::is_x86_feature_detected!("sse4.2") {
        // SAFETY: `crc32c_sse42` only needs SSE 4.2, which the CPU was just found to have.
        return unsafe { crc32c_sse42(data) };
    }
    crc32c::crc32c(data)
}

/// [`crc32c`] with the `crc32` instruction: four words per loop turn, then
/// the remaining words, then the remaining bytes.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "sse4.2")]
fn crc32c_sse42(data: &[u8]) -> u32 {
    use std::arch::x86_64::{_mm_crc32_u8, _mm_crc32_u64};
    let word = |bytes: &[u8]| {
        u64::from_le_bytes([
            bytes[0], bytes[1], bytes[2], bytes[3], bytes[4], bytes[5], bytes[6], bytes[7],
        ])
    };
    let mut crc = u64::from(u32::MAX);
    let mut blocks = data.chunks_exact(32);
    for block in &mut blocks {
        crc = _mm_crc32_u64(crc, word(&block[..8]));
        crc = _mm_crc32_u64(crc, word(&block[8..16]));
        crc = _mm_crc32_u64(crc, word(&block[16..24]));
        crc = _mm_crc32_u64(crc, word(&block[24..32]));
    }
    let mut words = blocks.remainder().chunks_exact(8);
    for bytes in &mut words {
        crc = _mm_crc32_u64(crc, word(bytes));
    }
    let mut crc = crc as u32;
    for &byte in words.remainder() {
        crc = _mm_crc32_u8(crc, byte);
    }
    !crc
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn matches_the_check_value_and_the_table_crc_at_every_length() {
        assert_eq!(crc32c(b"123456789"), 0xE306_9283);
        let data: Vec<u8> = (0..5000u32)
            .map(|i| (i.wrapping_mul(2_654_435_761) >> 9) as u8)
            .collect();
        for len in (0..100).chain([4088, 4096, 4999, 5000]) {
            assert_eq!(
                crc32c(&data[..len]),
                crc32c::crc32c(&data[..len]),
                "length {len}"
            );
        }
    }
}
