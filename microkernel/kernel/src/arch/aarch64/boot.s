// Kernel entry: the arm64 Image header, then the path from the boot loader's hand-off to
// Rust running in the upper half with the MMU and caches on.
//
// On entry (Linux arm64 boot protocol): x0 = physical address of the device tree or 0,
// MMU off, caches off, at EL2 or EL1. Until the jump to `high_entry` every address used is
// PC-relative, so this code runs wherever the loader put the image.

.section .text.head, "ax"
.global _start
_start:
    b       primary_entry
    .long   0
    .quad   0x80000                 // text_offset: load at a 2 MiB boundary + 512 KiB
    .quad   __image_size            // image_size: the builder patches in the payload
    .quad   0x2                     // flags: little endian, 4 KiB pages
    .quad   0, 0, 0
    .ascii  "ARM\x64"
    .long   0

primary_entry:
    mov     x19, x0                 // device tree pointer, kept for kernel_main
    // Only CPU 0 boots the system; a secondary released by the loader parks until SMP
    // bring-up gives it work.
    mrs     x1, mpidr_el1
    and     x1, x1, #0xff
    cbnz    x1, park

    mrs     x1, CurrentEL
    lsr     x1, x1, #2
    mov     x21, x1                 // entry exception level, reported in the banner
    cmp     x1, #2
    b.ne    el1_entry

    // At EL2 (raspi3b): hand EL1 the counter and the EL1 physical timer, make EL1
    // AArch64, stop trapping FP/SIMD, give EL1 the GIC system registers if there is a
    // GICv3 CPU interface, then drop to EL1h with every exception masked.
    mov     x1, #(1 << 31)          // HCR_EL2.RW
    msr     hcr_el2, x1
    mov     x1, #3                  // CNTHCTL_EL2.EL1PCTEN | EL1PCEN
    msr     cnthctl_el2, x1
    msr     cntvoff_el2, xzr
    mov     x1, #0x33ff             // CPTR_EL2: RES1 bits, TFP = 0
    msr     cptr_el2, x1
    msr     hstr_el2, xzr
    mrs     x1, id_aa64pfr0_el1
    ubfx    x1, x1, #24, #4         // GIC system register interface
    cbz     x1, 1f
    mrs     x1, S3_4_C12_C9_5       // ICC_SRE_EL2
    orr     x1, x1, #0x1            // SRE
    orr     x1, x1, #0x8            // Enable: EL1 may use ICC_SRE_EL1
    msr     S3_4_C12_C9_5, x1
    isb
1:  ldr     x1, =0x30d00800         // SCTLR_EL1 RES1 bits, MMU off
    msr     sctlr_el1, x1
    mov     x1, #0x3c5              // SPSR: EL1h, DAIF masked
    msr     spsr_el2, x1
    adr     x1, el1_entry
    msr     elr_el2, x1
    eret

el1_entry:
    msr     daifset, #0xf
    adrp    x1, __boot_stack_top
    add     x1, x1, :lo12:__boot_stack_top
    mov     sp, x1

    adrp    x1, __bss_start
    add     x1, x1, :lo12:__bss_start
    adrp    x2, __bss_end
    add     x2, x2, :lo12:__bss_end
2:  cmp     x1, x2
    b.hs    3f
    stp     xzr, xzr, [x1], #16
    b       2b

    // Build the page tables and program MAIR/TCR/TTBR0/TTBR1 (Rust, still MMU off).
3:  adrp    x20, _start             // physical load address
    mov     x0, x20
    bl      early_paging
    cbnz    x0, park

    // The tables were written with the data cache off: drop any stale cache lines for
    // the data and bss before the MMU starts reading through the cache.
    adrp    x1, __rodata_end
    adrp    x2, __data_end
    mrs     x3, ctr_el0
    ubfx    x3, x3, #16, #4         // DminLine: log2(words per line)
    mov     x4, #4
    lsl     x4, x4, x3
4:  dc      ivac, x1
    add     x1, x1, x4
    cmp     x1, x2
    b.lo    4b
    dsb     sy

    tlbi    vmalle1
    dsb     nsh
    isb
    // SCTLR_EL1: RES1 | M | C | SA | SA0 | I | DZE | UCT | WXN (a writable page is never
    // executable; EL0 may zero cache lines and read the cache type).
    ldr     x1, =0x30d8d81d
    msr     sctlr_el1, x1
    isb

    // Now on the identity mapping; jump to the link (upper-half) address.
    ldr     x1, =high_entry
    br      x1

high_entry:
    ldr     x1, =__boot_stack_top
    mov     sp, x1
    mov     x0, x19
    mov     x1, x20
    mov     x2, x21
    bl      kernel_entry            // never returns

park:
    wfe
    b       park
.ltorg
