//! sluice: the task side of the kernel ABI, in the way the `sel4` crate wraps `sel4-sys`.
//!
//! The ABI crate (`kernel-abi`, re-exported as [`abi`]) is the written contract: call
//! numbers, the register convention, error codes, rights, layouts. This crate turns it
//! into something a task can use without knowing register numbers, and without `unsafe`:
//!
//! - [`sys`]: the raw trap (`svc #0`) and the shared pages, the only `unsafe` besides
//!   the runtime and the shared-memory views ([`Mapping`]). Tests reach for it to pass
//!   what the typed layer never would.
//! - [`Cap<T>`]: a capability slot typed by what it names ([`Endpoint`],
//!   [`Notification`], [`IrqHandler`], [`IrqControl`], [`Thread`], [`Frame`],
//!   [`SystemControl`]), with one method per kernel operation, each returning
//!   `Result<_, `[`Error`]`>`. The kernel checks type and rights on every call; the type
//!   parameter only makes the common mistakes not compile.
//! - [`Message`]: label, up to 64 words and one capability; the register/IPC-buffer split
//!   is handled inside.
//! - [`cap_copy`], [`cap_mint`], [`cap_move`], [`cap_delete`], [`cap_revoke`]: the task's
//!   own capability space.
//! - [`start_info`], [`cap()`], [`task_name`], [`restarts`]: what the task was given,
//!   looked up by the names in the image manifest.
//! - [`print!`]/[`println!`]: the kernel console, one `DebugWrite` per line.
//! - [`rt`]: the entry point, [`main!`], and the panic handler, which reports panics to
//!   the kernel (and so to the task's supervisor).
//! - [`testing`]: `PASS:`/`FAIL:` lines and the exit status for QEMU test scenarios.
//! - [`SharedMemory`] and [`Mapping::view`]: a mapped shared frame seen as a type whose
//!   every field is an atomic (a page shared with a server), without `unsafe` in task
//!   code.
//!
//! Tasks link with `task.ld` (delivered through cargo's `links` mechanism, see
//! `build.rs`): a task crate's build script adds `-T$DEP_SLUICE_LINKER_SCRIPT`.
//!
//! Tasks are built for `aarch64-unknown-none-softfloat`: the kernel does not save FP/SIMD
//! registers for them yet.
#![no_std]
#![deny(unsafe_op_in_unsafe_fn)]
#![deny(unsafe_code)]
#![warn(missing_docs)]

mod cap;
pub mod console;
mod cspace;
mod message;
#[allow(unsafe_code)]
pub mod rt;
#[allow(unsafe_code)]
mod shared;
#[allow(unsafe_code)]
mod shared_memory;
mod start;
#[allow(unsafe_code)]
pub mod sys;
pub mod testing;
#[allow(unsafe_code)]
pub mod timer;

pub use kernel_abi as abi;
pub use kernel_abi::{Badge, Error, FaultKind, ObjectType, Rights};

pub use cap::{
    Cap, CapType, Endpoint, Frame, IrqControl, IrqHandler, Notification, Registers, SystemControl,
    Thread, ThreadStatus, reply,
};
pub use cspace::{cap_copy, cap_delete, cap_mint, cap_move, cap_revoke};
pub use message::{IpcBufferAccess, Message, ipc_buffer};
pub use shared::Mapping;
pub use shared_memory::SharedMemory;
pub use start::{
    LookupError, arg, arg_u64, args, cap, find_start_cap, first_free_slot, require_cap, restarts,
    start_caps, start_info, task_index, task_name, try_start_info,
};
pub use sys::cycles;

/// `Syscall::Yield`: gives the CPU to the next ready thread of the same priority (a
/// no-op if there is none).
pub fn yield_now() {
    let _ = sys::syscall(kernel_abi::Syscall::Yield, sys::TrapArgs::default());
}
