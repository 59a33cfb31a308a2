//! The fault VFS on the shared VFS shim: every call asks the [`Controller`]
//! what to do around the real call. Every file is wrapped (journals, temp
//! files and `-shm` included), so every call is counted and can fail.

use std::ffi::{CStr, c_int};
use std::sync::Arc;

use vfs_shim::{
    ClosingFile, Fetched, FileControl, FileHooks, OpenRequest, RealFile, RealOpen, RealVfs,
    RegisterError, ShmRegion, VfsConfig, VfsHooks, into_code, into_result,
};

use super::VfsError;
use super::controller::{self, Call, Code, Controller, OpenFile};

/// Registers a VFS named `name` wrapping the default VFS (not as the default).
/// The VFS, its name and `ctrl` are leaked: SQLite may use them until exit.
pub(super) fn register(
    name: &str,
    ctrl: Arc<Controller>,
    forward_fetch: bool,
) -> Result<(), VfsError> {
    let config = VfsConfig {
        name,
        over: None,
        memory_mapping: forward_fetch,
    };
    vfs_shim::register(&config, FaultHooks { ctrl }).map_err(|e| match e {
        RegisterError::NameTaken(name) => VfsError::NameTaken(name),
        RegisterError::BadName(name) => VfsError::BadName(name),
        RegisterError::NoSuchVfs(_) => VfsError::NoDefaultVfs,
        RegisterError::Register { name, code } => VfsError::Register { name, code },
    })
}

/// The VFS-level half: opens, deletes and access checks.
struct FaultHooks {
    ctrl: Arc<Controller>,
}

/// What an open file owns.
struct Handle {
    ctrl: Arc<Controller>,
    file: OpenFile,
}

impl VfsHooks for FaultHooks {
    type File = Handle;

    fn open(&self, request: &OpenRequest<'_, Handle>, real: RealOpen<'_>) -> Result<Handle, Code> {
        let path = request.name().and_then(|name| name.to_str().ok());
        let file = self
            .ctrl
            .open(path, request.flags(), || into_code(real.open()))?;
        Ok(Handle {
            ctrl: Arc::clone(&self.ctrl),
            file,
        })
    }

    fn delete(&self, real: &RealVfs, path: &CStr, sync_dir: bool) -> Result<(), Code> {
        let rc = self.ctrl.delete(&path.to_string_lossy(), sync_dir, || {
            into_code(real.delete(path, sync_dir))
        });
        into_result(rc)
    }

    fn access(&self, real: &RealVfs, path: &CStr, flags: c_int) -> Result<bool, Code> {
        self.ctrl.gate(Call::Access)?;
        real.access(path, flags)
    }
}

impl controller::RealFile for RealFile {
    fn write(&mut self, data: &[u8], offset: i64) -> Result<(), Code> {
        RealFile::write(self, data, offset)
    }

    fn truncate(&mut self, size: i64) -> Result<(), Code> {
        RealFile::truncate(self, size)
    }

    fn sync(&mut self, flags: i32) -> Result<(), Code> {
        RealFile::sync(self, flags)
    }

    fn file_size(&mut self) -> Result<i64, Code> {
        RealFile::file_size(self)
    }
}

/// The file-level half. Sector size, device characteristics, `xShmBarrier`
/// and `xUnfetch` pass through, even after a power cut.
impl FileHooks for Handle {
    fn close(self, real: ClosingFile<'_>) -> Result<(), Code> {
        let closed = real.close();
        into_result(self.ctrl.close())?;
        closed
    }

    fn before_read(&self, _real: &mut RealFile, offset: i64, len: usize) -> Result<(), Code> {
        self.ctrl.before_read(&self.file, offset, len)
    }

    fn after_read(&self, _real: &mut RealFile, data: &mut [u8], offset: i64) -> Result<(), Code> {
        self.ctrl.after_read(&self.file, data, offset);
        Ok(())
    }

    fn write(&self, real: &mut RealFile, data: &[u8], offset: i64) -> Result<(), Code> {
        into_result(self.ctrl.write(&self.file, real, data, offset))
    }

    fn truncate(&self, real: &mut RealFile, size: i64) -> Result<(), Code> {
        into_result(self.ctrl.truncate(&self.file, real, size))
    }

    fn sync(&self, real: &mut RealFile, flags: c_int) -> Result<(), Code> {
        into_result(self.ctrl.sync(&self.file, real, flags))
    }

    fn file_size(&self, real: &mut RealFile) -> Result<i64, Code> {
        self.ctrl.gate(Call::FileSize)?;
        real.file_size()
    }

    fn lock(&self, real: &mut RealFile, level: c_int) -> Result<(), Code> {
        self.ctrl.before_lock(&self.file)?;
        real.lock(level)
    }

    fn unlock(&self, real: &mut RealFile, level: c_int) -> Result<(), Code> {
        self.ctrl.gate(Call::Unlock)?;
        real.unlock(level)
    }

    fn check_reserved_lock(&self, real: &mut RealFile) -> Result<bool, Code> {
        self.ctrl.gate(Call::CheckReservedLock)?;
        real.check_reserved_lock()
    }

    fn file_control(&self, real: &mut RealFile, control: &mut FileControl<'_>) -> Result<(), Code> {
        if control.op() == rusqlite::ffi::SQLITE_FCNTL_SIZE_HINT {
            let rc = self.ctrl.size_hint(&self.file, real, |real| {
                into_code(real.file_control(control))
            });
            return into_result(rc);
        }
        self.ctrl.gate(Call::FileControl)?;
        real.file_control(control)
    }

    fn shm_map<'r>(
        &self,
        real: &'r mut RealFile,
        region: c_int,
        size: c_int,
        extend: bool,
    ) -> ShmRegion<'r> {
        match self.ctrl.before_shm_map(&self.file, i64::from(region)) {
            Ok(()) => real.shm_map(region, size, extend),
            Err(rc) => ShmRegion::refused(rc),
        }
    }

    fn shm_lock(
        &self,
        real: &mut RealFile,
        offset: c_int,
        n: c_int,
        flags: c_int,
    ) -> Result<(), Code> {
        self.ctrl.gate(Call::ShmLock)?;
        real.shm_lock(offset, n, flags)
    }

    /// After a cut the mapping is still released, but nothing is deleted.
    fn shm_unmap(&self, real: &mut RealFile, delete: bool) -> Result<(), Code> {
        match self.ctrl.gate(Call::ShmUnmap) {
            Ok(()) => real.shm_unmap(delete),
            Err(rc) => {
                let _released = real.shm_unmap(false);
                Err(rc)
            }
        }
    }

    fn fetch<'r>(&self, real: &'r mut RealFile, offset: i64, amt: c_int) -> Fetched<'r> {
        match self.ctrl.before_fetch(&self.file, offset, i64::from(amt)) {
            Ok(()) => real.fetch(offset, amt),
            Err(rc) => Fetched::refused(rc),
        }
    }
}
