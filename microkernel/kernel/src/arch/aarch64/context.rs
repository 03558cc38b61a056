//! Entering and leaving threads: the trap stack, address-space switches, and the jump
//! into a thread's saved frame.

use super::exception::TrapFrame;
use aarch64_cpu::{
    asm::barrier,
    registers::{Readable, TCR_EL1, TPIDR_EL1, TTBR0_EL1, Writeable},
};

unsafe extern "C" {
    fn return_to_user(frame: *mut TrapFrame) -> !;
    static __boot_stack_top: u8;
}

/// Prepares this CPU to run threads: traps from EL0 run on the boot stack (the code that
/// used it before never resumes), TTBR0 walks are enabled, and EL0 may read the cycle
/// counter (benchmarks: under QEMU `-icount shift=0` it counts guest instructions).
pub fn init_cpu() {
    TPIDR_EL1.set(&raw const __boot_stack_top as u64);
    open_timer_to_el0(false);
    TCR_EL1.set(TCR_EL1.get() & !(1 << 7)); // EPD0 off: TTBR0 holds task address spaces
    // PMCR_EL0: E (enable) | C (reset the cycle counter); PMCNTENSET_EL0.C; PMUSERENR_EL0:
    // EN (EL0 access) | CR (EL0 reads of the cycle counter).
    // SAFETY: PMU configuration registers; no memory is accessed.
    unsafe {
        core::arch::asm!(
            "msr pmcr_el0, {pmcr}",
            "msr pmcntenset_el0, {enable}",
            "msr pmuserenr_el0, {user}",
            pmcr = in(reg) 0b101u64,
            enable = in(reg) 1u64 << 31,
            user = in(reg) 0b101u64,
            options(nostack),
        )
    };
    barrier::isb(barrier::SY);
}

/// Opens (or closes) the EL1 physical timer to EL0: CNTKCTL_EL1.EL0PTEN. The counters stay
/// readable at EL0 either way (EL0PCTEN, EL0VCTEN: clock reads need no system call).
pub fn open_timer_to_el0(open: bool) {
    const EL0PCTEN: u64 = 1 << 0;
    const EL0VCTEN: u64 = 1 << 1;
    const EL0PTEN: u64 = 1 << 9;
    let value = EL0PCTEN | EL0VCTEN | if open { EL0PTEN } else { 0 };
    // SAFETY: a timer access-control register; no memory is accessed.
    unsafe { core::arch::asm!("msr cntkctl_el1, {}", "isb", in(reg) value, options(nostack)) };
}

/// Makes `root` (with its `asid`) the current user address space.
///
/// ASIDs tag TLB entries, so no TLB maintenance is needed on a switch.
pub fn switch_address_space(root: u64, asid: u16) {
    TTBR0_EL1.set(root | (u64::from(asid) << 48));
    barrier::isb(barrier::SY);
}

/// Drops every TLB entry tagged with `asid` (after unmapping from that address space).
pub fn flush_asid(asid: u16) {
    let operand = u64::from(asid) << 48;
    // SAFETY: TLB maintenance has no memory-safety effect.
    unsafe {
        core::arch::asm!("dsb ishst", "tlbi aside1is, {}", "dsb ish", "isb", in(reg) operand, options(nostack))
    };
}

/// The idle loop: asks `pick` for a thread to run; while there is none, waits for an
/// interrupt with IRQs unmasked (interrupts are handled by the EL1 vectors meanwhile).
/// Never returns: it enters the picked thread at EL0.
///
/// `pick` is the kernel's dispatcher: it returns the frame slot of a ready thread, taken
/// from the kernel's static thread table with the thread's `spsr` selecting EL0t.
///
/// `state` says how deep to sleep. The CPU sleeps with IRQs masked at the CPU (a pending
/// interrupt wakes `WFI` and `CPU_SUSPEND` all the same) and takes the interrupt only
/// after waking: an interrupt that arrives between `pick` and the sleep is not lost.
pub fn idle(pick: fn() -> Option<*mut TrapFrame>, state: fn() -> IdleState) -> ! {
    loop {
        if let Some(frame) = pick() {
            // SAFETY: the frame is a slot of the kernel's static thread table (see above),
            // so it stays valid while the thread runs, and it was filled by the trap
            // vectors or by the task loader; `return_to_user` loads it and erets to EL0.
            unsafe { return_to_user(frame) }
        }
        match state() {
            IdleState::Shallow => super::cpu::wait_for_interrupt(),
            IdleState::Deep(power) => super::power::suspend_standby(power),
        }
        super::cpu::enable_irqs();
        super::cpu::disable_irqs();
    }
}

/// How deep an idle CPU sleeps.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum IdleState {
    /// `WFI`: the timer keeps running and wakes the CPU at once.
    Shallow,
    /// PSCI `CPU_SUSPEND` through the board's conduit: the firmware may pick a state in
    /// which the timer stops or wakes the CPU late (QEMU's firmware emulation waits as
    /// `WFI` does), so the oob stage vetoes it while an oob timer is armed.
    Deep(boot_info::Power),
}
