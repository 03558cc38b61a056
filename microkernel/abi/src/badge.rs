//! Badges: how a server tells its clients apart.
//!
//! A badge is set once, when a capability to an endpoint or a notification is minted,
//! and never changes afterwards (seL4 semantics). The kernel delivers it with every
//! message sent through the capability, and ORs it into the notification word on every
//! signal, so the receiver learns *who* sent without trusting the sender.
//!
//! An unbadged capability delivers the word `0`. A badge of `0` would therefore be
//! indistinguishable from no badge at all (and would set no bit in a notification), so
//! the kernel refuses to mint one (see [`Badge::is_valid`]).

/// The word a capability delivers with each message or signal; see the module docs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Badge(pub u64);

impl Badge {
    /// Wraps a raw badge word.
    #[must_use]
    pub const fn new(value: u64) -> Self {
        Self(value)
    }

    /// The raw badge word, as delivered to the receiver.
    #[must_use]
    pub const fn get(self) -> u64 {
        self.0
    }

    /// `false` for the badge `0`, which a receiver could not tell from "unbadged"; the
    /// kernel refuses to mint such a badge.
    #[must_use]
    pub const fn is_valid(self) -> bool {
        self.0 != 0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn zero_is_not_a_valid_badge() {
        assert!(!Badge::new(0).is_valid());
        assert!(Badge::new(1).is_valid());
        assert_eq!(Badge::new(42).get(), 42);
    }
}
