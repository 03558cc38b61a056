//! The EL1 physical timer, programmed from EL0 by a task whose manifest grants
//! `timer-access` (the timer-server, an oob stage). The kernel opens the timer to EL0
//! only while such a task runs: from any other task these accesses are undefined
//! instructions, which the kernel reports to the supervisor as a fault.

/// Fires the timer interrupt when the system counter reaches `deadline`.
pub fn set_deadline(deadline: u64) {
    // SAFETY: writes the timer's compare value and control registers; no memory access.
    unsafe {
        core::arch::asm!(
            "msr cntp_cval_el0, {deadline}",
            "msr cntp_ctl_el0, {enable}",
            "isb",
            deadline = in(reg) deadline,
            enable = in(reg) 1u64,
            options(nostack),
        );
    }
}

/// Stops the timer (its interrupt line drops).
pub fn stop() {
    // SAFETY: as in `set_deadline`.
    unsafe { core::arch::asm!("msr cntp_ctl_el0, xzr", "isb", options(nostack)) };
}

/// The counter's frequency in Hz.
pub fn frequency() -> u64 {
    let value: u64;
    // SAFETY: reads a system register; no memory access.
    unsafe {
        core::arch::asm!("mrs {}, cntfrq_el0", out(reg) value, options(nomem, nostack, preserves_flags))
    };
    value
}
