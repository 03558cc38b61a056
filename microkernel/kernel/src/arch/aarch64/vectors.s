// Exception vector table.
//
// From EL1 (the kernel idling or faulting): the frame is saved on the kernel stack and
// `exception_dispatch(kind, frame)` runs; the frame is restored and the kernel resumes.
//
// From EL0: while a thread runs, SP_EL1 points just past that thread's `TrapFrame` slot
// (`context.rs`), so the entry stores the user registers straight into the thread's
// frame, with no copy. It then moves to this CPU's kernel stack (TPIDR_EL1) and calls
// `user_trap(kind, frame)`, which returns the frame of the thread to run next;
// `return_to_user` loads it and erets, leaving SP_EL1 just past that frame again.

.equ FRAME_SIZE, 272

.macro VECTOR kind
    .balign 0x80
    sub     sp, sp, #FRAME_SIZE
    stp     x0, x1, [sp, #0]
    mov     x0, #\kind
    b       exception_entry
.endm

.macro SAVE_X2_TO_X7
    stp     x2, x3, [sp, #16]
    stp     x4, x5, [sp, #32]
    stp     x6, x7, [sp, #48]
.endm

.macro SAVE_X18_TO_X29
    stp     x18, x19, [sp, #144]
    stp     x20, x21, [sp, #160]
    stp     x22, x23, [sp, #176]
    stp     x24, x25, [sp, #192]
    stp     x26, x27, [sp, #208]
    stp     x28, x29, [sp, #224]
.endm

.macro SAVE_X2_TO_X29
    SAVE_X2_TO_X7
    stp     x8, x9, [sp, #64]
    stp     x10, x11, [sp, #80]
    stp     x12, x13, [sp, #96]
    stp     x14, x15, [sp, #112]
    stp     x16, x17, [sp, #128]
    SAVE_X18_TO_X29
.endm

// x30, SP_EL0, ELR and SPSR into the frame at sp (clobbers x1-x3, already saved).
.macro SAVE_LR_AND_SPECIAL
    mrs     x1, sp_el0
    stp     x30, x1, [sp, #240]
    mrs     x2, elr_el1
    mrs     x3, spsr_el1
    stp     x2, x3, [sp, #256]
.endm

// Leave the thread's frame slot for this CPU's trap stack (TPIDR_EL1).
.macro SWITCH_TO_TRAP_STACK
    mrs     x2, tpidr_el1
    mov     sp, x2
.endm

.macro RESTORE_FRAME_AT_SP
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
.endm

.macro USER_VECTOR kind
    .balign 0x80
    sub     sp, sp, #FRAME_SIZE     // sp = the running thread's frame slot
    stp     x0, x1, [sp, #0]
    mov     x0, #\kind
    b       user_entry
.endm

// The two hot entries from EL0 run inside their vector slots (32 instructions each), so
// that a system call or an interrupt reaches the kernel without a branch to a shared
// entry and a test of which vector it came from.

// Synchronous from AArch64 EL0: a system call (SVC) saves less: x9-x17 are clobbered
// by every call (the ABI says so), so their slots keep the thread's own older values,
// and restoring those later reveals nothing of the kernel's. Anything else (faults)
// takes the general entry.
.macro USER_SYNC_VECTOR
    .balign 0x80
    sub     sp, sp, #FRAME_SIZE     // sp = the running thread's frame slot
    stp     x0, x1, [sp, #0]
    mrs     x1, esr_el1
    lsr     x1, x1, #26
    cmp     x1, #0x15               // EC = SVC from AArch64
    b.ne    user_sync_not_svc
    SAVE_X2_TO_X7
    str     x8, [sp, #64]           // the call number; x9-x17 are not saved
    SAVE_X18_TO_X29
    SAVE_LR_AND_SPECIAL
    SWITCH_TO_TRAP_STACK
    bl      syscall_trap            // x0 = frame of the thread to run
    b       return_to_user
.endm

// IRQ from AArch64 EL0: the whole frame, then the kernel's interrupt path.
.macro USER_IRQ_VECTOR
    .balign 0x80
    sub     sp, sp, #FRAME_SIZE     // sp = the running thread's frame slot
    stp     x0, x1, [sp, #0]
    SAVE_X2_TO_X29
    SAVE_LR_AND_SPECIAL
    SWITCH_TO_TRAP_STACK
    bl      irq_trap                // x0 = frame of the thread to run
    b       return_to_user
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
    USER_SYNC_VECTOR // lower EL, AArch64:  synchronous
    USER_IRQ_VECTOR  //                     IRQ
    USER_VECTOR 10   //                     FIQ
    USER_VECTOR 11   //                     SError
    USER_VECTOR 12   // lower EL, AArch32:  synchronous
    USER_VECTOR 13   //                     IRQ
    USER_VECTOR 14   //                     FIQ
    USER_VECTOR 15   //                     SError
// Each entry must fit its 0x80-byte slot: one that overflowed would shift the rest past
// the table's end, and this `.org` would then fail to assemble (it cannot move back).
    .org    exception_vectors + 0x800

exception_entry:
    SAVE_X2_TO_X29
    SAVE_LR_AND_SPECIAL
    mov     x1, sp
    bl      exception_dispatch
    RESTORE_FRAME_AT_SP
    eret

user_sync_not_svc:
    mov     x0, #8
    // fall through
user_entry:
    SAVE_X2_TO_X29
    SAVE_LR_AND_SPECIAL
    mov     x1, sp                  // the thread's frame
    SWITCH_TO_TRAP_STACK
    bl      user_trap               // x0 = frame of the thread to run
    // fall through

// return_to_user(frame): load a thread's frame and enter it at EL0.
.global return_to_user
return_to_user:
    mov     sp, x0
    RESTORE_FRAME_AT_SP
    eret
