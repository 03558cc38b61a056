//! Typed views of shared memory: a mapped frame seen as a `T` whose every field is an
//! atomic ([`SharedMemory`]), through [`Mapping::view`] and [`Mapping::into_view`].
//!
//! Another task writes a shared frame at any time, so a Rust reference into it is sound
//! only for a type the compiler never assumes stable: one whose bytes are all inside
//! atomics (`UnsafeCell`s, so a `&T` promises no immutability), for which every bit
//! pattern is a valid value (whatever the other side wrote), and whose padding is never
//! read as data. That is what implementing [`SharedMemory`] promises; the views then
//! check the rest (size, alignment, a writable mapping) against the mapping itself, so
//! task code gets `&T` without `unsafe`.
//!
//! Both sides of a protocol in such a page (an in-band domain and the irq-server, say)
//! see the same `T`, and its methods are the protocol.

use core::sync::atomic::{AtomicI8, AtomicI16, AtomicI32, AtomicI64, AtomicU8, AtomicU16};
use core::sync::atomic::{AtomicU32, AtomicU64};

use crate::Mapping;

/// A type that may live in memory shared with other tasks and be viewed through `&Self`.
///
/// # Safety
///
/// Implement it only for a type of which
///
/// 1. every byte is only accessed through atomics (every field is an atomic, or an array
///    or `repr(C)` struct of types that implement this trait), so concurrent writes by
///    another task invalidate no assumption of the compiler;
/// 2. any bit pattern is a valid value (atomics of integers are; `AtomicBool` and
///    references are not);
/// 3. padding, if any, is never read as data (the layout is fixed by `repr(C)` or
///    `repr(transparent)`, not left to the compiler).
pub unsafe trait SharedMemory: Sync {}

macro_rules! atomics {
    ($($atomic:ty),+) => {$(
        // SAFETY: an integer atomic is one `UnsafeCell` of an integer, only accessed
        // through atomic operations; every bit pattern is a valid integer; no padding.
        unsafe impl SharedMemory for $atomic {}
    )+};
}

atomics!(
    AtomicU8, AtomicU16, AtomicU32, AtomicU64, AtomicI8, AtomicI16, AtomicI32, AtomicI64
);

// SAFETY: an array has the layout of `N` elements back to back with no padding between
// them beyond each element's own, and each element upholds the contract.
unsafe impl<T: SharedMemory, const N: usize> SharedMemory for [T; N] {}

impl Mapping {
    /// Whether a `T` fits the mapping: at most its size, aligned at its base, and the
    /// mapping writable (a `&T` of atomics allows stores, which would fault on a
    /// read-only mapping; read those with [`Mapping::read`]).
    fn fits<T: SharedMemory>(&self) -> bool {
        self.writable
            && size_of::<T>() as u64 <= self.size
            && self.base.is_multiple_of(align_of::<T>() as u64)
    }

    /// The mapped memory as a `T`, living as long as this borrow of the mapping (which
    /// stays mapped until [`Mapping::unmap`] consumes it). `None` if a `T` is larger than
    /// the mapping, needs a stricter alignment than its base, or the mapping is read-only.
    #[must_use]
    pub fn view<T: SharedMemory>(&self) -> Option<&T> {
        if !self.fits::<T>() {
            return None;
        }
        // SAFETY: 1. `base..base + size` is mapped readable and writable in this address
        // space for as long as `self` exists (`unmap` consumes it), and the returned
        // borrow does not outlive `self`; `size_of::<T>() <= size` and the base is aligned
        // for `T` (checked above). 2. Other tasks write this memory concurrently, which a
        // `&T` tolerates because every byte of `T` is inside an atomic and any bit pattern
        // is valid (the `SharedMemory` contract). 3. The address is in the window
        // `FrameOp::Map` serves, where only shared frames are ever mapped: should the
        // frame be unmapped through a copy of its capability anyway, an access faults (the
        // supervisor hears of it) or reads another shared frame, whose bytes are just as
        // valid for `T`; no private memory of the task can appear there.
        Some(unsafe { &*(self.base as *const T) })
    }

    /// [`Mapping::view`] for the rest of the task's life: the frame stays mapped for
    /// good (this mapping is consumed and never unmapped), so the view is `'static` and
    /// can be kept in a struct or a `static`. Gives the mapping back if a `T` does not
    /// fit it (see [`Mapping::view`]).
    ///
    /// # Errors
    /// The mapping itself, unchanged, when a `T` does not fit.
    pub fn into_view<T: SharedMemory>(self) -> Result<&'static T, Mapping> {
        if !self.fits::<T>() {
            return Err(self);
        }
        // Dropping a `Mapping` does not unmap it (only `unmap` does), so consuming `self`
        // here leaves the frame mapped with no handle left to unmap it.
        let base = self.base;
        // SAFETY: as in `view`, and the memory stays mapped for the rest of the task's
        // life because the only handle that could unmap it (`self`) is consumed.
        Ok(unsafe { &*(base as *const T) })
    }
}
