//! The contract between the image builder (`cargo xtask`) and the kernel.
//!
//! A bootable image is the kernel's memory image (text, data and zeroed bss, exactly as it
//! lies in memory) followed by a *payload*: a [`Header`] and a `postcard`-encoded
//! [`BootInfo`]. The kernel finds the payload at its own end symbol and learns the payload
//! size from the arm64 Image header field `image_size`, which the builder patches.
//!
//! The payload says what the device tree cannot: which image this is, the command line the
//! image was built with, and, for boards that pass no device tree (raspi3b), the board
//! description from the image's board file. Where a device tree is passed, it wins.
#![no_std]
#![forbid(unsafe_code)]

use serde::{Deserialize, Serialize};

/// First bytes of the payload.
pub const MAGIC: [u8; 8] = *b"SLUICEBI";
/// Format version; bumped on any incompatible change.
pub const VERSION: u32 = 4;
/// Size of the encoded [`Header`].
pub const HEADER_LEN: usize = 16;
/// Offset of the `image_size` field in the arm64 Image header.
pub const IMAGE_SIZE_OFFSET: usize = 16;

/// Payload header: magic, version, length of the encoded [`BootInfo`] that follows.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Header {
    /// Format version of the payload.
    pub version: u32,
    /// Bytes of encoded `BootInfo` after the header.
    pub len: u32,
}

impl Header {
    /// Encodes the header (little endian).
    pub fn to_bytes(self) -> [u8; HEADER_LEN] {
        let mut bytes = [0; HEADER_LEN];
        bytes[..8].copy_from_slice(&MAGIC);
        bytes[8..12].copy_from_slice(&self.version.to_le_bytes());
        bytes[12..16].copy_from_slice(&self.len.to_le_bytes());
        bytes
    }
}

/// What an image tells the kernel.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct BootInfo<'a> {
    /// Name of the image manifest the image was built from.
    pub image: &'a str,
    /// Name of the board file the image was built for.
    pub board: &'a str,
    /// Kernel command line (`key=value` words).
    pub cmdline: &'a str,
    /// The board description, for boards that pass no device tree.
    pub description: Option<BoardDescription<'a>>,
    /// The tasks and kernel objects of the system; `None` for a kernel-only image.
    #[serde(borrow)]
    pub system: Option<System<'a>>,
}

/// Most tasks an image may hold.
pub const MAX_TASKS: usize = 32;
/// Most ELF load segments per task.
pub const MAX_SEGMENTS: usize = 4;
/// Most private memory regions per task.
pub const MAX_REGIONS: usize = 4;
/// Most capabilities the manifest grants one task.
pub const MAX_GRANTS: usize = 48;
/// Most shared-memory objects in an image.
pub const MAX_SHARED: usize = 16;
/// Most interrupt lines the manifest grants to in-band domains (`kernel_abi::layout::
/// MAX_IRQ_GRANTS`, the size of the table in the irq-server's start-info page).
pub const MAX_IRQ_GRANTS: usize = 64;

/// The static system: kernel objects by index, and where each task's record is.
///
/// Each [`Task`] is a separate record (see [`decode_task`]) so the kernel decodes one at a
/// time on a small stack. The builder has checked every cross-reference (object indices,
/// task indices, slots, IRQ numbers granted once); the kernel checks them again and
/// refuses the image with a message rather than trusting the builder.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct System<'a> {
    /// Endpoints, by index (names for logs).
    #[serde(borrow)]
    pub endpoints: heapless::Vec<&'a str, 64>,
    /// Notifications, by index.
    #[serde(borrow)]
    pub notifications: heapless::Vec<&'a str, 64>,
    /// Shared memory objects (frames), by index.
    #[serde(borrow)]
    pub shared: heapless::Vec<Shared<'a>, MAX_SHARED>,
    /// Each task's record: offset from the start of the payload and length.
    pub tasks: heapless::Vec<(u32, u32), MAX_TASKS>,
}

/// A shared memory object.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Shared<'a> {
    /// Name, for logs.
    pub name: &'a str,
    /// Size in bytes (a multiple of 4096).
    pub size: u64,
}

/// One task: a program, its memory, its priority and its capabilities.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Task<'a> {
    /// Name (at most 23 bytes).
    pub name: &'a str,
    /// Scheduling priority, 0 (lowest) to 255.
    pub priority: u8,
    /// Stack size in bytes (a multiple of 4096).
    pub stack_size: u64,
    /// Entry point (virtual address).
    pub entry: u64,
    /// The program's load segments.
    pub segments: heapless::Vec<Segment, MAX_SEGMENTS>,
    /// Private memory regions, mapped read-write from `layout::REGIONS_BASE` on.
    pub regions: heapless::Vec<u64, MAX_REGIONS>,
    /// Capabilities, with their slots.
    #[serde(borrow)]
    pub grants: heapless::Vec<Grant<'a>, MAX_GRANTS>,
    /// Where this task's faults go: an endpoint index and the badge that names this task.
    pub fault_endpoint: Option<(u32, u64)>,
    /// Start the task at boot (otherwise it waits for a `Resume`).
    pub start: bool,
    /// The task may program the EL1 physical timer (CNTP_*) itself: the kernel opens it
    /// to EL0 while this task runs, and only then.
    pub timer_access: bool,
    /// The task's argument string (the manifest's `args`, at most
    /// `kernel_abi::layout::ARGS_LEN - 1` bytes), handed over in its start-info page.
    pub args: &'a str,
    /// On the irq-server's record (the task holding `irq-control`): which in-band domain
    /// each interrupt line is granted to (the manifest's `irqs` keys of the domains). The
    /// kernel resolves the board roles and hands the table over in the start-info page;
    /// the irq-server lets a domain attach only the lines granted to it.
    pub irq_grants: heapless::Vec<IrqGrant, MAX_IRQ_GRANTS>,
}

/// One interrupt line granted to an in-band domain of the pipeline.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct IrqGrant {
    /// The line.
    pub line: IrqLine,
    /// The domain (its `DomainId`: the badge of its `irq-server` capability minus one).
    pub domain: u8,
}

/// An interrupt line as a manifest names it: by board role, since on boards with a device
/// tree the numbers are only known at boot, or by number (controller numbering).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum IrqLine {
    /// The board's EL1 physical timer interrupt.
    BoardTimer,
    /// The console UART's interrupt.
    BoardUart,
    /// A line by number.
    Number(u32),
}

/// A load segment, copied from the payload into fresh frames at load and at every restart.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Segment {
    /// Virtual address (page aligned).
    pub vaddr: u64,
    /// Bytes in memory (the rest after `file_size` is zero).
    pub mem_size: u64,
    /// Offset of the segment's bytes from the start of the payload.
    pub file_offset: u64,
    /// Bytes taken from the payload.
    pub file_size: u64,
    /// Access: bit 0 read, bit 1 write, bit 2 execute (never write and execute together).
    pub flags: u8,
}

/// Segment flag: readable.
pub const SEGMENT_READ: u8 = 1;
/// Segment flag: writable.
pub const SEGMENT_WRITE: u8 = 2;
/// Segment flag: executable.
pub const SEGMENT_EXECUTE: u8 = 4;

/// One capability a task starts with.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Grant<'a> {
    /// The name task code looks it up by.
    pub name: &'a str,
    /// Slot in the task's capability space (1..; 0 stays empty).
    pub slot: u32,
    /// What it names.
    pub object: GrantObject,
    /// `kernel_abi::Rights` bits.
    pub rights: u8,
    /// Badge (0: none).
    pub badge: u64,
    /// `kernel_abi::layout::START_CAP_*` flags.
    pub flags: u8,
}

/// The object a grant names.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum GrantObject {
    /// Endpoint by index.
    Endpoint(u32),
    /// Notification by index.
    Notification(u32),
    /// The handler of one interrupt line (controller numbering).
    IrqHandler(u32),
    /// The right to create IRQ handlers.
    IrqControl,
    /// Another task's thread, by task index (for its supervisor).
    Thread(u32),
    /// Shared memory by index.
    Shared(u32),
    /// Control of the system (power off).
    SystemControl,
    /// The console UART's register page, as a device frame: for an out-of-band driver of
    /// its receive interrupt (the kernel keeps transmitting on it).
    ConsoleUart,
}

/// A board's hardware, as the kernel needs it. The kernel builds the same structure from a
/// device tree.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct BoardDescription<'a> {
    /// Human-readable model.
    pub model: &'a str,
    /// RAM usable by the system (base, size).
    pub ram: MemoryRange,
    /// The console UART.
    pub uart: Uart,
    /// The interrupt controller.
    pub interrupt_controller: InterruptController,
    /// Interrupt number of the EL1 physical timer in the controller's numbering.
    pub timer_irq: u32,
    /// Interrupt number of the EL1 virtual timer (the kernel's round-robin slice timer).
    pub slice_timer_irq: u32,
    /// Interrupt number of the console UART.
    pub uart_irq: u32,
    /// How the system powers off.
    pub power: Power,
    /// Number of CPUs.
    pub cpus: u32,
}

/// A physical address range.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct MemoryRange {
    /// Physical base address.
    pub base: u64,
    /// Size in bytes.
    pub size: u64,
}

/// A PL011 UART.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Uart {
    /// Physical base of its registers.
    pub base: u64,
    /// Reference clock in Hz.
    pub clock_hz: u32,
}

/// The interrupt controllers the kernel drives.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum InterruptController {
    /// Arm GICv2: distributor and CPU interface.
    GicV2 {
        /// Distributor base.
        distributor: u64,
        /// CPU interface base.
        cpu_interface: u64,
    },
    /// Arm GICv3: distributor and redistributors.
    GicV3 {
        /// Distributor base.
        distributor: u64,
        /// Base of the first redistributor.
        redistributors: u64,
    },
    /// Raspberry Pi 2/3: the BCM2836 per-core local controller in front of the BCM2835
    /// ("ARM control") controller.
    Bcm2836 {
        /// Local controller base (0x4000_0000 on the Pi 3).
        local: u64,
        /// BCM2835 interrupt registers base (0x3F00_B200 on the Pi 3).
        armctrl: u64,
    },
}

/// How the kernel powers the system off.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum Power {
    /// PSCI through `hvc`.
    PsciHvc,
    /// PSCI through `smc`.
    PsciSmc,
    /// No firmware interface: semihosting exit only.
    None,
}

/// Why a payload was refused.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum DecodeError {
    /// Shorter than its header says.
    Truncated,
    /// Not a payload (wrong magic).
    BadMagic,
    /// Written by an incompatible builder.
    UnsupportedVersion(u32),
    /// The encoded `BootInfo` does not parse.
    Malformed,
}

impl core::fmt::Display for DecodeError {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        match self {
            Self::Truncated => f.write_str("payload truncated"),
            Self::BadMagic => f.write_str("no boot-info payload (bad magic)"),
            Self::UnsupportedVersion(v) => {
                write!(f, "boot-info version {v}, kernel reads {VERSION}")
            }
            Self::Malformed => f.write_str("boot-info payload malformed"),
        }
    }
}

/// Reads a payload: header, then the `BootInfo` borrowing from `bytes`.
pub fn decode(bytes: &[u8]) -> Result<BootInfo<'_>, DecodeError> {
    let header = bytes.get(..HEADER_LEN).ok_or(DecodeError::Truncated)?;
    if header[..8] != MAGIC {
        return Err(DecodeError::BadMagic);
    }
    let word = |at: usize| {
        u32::from_le_bytes([header[at], header[at + 1], header[at + 2], header[at + 3]])
    };
    let (version, len) = (word(8), word(12));
    if version != VERSION {
        return Err(DecodeError::UnsupportedVersion(version));
    }
    let body = bytes
        .get(HEADER_LEN..HEADER_LEN + len as usize)
        .ok_or(DecodeError::Truncated)?;
    postcard::from_bytes(body).map_err(|_| DecodeError::Malformed)
}

/// Decodes the record of task `index` from the whole payload.
pub fn decode_task<'a>(
    payload: &'a [u8],
    system: &System<'_>,
    index: usize,
) -> Result<Task<'a>, DecodeError> {
    let &(offset, len) = system.tasks.get(index).ok_or(DecodeError::Truncated)?;
    let record = payload
        .get(offset as usize..offset as usize + len as usize)
        .ok_or(DecodeError::Truncated)?;
    postcard::from_bytes(record).map_err(|_| DecodeError::Malformed)
}

/// Decodes one task record (the bytes `System::tasks` points at).
pub fn decode_task_record(record: &[u8]) -> Result<Task<'_>, DecodeError> {
    postcard::from_bytes(record).map_err(|_| DecodeError::Malformed)
}

/// Encodes one task record into `out`, returning the bytes used.
pub fn encode_task(task: &Task<'_>, out: &mut [u8]) -> Result<usize, postcard::Error> {
    Ok(postcard::to_slice(task, out)?.len())
}

/// Writes a payload for `info` into `out`, returning the bytes used.
pub fn encode(info: &BootInfo<'_>, out: &mut [u8]) -> Result<usize, postcard::Error> {
    let (header, body) = out
        .split_at_mut_checked(HEADER_LEN)
        .ok_or(postcard::Error::SerializeBufferFull)?;
    let len = postcard::to_slice(info, body)?.len();
    header.copy_from_slice(
        &Header {
            version: VERSION,
            len: len as u32,
        }
        .to_bytes(),
    );
    Ok(HEADER_LEN + len)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn raspi() -> BootInfo<'static> {
        BootInfo {
            image: "default",
            board: "raspi3b",
            cmdline: "ticks=200",
            description: Some(BoardDescription {
                model: "Raspberry Pi 3 Model B",
                ram: MemoryRange {
                    base: 0,
                    size: 0x3c00_0000,
                },
                uart: Uart {
                    base: 0x3f20_1000,
                    clock_hz: 48_000_000,
                },
                interrupt_controller: InterruptController::Bcm2836 {
                    local: 0x4000_0000,
                    armctrl: 0x3f00_b200,
                },
                timer_irq: 97,
                slice_timer_irq: 99,
                uart_irq: 57,
                power: Power::None,
                cpus: 4,
            }),
            system: Some(System {
                endpoints: heapless::Vec::from_slice(&["faults"]).unwrap(),
                notifications: heapless::Vec::new(),
                shared: heapless::Vec::new(),
                tasks: heapless::Vec::new(),
            }),
        }
    }

    fn supervisor() -> Task<'static> {
        Task {
            name: "supervisor",
            priority: 250,
            stack_size: 8192,
            entry: 0x40_0000,
            segments: heapless::Vec::from_slice(&[Segment {
                vaddr: 0x40_0000,
                mem_size: 0x2000,
                file_offset: 0x1000,
                file_size: 0x1800,
                flags: SEGMENT_READ | SEGMENT_EXECUTE,
            }])
            .unwrap(),
            regions: heapless::Vec::new(),
            grants: heapless::Vec::from_slice(&[Grant {
                name: "faults",
                slot: 1,
                object: GrantObject::Endpoint(0),
                rights: 1,
                badge: 0,
                flags: 0,
            }])
            .unwrap(),
            fault_endpoint: None,
            start: true,
            timer_access: false,
            args: "",
            irq_grants: heapless::Vec::from_slice(&[
                IrqGrant {
                    line: IrqLine::BoardTimer,
                    domain: 0,
                },
                IrqGrant {
                    line: IrqLine::Number(1019),
                    domain: 7,
                },
            ])
            .unwrap(),
        }
    }

    #[test]
    fn round_trips() {
        let mut buf = [0u8; 2048];
        let len = encode(&raspi(), &mut buf).unwrap();
        assert_eq!(decode(&buf[..len]), Ok(raspi()));
    }

    #[test]
    fn refuses_bad_payloads() {
        let mut buf = [0u8; 2048];
        let len = encode(&raspi(), &mut buf).unwrap();
        assert_eq!(decode(&buf[..len - 1]), Err(DecodeError::Truncated));
        assert_eq!(decode(&buf[..4]), Err(DecodeError::Truncated));
        let mut bad = buf;
        bad[0] = b'X';
        assert_eq!(decode(&bad[..len]), Err(DecodeError::BadMagic));
        let mut old = buf;
        old[8] = 0;
        assert_eq!(decode(&old[..len]), Err(DecodeError::UnsupportedVersion(0)));
        let mut garbage = buf;
        garbage[HEADER_LEN] = 0xff; // string length varint that runs past the end
        garbage[HEADER_LEN + 1] = 0xff;
        assert_eq!(decode(&garbage[..len]), Err(DecodeError::Malformed));
    }

    #[test]
    fn task_records_round_trip_through_the_payload() {
        let mut payload = [0u8; 4096];
        let task_len = encode_task(&supervisor(), &mut payload[1024..]).unwrap();
        let mut info = raspi();
        let system = info.system.as_mut().unwrap();
        system.tasks.push((1024, task_len as u32)).unwrap();
        let len = encode(&info, &mut payload).unwrap();
        assert!(len < 1024);
        let decoded = decode(&payload).unwrap();
        let system = decoded.system.as_ref().unwrap();
        assert_eq!(decode_task(&payload, system, 0), Ok(supervisor()));
        assert_eq!(
            decode_task(&payload, system, 1),
            Err(DecodeError::Truncated)
        );
        let mut bad = system.clone();
        bad.tasks[0] = (4000, 200);
        assert_eq!(decode_task(&payload, &bad, 0), Err(DecodeError::Truncated));
    }

    #[test]
    fn encode_reports_a_full_buffer() {
        let mut small = [0u8; 40];
        assert!(encode(&raspi(), &mut small).is_err());
    }
}
