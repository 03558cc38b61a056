//! The raw layer: the trap and the two pages the kernel shares with every task.
//!
//! This is sluice's `sel4-sys`: untyped, one function per mechanism, and (with the
//! runtime in [`crate::rt`]) the only place in the crate with `unsafe`. The typed API
//! ([`Cap`](crate::Cap), [`Message`](crate::Message)) is built on [`trap`] and the IPC
//! buffer accessors here; tests use [`trap`] directly to pass what the typed API would
//! never produce (reserved bits, unknown call numbers, kernel addresses).
//!
//! # Why the safe functions here are sound
//!
//! The kernel touches task memory in three ways, and each is kept away from anything the
//! compiler reasons about:
//!
//! 1. It writes the IPC buffer (received message words) during a trap.
//!    This crate never creates a Rust reference into that page: every access is a
//!    volatile read or write through a raw pointer, one field at a time, so a kernel
//!    write can invalidate no reference. A task has exactly one thread, so there is no
//!    data race either.
//! 2. It reads memory the task names by address (`DebugWrite`, `Panic`, the IPC buffer
//!    on a send). The trap's `asm!` is not `nomem`, and those addresses come from
//!    pointers cast to integers (which exposes them), so the compiler keeps the writes
//!    that precede the trap.
//! 3. It maps and unmaps frames (`FrameOp::Map`/`Unmap`), only in the task area and
//!    (in a correct kernel) only where nothing is mapped yet, so no memory the program
//!    was linked with, nor its stack, changes under it. Reading a mapped frame needs an
//!    `unsafe` pointer dereference by the caller, who argues for it there.
//!
//! Anything else a bad argument can cause is an error status or a fault of this task,
//! which the kernel reports to its supervisor: neither is undefined behaviour.

use core::arch::asm;

use kernel_abi::{
    Error, IpcBuffer, MAX_MESSAGE_WORDS, REGISTER_WORDS, StartInfo, Syscall,
    layout::{self, START_INFO_MAGIC},
};

/// The inputs of a trap besides the call number (`x8`).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct TrapArgs {
    /// `x0`: the capability slot the call acts on, or its first argument.
    pub x0: u64,
    /// `x1`: the [`MessageInfo`](kernel_abi::MessageInfo) (raw), or the second argument.
    pub x1: u64,
    /// `x2`..`x7`: message words 0-5, or further arguments.
    pub words: [u64; REGISTER_WORDS],
}

/// Everything the kernel returns from a trap (see the table in `kernel_abi::Syscall`).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct TrapOutput {
    /// `x0`: [`kernel_abi::SUCCESS`] or an [`Error`] code.
    pub status: u64,
    /// `x1`: the raw [`MessageInfo`](kernel_abi::MessageInfo) of the message received.
    pub info: u64,
    /// `x2`..`x7`: message words 0-5 received (or an invocation's results).
    pub words: [u64; REGISTER_WORDS],
    /// `x8`: the badge of the message received, or a notification word.
    pub x8: u64,
}

impl TrapOutput {
    /// The status as a `Result`; see [`decode_status`].
    ///
    /// # Errors
    /// The [`Error`] the kernel returned.
    pub fn result(&self) -> Result<(), Error> {
        decode_status(self.status)
    }
}

/// Decodes a status word: `0` is success, a known code its [`Error`].
///
/// A code this build does not know (a newer kernel, or a kernel bug) is reported as
/// [`Error::NotSupported`] after a console note naming the code; it never panics. The raw
/// word stays available in [`TrapOutput::status`].
///
/// # Errors
/// The decoded [`Error`].
pub fn decode_status(status: u64) -> Result<(), Error> {
    decode_quietly(status).map_err(|error| {
        error.unwrap_or_else(|code| {
            crate::println!(
                "sluice: the kernel returned status code {code}, unknown to this build; reported as NotSupported"
            );
            Error::NotSupported
        })
    })
}

/// Decodes a status word without printing: `Err(Err(code))` for an unknown code. The
/// console's own writes use this, so an unknown code cannot recurse through the note
/// [`decode_status`] prints.
fn decode_quietly(status: u64) -> Result<(), Result<Error, u64>> {
    if status == u64::from(kernel_abi::SUCCESS) {
        return Ok(());
    }
    match u32::try_from(status).map(Error::try_from) {
        Ok(Ok(error)) => Err(Ok(error)),
        _ => Err(Err(status)),
    }
}

/// Traps into the kernel with `svc #0`: `x8` = `number`, `x0`, `x1`, `x2`..`x7` from
/// `args`; returns `x0`, `x1`, `x2`..`x7` and `x8`.
///
/// `number` is a plain word, not a [`Syscall`], so that tests can pass one that names no
/// call (the kernel then stops the task with a `BadSyscall` fault). See the module
/// documentation for why this is safe to call with any arguments.
#[inline(always)]
pub fn trap(number: u64, args: TrapArgs) -> TrapOutput {
    let [mut w0, mut w1, mut w2, mut w3, mut w4, mut w5] = args.words;
    let (mut x0, mut x1, mut x8) = (args.x0, args.x1, number);
    // SAFETY: the kernel returns to the next instruction with only x0-x8 changed (the
    // ABI's register table); x9-x17, the registers a callee may use freely under the
    // AAPCS64, are declared clobbered as well so a kernel that uses them as scratch
    // stays compatible. The kernel does not touch the stack. Memory it reads or writes
    // is covered by the module documentation: no Rust reference can be invalidated, and
    // the asm is not `nomem`, so the compiler orders memory accesses around it. The
    // condition flags are not promised to survive, so `preserves_flags` is not given.
    unsafe {
        asm!(
            "svc #0",
            inout("x0") x0,
            inout("x1") x1,
            inout("x2") w0,
            inout("x3") w1,
            inout("x4") w2,
            inout("x5") w3,
            inout("x6") w4,
            inout("x7") w5,
            inout("x8") x8,
            lateout("x9") _,
            lateout("x10") _,
            lateout("x11") _,
            lateout("x12") _,
            lateout("x13") _,
            lateout("x14") _,
            lateout("x15") _,
            lateout("x16") _,
            lateout("x17") _,
            options(nostack),
        );
    }
    TrapOutput {
        status: x0,
        info: x1,
        words: [w0, w1, w2, w3, w4, w5],
        x8,
    }
}

/// [`trap`] with a [`Syscall`].
#[inline(always)]
pub fn syscall(call: Syscall, args: TrapArgs) -> TrapOutput {
    trap(call as u64, args)
}

/// Writes at most [`MAX_DEBUG_WRITE`](kernel_abi::MAX_DEBUG_WRITE) bytes to the kernel
/// console in one `DebugWrite` trap (longer slices are refused by the kernel; chunking is
/// [`crate::console::debug_write`]'s job).
///
/// # Errors
/// What the kernel returns: `MessageTooLong` for more than `MAX_DEBUG_WRITE` bytes. An
/// unknown status code is reported as `NotSupported` without a console note (this is the
/// console's own path).
pub fn debug_write_once(bytes: &[u8]) -> Result<(), Error> {
    let out = syscall(
        Syscall::DebugWrite,
        TrapArgs {
            x0: bytes.as_ptr() as u64,
            x1: bytes.len() as u64,
            ..TrapArgs::default()
        },
    );
    decode_quietly(out.status).map_err(|error| error.unwrap_or(Error::NotSupported))
}

/// Reports a panic to the kernel (`Syscall::Panic` with `message`'s address and length),
/// which stops the task and sends a `FaultKind::Panic` message to its supervisor.
///
/// Never returns: if the kernel ever returned from the trap (a kernel bug), the task
/// yields in a loop rather than run on.
pub fn panic_trap(message: &[u8]) -> ! {
    let _ = syscall(
        Syscall::Panic,
        TrapArgs {
            x0: message.as_ptr() as u64,
            x1: message.len() as u64,
            ..TrapArgs::default()
        },
    );
    loop {
        let _ = syscall(Syscall::Yield, TrapArgs::default());
    }
}

/// The IPC buffer page.
const fn ipc_buffer_ptr() -> *mut IpcBuffer {
    layout::IPC_BUFFER as *mut IpcBuffer
}

/// Reads word `index` of the IPC buffer (volatile; see the module documentation).
///
/// # Panics
/// If `index >= MAX_MESSAGE_WORDS`.
pub fn ipc_word(index: usize) -> u64 {
    assert!(
        index < MAX_MESSAGE_WORDS,
        "IPC buffer word {index} out of range"
    );
    // SAFETY: the IPC buffer page is mapped read-write at `IPC_BUFFER` for the thread's
    // whole life (kernel_abi::layout), page aligned, and holds an `IpcBuffer` (u64s only,
    // so any content is a valid value); `index` is in bounds (checked above). No reference
    // into the page exists (module documentation), and the task has one thread.
    unsafe { (&raw const (*ipc_buffer_ptr()).words[index]).read_volatile() }
}

/// Writes word `index` of the IPC buffer (volatile).
///
/// # Panics
/// If `index >= MAX_MESSAGE_WORDS`.
pub fn set_ipc_word(index: usize, value: u64) {
    assert!(
        index < MAX_MESSAGE_WORDS,
        "IPC buffer word {index} out of range"
    );
    // SAFETY: as in `ipc_word`; the page is writable by the task.
    unsafe { (&raw mut (*ipc_buffer_ptr()).words[index]).write_volatile(value) }
}

/// `IpcBuffer::send_caps[0]`: the slot of the capability a message carries when its
/// `MessageInfo::caps` is 1.
pub fn ipc_send_cap() -> u64 {
    // SAFETY: as in `ipc_word`.
    unsafe { (&raw const (*ipc_buffer_ptr()).send_caps[0]).read_volatile() }
}

/// Sets `IpcBuffer::send_caps[0]`.
pub fn set_ipc_send_cap(slot: u64) {
    // SAFETY: as in `set_ipc_word`.
    unsafe { (&raw mut (*ipc_buffer_ptr()).send_caps[0]).write_volatile(slot) }
}

/// `IpcBuffer::receive_slot`: where a received capability goes (0: accept none).
pub fn ipc_receive_slot() -> u64 {
    // SAFETY: as in `ipc_word`.
    unsafe { (&raw const (*ipc_buffer_ptr()).receive_slot).read_volatile() }
}

/// Sets `IpcBuffer::receive_slot`.
pub fn set_ipc_receive_slot(slot: u64) {
    // SAFETY: as in `set_ipc_word`.
    unsafe { (&raw mut (*ipc_buffer_ptr()).receive_slot).write_volatile(slot) }
}

/// The [`StartInfo`] page, if its magic is right.
///
/// `None` means the page does not hold a start info (a kernel that does not provide it);
/// if the page were not mapped at all, the read would fault the task.
pub fn start_info_page() -> Option<&'static StartInfo> {
    // SAFETY: the start info page is mapped read-only at `START_INFO` for the task's whole
    // life and nobody writes it while the task runs (the kernel fills it before it starts
    // the thread, and a restart reloads the whole task, so no reference survives it). It
    // is page aligned (enough for `StartInfo`'s alignment of 8), `StartInfo` fits a page
    // (asserted in kernel_abi), and `StartInfo` is `FromBytes`: every byte pattern is a
    // valid value, so the reference is valid whatever the kernel wrote.
    let info = unsafe { &*(layout::START_INFO as *const StartInfo) };
    (info.magic == START_INFO_MAGIC).then_some(info)
}

/// The cycle counter (`PMCCNTR_EL0`), for benchmarks.
///
/// The system counter (CNTPCT_EL0): the generic timer's time base, readable at EL0 in
/// every task (the kernel sets CNTKCTL_EL1.EL0PCTEN), so reading the clock needs no call.
#[inline(always)]
pub fn counter() -> u64 {
    let value: u64;
    // SAFETY: reads a system register; no memory is accessed and no flags change.
    unsafe {
        asm!("isb", "mrs {}, cntpct_el0", out(reg) value, options(nomem, nostack, preserves_flags));
    }
    value
}

/// Busy-waits for `ticks` of the system counter, without entering the kernel (the task
/// keeps the CPU unless something of higher priority preempts it).
pub fn spin_for(ticks: u64) {
    let start = counter();
    while counter() - start < ticks {
        core::hint::spin_loop();
    }
}

/// The kernel enables EL0 reads (`PMUSERENR_EL0.{EN,CR}`) and starts the counter; a kernel
/// that did not would fault the task here (undefined instruction), not corrupt it. Under
/// QEMU with `-icount shift=0` it counts guest instructions.
#[inline(always)]
pub fn cycles() -> u64 {
    let value: u64;
    // SAFETY: reads a system register; no memory is accessed and no flags change.
    unsafe {
        asm!("mrs {}, pmccntr_el0", out(reg) value, options(nomem, nostack, preserves_flags));
    }
    value
}
