//! Capability spaces: the range of slots one task may name.
//!
//! seL4 resolves a capability address by walking a tree of CNodes with guards. A static
//! system does not need that generality: each task owns one contiguous range of the
//! global [`CapTable`](crate::CapTable), fixed by the image, and names its slots
//! `0..len`. Resolution is then a single bounds check, which is also the whole of the
//! isolation argument: a slot number outside `0..len` is refused with
//! [`Error::InvalidSlot`] before the table is touched, so a task cannot forge a reference
//! to a capability it was not given (invariant 6 of the design).

use kernel_abi::Error;

use crate::SlotId;

/// A contiguous range of global slots owned by one task; see the module documentation.
///
/// Created by [`CapTable::space`](crate::CapTable::space), which checks that the range
/// lies inside the table. Whether the spaces of different tasks are disjoint is a
/// property of the image; [`CapSpace::overlaps`] lets the boot code check it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct CapSpace {
    base: u32,
    len: u32,
}

impl CapSpace {
    /// Only the table constructs spaces, after checking `base + len` fits it.
    pub(crate) const fn new_unchecked(base: u32, len: u32) -> Self {
        Self { base, len }
    }

    /// The first global slot of the space (task-local slot 0).
    #[must_use]
    pub const fn base(&self) -> SlotId {
        SlotId::new(self.base)
    }

    /// The number of slots in the space.
    #[must_use]
    pub const fn len(&self) -> u32 {
        self.len
    }

    /// `true` if the space has no slots.
    #[must_use]
    pub const fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// Turns a task-local slot number (as passed in a register) into a global slot.
    ///
    /// # Errors
    /// [`Error::InvalidSlot`] if `local` is not below [`CapSpace::len`].
    pub const fn resolve(&self, local: u64) -> Result<SlotId, Error> {
        if local >= self.len as u64 {
            return Err(Error::InvalidSlot);
        }
        // `local < len <= u32::MAX - base` (checked at construction), so the cast is
        // lossless and the sum does not overflow.
        Ok(SlotId::new(self.base + local as u32))
    }

    /// `true` if the global `slot` belongs to this space.
    #[must_use]
    pub const fn contains(&self, slot: SlotId) -> bool {
        slot.index() >= self.base && slot.index() - self.base < self.len
    }

    /// The task-local number of a global slot, if it belongs to this space (the inverse
    /// of [`CapSpace::resolve`]; used to tell a task where a received capability landed).
    #[must_use]
    pub const fn local_of(&self, slot: SlotId) -> Option<u32> {
        if self.contains(slot) {
            Some(slot.index() - self.base)
        } else {
            None
        }
    }

    /// `true` if the two spaces share a slot (empty spaces share nothing).
    #[must_use]
    pub const fn overlaps(&self, other: &Self) -> bool {
        // Widen so that `base + len` cannot overflow.
        let (a0, a1) = (self.base as u64, self.base as u64 + self.len as u64);
        let (b0, b1) = (other.base as u64, other.base as u64 + other.len as u64);
        !self.is_empty() && !other.is_empty() && a0 < b1 && b0 < a1
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn resolve_is_bounds_checked() {
        let s = CapSpace::new_unchecked(10, 4);
        assert_eq!(s.resolve(0), Ok(SlotId::new(10)));
        assert_eq!(s.resolve(3), Ok(SlotId::new(13)));
        assert_eq!(s.resolve(4), Err(Error::InvalidSlot));
        assert_eq!(s.resolve(u64::MAX), Err(Error::InvalidSlot));
        assert_eq!(s.resolve(1 << 32), Err(Error::InvalidSlot));
        assert!(s.contains(SlotId::new(10)) && s.contains(SlotId::new(13)));
        assert!(!s.contains(SlotId::new(9)) && !s.contains(SlotId::new(14)));
        assert_eq!(s.local_of(SlotId::new(12)), Some(2));
        assert_eq!(s.local_of(SlotId::new(14)), None);
        let empty = CapSpace::new_unchecked(5, 0);
        assert!(empty.is_empty());
        assert_eq!(empty.resolve(0), Err(Error::InvalidSlot));
        assert!(!empty.contains(SlotId::new(5)));
    }

    #[test]
    fn overlap() {
        let a = CapSpace::new_unchecked(0, 4);
        let b = CapSpace::new_unchecked(4, 4);
        let c = CapSpace::new_unchecked(3, 2);
        assert!(!a.overlaps(&b) && !b.overlaps(&a));
        assert!(a.overlaps(&c) && c.overlaps(&b));
        assert!(!CapSpace::new_unchecked(2, 0).overlaps(&a));
        let top = CapSpace::new_unchecked(u32::MAX - 1, 1);
        assert!(top.overlaps(&top));
    }
}
