//! The generic timers and the system counter.
//!
//! The EL1 physical timer (CNTP_*) is the system's tick device (the kernel's boot check
//! uses it; later the timer-server owns it); the EL1 virtual timer (CNTV_*) is the
//! kernel's own round-robin slice timer.

use aarch64_cpu::{
    asm::barrier,
    registers::{
        CNTFRQ_EL0, CNTP_CTL_EL0, CNTP_CVAL_EL0, CNTPCT_EL0, CNTV_CTL_EL0, CNTV_CVAL_EL0, Readable,
        Writeable,
    },
};

/// Counter frequency in Hz, as the firmware (or QEMU) programmed it.
pub fn frequency() -> u64 {
    CNTFRQ_EL0.get()
}

/// The system counter, read in program order.
pub fn counter() -> u64 {
    barrier::isb(barrier::SY);
    CNTPCT_EL0.get()
}

/// Fires the timer interrupt when the counter reaches `deadline` (absolute).
pub fn set_deadline(deadline: u64) {
    CNTP_CVAL_EL0.set(deadline);
    CNTP_CTL_EL0.write(CNTP_CTL_EL0::ENABLE::SET + CNTP_CTL_EL0::IMASK::CLEAR);
}

/// Disables the timer (its interrupt line drops).
pub fn stop() {
    CNTP_CTL_EL0.write(CNTP_CTL_EL0::ENABLE::CLEAR);
}

/// Arms the kernel's slice timer (the EL1 virtual timer; CNTVOFF is 0, so it counts with
/// the physical counter) for `deadline`.
pub fn set_slice_deadline(deadline: u64) {
    CNTV_CVAL_EL0.set(deadline);
    CNTV_CTL_EL0.write(CNTV_CTL_EL0::ENABLE::SET + CNTV_CTL_EL0::IMASK::CLEAR);
}

/// Disarms the slice timer (its interrupt line drops).
pub fn stop_slice() {
    CNTV_CTL_EL0.write(CNTV_CTL_EL0::ENABLE::CLEAR);
}
