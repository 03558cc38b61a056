//! CPU state: interrupt masking and idling.

use aarch64_cpu::{
    asm,
    registers::{DAIF, MPIDR_EL1, Readable, Writeable},
};

/// Unmasks IRQs at the CPU.
pub fn enable_irqs() {
    DAIF.write(DAIF::I::Unmasked);
}

/// Masks IRQs at the CPU.
pub fn disable_irqs() {
    DAIF.write(DAIF::I::Masked + DAIF::F::Masked + DAIF::A::Masked + DAIF::D::Masked);
}

/// Waits for an interrupt (or event). The caller's loop re-checks its condition.
pub fn wait_for_interrupt() {
    asm::wfi();
}

/// This CPU's index (affinity level 0).
pub fn id() -> usize {
    (MPIDR_EL1.get() & 0xff) as usize
}
