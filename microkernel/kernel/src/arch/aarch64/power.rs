//! Ending the system: PSCI power-off where there is firmware, semihosting exit with a
//! status so that a test harness learns the outcome, a parked CPU as the last resort.

use crate::ExitCode;
use boot_info::Power;
use core::sync::atomic::{AtomicBool, Ordering};

static EXITING: AtomicBool = AtomicBool::new(false);

/// Powers the system off with `code`. Never returns.
///
/// A clean exit uses PSCI `SYSTEM_OFF` where the board has PSCI; QEMU then exits with 0.
/// Any other status (and any board without PSCI) goes through semihosting `SYS_EXIT`, which
/// QEMU (`-semihosting`) turns into its own exit status. If semihosting is off the `hlt`
/// traps; the fault path comes back here, sees `EXITING` and parks the CPU instead of
/// recursing.
pub fn exit(code: ExitCode, power: Power) -> ! {
    if EXITING.swap(true, Ordering::SeqCst) {
        park();
    }
    if code == ExitCode::Success {
        // Errors are ignored: the fallbacks below still stop the machine.
        let _ = match power {
            Power::PsciHvc => smccc::psci::system_off::<smccc::Hvc>(),
            Power::PsciSmc => smccc::psci::system_off::<smccc::Smc>(),
            Power::None => Ok(()),
        };
    }
    semihosting_exit(code as u32);
    park();
}

/// PSCI `CPU_SUSPEND` to a standby state (power state 0: standby, no power-down, so the
/// call returns when an interrupt is pending, no entry point needed); `WFI` where the
/// board has no PSCI or the firmware refuses.
pub fn suspend_standby(power: Power) {
    let suspended = match power {
        Power::PsciHvc => smccc::psci::cpu_suspend::<smccc::Hvc>(0, 0, 0),
        Power::PsciSmc => smccc::psci::cpu_suspend::<smccc::Smc>(0, 0, 0),
        Power::None => Err(smccc::psci::Error::NotSupported),
    };
    if suspended.is_err() {
        super::cpu::wait_for_interrupt();
    }
}

fn semihosting_exit(status: u32) {
    const SYS_EXIT: u64 = 0x18;
    const ADP_STOPPED_APPLICATION_EXIT: u64 = 0x20026;
    let block = [ADP_STOPPED_APPLICATION_EXIT, u64::from(status)];
    // SAFETY: the semihosting call reads the two-word parameter block, which lives on this
    // stack for the duration of the call; it does not return if the host honours it.
    unsafe {
        core::arch::asm!("hlt #0xf000", in("x0") SYS_EXIT, in("x1") block.as_ptr(), options(nostack));
    }
}

fn park() -> ! {
    super::cpu::disable_irqs();
    loop {
        aarch64_cpu::asm::wfe();
    }
}

/// Writes `message` to the host's console through semihosting: the only output there is
/// before the board (and so the UART) is known. Without semihosting it is not called.
pub fn semihosting_print(message: &str) {
    const SYS_WRITEC: u64 = 0x03;
    for byte in message.bytes() {
        // SAFETY: SYS_WRITEC reads one byte through the pointer, which is on this stack.
        unsafe {
            core::arch::asm!("hlt #0xf000", in("x0") SYS_WRITEC, in("x1") &raw const byte, lateout("x0") _, options(nostack));
        }
    }
}
