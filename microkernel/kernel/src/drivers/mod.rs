//! Device drivers the kernel itself needs: the console UART and the interrupt controllers.
//! MMIO lives here and in `arch`; both offer safe interfaces.
#![allow(unsafe_code)]

pub mod bcm2836;
pub mod gic;
pub mod pl011;

use boot_info::InterruptController;

/// Trigger type of an interrupt line.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Trigger {
    /// Asserted until the device is serviced.
    Level,
    /// One event per edge.
    #[allow(
        dead_code,
        reason = "edge-triggered device lines are routed once the irq-server exists"
    )]
    Edge,
}

/// The board's interrupt controller, whichever it is.
///
/// Interrupt numbers are the controller's own: GIC INTIDs, or the kernel's numbering of the
/// BCM2836/2835 sources (see [`bcm2836`]).
#[derive(Debug)]
pub enum IrqChip {
    /// Arm GICv2.
    GicV2(gic::GicV2Chip),
    /// Arm GICv3.
    GicV3(gic::GicV3Chip),
    /// Raspberry Pi 2/3.
    Bcm2836(bcm2836::Bcm2836),
}

impl IrqChip {
    /// Maps the controller's registers and brings it up on the boot CPU, all lines masked.
    pub fn probe(description: InterruptController, cpus: usize) -> Result<Self, &'static str> {
        Ok(match description {
            InterruptController::GicV2 {
                distributor,
                cpu_interface,
            } => Self::GicV2(gic::GicV2Chip::new(distributor, cpu_interface)?),
            InterruptController::GicV3 {
                distributor,
                redistributors,
            } => Self::GicV3(gic::GicV3Chip::new(distributor, redistributors, cpus)?),
            InterruptController::Bcm2836 { local, armctrl } => {
                Self::Bcm2836(bcm2836::Bcm2836::new(local, armctrl)?)
            }
        })
    }

    /// A short name for banners.
    pub fn name(&self) -> &'static str {
        match self {
            Self::GicV2(_) => "GICv2",
            Self::GicV3(_) => "GICv3",
            Self::Bcm2836(_) => "BCM2836 local + BCM2835",
        }
    }

    /// Number of interrupt lines (one past the highest number).
    pub fn lines(&self) -> u32 {
        match self {
            Self::GicV2(chip) => chip.lines(),
            Self::GicV3(chip) => chip.lines(),
            Self::Bcm2836(_) => bcm2836::LINES,
        }
    }

    /// Unmasks `irq` on this CPU (per-CPU lines) or system-wide, with the given trigger.
    pub fn enable(&mut self, irq: u32, trigger: Trigger) -> Result<(), &'static str> {
        match self {
            Self::GicV2(chip) => chip.enable(irq, trigger),
            Self::GicV3(chip) => chip.enable(irq, trigger),
            Self::Bcm2836(chip) => chip.set_enabled(irq, true),
        }
    }

    /// Masks `irq`.
    pub fn disable(&mut self, irq: u32) -> Result<(), &'static str> {
        match self {
            Self::GicV2(chip) => chip.disable(irq),
            Self::GicV3(chip) => chip.disable(irq),
            Self::Bcm2836(chip) => chip.set_enabled(irq, false),
        }
    }

    /// Takes the highest-priority pending interrupt, if any, and marks it active.
    pub fn acknowledge(&mut self) -> Option<u32> {
        match self {
            Self::GicV2(chip) => chip.acknowledge(),
            Self::GicV3(_) => gic::GicV3Chip::acknowledge(),
            Self::Bcm2836(chip) => chip.pending(),
        }
    }

    /// Whether a line can be held off by leaving its interrupt active (GIC split EOI)
    /// rather than masking it.
    pub fn holds_active(&self) -> bool {
        !matches!(self, Self::Bcm2836(_))
    }

    /// Deactivates `irq` after [`end_of_interrupt`](Self::end_of_interrupt) left it active.
    pub fn deactivate(&mut self, irq: u32) {
        match self {
            Self::GicV2(chip) => chip.deactivate(irq),
            Self::GicV3(_) => gic::GicV3Chip::deactivate(irq),
            Self::Bcm2836(_) => {}
        }
    }

    /// Signals the end of handling `irq`: a priority drop (on a GIC the interrupt then
    /// stays active until [`deactivate`](Self::deactivate)).
    pub fn end_of_interrupt(&mut self, irq: u32) {
        match self {
            Self::GicV2(chip) => chip.end_of_interrupt(irq),
            Self::GicV3(_) => gic::GicV3Chip::end_of_interrupt(irq),
            // Level sources: the line drops when the device is serviced.
            Self::Bcm2836(_) => {}
        }
    }
}
