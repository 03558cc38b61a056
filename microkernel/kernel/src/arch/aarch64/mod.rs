//! AArch64 (Armv8-A, EL1 kernel / EL0 tasks).

mod boot;
pub mod context;
pub mod cpu;
pub mod esr;
pub mod exception;
pub mod mmu;
pub mod power;
pub mod timer;
pub mod user_memory;

core::arch::global_asm!(include_str!("boot.s"));
core::arch::global_asm!(include_str!("vectors.s"));

/// Reads a word at `va` that the caller knows is unmapped, to provoke a data abort in a
/// test build.
#[cfg(feature = "selftests")]
pub fn read_unmapped_for_test(va: u64) -> u64 {
    // SAFETY: a volatile read of an address no table maps cannot touch memory: it takes a
    // translation fault, which the fault path reports and stops the system on.
    unsafe { core::ptr::read_volatile(va as *const u64) }
}
