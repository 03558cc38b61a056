//! Error codes returned by system calls.
//!
//! A system call returns a `u32` status: [`SUCCESS`] (`0`) or the code of an [`Error`].
//! Codes are stable: a code is never reused for another meaning, new errors get new
//! codes. Each error names *what* was wrong (seL4 users report that its coarse errors,
//! such as "illegal operation" for an ack on the wrong kind of capability, cost them
//! debugging time), so the kernel picks the most specific one that applies.
//!
//! The code, the variant name and the one-line description are written once, in the
//! table below, and the enum, [`Error::name`], `Display` and the decoding are generated
//! from it, so they cannot drift apart.

/// The status code of a successful system call. It is not an [`Error`].
pub const SUCCESS: u32 = 0;

macro_rules! errors {
    ($( $(#[$attr:meta])* $name:ident = $code:literal => $desc:literal, )+) => {
        /// Why a system call (or a kernel operation) failed; `repr(u32)` with stable
        /// codes, see the module documentation.
        #[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
        #[repr(u32)]
        #[non_exhaustive]
        pub enum Error {
            $(
                #[doc = concat!($desc, ".")]
                #[doc = ""]
                $(#[$attr])*
                $name = $code,
            )+
        }

        impl Error {
            /// Every error, in code order.
            pub const ALL: &'static [Error] = &[$(Error::$name),+];

            /// The name of the variant (`"InvalidSlot"`), for logs and tools.
            #[must_use]
            pub const fn name(self) -> &'static str {
                match self {
                    $(Error::$name => stringify!($name),)+
                }
            }

            /// A one-line description of what went wrong, for humans.
            #[must_use]
            pub const fn description(self) -> &'static str {
                match self {
                    $(Error::$name => $desc,)+
                }
            }
        }

        impl TryFrom<u32> for Error {
            type Error = UnknownError;

            /// Decodes a status code returned by the kernel.
            ///
            /// # Errors
            /// [`UnknownError`] for [`SUCCESS`] and for any code that names no error.
            fn try_from(code: u32) -> Result<Self, UnknownError> {
                match code {
                    $($code => Ok(Error::$name),)+
                    _ => Err(UnknownError(code)),
                }
            }
        }
    };
}

errors! {
    /// The call number or invocation label names no operation.
    InvalidSyscall = 1 => "The call number or invocation label names no operation",
    /// Catch-all for ill-formed arguments; prefer a more specific error when one fits.
    InvalidArgument = 2 => "An argument is out of range or malformed (an unknown rights bit, type code, a zero badge, a badge on an object that takes none)",
    /// The slot number is outside the caller's capability space: a task can only name its own slots.
    InvalidSlot = 3 => "The slot number is outside the caller's capability space",
    /// The operation needs a capability in the slot and found none (never filled, deleted, or revoked).
    EmptySlot = 4 => "The slot holds no capability",
    /// The destination must be empty; delete what is there first.
    SlotOccupied = 5 => "The destination slot already holds a capability",
    /// For instance an IRQ ack sent on a notification capability.
    WrongObjectType = 6 => "The capability names another kind of object than the operation needs",
    /// Also returned when a mint asks for rights its source does not have: rights are never silently masked.
    InsufficientRights = 7 => "The capability lacks a right the operation needs, or a derivation asked for more rights than its source has",
    /// Badges are set once, when minting from an unbadged capability, and never changed.
    BadgeAlreadySet = 8 => "A badge was requested for a capability that already has one",
    /// A reference the kernel kept (a binding, a blocked call) outlived the capability or object it came from.
    RevokedOrStale = 9 => "The capability was revoked or the object it names was destroyed meanwhile",
    /// The address is unmapped, misaligned, or not accessible as the call requires.
    InvalidAddress = 10 => "A user address is unmapped, misaligned or not accessible as needed",
    /// Applies both to the words of data and to the number of capabilities transferred.
    MessageTooLong = 11 => "The message does not fit the registers or the IPC buffer",
    /// There is no kernel heap: fixed tables are sized by the image and do not grow.
    TableFull = 12 => "A fixed-capacity kernel table or pool has no free entry",
    /// Returned by `Poll` and by non-blocking sends instead of blocking.
    WouldBlock = 13 => "The non-blocking operation would have to wait",
    /// The operation is well formed but this board or this image does not provide it.
    NotSupported = 14 => "The operation is not supported on this board or configuration",
    /// For instance an IRQ line that already has a handler, or an object that already has capabilities.
    AlreadyInUse = 15 => "The object or resource is already claimed or bound",
    /// For instance resuming a thread that is not suspended.
    InvalidState = 16 => "The object is not in a state that allows the operation",
}

impl Error {
    /// The stable status code of this error (never [`SUCCESS`]).
    #[must_use]
    pub const fn code(self) -> u32 {
        self as u32
    }

    /// Encodes the outcome of a call as the status word a task receives.
    #[must_use]
    pub const fn status_of(result: Result<(), Self>) -> u32 {
        match result {
            Ok(()) => SUCCESS,
            Err(e) => e.code(),
        }
    }

    /// Decodes a status word: [`SUCCESS`] is `Ok`, a known code is `Err(error)`.
    ///
    /// # Errors
    /// `Err(Ok(error))` for a known error code, `Err(Err(UnknownError))` for a code that
    /// names no error (a newer kernel, or a corrupted register).
    pub fn result_of(status: u32) -> Result<(), Result<Self, UnknownError>> {
        if status == SUCCESS {
            Ok(())
        } else {
            Err(Self::try_from(status))
        }
    }
}

impl core::fmt::Display for Error {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        write!(f, "{}: {}", self.name(), self.description())
    }
}

impl core::error::Error for Error {}

/// A status code that names no [`Error`] (or [`SUCCESS`], which is not an error).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct UnknownError(pub u32);

impl core::fmt::Display for UnknownError {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        write!(f, "unknown kernel status code {}", self.0)
    }
}

impl core::error::Error for UnknownError {}

#[cfg(test)]
mod tests {
    extern crate std;
    use std::{collections::BTreeSet, format, string::ToString};

    use super::*;

    #[test]
    fn codes_are_dense_unique_and_round_trip() {
        for (i, &e) in Error::ALL.iter().enumerate() {
            // Codes start at 1 and have no gaps, so a new error takes the next number.
            assert_eq!(e.code() as usize, i + 1);
            assert_eq!(Error::try_from(e.code()), Ok(e));
            assert_eq!(Error::result_of(e.code()), Err(Ok(e)));
            assert_eq!(Error::status_of(Err(e)), e.code());
        }
        assert_eq!(Error::try_from(SUCCESS), Err(UnknownError(0)));
        let past = Error::ALL.len() as u32 + 1;
        assert_eq!(Error::try_from(past), Err(UnknownError(past)));
        assert_eq!(Error::try_from(u32::MAX), Err(UnknownError(u32::MAX)));
        assert_eq!(Error::result_of(SUCCESS), Ok(()));
        assert_eq!(Error::status_of(Ok(())), SUCCESS);
    }

    #[test]
    fn names_and_descriptions() {
        let names: BTreeSet<_> = Error::ALL.iter().map(|e| e.name()).collect();
        assert_eq!(names.len(), Error::ALL.len());
        assert_eq!(Error::InvalidSlot.name(), "InvalidSlot");
        assert_eq!(format!("{:?}", Error::EmptySlot), Error::EmptySlot.name());
        for e in Error::ALL {
            assert!(!e.description().is_empty());
            assert!(e.to_string().starts_with(e.name()));
        }
    }

    #[test]
    fn unknown_codes_say_which() {
        assert_eq!(
            UnknownError(42).to_string(),
            "unknown kernel status code 42"
        );
        assert_eq!(
            UnknownError(u32::MAX).to_string(),
            "unknown kernel status code 4294967295"
        );
    }
}
