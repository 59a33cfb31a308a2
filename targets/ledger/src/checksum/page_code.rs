//! The page checksum kept in a page's last [`RESERVE_BYTES`], in two
//! versions ([`PageCode`]):
//!
//! - **version 2** (written since the CRC32C change): the CRC32C (Castagnoli)
//!   of the page body, little-endian, then the 4-byte tag [`CRC32C_TAG`]. One
//!   pass per page, in hardware where the CPU has it (SSE 4.2's `crc32` on
//!   x86-64, [`crate::crc32c`]; the `crc32c` crate's tables elsewhere). Every 1-, 2- and 3-bit error in a page up to 64 KiB is caught
//!   (CRC32C's Hamming distance is 4 up to 2^31 bits).
//! - **version 1** (cksumvfs's): the Fletcher-style sum of SQLite's WAL over the
//!   body, `(s1, s2)` little-endian, as SQLite's `cksumvfs` extension writes it.
//!
//! Every page written is sealed in version 2, so a database of version 1
//! migrates page by page as its pages are written; a read accepts either
//! version ([`page_code`]), so pages not yet rewritten still verify.

use super::algo::wal_checksum;

/// Bytes at the end of each page that hold its checksum.
pub const RESERVE_BYTES: usize = 8;

/// The last 4 reserved bytes of a version-2 page: "C32C".
pub const CRC32C_TAG: [u8; 4] = *b"C32C";

/// Which code a page's stored checksum is in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PageCode {
    /// Version 1: `cksumvfs`'s Fletcher-style sum (8 bytes).
    Fletcher,
    /// Version 2: CRC32C of the body (4 bytes) and [`CRC32C_TAG`].
    Crc32c,
}

impl PageCode {
    /// The code the shim writes: every page written is sealed in it.
    pub const CURRENT: PageCode = PageCode::Crc32c;

    /// The format version number (1 or 2).
    pub fn version(self) -> u8 {
        match self {
            PageCode::Fletcher => 1,
            PageCode::Crc32c => 2,
        }
    }

    /// The 8 reserved bytes this code stores for `page` (its last
    /// [`RESERVE_BYTES`] excluded from the sum).
    pub fn checksum(self, page: &[u8]) -> [u8; 8] {
        let body = body(page);
        let mut out = [0u8; 8];
        match self {
            PageCode::Fletcher => {
                let [s1, s2] = wal_checksum(false, body, [0, 0]);
                out[..4].copy_from_slice(&s1.to_le_bytes());
                out[4..].copy_from_slice(&s2.to_le_bytes());
            }
            PageCode::Crc32c => {
                out[..4].copy_from_slice(&crate::crc32c::crc32c(body).to_le_bytes());
                out[4..].copy_from_slice(&CRC32C_TAG);
            }
        }
        out
    }
}

fn body(page: &[u8]) -> &[u8] {
    &page[..page.len().saturating_sub(RESERVE_BYTES)]
}

/// The checksum the shim writes into `page` (the current code,
/// [`PageCode::CURRENT`]; its last [`RESERVE_BYTES`] are excluded).
pub fn page_checksum(page: &[u8]) -> [u8; 8] {
    PageCode::CURRENT.checksum(page)
}

/// The code `page`'s stored checksum verifies under, or `None` when it
/// verifies under neither (a damaged page). A page with the version-2 tag is
/// checked as version 2 first, so a current page costs one CRC pass and an
/// old one a CRC pass at most plus one Fletcher pass.
pub fn page_code(page: &[u8]) -> Option<PageCode> {
    if page.len() <= RESERVE_BYTES {
        return None;
    }
    let stored = &page[page.len() - RESERVE_BYTES..];
    if stored[4..] == CRC32C_TAG && stored == PageCode::Crc32c.checksum(page) {
        return Some(PageCode::Crc32c);
    }
    (stored == PageCode::Fletcher.checksum(page)).then_some(PageCode::Fletcher)
}

/// Whether `page`'s stored checksum matches its content, in either version.
pub fn page_checksum_ok(page: &[u8]) -> bool {
    page_code(page).is_some()
}

/// Write `page`'s checksum in the current code into its last [`RESERVE_BYTES`].
pub(crate) fn seal_page(page: &mut [u8]) {
    let sum = page_checksum(page);
    let at = page.len() - RESERVE_BYTES;
    page[at..].copy_from_slice(&sum);
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample(len: usize) -> Vec<u8> {
        (0..len as u32)
            .map(|i| (i.wrapping_mul(2_654_435_761) >> 11) as u8)
            .collect()
    }

    fn sealed_as(code: PageCode, mut page: Vec<u8>) -> Vec<u8> {
        let at = page.len() - RESERVE_BYTES;
        let sum = code.checksum(&page);
        page[at..].copy_from_slice(&sum);
        page
    }

    #[test]
    fn a_sealed_page_is_in_the_current_code() {
        let mut page = sample(4096);
        seal_page(&mut page);
        assert_eq!(page_code(&page), Some(PageCode::Crc32c));
        assert_eq!(&page[4092..], &CRC32C_TAG);
        assert_eq!(PageCode::CURRENT.version(), 2);
    }

    #[test]
    fn a_version_1_page_still_verifies() {
        let page = sealed_as(PageCode::Fletcher, sample(4096));
        assert_eq!(page_code(&page), Some(PageCode::Fletcher));
        assert!(page_checksum_ok(&page));
    }

    #[test]
    fn the_crc_is_the_castagnoli_crc_of_the_body() {
        // CRC-32C check value of "123456789" (RFC 3720, appendix B.4).
        let mut page = b"123456789".to_vec();
        page.extend_from_slice(&[0; RESERVE_BYTES]);
        assert_eq!(
            PageCode::Crc32c.checksum(&page)[..4],
            0xE306_9283u32.to_le_bytes()
        );
    }

    #[test]
    fn the_version_1_code_is_cksumvfs_s_sum() {
        assert_eq!(PageCode::Fletcher.checksum(&[0u8; 4096]), [0u8; 8]);
        let mut page = [0u8; 16];
        page[..8].copy_from_slice(&[1, 0, 0, 0, 2, 0, 0, 0]);
        assert_eq!(PageCode::Fletcher.checksum(&page), [1, 0, 0, 0, 3, 0, 0, 0]);
    }

    #[test]
    fn every_single_bit_flip_is_detected_in_both_versions() {
        for code in [PageCode::Fletcher, PageCode::Crc32c] {
            let mut page = sealed_as(code, sample(512));
            for bit in 0..page.len() * 8 {
                page[bit / 8] ^= 1 << (bit % 8);
                assert!(!page_checksum_ok(&page), "{code:?}: flip of bit {bit}");
                page[bit / 8] ^= 1 << (bit % 8);
            }
        }
    }

    #[test]
    fn a_damaged_tag_does_not_verify() {
        let mut page = sample(4096);
        seal_page(&mut page);
        page[4095] ^= 1;
        assert_eq!(page_code(&page), None);
    }
}
