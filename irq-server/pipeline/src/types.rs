//! Names for the things the pipeline routes: IRQ numbers, in-band domains, CPUs, oob
//! handlers, and the mode and trigger of an interrupt line.

use core::fmt;

/// Number of hardware IRQ numbers, `0..HW_IRQS`.
///
/// Covers the GIC's INTIDs 0..1019 (SGIs, PPIs, SPIs; 1020..1023 are the special INTIDs and
/// never reach the pipeline). On the Raspberry Pi (BCM2836 local controller + BCM2835
/// controller, no GIC) the kernel maps the lines into the low part of this range.
pub const HW_IRQS: u16 = 1024;

/// Number of synthetic IRQ numbers, allocated by the pipeline from
/// `SYNTHETIC_BASE..SYNTHETIC_BASE + SYNTHETIC_IRQS`.
pub const SYNTHETIC_IRQS: u16 = 64;

/// First synthetic IRQ number (right above the hardware range).
pub const SYNTHETIC_BASE: u16 = HW_IRQS;

/// Total number of IRQ numbers the pipeline knows (hardware + synthetic).
pub const NR_IRQS: usize = HW_IRQS as usize + SYNTHETIC_IRQS as usize;

/// An IRQ number: hardware (`< HW_IRQS`) or synthetic (`SYNTHETIC_BASE..`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Irq(pub u16);

impl Irq {
    /// Whether the number is in the range the pipeline knows at all.
    pub const fn is_valid(self) -> bool {
        (self.0 as usize) < NR_IRQS
    }

    /// Whether the number is a hardware IRQ number.
    pub const fn is_hardware(self) -> bool {
        self.0 < HW_IRQS
    }

    /// Whether the number lies in the synthetic range.
    pub const fn is_synthetic(self) -> bool {
        self.0 >= SYNTHETIC_BASE && (self.0 as usize) < NR_IRQS
    }
}

impl fmt::Display for Irq {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.is_synthetic() {
            write!(f, "IRQ {} (synthetic #{})", self.0, self.0 - SYNTHETIC_BASE)
        } else {
            write!(f, "IRQ {}", self.0)
        }
    }
}

/// An in-band domain: one in-band server process with its own virtual interrupt flag per
/// CPU (the "in-band stage" of that server).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct DomainId(pub u8);

impl fmt::Display for DomainId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "domain {}", self.0)
    }
}

/// A CPU, as numbered by the kernel (0-based, dense).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct CpuId(pub u8);

impl fmt::Display for CpuId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "CPU {}", self.0)
    }
}

/// An out-of-band handler, as registered with the irq-server (an index into the
/// irq-server's own handler table; the pipeline only passes it around).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct HandlerId(pub u16);

impl fmt::Display for HandlerId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "oob handler {}", self.0)
    }
}

/// Who handles an interrupt line right now.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Mode {
    /// Nobody: events are `Unhandled` and the line is kept masked.
    Unassigned,
    /// An out-of-band handler, run in the oob stage the moment the event is received
    /// (Dovetail's `IRQF_OOB`).
    Oob {
        /// The handler to run.
        handler: HandlerId,
    },
    /// An in-band domain: delivered when that domain is unstalled on the receiving CPU,
    /// logged otherwise.
    InBand {
        /// The owning domain.
        domain: DomainId,
    },
}

/// How the line signals: decides whether an in-band event must keep the line masked
/// until the owning domain acks it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Trigger {
    /// Edge-triggered: one event per edge; the line need not be masked while the event
    /// waits in a log.
    Edge,
    /// Level-triggered: the device keeps asserting until its driver lifts the cause, so
    /// an in-band event masks the line until the owning domain acks it (no IRQ storm
    /// while the domain is stalled).
    Level,
}

/// What the caller must do with the interrupt line (at the interrupt controller).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[must_use = "the line must be masked or unmasked as told"]
pub enum LineAction {
    /// Leave the line as it is.
    Keep,
    /// Mask the line now and keep it masked until the owning domain acks the IRQ
    /// (a level-triggered in-band event).
    MaskUntilAck,
    /// Mask the line: it has no owner any more.
    Mask,
    /// Unmask the line.
    Unmask,
}
