//! Capability spaces and the derivation tree: mint, copy, move, delete, revoke (pure logic).
//!
//! This is the capability logic of the kernel with no hardware in it, so that the host
//! can test it exhaustively (the layering rule of the design): the kernel's system-call
//! layer decodes registers, resolves slot numbers through the calling task's
//! [`CapSpace`], and calls into a [`CapTable`] that lives in a `static`.
//!
//! The rules it enforces, after seL4:
//!
//! - **No forging.** A task names capabilities only by slot numbers in its own
//!   [`CapSpace`]; anything else is [`Error::InvalidSlot`](kernel_abi::Error::InvalidSlot).
//! - **No amplification.** A capability derived from another names the same object
//!   with a subset of its rights ([`CapTable::mint`] refuses to ask for more; it does
//!   not silently mask).
//! - **Badges are set once.** Only on an unbadged endpoint or notification capability,
//!   at mint time; copies and moves keep them.
//! - **Revocation is complete.** Every capability derived from another, directly or
//!   through any chain of mints and copies, is a descendant of it in the derivation tree
//!   and is deleted by [`CapTable::revoke`]; deleting a capability in the middle of a
//!   chain hands its children to its parent, so they stay revocable from above.
//! - **Objects die with their last capability.** Deletion and revocation report when
//!   the last capability to an object went away, so the kernel can reclaim it.
//! - **Failure changes nothing.** Each operation checks all its arguments before it
//!   touches the table.
//!
//! Static sizing: the table is one array of `SLOTS` slots with its links inside, no
//! heap, and no operation recurses, so neither memory nor kernel stack grows with the
//! number or depth of derivations. See [`CapTable`] for the data structure.
#![no_std]
#![forbid(unsafe_code)]

mod cap;
mod space;
mod table;

pub use cap::{Capability, ObjectRef, SlotId};
pub use space::CapSpace;
pub use table::{CapTable, Children, Deleted};
