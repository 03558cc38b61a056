//! The kinds of kernel object a capability can name.
//!
//! There is no "null" and no "untyped" kind: an empty slot is an empty slot (not a
//! capability of a null type), and objects come from fixed-capacity tables sized by the
//! image, not from retyped memory. The code `0` is reserved and never decodes, so a
//! zeroed word is never mistaken for a type.

use crate::Error;

/// The kind of a kernel object; the encoding is one byte, stable across releases.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
#[repr(u8)]
pub enum ObjectType {
    /// A thread (TCB): registers, priority, state, its IPC buffer and fault endpoint.
    Thread = 1,
    /// A synchronous IPC endpoint (`Send`, `Call`, `Recv`, `Reply`, `ReplyRecv`).
    Endpoint = 2,
    /// An asynchronous notification word (`Signal`, `Wait`, `Poll`).
    Notification = 3,
    /// The right to create IRQ handler capabilities, one per interrupt line.
    IrqControl = 4,
    /// One interrupt line: bind it to a notification, acknowledge it.
    IrqHandler = 5,
    /// A page of physical memory that can be mapped into an address space.
    Frame = 6,
    /// An address space (a translation table root and its ASID).
    AddressSpace = 7,
    /// A capability space: a range of capability slots owned by one task.
    CapSpace = 8,
    /// An in-band domain's stall capability: the right to set and clear that domain's
    /// virtual interrupt flag (the pipeline's stall word).
    StallCap = 9,
    /// Control of the whole system: power off with a status (test drivers, the supervisor).
    SystemControl = 10,
}

impl ObjectType {
    /// Every object type, in code order.
    pub const ALL: [Self; 10] = [
        Self::Thread,
        Self::Endpoint,
        Self::Notification,
        Self::IrqControl,
        Self::IrqHandler,
        Self::Frame,
        Self::AddressSpace,
        Self::CapSpace,
        Self::StallCap,
        Self::SystemControl,
    ];

    /// The stable one-byte code of this type.
    #[must_use]
    pub const fn code(self) -> u8 {
        self as u8
    }

    /// The name of the variant, for logs.
    #[must_use]
    pub const fn name(self) -> &'static str {
        match self {
            Self::Thread => "Thread",
            Self::Endpoint => "Endpoint",
            Self::Notification => "Notification",
            Self::IrqControl => "IrqControl",
            Self::IrqHandler => "IrqHandler",
            Self::Frame => "Frame",
            Self::AddressSpace => "AddressSpace",
            Self::CapSpace => "CapSpace",
            Self::StallCap => "StallCap",
            Self::SystemControl => "SystemControl",
        }
    }

    /// `true` for the kinds whose capabilities can carry a badge: endpoints and
    /// notifications, the only objects that deliver a badge to a receiver.
    #[must_use]
    pub const fn accepts_badge(self) -> bool {
        matches!(self, Self::Endpoint | Self::Notification)
    }
}

impl TryFrom<u8> for ObjectType {
    type Error = Error;

    /// Decodes a type code passed by a task.
    ///
    /// # Errors
    /// [`Error::InvalidArgument`] for a code that names no type (including `0`).
    fn try_from(code: u8) -> Result<Self, Error> {
        Ok(match code {
            1 => Self::Thread,
            2 => Self::Endpoint,
            3 => Self::Notification,
            4 => Self::IrqControl,
            5 => Self::IrqHandler,
            6 => Self::Frame,
            7 => Self::AddressSpace,
            8 => Self::CapSpace,
            9 => Self::StallCap,
            10 => Self::SystemControl,
            _ => return Err(Error::InvalidArgument),
        })
    }
}

impl core::fmt::Display for ObjectType {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.write_str(self.name())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_round_trip_and_nothing_else_decodes() {
        for t in ObjectType::ALL {
            assert_eq!(ObjectType::try_from(t.code()), Ok(t));
        }
        let decoded = (0..=u8::MAX)
            .filter(|&c| ObjectType::try_from(c).is_ok())
            .count();
        assert_eq!(decoded, ObjectType::ALL.len());
        assert_eq!(ObjectType::try_from(0), Err(Error::InvalidArgument));
    }

    #[test]
    fn only_ipc_objects_take_badges() {
        for t in ObjectType::ALL {
            assert_eq!(
                t.accepts_badge(),
                t == ObjectType::Endpoint || t == ObjectType::Notification
            );
        }
    }

    #[test]
    fn names_are_the_variant_names_and_display_shows_them() {
        extern crate std;
        use std::{format, string::ToString};
        for t in ObjectType::ALL {
            assert_eq!(t.name(), format!("{t:?}"));
            assert_eq!(t.to_string(), t.name());
        }
        assert_eq!(ObjectType::StallCap.to_string(), "StallCap");
    }
}
