//! The EL1 physical generic timer (CNTP_*) and the system counter.

use aarch64_cpu::{
    asm::barrier,
    registers::{CNTFRQ_EL0, CNTP_CTL_EL0, CNTP_CVAL_EL0, CNTPCT_EL0, Readable, Writeable},
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
