//! What happens when an exception is not a system call or an interrupt.
//!
//! A fault in the kernel is a kernel bug: it is reported with its exception class, the
//! faulting instruction and address, and the system stops with a failing status. (Faults
//! of tasks go to their supervisor once tasks exist.)

use crate::arch::{
    esr::{self, ExceptionClass},
    exception::{Syndrome, TrapFrame, Vector},
};
use crate::{ExitCode, println, shutdown};

/// Reports a synchronous exception the kernel cannot handle and stops the system.
pub fn exception(vector: Vector, syndrome: Syndrome, frame: &TrapFrame) -> ! {
    let class = ExceptionClass::of(syndrome.esr);
    match vector {
        Vector::Unexpected(kind) => {
            println!("kernel fault: unexpected exception vector {kind}: {class}")
        }
        Vector::UserSync => {
            println!("kernel fault: exception from EL0 with no task running: {class}")
        }
        _ => println!("kernel fault: {class}"),
    }
    println!(
        "  pc {:#018x}  esr {:#010x}  spsr {:#010x}",
        syndrome.elr, syndrome.esr, frame.spsr
    );
    if class.is_abort() {
        let access = if class == ExceptionClass::DATA_ABORT_SAME
            || class == ExceptionClass::DATA_ABORT_LOWER
        {
            if esr::abort_was_write(syndrome.esr) {
                "write"
            } else {
                "read"
            }
        } else {
            "fetch"
        };
        match esr::abort_level(syndrome.esr) {
            Some(level) => println!(
                "  address {:#018x}: {} {} at level {}",
                syndrome.far,
                access,
                esr::abort_status(syndrome.esr),
                level
            ),
            None => println!(
                "  address {:#018x}: {} {}",
                syndrome.far,
                access,
                esr::abort_status(syndrome.esr)
            ),
        }
    }
    shutdown(ExitCode::KernelFault)
}
