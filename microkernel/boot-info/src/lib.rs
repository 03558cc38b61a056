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
pub const VERSION: u32 = 1;
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
                power: Power::None,
                cpus: 4,
            }),
        }
    }

    #[test]
    fn round_trips() {
        let mut buf = [0u8; 512];
        let len = encode(&raspi(), &mut buf).unwrap();
        assert_eq!(decode(&buf[..len]), Ok(raspi()));
    }

    #[test]
    fn refuses_bad_payloads() {
        let mut buf = [0u8; 512];
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
    fn encode_reports_a_full_buffer() {
        let mut small = [0u8; 20];
        assert!(encode(&raspi(), &mut small).is_err());
    }
}
