//! Arm Generic Interrupt Controller v2 and v3, through the `arm-gic` crate.
//!
//! On QEMU's GICv2 (no security extension) `arm-gic` puts every interrupt in group 0; on
//! GICv3 in (non-secure) group 1. Every line the kernel enables gets the same priority: the
//! kernel does not nest interrupts; ordering among them is the irq-server's business.

use super::Trigger;
use arm_gic::{
    IntId, InterruptGroup, Trigger as GicTrigger, UniqueMmioPointer,
    gicv2::{
        GicV2,
        registers::{Gicc, Gicd as GicdV2},
    },
    gicv3::{
        GicCpuInterface, GicV3,
        registers::{Gicd as GicdV3, GicrSgi},
    },
};
use core::{fmt, ptr::NonNull};
use paging::Attributes;

/// Priority of every line the kernel enables (lower is more urgent; 0x80 is the highest a
/// non-secure GICv3 client can use).
const LINE_PRIORITY: u8 = 0x80;

fn map(base: u64, size: u64, what: &'static str) -> Result<u64, &'static str> {
    crate::arch::mmu::map_physical(base, size, Attributes::KERNEL_DEVICE).map_err(|_| what)
}

fn intid(irq: u32) -> Result<IntId, &'static str> {
    IntId::try_from(irq).map_err(|_| "not a valid GIC interrupt ID")
}

fn gic_trigger(trigger: Trigger) -> GicTrigger {
    match trigger {
        Trigger::Level => GicTrigger::Level,
        Trigger::Edge => GicTrigger::Edge,
    }
}

/// A GICv2 with its group (0 without the security extension, else 1).
pub struct GicV2Chip {
    gic: GicV2<'static>,
    group: InterruptGroup,
    /// The CPU interface's registers (for EOImode and GICC_DIR, which `arm-gic` 0.10
    /// does not offer).
    gicc: u64,
}

impl fmt::Debug for GicV2Chip {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "GicV2Chip({:?})", self.group)
    }
}

impl GicV2Chip {
    /// Maps and initialises the distributor and this CPU's interface.
    pub fn new(distributor: u64, cpu_interface: u64) -> Result<Self, &'static str> {
        let gicd = map(distributor, 0x1000, "cannot map the GICv2 distributor")?;
        let gicc = map(cpu_interface, 0x2000, "cannot map the GICv2 CPU interface")?;
        // SAFETY: both addresses map the GIC's register frames as device memory, and the
        // controller is probed once, so this driver holds the only pointers to them.
        let mut gic = unsafe { GicV2::new(gicd as *mut GicdV2, gicc as *mut Gicc) };
        let group = if gic.typer().has_security_extension() {
            InterruptGroup::Group1
        } else {
            InterruptGroup::Group0
        };
        gic.setup();
        gic.enable_all_interrupts(false);
        gic.set_priority_mask(0xff);
        let chip = Self { gic, group, gicc };
        // Split priority drop and deactivation (EOImodeS | EOImodeNS): see `deactivate`.
        chip.write_gicc(GICC_CTLR, chip.read_gicc(GICC_CTLR) | (1 << 9) | (1 << 10));
        Ok(chip)
    }

    /// Number of interrupt IDs.
    pub fn lines(&self) -> u32 {
        self.gic.typer().num_irqs().min(1020)
    }

    /// Enables `irq` at the line priority.
    pub fn enable(&mut self, irq: u32, trigger: Trigger) -> Result<(), &'static str> {
        let id = intid(irq)?;
        // `arm-gic` 0.10 writes the whole 4-line priority register here, so every line in
        // the same group of four gets LINE_PRIORITY too: harmless, all lines share it.
        self.gic.set_interrupt_priority(id, LINE_PRIORITY);
        if id.is_spi() {
            self.gic.set_trigger(id, gic_trigger(trigger));
        }
        self.gic
            .enable_interrupt(id, true)
            .map_err(|_| "the GIC refused to enable the line")
    }

    /// Disables `irq`.
    pub fn disable(&mut self, irq: u32) -> Result<(), &'static str> {
        self.gic
            .enable_interrupt(intid(irq)?, false)
            .map_err(|_| "the GIC refused to disable the line")
    }

    /// Acknowledges the highest-priority pending interrupt.
    pub fn acknowledge(&mut self) -> Option<u32> {
        self.gic
            .get_and_acknowledge_interrupt(self.group)
            .map(u32::from)
    }

    /// Drops the running priority for `irq` (with split EOI the interrupt stays active
    /// until [`deactivate`](Self::deactivate): it cannot fire again meanwhile).
    pub fn end_of_interrupt(&mut self, irq: u32) {
        if let Ok(id) = IntId::try_from(irq) {
            self.gic.end_interrupt(id, self.group);
        }
    }

    /// Deactivates `irq` (GICC_DIR): it may fire again.
    pub fn deactivate(&mut self, irq: u32) {
        self.write_gicc(GICC_DIR, irq);
    }

    fn read_gicc(&self, offset: u64) -> u32 {
        // SAFETY: `gicc` maps the 8 KiB CPU interface as device memory; offset is a
        // 4-byte aligned register inside it.
        unsafe { core::ptr::read_volatile((self.gicc + offset) as *const u32) }
    }

    fn write_gicc(&self, offset: u64, value: u32) {
        // SAFETY: as in `read_gicc`.
        unsafe { core::ptr::write_volatile((self.gicc + offset) as *mut u32, value) }
    }
}

const GICC_CTLR: u64 = 0x0;
const GICC_DIR: u64 = 0x1000;

/// A GICv3 (system-register CPU interface, memory-mapped distributor and redistributors).
pub struct GicV3Chip {
    gic: GicV3<'static>,
    cpu: usize,
}

impl fmt::Debug for GicV3Chip {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "GicV3Chip(cpu {})", self.cpu)
    }
}

impl GicV3Chip {
    /// Size of one GICv3 redistributor (RD_base + SGI_base frames).
    const REDISTRIBUTOR_SIZE: u64 = 0x2_0000;

    /// Maps and initialises the distributor, the redistributors and this CPU's interface.
    pub fn new(distributor: u64, redistributors: u64, cpus: usize) -> Result<Self, &'static str> {
        let gicd = map(distributor, 0x1_0000, "cannot map the GICv3 distributor")?;
        let gicr = map(
            redistributors,
            Self::REDISTRIBUTOR_SIZE * cpus as u64,
            "cannot map the GICv3 redistributors",
        )?;
        let gicd = NonNull::new(gicd as *mut GicdV3).ok_or("GICv3 distributor at 0")?;
        let gicr = NonNull::new(gicr as *mut GicrSgi).ok_or("GICv3 redistributors at 0")?;
        // SAFETY: the addresses map the distributor and `cpus` redistributors as device
        // memory, and the controller is probed once, so this driver holds the only pointers.
        let mut gic = unsafe { GicV3::new(UniqueMmioPointer::new(gicd), gicr, cpus) }
            .map_err(|_| "unsupported GICv3 redistributor layout")?;
        let cpu = crate::arch::cpu::id();
        gic.setup(cpu);
        gic.enable_all_interrupts(false);
        GicCpuInterface::set_priority_mask(0xff);
        // ICC_CTLR_EL1.EOImode: split priority drop and deactivation (see `deactivate`).
        // SAFETY: a CPU-interface control register; no memory is accessed.
        unsafe {
            core::arch::asm!(
                "mrs {t}, S3_0_C12_C12_4",
                "orr {t}, {t}, #2",
                "msr S3_0_C12_C12_4, {t}",
                "isb",
                t = out(reg) _,
                options(nostack),
            )
        };
        Ok(Self { gic, cpu })
    }

    /// Number of interrupt IDs (SGIs, PPIs and SPIs).
    pub fn lines(&self) -> u32 {
        (32 + self.gic.typer().num_spis()).min(1020)
    }

    /// Enables `irq` at the line priority; SGIs and PPIs on this CPU.
    pub fn enable(&mut self, irq: u32, trigger: Trigger) -> Result<(), &'static str> {
        let id = intid(irq)?;
        let cpu = id.is_private().then_some(self.cpu);
        self.gic
            .set_interrupt_priority(id, cpu, LINE_PRIORITY)
            .map_err(|_| "cannot set the priority")?;
        if !id.is_sgi() {
            self.gic
                .set_trigger(id, cpu, gic_trigger(trigger))
                .map_err(|_| "cannot set the trigger")?;
        }
        self.gic
            .enable_interrupt(id, cpu, true)
            .map_err(|_| "the GIC refused to enable the line")
    }

    /// Disables `irq`.
    pub fn disable(&mut self, irq: u32) -> Result<(), &'static str> {
        let id = intid(irq)?;
        let cpu = id.is_private().then_some(self.cpu);
        self.gic
            .enable_interrupt(id, cpu, false)
            .map_err(|_| "the GIC refused to disable the line")
    }

    /// Acknowledges the highest-priority pending group 1 interrupt.
    pub fn acknowledge() -> Option<u32> {
        GicCpuInterface::get_and_acknowledge_interrupt(InterruptGroup::Group1).map(u32::from)
    }

    /// Drops the running priority for `irq`; it stays active until `deactivate`.
    pub fn end_of_interrupt(irq: u32) {
        // By hand rather than `GicCpuInterface::end_interrupt`: `irq` is what IAR1 just
        // gave, so it needs no `IntId` validation (a dozen instructions on the interrupt
        // path, the one the pipeline's latency is measured on).
        // SAFETY: a CPU-interface register write (ICC_EOIR1_EL1) of the INTID the
        // acknowledge returned; no memory is accessed.
        unsafe {
            core::arch::asm!("msr S3_0_C12_C12_1, {}", in(reg) u64::from(irq), options(nostack))
        };
    }

    /// Deactivates `irq` (ICC_DIR_EL1): it may fire again.
    pub fn deactivate(irq: u32) {
        // SAFETY: a CPU-interface register write; no memory is accessed.
        unsafe {
            core::arch::asm!("msr S3_0_C12_C11_1, {}", "isb", in(reg) u64::from(irq), options(nostack))
        };
    }
}
