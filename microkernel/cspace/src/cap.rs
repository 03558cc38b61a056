//! What a slot holds: a capability naming one kernel object, with rights and a badge.

use core::fmt;

use kernel_abi::{Badge, Error, ObjectType, Rights};

/// The global index of a slot in a [`CapTable`](crate::CapTable).
///
/// Only the kernel handles global slot numbers; a task names slots by their number in
/// its own [`CapSpace`](crate::CapSpace), which [`CapSpace::resolve`](crate::CapSpace::resolve)
/// turns into a `SlotId` after a bounds check. A `SlotId` beyond the table's capacity is
/// refused by every table operation with [`Error::InvalidSlot`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct SlotId(u32);

impl SlotId {
    /// The slot with global index `index`.
    #[must_use]
    pub const fn new(index: u32) -> Self {
        Self(index)
    }

    /// The global index of this slot.
    #[must_use]
    pub const fn index(self) -> u32 {
        self.0
    }
}

impl fmt::Display for SlotId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "slot {}", self.0)
    }
}

/// Names one kernel object: its kind and its index in that kind's fixed-capacity table.
///
/// Two capabilities refer to the same object exactly when their `ObjectRef`s are equal.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct ObjectRef {
    /// Which table the object lives in.
    pub kind: ObjectType,
    /// The object's index in that table.
    pub index: u32,
}

impl ObjectRef {
    /// The object of kind `kind` at `index` in its table.
    #[must_use]
    pub const fn new(kind: ObjectType, index: u32) -> Self {
        Self { kind, index }
    }
}

impl fmt::Display for ObjectRef {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} {}", self.kind, self.index)
    }
}

/// An unforgeable reference to a kernel object with the rights it grants and, for
/// endpoints and notifications, an optional badge.
///
/// Only the [`CapTable`](crate::CapTable) creates capabilities in slots; a value of this
/// type outside the table is just a description (what `lookup` returns, or what the
/// kernel asks `insert_original` to create), not an authority.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Capability {
    /// The object this capability names.
    pub object: ObjectRef,
    /// What the holder may do with the object.
    pub rights: Rights,
    /// Delivered to the receiver with each message or signal; set once at mint time.
    pub badge: Option<Badge>,
}

impl Capability {
    /// An unbadged capability to `object` with `rights`.
    #[must_use]
    pub const fn new(object: ObjectRef, rights: Rights) -> Self {
        Self {
            object,
            rights,
            badge: None,
        }
    }

    /// The same capability carrying `badge`.
    #[must_use]
    pub const fn with_badge(self, badge: Badge) -> Self {
        Self {
            badge: Some(badge),
            ..self
        }
    }

    /// Checks what every capability stored in a table satisfies: its rights are defined
    /// rights only, and a badge, if any, is non-zero and sits on an endpoint or a
    /// notification.
    ///
    /// # Errors
    /// [`Error::InvalidArgument`] if one of these does not hold.
    pub const fn check_well_formed(&self) -> Result<(), Error> {
        if !self.rights.is_subset_of(Rights::ALL) {
            return Err(Error::InvalidArgument);
        }
        match self.badge {
            None => Ok(()),
            Some(badge) if badge.is_valid() && self.object.kind.accepts_badge() => Ok(()),
            Some(_) => Err(Error::InvalidArgument),
        }
    }
}
