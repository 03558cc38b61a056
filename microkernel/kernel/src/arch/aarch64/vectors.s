// Exception vector table. Every entry saves the full register frame (`TrapFrame`) on the
// current kernel stack and calls `exception_dispatch(kind, frame)`; on return the frame is
// restored (it may have been changed, e.g. to return into another context) and erets.

.equ FRAME_SIZE, 272

.macro VECTOR kind
    .balign 0x80
    sub     sp, sp, #FRAME_SIZE
    stp     x0, x1, [sp, #0]
    mov     x0, #\kind
    b       exception_entry
.endm

.section .text.vectors, "ax"
.balign 2048
.global exception_vectors
exception_vectors:
    VECTOR 0    // current EL, SP_EL0: synchronous
    VECTOR 1    //                     IRQ
    VECTOR 2    //                     FIQ
    VECTOR 3    //                     SError
    VECTOR 4    // current EL, SP_EL1: synchronous
    VECTOR 5    //                     IRQ
    VECTOR 6    //                     FIQ
    VECTOR 7    //                     SError
    VECTOR 8    // lower EL, AArch64:  synchronous
    VECTOR 9    //                     IRQ
    VECTOR 10   //                     FIQ
    VECTOR 11   //                     SError
    VECTOR 12   // lower EL, AArch32:  synchronous
    VECTOR 13   //                     IRQ
    VECTOR 14   //                     FIQ
    VECTOR 15   //                     SError

exception_entry:
    stp     x2, x3, [sp, #16]
    stp     x4, x5, [sp, #32]
    stp     x6, x7, [sp, #48]
    stp     x8, x9, [sp, #64]
    stp     x10, x11, [sp, #80]
    stp     x12, x13, [sp, #96]
    stp     x14, x15, [sp, #112]
    stp     x16, x17, [sp, #128]
    stp     x18, x19, [sp, #144]
    stp     x20, x21, [sp, #160]
    stp     x22, x23, [sp, #176]
    stp     x24, x25, [sp, #192]
    stp     x26, x27, [sp, #208]
    stp     x28, x29, [sp, #224]
    mrs     x1, sp_el0
    stp     x30, x1, [sp, #240]
    mrs     x2, elr_el1
    mrs     x3, spsr_el1
    stp     x2, x3, [sp, #256]
    mov     x1, sp
    bl      exception_dispatch

    ldp     x2, x3, [sp, #256]
    msr     elr_el1, x2
    msr     spsr_el1, x3
    ldp     x30, x1, [sp, #240]
    msr     sp_el0, x1
    ldp     x0, x1, [sp, #0]
    ldp     x2, x3, [sp, #16]
    ldp     x4, x5, [sp, #32]
    ldp     x6, x7, [sp, #48]
    ldp     x8, x9, [sp, #64]
    ldp     x10, x11, [sp, #80]
    ldp     x12, x13, [sp, #96]
    ldp     x14, x15, [sp, #112]
    ldp     x16, x17, [sp, #128]
    ldp     x18, x19, [sp, #144]
    ldp     x20, x21, [sp, #160]
    ldp     x22, x23, [sp, #176]
    ldp     x24, x25, [sp, #192]
    ldp     x26, x27, [sp, #208]
    ldp     x28, x29, [sp, #224]
    add     sp, sp, #FRAME_SIZE
    eret
