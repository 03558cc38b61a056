//! System calls: numbers, the register convention, and message descriptors.
//!
//! A task traps with `svc #0`:
//!
//! | register | on entry | on return |
//! |---|---|---|
//! | `x8` | [`Syscall`] number | badge of the message received, or the notification word |
//! | `x0` | capability slot the call acts on (or the first argument) | status: `0` or an [`Error`](crate::Error) code |
//! | `x1` | [`MessageInfo`] of the message sent (or the second argument) | [`MessageInfo`] of the message received |
//! | `x2`..`x7` | message words 0-5 (or further arguments) | message words 0-5 received |
//!
//! Message words beyond the sixth travel in the thread's IPC buffer
//! ([`IpcBuffer::words`](crate::IpcBuffer)), at the same index. The kernel copies
//! `min(sender length, MAX_MESSAGE_WORDS)` words and never reads buffer words below
//! [`REGISTER_WORDS`]. A call that fails returns its status and leaves every kernel object
//! as it was.

/// Message words carried in registers (x2..x7).
pub const REGISTER_WORDS: usize = 6;
/// Longest message, in 64-bit words (registers plus IPC buffer).
pub const MAX_MESSAGE_WORDS: usize = 64;
/// Most capabilities one message can carry.
pub const MAX_MESSAGE_CAPS: usize = 1;

crate::code_enum! {
    /// The system call numbers (`x8`).
    pub enum Syscall: u64 decode from_number {
    /// Send a message on an endpoint (`x0` = endpoint slot, needs WRITE); blocks until a
    /// receiver takes it. Carrying a capability needs GRANT.
    Send = 1,
    /// Send and wait for the reply (needs WRITE; the receiver gets a one-shot reply right).
    Call = 2,
    /// Wait for a message on an endpoint (needs READ). Returns the sender's badge in `x8`.
    Recv = 3,
    /// Answer the last `Call` this thread received (no capability argument).
    Reply = 4,
    /// `Reply`, then `Recv` on `x0`: a server's loop in one trap.
    ReplyRecv = 5,
    /// OR the capability's badge (1 if unbadged) into a notification (needs WRITE).
    Signal = 6,
    /// Wait until the notification word is non-zero; returns it in `x8` and clears it
    /// (needs READ).
    Wait = 7,
    /// Like `Wait`, but never blocks: returns the word (possibly 0) and clears it.
    Poll = 8,
    /// Give the CPU to the next thread of the same priority.
    Yield = 9,
    /// Invoke an operation on the capability in `x0`: the operation is the label of the
    /// [`MessageInfo`] in `x1` (see [`crate::invocation`]), its arguments are the message words.
    Invoke = 10,
    /// Copy a capability of this task's space: `x0` = source slot, `x2` = destination slot.
    CapCopy = 11,
    /// Derive a capability with fewer rights and/or a badge: `x0` = source, `x2` =
    /// destination, `x3` = rights ([`Rights`](crate::Rights) bits), `x4` = badge (0: none).
    CapMint = 12,
    /// Move a capability between slots of this task's space: `x0` = source, `x2` = destination.
    CapMove = 13,
    /// Delete the capability in slot `x0`.
    CapDelete = 14,
    /// Delete every capability derived from slot `x0` (keeps the slot itself). Returns
    /// the number deleted in `x2`.
    CapRevoke = 15,
    /// Write `x1` bytes at address `x0` to the kernel console (at most
    /// [`MAX_DEBUG_WRITE`] bytes per call).
    DebugWrite = 16,
    /// Report that this task panicked: `x0`/`x1` = message address and length. The kernel
    /// treats it as a fault ([`FaultKind::Panic`](crate::FaultKind)) and never returns.
    Panic = 17,
    }
}

/// Longest console write per call.
pub const MAX_DEBUG_WRITE: usize = 256;

/// The descriptor of a message: label, length in words, capabilities carried.
///
/// Encoding (one word): bits 0-6 length, bits 8-9 capability count, bits 32-63 label.
/// Bits 7 and 10-31 must be zero.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub struct MessageInfo {
    /// What the message means, to its receiver (or the invocation's operation).
    pub label: u32,
    /// Words in the message (0..=MAX_MESSAGE_WORDS).
    pub length: u8,
    /// Capabilities carried (0..=MAX_MESSAGE_CAPS).
    pub caps: u8,
}

impl MessageInfo {
    /// A message with `label` and `length` words and no capability.
    #[must_use]
    pub const fn new(label: u32, length: u8) -> Self {
        Self {
            label,
            length,
            caps: 0,
        }
    }

    /// The register encoding.
    #[must_use]
    pub const fn to_raw(self) -> u64 {
        (self.length as u64 & 0x7f) | ((self.caps as u64 & 0x3) << 8) | ((self.label as u64) << 32)
    }

    /// Decodes and checks a register value: reserved bits must be clear, the length and
    /// the capability count within their limits.
    pub const fn from_raw(raw: u64) -> Result<Self, crate::Error> {
        let length = (raw & 0x7f) as u8;
        let caps = ((raw >> 8) & 0x3) as u8;
        if raw & 0xffff_fc80 != 0 {
            return Err(crate::Error::InvalidArgument);
        }
        if length as usize > MAX_MESSAGE_WORDS {
            return Err(crate::Error::MessageTooLong);
        }
        if caps as usize > MAX_MESSAGE_CAPS {
            return Err(crate::Error::InvalidArgument);
        }
        Ok(Self {
            label: (raw >> 32) as u32,
            length,
            caps,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn message_info_round_trips_and_rejects_reserved_bits() {
        let info = MessageInfo {
            label: 0xdead_beef,
            length: 64,
            caps: 1,
        };
        assert_eq!(MessageInfo::from_raw(info.to_raw()), Ok(info));
        assert_eq!(MessageInfo::from_raw(65), Err(crate::Error::MessageTooLong));
        assert_eq!(
            MessageInfo::from_raw(1 << 7),
            Err(crate::Error::InvalidArgument)
        );
        assert_eq!(
            MessageInfo::from_raw(1 << 20),
            Err(crate::Error::InvalidArgument)
        );
        assert_eq!(
            MessageInfo::from_raw(2 << 8),
            Err(crate::Error::InvalidArgument)
        );
    }

    #[test]
    fn syscall_numbers_decode() {
        for call in Syscall::ALL {
            assert_eq!(Syscall::from_number(*call as u64), Some(*call));
        }
        assert_eq!(Syscall::from_number(0), None);
        assert_eq!(Syscall::from_number(18), None);
    }
}
