//! The ABI shared by the kernel and tasks: call numbers, error codes, rights, message layouts.
//!
//! Everything in this crate crosses the EL0/EL1 boundary as plain numbers in registers
//! or in the IPC buffer, so every type here has a stable numeric encoding and a checked
//! decoding: the kernel decodes what a task passes (an *allegation*, in Hubris' words)
//! and refuses anything it does not recognise with an [`Error`], and the user-side
//! bindings decode what the kernel returns the same way. Nothing here panics on a bad
//! number.
//!
//! The crate holds no logic beyond encoding and small predicates; the capability rules
//! themselves (derivation, revocation) live in the `cspace` crate.
//!
//! What is here so far:
//! - [`Rights`]: the access rights a capability carries (seL4's read, write, grant,
//!   grant-reply).
//! - [`ObjectType`]: the kinds of kernel object a capability can name.
//! - [`Error`]: the error codes every system call can return; `0` is success.
//! - [`Badge`]: the word a server receives with each message or signal to tell its
//!   clients apart.
//! - [`Syscall`], [`MessageInfo`]: the trap convention and message descriptors.
//! - [`invocation`]: operations on thread, IRQ handler, frame and system capabilities.
//! - [`layout`]: the task address-space layout, the IPC buffer and the start info page.
//! - [`FaultKind`]: the fault messages supervisors receive.
#![no_std]
#![forbid(unsafe_code)]

mod badge;
mod code_enum;
mod error;
mod fault;
pub mod invocation;
pub mod layout;
mod object;
mod rights;
mod syscall;

pub use badge::Badge;
pub use error::{Error, SUCCESS, UnknownError};
pub use fault::{FAULT_LABEL, FaultKind};
pub use layout::{IpcBuffer, StartCap, StartInfo};
pub use object::ObjectType;
pub use rights::Rights;
pub use syscall::{
    MAX_DEBUG_WRITE, MAX_MESSAGE_CAPS, MAX_MESSAGE_WORDS, MessageInfo, REGISTER_WORDS, Syscall,
};
