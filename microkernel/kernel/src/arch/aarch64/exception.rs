//! Exception entry from `vectors.s` and the saved register frame.

use aarch64_cpu::registers::{ESR_EL1, FAR_EL1, Readable, VBAR_EL1, Writeable};

/// Registers saved on every exception entry, in the order `vectors.s` stores them.
///
/// A thread's user registers live in one of these for as long as the thread exists; the
/// vectors store into it directly (16-byte aligned, as a stack frame must be).
#[repr(C, align(16))]
#[derive(Clone, Debug, Default)]
pub struct TrapFrame {
    /// x0-x30.
    pub x: [u64; 31],
    /// The interrupted context's EL0 stack pointer.
    pub sp_el0: u64,
    /// Where the exception returns to.
    pub elr: u64,
    /// Saved program status.
    pub spsr: u64,
}

const _: () = assert!(size_of::<TrapFrame>() == 272, "vectors.s FRAME_SIZE");

impl TrapFrame {
    /// All registers zero.
    pub const ZERO: TrapFrame = TrapFrame {
        x: [0; 31],
        sp_el0: 0,
        elr: 0,
        spsr: 0,
    };
}

/// Which vector was taken (the `kind` number `vectors.s` passes).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Vector {
    /// Synchronous exception from the kernel itself (a kernel bug).
    KernelSync,
    /// IRQ while in the kernel.
    KernelIrq,
    /// Synchronous exception from a task (system call or fault).
    UserSync,
    /// IRQ while a task ran.
    UserIrq,
    /// Anything the kernel never enables (FIQ, SError, AArch32, SP_EL0 at EL1).
    Unexpected(u64),
}

impl Vector {
    fn from_kind(kind: u64) -> Self {
        match kind {
            4 => Self::KernelSync,
            5 => Self::KernelIrq,
            8 => Self::UserSync,
            9 => Self::UserIrq,
            other => Self::Unexpected(other),
        }
    }
}

/// Syndrome of a synchronous exception.
#[derive(Clone, Copy, Debug)]
pub struct Syndrome {
    /// ESR_EL1.
    pub esr: u64,
    /// FAR_EL1 (meaningful for aborts and alignment faults).
    pub far: u64,
    /// The faulting instruction.
    pub elr: u64,
}

/// Installs the vector table on this CPU.
pub fn install_vectors() {
    unsafe extern "C" {
        static exception_vectors: u8;
    }
    // Only the address of the 2 KiB-aligned table in `vectors.s` is taken.
    VBAR_EL1.set(&raw const exception_vectors as u64);
    aarch64_cpu::asm::barrier::isb(aarch64_cpu::asm::barrier::SY);
}

/// Reads the syndrome registers for a synchronous exception taken at `elr`.
pub fn syndrome(elr: u64) -> Syndrome {
    Syndrome {
        esr: ESR_EL1.get(),
        far: FAR_EL1.get(),
        elr,
    }
}

/// Exception from EL0: the thread's registers are already saved in its frame. Returns
/// the frame of the thread to run next (`vectors.s` loads it and returns to EL0).
/// A system call from EL0 (`vectors.s` recognised the SVC and saved the frame, less the
/// call-clobbered x9-x17). Returns the frame of the thread to run next.
#[unsafe(no_mangle)]
extern "C" fn syscall_trap() -> *mut TrapFrame {
    crate::kernel::system_call()
}

/// An IRQ while a thread ran (`vectors.s` saved the whole frame). Returns the frame of
/// the thread to run next.
#[unsafe(no_mangle)]
extern "C" fn irq_trap() -> *mut TrapFrame {
    crate::kernel::interrupt()
}

#[unsafe(no_mangle)]
extern "C" fn user_trap(kind: u64, frame: *mut TrapFrame) -> *mut TrapFrame {
    let vector = Vector::from_kind(kind);
    // SAFETY: `frame` is the running thread's frame slot, which `vectors.s` just filled;
    // only its `elr` is read here, before the kernel takes its lock.
    let elr = unsafe { (*frame).elr };
    crate::kernel::trap(vector, syndrome(elr))
}

#[unsafe(no_mangle)]
extern "C" fn exception_dispatch(kind: u64, frame: &mut TrapFrame) {
    let vector = Vector::from_kind(kind);
    match vector {
        Vector::KernelIrq | Vector::UserIrq => crate::kernel::kernel_irq(),
        Vector::KernelSync | Vector::UserSync | Vector::Unexpected(_) => {
            let syndrome = Syndrome {
                esr: ESR_EL1.get(),
                far: FAR_EL1.get(),
                elr: frame.elr,
            };
            crate::fault::exception(vector, syndrome, frame);
        }
    }
}
