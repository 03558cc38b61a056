//! The runtime: the entry point, the call of the task's `main`, and the panic handler.
//!
//! # Entry
//!
//! The kernel starts a task's thread at the ELF entry, `_start` (linked first in the text
//! segment by `task.ld`), with `sp` = [`STACK_TOP`](kernel_abi::layout::STACK_TOP) and
//! `x0` = 0, and promises nothing else. `_start` clears the frame pointer and link
//! register (so backtraces end there), aligns `sp` to 16 bytes, zeroes `.bss` (the kernel
//! loads it zeroed already; doing it here makes the runtime independent of that), and
//! calls into Rust, which checks the start info page and runs `main`.
//!
//! # `main`
//!
//! A task names its `main` with [`main!`](crate::main): `sluice::main!(main);` with
//! `fn main()` or `fn main() -> !`. The macro defines the one symbol the runtime calls
//! (`__sluice_main`), so a task without it fails to link ("undefined symbol
//! `__sluice_main`") and a task with two fails to link too: the mistake cannot reach a
//! running system. It also references `_start`, so the entry is always linked in.
//!
//! **If `main` returns** the task did not do what a task in a static system is for, so
//! the runtime reports it like a panic: it prints `<task>: main returned` and traps with
//! `Syscall::Panic` ("main returned"). The kernel stops the task and sends a
//! `FaultKind::Panic` message to its supervisor, which restarts it or leaves it stopped
//! as the manifest says. (A task that has nothing left to do should say so by blocking,
//! e.g. on a notification nobody signals.)
//!
//! # Panics
//!
//! The panic handler prints `<task>: panicked at <file>:<line>:<column>: <message>` to the
//! console and traps with `Syscall::Panic`, passing `<file>:<line>:<column>: <message>`
//! (cut to `MAX_DEBUG_WRITE` bytes) so the kernel reports it to the supervisor. It never
//! returns. A panic inside the handler (a `Display` implementation that panics) goes
//! straight to the trap.

use core::{
    fmt::{self, Write},
    panic::PanicInfo,
    sync::atomic::{AtomicBool, Ordering},
};

use kernel_abi::MAX_DEBUG_WRITE;

use crate::{println, sys, task_name};

/// The ELF entry point; see the module documentation. Not to be called from Rust.
///
/// # Safety
///
/// Only the kernel enters it, once per (re)start, with `sp` at the top of a mapped stack.
// SAFETY (attributes): `_start` is the only symbol of that name in a task (the linker
// script's ENTRY); the function is naked, so the compiler adds no prologue that would use
// a stack or registers before the assembly below sets them up; `.text._start` is placed
// first in the text segment by task.ld.
#[unsafe(naked)]
#[unsafe(no_mangle)]
#[unsafe(link_section = ".text._start")]
pub unsafe extern "C" fn _start() -> ! {
    core::arch::naked_asm!(
        // End of the frame-pointer chain.
        "mov x29, xzr",
        "mov x30, xzr",
        // sp 16-byte aligned whatever the kernel passed (it passes STACK_TOP).
        "mov x9, sp",
        "and x9, x9, #0xfffffffffffffff0",
        "mov sp, x9",
        // Zero .bss: [__bss_start, __bss_end), both 16-byte aligned by task.ld.
        "adrp x9, __bss_start",
        "add x9, x9, :lo12:__bss_start",
        "adrp x10, __bss_end",
        "add x10, x10, :lo12:__bss_end",
        "1:",
        "cmp x9, x10",
        "b.hs 2f",
        "stp xzr, xzr, [x9], #16",
        "b 1b",
        "2:",
        "bl {start}",
        // `start` never returns; trap as an undefined instruction if it ever did.
        "udf #0",
        start = sym start_rust,
    )
}

// SAFETY: `__sluice_main` is defined by `sluice::main!` in the task crate as
// `fn __sluice_main()` with the Rust ABI and no arguments (exactly this signature); it is
// safe to call, since it is the task's safe `main`. Without the macro the task does not
// link.
unsafe extern "Rust" {
    safe fn __sluice_main();
}

/// Rust side of the entry: check the start info, run `main`, report its return.
extern "C" fn start_rust() -> ! {
    if sys::start_info_page().is_none() {
        panic!(
            "no start info at {:#x} (bad magic): this task cannot learn its capabilities",
            kernel_abi::layout::START_INFO
        );
    }
    __sluice_main();
    println!("{}: main returned", task_name());
    sys::panic_trap(b"main returned")
}

/// Names the task's `main` function; see the [runtime documentation](crate::rt).
///
/// ```ignore
/// #![no_std]
/// #![no_main]
/// sluice::main!(main);
/// fn main() {
///     sluice::println!("hello from {}", sluice::task_name());
/// }
/// ```
#[macro_export]
macro_rules! main {
    ($main:path) => {
        /// The task's entry, called by sluice's runtime.
        #[doc(hidden)]
        #[unsafe(export_name = "__sluice_main")]
        fn __sluice_main() {
            $main()
        }

        /// Keeps the runtime's entry point in the link.
        #[doc(hidden)]
        #[used]
        static __SLUICE_ENTRY: unsafe extern "C" fn() -> ! = $crate::rt::_start;
    };
}

/// A fixed buffer that keeps what fits and drops the rest (for the panic message).
struct Truncating {
    buf: [u8; MAX_DEBUG_WRITE],
    len: usize,
}

impl Write for Truncating {
    fn write_str(&mut self, s: &str) -> fmt::Result {
        let mut n = s.len().min(self.buf.len() - self.len);
        // Cut at a character boundary, so the buffer stays UTF-8.
        while !s.is_char_boundary(n) {
            n -= 1;
        }
        self.buf[self.len..self.len + n].copy_from_slice(&s.as_bytes()[..n]);
        self.len += n;
        Ok(())
    }
}

#[panic_handler]
fn panic(info: &PanicInfo<'_>) -> ! {
    // One thread per task: a plain load and store are enough.
    static PANICKING: AtomicBool = AtomicBool::new(false);
    if PANICKING.load(Ordering::Relaxed) {
        sys::panic_trap(b"panicked while panicking");
    }
    PANICKING.store(true, Ordering::Relaxed);

    let mut report = Truncating {
        buf: [0; MAX_DEBUG_WRITE],
        len: 0,
    };
    if let Some(location) = info.location() {
        let _ = write!(
            report,
            "{}:{}:{}: ",
            location.file(),
            location.line(),
            location.column()
        );
    }
    let _ = write!(report, "{}", info.message());
    let report = &report.buf[..report.len];
    println!(
        "{}: panicked at {}",
        task_name(),
        core::str::from_utf8(report).unwrap_or("?")
    );
    sys::panic_trap(report)
}
