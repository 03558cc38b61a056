//! Physical memory as the kernel reaches it (through the linear map), task translation
//! tables, and checked access to task memory.
//!
//! The kernel never dereferences a user pointer. A task's address is an allegation: it is
//! resolved page by page through the task's own translation tables, checked for the
//! access needed (mapped, user-accessible, writable for stores), and only then read or
//! written through the linear map. So a bad pointer is an `InvalidAddress` error, never a
//! kernel fault, and the check does not depend on what TTBR0 currently holds.

use super::mmu::PHYSMAP_BASE;
use crate::memory::FrameAllocator;
use paging::{Access, Attributes, PAGE_SIZE, Privilege, Table, TableMemory};

/// Zeroes `len` bytes of physical memory at `pa`.
///
/// Only for memory the kernel allocated from its frame allocator (RAM in the linear map,
/// owned by no one else at the time).
pub fn zero(pa: u64, len: u64) {
    // SAFETY: `pa..pa + len` is allocator RAM, mapped read-write in the linear map, and
    // not referenced by any Rust object (only by task mappings, which the kernel controls).
    unsafe { core::ptr::write_bytes((PHYSMAP_BASE + pa) as *mut u8, 0, len as usize) }
}

/// Copies `bytes` to physical memory at `pa` (allocator RAM, as for [`zero`]).
pub fn write(pa: u64, bytes: &[u8]) {
    // SAFETY: as in `zero`; source and destination cannot overlap (the source is kernel
    // data or the image payload, which the allocator never hands out).
    unsafe {
        core::ptr::copy_nonoverlapping(bytes.as_ptr(), (PHYSMAP_BASE + pa) as *mut u8, bytes.len())
    }
}

/// Copies physical memory at `pa` into `out` (allocator RAM, as for [`zero`]).
pub fn read(pa: u64, out: &mut [u8]) {
    // SAFETY: as in `zero`.
    unsafe {
        core::ptr::copy_nonoverlapping(
            (PHYSMAP_BASE + pa) as *const u8,
            out.as_mut_ptr(),
            out.len(),
        )
    }
}

/// Task translation tables, allocated from the frame allocator and reached through the
/// linear map.
pub struct TaskTables<'a>(pub &'a mut FrameAllocator);

impl TableMemory for TaskTables<'_> {
    fn allocate(&mut self) -> Option<u64> {
        let pa = self.0.allocate(1)?;
        zero(pa, PAGE_SIZE);
        Some(pa)
    }

    fn table(&mut self, pa: u64) -> &mut Table {
        // SAFETY: task tables are allocator frames (page aligned, in the linear map) used
        // only as tables, and only under the kernel lock; the borrow ends before the next
        // call, so no two references to one table coexist.
        unsafe { &mut *((PHYSMAP_BASE + pa) as *mut Table) }
    }
}

/// Read-only walks of task tables (no allocation possible).
struct Walk;

impl TableMemory for Walk {
    fn allocate(&mut self) -> Option<u64> {
        None
    }

    fn table(&mut self, pa: u64) -> &mut Table {
        // SAFETY: as for `TaskTables::table`; `translate` only reads through it.
        unsafe { &mut *((PHYSMAP_BASE + pa) as *mut Table) }
    }
}

/// Why a user access was refused.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct BadAddress;

/// Resolves user address `va` in the address space rooted at `root` for `write` or read
/// access; returns the physical address.
pub fn resolve(root: u64, va: u64, write: bool) -> Result<u64, BadAddress> {
    if va >= 1 << 48 {
        return Err(BadAddress);
    }
    let translation = paging::translate(&mut Walk, root, va).ok_or(BadAddress)?;
    let attributes: Attributes = translation.attributes.ok_or(BadAddress)?;
    let allowed = attributes.privilege == Privilege::User
        && (!write || attributes.access == Access::ReadWrite)
        && attributes.kind != paging::MemoryKind::Device;
    if allowed {
        Ok(translation.pa)
    } else {
        Err(BadAddress)
    }
}

/// Copies `out.len()` bytes from user address `va`.
pub fn copy_from_user(root: u64, va: u64, out: &mut [u8]) -> Result<(), BadAddress> {
    let mut done = 0;
    while done < out.len() {
        let address = va.checked_add(done as u64).ok_or(BadAddress)?;
        let in_page = ((PAGE_SIZE - address % PAGE_SIZE) as usize).min(out.len() - done);
        let pa = resolve(root, address, false)?;
        read(pa, &mut out[done..done + in_page]);
        done += in_page;
    }
    Ok(())
}

/// A word of physical memory (kernel-owned pages such as IPC buffers; `pa` 8-byte aligned).
pub fn read_word(pa: u64) -> u64 {
    debug_assert!(pa.is_multiple_of(8));
    // SAFETY: as in `zero`; IPC buffer fields are aligned words, and a volatile access
    // creates no reference to memory the task may write concurrently.
    unsafe { core::ptr::read_volatile((PHYSMAP_BASE + pa) as *const u64) }
}

/// Writes a word of physical memory (kernel-owned pages such as IPC buffers; aligned).
pub fn write_word(pa: u64, value: u64) {
    debug_assert!(pa.is_multiple_of(8));
    // SAFETY: as in `read_word`.
    unsafe { core::ptr::write_volatile((PHYSMAP_BASE + pa) as *mut u64, value) }
}

/// Writes a half-word of physical memory (kernel-shared pages; 2-byte aligned).
pub fn write_u16(pa: u64, value: u16) {
    debug_assert!(pa.is_multiple_of(2));
    // SAFETY: as in `read_word`.
    unsafe { core::ptr::write_volatile((PHYSMAP_BASE + pa) as *mut u16, value) }
}

/// Copies `len` bytes between two physical ranges (IPC buffer to IPC buffer).
pub fn copy_physical(from: u64, to: u64, len: u64) {
    // SAFETY: both ranges are allocator RAM in the linear map (distinct threads' IPC
    // buffers, which never overlap).
    unsafe {
        core::ptr::copy_nonoverlapping(
            (PHYSMAP_BASE + from) as *const u8,
            (PHYSMAP_BASE + to) as *mut u8,
            len as usize,
        )
    }
}
