//! The fixed layout of every task's address space and the pages the kernel shares with it.
//!
//! ```text
//! 0x0000_0000_0040_0000  program (ELF segments; tasks are linked here)
//! 0x0000_0000_1000_0000  StartInfo page (read-only)
//! 0x0000_0000_1000_1000  IPC buffer page (read-write)
//! 0x0000_0000_2000_0000  top of the stack (grows down; size from the manifest)
//! 0x0000_0000_3000_0000  memory regions from the manifest, in order, page aligned,
//!                        one unmapped page between two regions
//! 0x0000_0000_4000_0000  window for shared memory mapped with `FrameOp::Map`
//! 0x0000_0000_8000_0000  end of that window
//! ```

use zerocopy::{FromBytes, Immutable, IntoBytes, KnownLayout};

/// Longest message the kernel's IPC fast path carries (registers only).
pub const FAST_MESSAGE_WORDS: u64 = crate::REGISTER_WORDS as u64;

/// Where task programs are linked.
pub const PROGRAM_BASE: u64 = 0x0040_0000;
/// The read-only [`StartInfo`] page.
pub const START_INFO: u64 = 0x1000_0000;
/// The thread's [`IpcBuffer`] page.
pub const IPC_BUFFER: u64 = 0x1000_1000;
/// Top of the initial stack.
pub const STACK_TOP: u64 = 0x2000_0000;
/// First manifest memory region.
pub const REGIONS_BASE: u64 = 0x3000_0000;
/// Start of the window `FrameOp::Map` accepts.
pub const SHARED_MAP_BASE: u64 = 0x4000_0000;
/// End of the window `FrameOp::Map` accepts (exclusive).
pub const USER_MAP_END: u64 = 0x8000_0000;

/// The per-thread IPC buffer: message words beyond the registers, capability transfer.
#[repr(C)]
#[derive(Debug, Clone, FromBytes, IntoBytes, KnownLayout, Immutable)]
pub struct IpcBuffer {
    /// Message words; index `i` is word `i` (words below `REGISTER_WORDS` travel in
    /// registers and are not read here).
    pub words: [u64; crate::MAX_MESSAGE_WORDS],
    /// Sender: slots of the capabilities to transfer (`MessageInfo::caps` of them).
    pub send_caps: [u64; crate::MAX_MESSAGE_CAPS],
    /// Receiver: the empty slot a received capability goes to (0: accept none). Whether
    /// one arrived is the `caps` count of the received [`MessageInfo`](crate::MessageInfo).
    pub receive_slot: u64,
}

/// Slots of an [`IrqRing`]: more than any controller's line count (a GIC has 1020), so a
/// ring that holds each masked line at most once cannot overflow.
pub const IRQ_RING_SLOTS: usize = 1024;

/// Interrupts the kernel routed to the irq-server, in arrival order (one page, shared).
///
/// Single producer (the kernel, on the routed CPU) and single consumer (the irq-server):
/// the kernel writes `lines[produced % SLOTS]` then increments `produced`; the server reads
/// up to `produced` and then sets `consumed`. Both counters only grow.
#[repr(C)]
#[derive(Debug, Clone, FromBytes, IntoBytes, KnownLayout, Immutable)]
pub struct IrqRing {
    /// Entries written by the kernel.
    pub produced: u64,
    /// Entries taken by the irq-server.
    pub consumed: u64,
    /// Interrupts the kernel could not record (never happens while the server unmasks
    /// only what it consumed; counted rather than silent).
    pub overflowed: u64,
    /// Zero.
    pub reserved: u64,
    /// Line numbers, in the controller's numbering.
    pub lines: [u16; IRQ_RING_SLOTS],
}

const _: () = assert!(size_of::<IrqRing>() <= 4096);

/// Longest task or capability name in [`StartInfo`].
pub const NAME_LEN: usize = 24;
/// Most capabilities a [`StartInfo`] lists.
pub const MAX_START_CAPS: usize = 48;
/// Bytes of a task's argument string in [`StartInfo`], the NUL included.
pub const ARGS_LEN: usize = 128;
/// `StartInfo::magic`.
pub const START_INFO_MAGIC: u64 = u64::from_le_bytes(*b"STARTINF");

/// What a task learns at start: its name and the capabilities the manifest gave it, by
/// name, so task code looks capabilities up instead of hard-coding slot numbers.
#[repr(C)]
#[derive(Debug, Clone, FromBytes, IntoBytes, KnownLayout, Immutable)]
pub struct StartInfo {
    /// [`START_INFO_MAGIC`].
    pub magic: u64,
    /// The task's index in the image.
    pub task_index: u64,
    /// Restarts of this task so far.
    pub restarts: u64,
    /// The task's name, NUL padded.
    pub name: [u8; NAME_LEN],
    /// The board's EL1 physical timer interrupt (the kernel found it in the device tree or
    /// the image's board file), so tasks name interrupts without per-board constants.
    pub timer_irq: u32,
    /// The console UART's (PL011) interrupt.
    pub uart_irq: u32,
    /// Lines of the interrupt controller (one past the highest number).
    pub irq_lines: u32,
    /// Zero.
    pub reserved: u32,
    /// Entries used in `caps`.
    pub cap_count: u64,
    /// The task's capabilities.
    pub caps: [StartCap; MAX_START_CAPS],
    /// The task's argument string from its manifest (`args`), NUL padded: how one program
    /// is configured differently in different images (a period, a duration).
    pub args: [u8; ARGS_LEN],
    /// Entries used in `irq_grants`.
    pub irq_grant_count: u64,
    /// In the irq-server's page only: the interrupt lines the manifest grants to in-band
    /// domains (board roles already resolved to this board's numbers), so the server lets
    /// a domain attach only what it was given.
    pub irq_grants: [IrqGrantEntry; MAX_IRQ_GRANTS],
}

/// Most entries of [`StartInfo::irq_grants`].
pub const MAX_IRQ_GRANTS: usize = 64;

/// One interrupt line granted to an in-band domain, in [`StartInfo`].
#[repr(C)]
#[derive(Debug, Clone, Copy, FromBytes, IntoBytes, KnownLayout, Immutable)]
pub struct IrqGrantEntry {
    /// The line, in the controller's numbering.
    pub line: u16,
    /// The domain it is granted to (the irq-server's `DomainId`).
    pub domain: u8,
    /// Zero.
    pub reserved: u8,
}

/// One capability in [`StartInfo`].
#[repr(C)]
#[derive(Debug, Clone, Copy, FromBytes, IntoBytes, KnownLayout, Immutable)]
pub struct StartCap {
    /// The name the manifest gave it, NUL padded.
    pub name: [u8; NAME_LEN],
    /// Its slot in the task's capability space.
    pub slot: u32,
    /// Its [`ObjectType`](crate::ObjectType) code.
    pub kind: u8,
    /// Its [`Rights`](crate::Rights) bits.
    pub rights: u8,
    /// Kind-specific flags ([`START_CAP_RESTART`] on thread capabilities).
    pub flags: u8,
    /// Zero.
    pub reserved: u8,
}

/// `StartCap::flags`: the supervisor should restart this task when it faults.
pub const START_CAP_RESTART: u8 = 1;

/// Trims a NUL-padded name.
#[must_use]
pub fn name_str(name: &[u8; NAME_LEN]) -> &str {
    let len = name.iter().position(|&b| b == 0).unwrap_or(NAME_LEN);
    core::str::from_utf8(&name[..len]).unwrap_or("")
}

const _: () = assert!(size_of::<StartInfo>() <= 4096 && size_of::<IpcBuffer>() <= 4096);
