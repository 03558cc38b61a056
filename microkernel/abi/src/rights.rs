//! Access rights carried by a capability.
//!
//! The semantics follow seL4, so that its documentation and proofs keep applying:
//!
//! | operation                                   | right needed   |
//! |---------------------------------------------|----------------|
//! | endpoint `Send` / `Call`                    | [`Rights::WRITE`] |
//! | endpoint `Recv`                             | [`Rights::READ`]  |
//! | transfer capabilities in a message          | [`Rights::GRANT`] on the endpoint |
//! | transfer capabilities in a reply to `Call`  | [`Rights::GRANT_REPLY`] on the endpoint the caller used |
//! | notification `Signal`                       | [`Rights::WRITE`] |
//! | notification `Wait` / `Poll`                | [`Rights::READ`]  |
//! | frame mapping                               | [`Rights::READ`] / [`Rights::WRITE`] bound the mapping's permissions |
//!
//! Rights only ever shrink along a derivation: a capability minted from another carries
//! a subset of its rights (see the `cspace` crate).

use bitflags::bitflags;

use crate::Error;

bitflags! {
    /// The set of rights a capability carries; see the module documentation for what
    /// each right allows.
    ///
    /// The encoding is one byte, one bit per right; the other bits are reserved and
    /// [`Rights::from_raw`] refuses them.
    #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
    pub struct Rights: u8 {
        /// Receive on an endpoint, wait on or poll a notification, map a frame readable.
        const READ = 1 << 0;
        /// Send on an endpoint, signal a notification, map a frame writable.
        const WRITE = 1 << 1;
        /// Transfer capabilities in a message sent through this endpoint.
        const GRANT = 1 << 2;
        /// Transfer capabilities in the reply to a `Call` made through this endpoint.
        const GRANT_REPLY = 1 << 3;
    }
}

impl Rights {
    /// No rights at all (a capability that only names an object).
    pub const NONE: Self = Self::empty();
    /// Every defined right; what an original capability created by the kernel carries.
    pub const ALL: Self = Self::all();
    /// Read and write, without the right to pass capabilities on.
    pub const READ_WRITE: Self = Self::READ.union(Self::WRITE);

    /// `true` if every right in `self` is also in `other` (so deriving `self` from a
    /// capability carrying `other` amplifies nothing).
    #[must_use]
    pub const fn is_subset_of(self, other: Self) -> bool {
        self.bits() & !other.bits() == 0
    }

    /// Decodes rights passed in a register.
    ///
    /// # Errors
    /// [`Error::InvalidArgument`] if `raw` has a bit set that names no right.
    pub const fn from_raw(raw: u64) -> Result<Self, Error> {
        // One test covers both the bits above the byte and the reserved bits inside it.
        if raw & !(Self::ALL.bits() as u64) != 0 {
            return Err(Error::InvalidArgument);
        }
        // Lossless: only the low four bits can be set here.
        Ok(Self::from_bits_retain(raw as u8))
    }

    /// The register encoding of these rights (the inverse of [`Rights::from_raw`]).
    #[must_use]
    pub const fn to_raw(self) -> u64 {
        self.bits() as u64
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn subset() {
        assert!(Rights::NONE.is_subset_of(Rights::NONE));
        assert!(Rights::READ.is_subset_of(Rights::READ_WRITE));
        assert!(!Rights::READ_WRITE.is_subset_of(Rights::READ));
        assert!(Rights::ALL.is_subset_of(Rights::ALL));
        assert!(!Rights::GRANT.is_subset_of(Rights::READ_WRITE));
        for bits in 0..=u8::MAX {
            let r = Rights::from_bits_retain(bits);
            assert!(r.is_subset_of(Rights::from_bits_retain(0xff)));
            assert_eq!(
                r.is_subset_of(Rights::ALL),
                Rights::from_bits(bits).is_some()
            );
        }
    }

    #[test]
    fn raw_round_trip() {
        for bits in 0..16u64 {
            let r = Rights::from_raw(bits).unwrap();
            assert_eq!(r.to_raw(), bits);
        }
        // Any bit that names no right, alone or next to valid ones, inside the byte or above.
        for bit in 4..64 {
            for valid in [0, 0b1111] {
                let raw = (1u64 << bit) | valid;
                assert_eq!(
                    Rights::from_raw(raw),
                    Err(Error::InvalidArgument),
                    "{raw:#x}"
                );
            }
        }
        assert_eq!(Rights::from_raw(0xff), Err(Error::InvalidArgument));
        assert_eq!(Rights::from_raw(u64::MAX), Err(Error::InvalidArgument));
        assert_eq!(Rights::ALL.to_raw(), 0b1111);
    }
}
