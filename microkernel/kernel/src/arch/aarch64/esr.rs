//! Decoding of the Exception Syndrome Register: what kind of exception, and why.
//!
//! Pure decoding, no register access, so fault reports (the kernel's own, and later the
//! fault messages sent to supervisors) name the class the way the Arm ARM does.

use core::fmt;

/// ESR_EL1.EC: the exception class.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ExceptionClass(pub u8);

impl ExceptionClass {
    /// Data abort from a lower EL.
    pub const DATA_ABORT_LOWER: Self = Self(0x24);
    /// Data abort from the same EL.
    pub const DATA_ABORT_SAME: Self = Self(0x25);

    /// The class of a syndrome.
    pub const fn of(esr: u64) -> Self {
        Self(((esr >> 26) & 0x3f) as u8)
    }

    /// The Arm ARM's name for the class.
    pub const fn name(self) -> &'static str {
        match self.0 {
            0x00 => "unknown reason / undefined instruction",
            0x01 => "trapped WFI/WFE",
            0x07 => "trapped FP/SIMD access",
            0x0e => "illegal execution state",
            0x15 => "SVC (AArch64)",
            0x18 => "trapped MSR/MRS/system instruction",
            0x20 => "instruction abort from a lower EL",
            0x21 => "instruction abort from the same EL",
            0x22 => "PC alignment fault",
            0x24 => "data abort from a lower EL",
            0x25 => "data abort from the same EL",
            0x26 => "SP alignment fault",
            0x2c => "trapped floating-point exception",
            0x2f => "SError",
            0x30 | 0x31 => "breakpoint",
            0x32 | 0x33 => "software step",
            0x34 | 0x35 => "watchpoint",
            0x3c => "BRK instruction",
            _ => "reserved or unhandled class",
        }
    }

    /// Whether the class is an instruction or data abort (FAR holds the address).
    pub const fn is_abort(self) -> bool {
        matches!(self.0, 0x20 | 0x21 | 0x24 | 0x25)
    }
}

impl fmt::Display for ExceptionClass {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} (EC {:#04x})", self.name(), self.0)
    }
}

/// The fault status code of an abort (ISS.DFSC / IFSC), described.
pub fn abort_status(esr: u64) -> &'static str {
    let status = (esr & 0x3f) as u8;
    match status {
        0b000000..=0b000011 => "address size fault",
        0b000100..=0b000111 => "translation fault",
        0b001000..=0b001011 => "access flag fault",
        0b001100..=0b001111 => "permission fault",
        0b010000 => "synchronous external abort",
        0b100001 => "alignment fault",
        0b110000 => "TLB conflict",
        _ => "other abort",
    }
}

/// Level of the translation table walk for an abort status with a level (0-3).
pub fn abort_level(esr: u64) -> Option<u8> {
    let status = (esr & 0x3f) as u8;
    (status < 0b010000).then_some(status & 0b11)
}

/// Whether a data abort was caused by a write (ISS.WnR).
pub fn abort_was_write(esr: u64) -> bool {
    esr & (1 << 6) != 0
}
