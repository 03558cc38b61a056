//! Shared memory as task code sees it: a [`Mapping`] made by `Cap<Frame>::map_view`.
//!
//! Other tasks (and, for kernel-shared pages, the kernel) write the same memory at any
//! time, so no Rust reference into it may exist: every access is a single volatile word
//! access through a raw pointer, inside the mapping's bounds. The one exception is a
//! reference to a type whose every byte is an atomic ([`SharedMemory`](crate::SharedMemory),
//! through [`Mapping::view`]), which concurrent writes cannot invalidate.

use crate::{Cap, Error, Frame};

/// A shared-memory frame mapped into this task.
#[derive(Debug)]
pub struct Mapping {
    pub(crate) frame: Cap<Frame>,
    pub(crate) base: u64,
    pub(crate) size: u64,
    pub(crate) writable: bool,
}

impl Mapping {
    /// Virtual address of the first byte.
    #[must_use]
    pub fn base(&self) -> u64 {
        self.base
    }

    /// Size in bytes.
    #[must_use]
    pub fn size(&self) -> u64 {
        self.size
    }

    fn word_address(&self, index: usize) -> Option<u64> {
        let offset = (index as u64).checked_mul(8)?;
        (offset.checked_add(8)? <= self.size).then_some(self.base + offset)
    }

    /// Reads word `index` (8-byte units from the base); `None` past the end.
    #[must_use]
    pub fn read(&self, index: usize) -> Option<u64> {
        let address = self.word_address(index)?;
        // SAFETY: the kernel mapped `base..base + size` readable in this address space for
        // as long as this `Mapping` exists (`unmap` consumes it); the address is inside
        // and 8-byte aligned (base is page aligned); a volatile read creates no reference.
        Some(unsafe { core::ptr::read_volatile(address as *const u64) })
    }

    /// Writes word `index`; `Err(InvalidArgument)` past the end, `Err(InsufficientRights)`
    /// on a read-only mapping.
    ///
    /// # Errors
    /// As above.
    pub fn write(&self, index: usize, value: u64) -> Result<(), Error> {
        if !self.writable {
            return Err(Error::InsufficientRights);
        }
        let address = self.word_address(index).ok_or(Error::InvalidArgument)?;
        // SAFETY: as in `read`, and the mapping is writable.
        unsafe { core::ptr::write_volatile(address as *mut u64, value) };
        Ok(())
    }

    /// Reads the 32-bit register at byte `offset` of a device frame (device registers
    /// take accesses of their own width); `None` past the end or unaligned.
    #[must_use]
    pub fn read_u32(&self, offset: usize) -> Option<u32> {
        let address = self.register_address(offset)?;
        // SAFETY: as in `read`: mapped, inside, 4-byte aligned, no reference created.
        Some(unsafe { core::ptr::read_volatile(address as *const u32) })
    }

    /// Writes the 32-bit register at byte `offset`; errors as [`Mapping::write`].
    ///
    /// # Errors
    /// As above.
    pub fn write_u32(&self, offset: usize, value: u32) -> Result<(), Error> {
        if !self.writable {
            return Err(Error::InsufficientRights);
        }
        let address = self
            .register_address(offset)
            .ok_or(Error::InvalidArgument)?;
        // SAFETY: as in `read_u32`, and the mapping is writable.
        unsafe { core::ptr::write_volatile(address as *mut u32, value) };
        Ok(())
    }

    fn register_address(&self, offset: usize) -> Option<u64> {
        let offset = offset as u64;
        (offset.is_multiple_of(4) && offset.checked_add(4)? <= self.size)
            .then_some(self.base + offset)
    }

    /// Unmaps the frame (`FrameOp::Unmap`).
    ///
    /// # Errors
    /// What the kernel returns; the view is gone either way.
    pub fn unmap(self) -> Result<(), Error> {
        self.frame.unmap()
    }
}
