//! Early boot: the translation tables built while the MMU is still off.
//!
//! This runs before the kernel is at its link address, so it must only use PC-relative
//! addressing (which is what static, small-code-model Rust emits for statics and calls),
//! no data structures holding absolute pointers, and only aligned accesses (with the MMU
//! off all data accesses are Device memory). It maps:
//! - the kernel image at its upper-half link address, one permission class per range
//!   (text RX, rodata R, data and bss RW, boot stack RW with an unmapped guard page below,
//!   the image payload R);
//! - the kernel text once more at its physical address (TTBR0), so the instructions right
//!   after the MMU is switched on still resolve. `kernel_main` removes that mapping.

use super::mmu::{self, TablePool};
use paging::{Attributes, PAGE_SIZE};

unsafe extern "C" {
    static __kernel_start: u8;
    static __text_end: u8;
    static __rodata_end: u8;
    static __data_end: u8;
    static __boot_stack_bottom: u8;
    static __boot_stack_top: u8;
    static __kernel_end: u8;
}

/// Current address of a linker symbol: physical before the MMU is on, virtual after.
macro_rules! here {
    ($symbol:ident) => {
        // Only the address of the linker-defined symbol is taken, never its value.
        &raw const $symbol as u64
    };
}

/// The link-time (upper-half) address of the start of the kernel image.
fn link_address_of_kernel_start() -> u64 {
    let address: u64;
    // SAFETY: loads a constant from the literal pool; no memory is written.
    unsafe {
        core::arch::asm!("ldr {}, =__kernel_start", out(reg) address, options(nomem, nostack))
    };
    address
}

/// Builds the early tables and programs MAIR, TCR, TTBR0 and TTBR1. Returns 0 on success.
///
/// Called from `boot.s` with the physical load address of the image.
#[unsafe(no_mangle)]
extern "C" fn early_paging(phys_base: u64) -> u64 {
    match build(phys_base) {
        Ok((identity_root, kernel_root)) => {
            mmu::program_translation_registers(identity_root, kernel_root);
            0
        }
        Err(_) => 1,
    }
}

fn build(phys_base: u64) -> Result<(u64, u64), paging::MapError> {
    // With the MMU off, a pointer into the pool is its physical address.
    let mut pool = TablePool::physical();
    let kernel_root = pool.allocate_root()?;
    let identity_root = pool.allocate_root()?;
    let virt_base = link_address_of_kernel_start();
    let start = here!(__kernel_start);
    debug_assert_eq!(start, phys_base);
    let image_size = mmu::image_size_from_header(start);

    let ranges = [
        (start, here!(__text_end), Attributes::KERNEL_TEXT),
        (
            here!(__text_end),
            here!(__rodata_end),
            Attributes::KERNEL_RODATA,
        ),
        (
            here!(__rodata_end),
            here!(__data_end),
            Attributes::KERNEL_DATA,
        ),
        (
            here!(__boot_stack_bottom),
            here!(__boot_stack_top),
            Attributes::KERNEL_DATA,
        ),
        (
            here!(__kernel_end),
            (start + image_size).next_multiple_of(PAGE_SIZE),
            Attributes::KERNEL_RODATA,
        ),
    ];
    for (pa_start, pa_end, attributes) in ranges {
        if pa_end > pa_start {
            let va = virt_base + (pa_start - phys_base);
            paging::map(
                &mut pool,
                kernel_root,
                va,
                pa_start,
                pa_end - pa_start,
                attributes,
                false,
            )?;
        }
    }
    let text_size = here!(__text_end) - start;
    paging::map(
        &mut pool,
        identity_root,
        start,
        start,
        text_size,
        Attributes::KERNEL_TEXT,
        false,
    )?;
    mmu::record_boot_layout(
        kernel_root,
        virt_base.wrapping_sub(phys_base),
        phys_base,
        image_size,
    );
    Ok((identity_root, kernel_root))
}

/// First Rust code at the link address (called from `boot.s` with the MMU on).
#[unsafe(no_mangle)]
extern "C" fn kernel_entry(dtb_pa: u64, phys_base: u64, entry_el: u64) -> ! {
    crate::kernel_main(dtb_pa, phys_base, entry_el)
}
