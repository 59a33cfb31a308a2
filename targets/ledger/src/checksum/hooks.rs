//! The checksum VFS on the shared VFS shim: which files it wraps (main
//! databases and WALs; journals and temp files go straight to the VFS
//! underneath and cost nothing), how a WAL finds its database's state, and
//! which calls first write out a held-back WAL frame header. The sealing and
//! verifying itself is [`ChecksumFile`]'s.

use std::ffi::c_int;
use std::sync::Arc;

use rusqlite::ffi;
use vfs_shim::{
    ClosingFile, Fetched, FileControl, FileHooks, OpenRequest, RealFile, RealOpen, RegisterError,
    VfsConfig, VfsHooks,
};

use super::ChecksumError;
use super::file::{self, ChecksumFile, Code, DbState};

/// Registers `name` over the VFS `inner` (`None` = the default) unless a VFS
/// of that name exists already. The VFS and its name are leaked.
pub(super) fn register(name: &str, inner: Option<&str>) -> Result<(), ChecksumError> {
    let config = VfsConfig {
        name,
        over: inner,
        memory_mapping: true,
    };
    match vfs_shim::register(&config, ChecksumVfs) {
        Ok(()) | Err(RegisterError::NameTaken(_)) => Ok(()),
        Err(RegisterError::BadName(name)) => Err(ChecksumError::BadName(name)),
        Err(RegisterError::NoSuchVfs(inner)) => Err(ChecksumError::NoSuchVfs(
            inner.unwrap_or_else(|| "<default>".to_owned()),
        )),
        Err(RegisterError::Register { name, code }) => Err(ChecksumError::Register { name, code }),
    }
}

/// The VFS-level half: opens main databases and WALs as [`ChecksumFile`]s.
struct ChecksumVfs;

impl VfsHooks for ChecksumVfs {
    type File = ChecksumFile;

    fn wraps(&self, request: &OpenRequest<'_, ChecksumFile>) -> bool {
        let main_or_wal = ffi::SQLITE_OPEN_MAIN_DB | ffi::SQLITE_OPEN_WAL;
        request.name().is_some() && request.flags() & main_or_wal != 0
    }

    fn open(
        &self,
        request: &OpenRequest<'_, ChecksumFile>,
        real: RealOpen<'_>,
    ) -> Result<ChecksumFile, Code> {
        let path = request
            .name()
            .map(|name| name.to_string_lossy().into_owned())
            .unwrap_or_default();
        let file = if request.flags() & ffi::SQLITE_OPEN_MAIN_DB != 0 {
            ChecksumFile::main(path)
        } else {
            let db = request
                .main_database()
                .map_or_else(DbState::new, |main| Arc::clone(main.db_state()));
            ChecksumFile::wal(path, db)
        };
        real.open()?;
        Ok(file)
    }
}

impl file::RealFile for RealFile {
    fn read(&mut self, buf: &mut [u8], offset: i64) -> Result<(), Code> {
        RealFile::read(self, buf, offset)
    }

    fn write(&mut self, data: &[u8], offset: i64) -> Result<(), Code> {
        RealFile::write(self, data, offset)
    }
}

/// The file-level half: every call that may observe the file first writes
/// out a held-back WAL frame header ([`ChecksumFile::flush`]).
impl FileHooks for ChecksumFile {
    fn close(self, mut real: ClosingFile<'_>) -> Result<(), Code> {
        let flushed = self.flush(&mut *real);
        let closed = real.close();
        flushed.and(closed)
    }

    fn before_read(&self, real: &mut RealFile, _offset: i64, _len: usize) -> Result<(), Code> {
        self.flush(real)
    }

    fn after_read(&self, real: &mut RealFile, data: &mut [u8], offset: i64) -> Result<(), Code> {
        ChecksumFile::after_read(self, real, data, offset)
    }

    fn write(&self, real: &mut RealFile, data: &[u8], offset: i64) -> Result<(), Code> {
        ChecksumFile::write(self, real, data, offset)
    }

    /// Pages are sealed in SQLite's own buffer, as `cksumvfs` does: its last
    /// 8 bytes are reserved for the checksum, so no copy of the page is made.
    const WRITES_IN_PLACE: bool = true;

    fn write_in_place(
        &self,
        real: &mut RealFile,
        data: &mut [u8],
        offset: i64,
    ) -> Result<(), Code> {
        ChecksumFile::write_in_place(self, real, data, offset)
    }

    fn truncate(&self, real: &mut RealFile, size: i64) -> Result<(), Code> {
        self.flush(real)?;
        real.truncate(size)
    }

    /// The file underneath's characteristics without `SQLITE_IOCAP_SUBPAGE_READ`: with it,
    /// SQLite reads the content of an overflow page straight from the file, only the bytes it
    /// needs (`SQLITE_DIRECT_OVERFLOW_READ`), a read of less than a page that no checksum can
    /// verify: a flipped bit in a large capture's overflow page was served silently.
    fn device_characteristics(&self, real: &mut RealFile) -> c_int {
        real.device_characteristics() & !ffi::SQLITE_IOCAP_SUBPAGE_READ
    }

    fn sync(&self, real: &mut RealFile, flags: c_int) -> Result<(), Code> {
        self.flush(real)?;
        real.sync(flags)
    }

    fn file_size(&self, real: &mut RealFile) -> Result<i64, Code> {
        self.flush(real)?;
        real.file_size()
    }

    fn unlock(&self, real: &mut RealFile, level: c_int) -> Result<(), Code> {
        self.flush(real)?;
        real.unlock(level)
    }

    fn file_control(&self, real: &mut RealFile, control: &mut FileControl<'_>) -> Result<(), Code> {
        if let Some(answered) = checksum_pragma(self, control) {
            return answered;
        }
        real.file_control(control)
    }

    /// Never maps a checksummed page: it would bypass verification.
    fn fetch<'r>(&self, real: &'r mut RealFile, offset: i64, amt: c_int) -> Fetched<'r> {
        if self.maps_pages() {
            real.fetch(offset, amt)
        } else {
            Fetched::none()
        }
    }
}

/// `PRAGMA checksum_verification[=on|off|'except:P,Q,…']`, answered like `cksumvfs` does
/// (`1` when reads are verified); `except:` verifies every page but the listed page numbers
/// (a repair reading pages it knows damaged), `on` every page. `None` for any other file
/// control.
fn checksum_pragma(file: &ChecksumFile, control: &mut FileControl<'_>) -> Option<Result<(), Code>> {
    let mut pragma = control.pragma()?;
    if !pragma.name().eq_ignore_ascii_case("checksum_verification") {
        return None;
    }
    let now = match pragma.value().map(|value| value.to_ascii_lowercase()) {
        None => file.db_state().verifying_now(),
        Some(value) => match value.strip_prefix("except:") {
            Some(list) => match parse_pages(list) {
                Some(pages) => file.db_state().verify_except(pages),
                None => return Some(Err(ffi::SQLITE_ERROR)),
            },
            None => file
                .db_state()
                .set_verify(matches!(value.as_str(), "1" | "on" | "yes" | "true")),
        },
    };
    Some(pragma.answer(if now { c"1" } else { c"0" }))
}

/// `3,12` as page numbers; `None` when an item is not one.
fn parse_pages(list: &str) -> Option<Vec<u32>> {
    list.split(',')
        .map(str::trim)
        .filter(|item| !item.is_empty())
        .map(|item| item.parse().ok().filter(|&page: &u32| page > 0))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::parse_pages;

    #[test]
    fn page_lists_parse_or_are_refused() {
        assert_eq!(parse_pages("3,12"), Some(vec![3, 12]));
        assert_eq!(parse_pages(" 7 "), Some(vec![7]));
        assert_eq!(parse_pages(""), Some(vec![]));
        assert_eq!(parse_pages("3,x"), None);
        assert_eq!(parse_pages("0"), None);
    }
}
