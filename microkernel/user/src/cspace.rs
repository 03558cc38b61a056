//! Operations on this task's own capability space: copy, mint, move, delete, revoke.
//!
//! Slots are task-local numbers. The manifest's capabilities occupy slots 1 to
//! [`first_free_slot`](crate::first_free_slot)` - 1` (slot 0 stays empty); destinations
//! are plain slot numbers, which must be empty (`SlotOccupied` otherwise) and inside the
//! task's capability space (`InvalidSlot` otherwise).

use kernel_abi::{Badge, Error, Rights, Syscall};

use crate::{
    Cap,
    sys::{self, TrapArgs},
};

fn cap_trap(call: Syscall, source: u32, args: [u64; 6]) -> Result<[u64; 6], Error> {
    let out = sys::syscall(
        call,
        TrapArgs {
            x0: u64::from(source),
            x1: 0,
            words: args,
        },
    );
    out.result().map(|()| out.words)
}

/// `Syscall::CapCopy`: copies `source` into the empty slot `destination` (same rights and
/// badge; a child of `source` in the derivation tree, so revoking `source` deletes it).
///
/// # Errors
/// `SlotOccupied`, `InvalidSlot`, `EmptySlot`, or what else the kernel returns.
pub fn cap_copy<T>(source: &Cap<T>, destination: u32) -> Result<Cap<T>, Error> {
    cap_trap(
        Syscall::CapCopy,
        source.slot(),
        [u64::from(destination), 0, 0, 0, 0, 0],
    )
    .map(|_| Cap::from_raw(destination))
}

/// `Syscall::CapMint`: derives into `destination` a capability with `rights` (a subset of
/// the source's: asking for more is `InsufficientRights`, never silently masked) and,
/// for an unbadged endpoint or notification capability, `badge`.
///
/// `Some(Badge(0))` is refused here with `InvalidArgument`: the ABI encodes "no badge" as
/// 0, so it could not reach the kernel as a badge.
///
/// # Errors
/// `BadgeAlreadySet` if the source has a badge and one is asked for; `InvalidArgument`
/// for unknown rights bits or a badge on an object that takes none; or what else the
/// kernel returns.
pub fn cap_mint<T>(
    source: &Cap<T>,
    destination: u32,
    rights: Rights,
    badge: Option<Badge>,
) -> Result<Cap<T>, Error> {
    let badge = match badge {
        None => 0,
        Some(badge) if badge.is_valid() => badge.get(),
        Some(_) => return Err(Error::InvalidArgument),
    };
    cap_trap(
        Syscall::CapMint,
        source.slot(),
        [u64::from(destination), rights.to_raw(), badge, 0, 0, 0],
    )
    .map(|_| Cap::from_raw(destination))
}

/// `Syscall::CapMove`: moves `source` to the empty slot `destination` (its place in the
/// derivation tree goes with it); `source`'s slot is empty afterwards.
///
/// # Errors
/// `SlotOccupied`, `InvalidSlot`, `EmptySlot`, or what else the kernel returns.
pub fn cap_move<T>(source: Cap<T>, destination: u32) -> Result<Cap<T>, Error> {
    cap_trap(
        Syscall::CapMove,
        source.slot(),
        [u64::from(destination), 0, 0, 0, 0, 0],
    )
    .map(|_| Cap::from_raw(destination))
}

/// `Syscall::CapDelete`: empties the capability's slot (its children are handed to its
/// parent, so they stay revocable from above).
///
/// # Errors
/// `EmptySlot`, `InvalidSlot`, or what else the kernel returns.
pub fn cap_delete<T>(cap: Cap<T>) -> Result<(), Error> {
    cap_trap(Syscall::CapDelete, cap.slot(), [0; 6]).map(|_| ())
}

/// `Syscall::CapRevoke`: deletes every capability derived from `cap` (in any task),
/// keeping `cap` itself; returns how many were deleted.
///
/// # Errors
/// `EmptySlot`, `InvalidSlot`, or what else the kernel returns.
pub fn cap_revoke<T>(cap: &Cap<T>) -> Result<u64, Error> {
    cap_trap(Syscall::CapRevoke, cap.slot(), [0; 6]).map(|words| words[0])
}
