//! Finding out what board we run on: from the device tree the boot loader passed, or, where
//! it passes none, from the board description the image carries.

use crate::arch::mmu;
use boot_info::{BoardDescription, InterruptController, MemoryRange, Power, Uart};
use fdt::{Fdt, node::FdtNode};
use paging::Attributes;

/// Where the board description came from (printed in the banner).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Source {
    /// The device tree at this physical address, of this size.
    DeviceTree(u64, u64),
    /// The image's board file.
    Image,
}

/// Why the board could not be described.
#[derive(Clone, Copy, Debug)]
pub enum Error {
    /// The device tree could not be mapped.
    Unmappable,
    /// The device tree header is bad.
    BadDeviceTree,
    /// A node the kernel needs is missing or malformed.
    Missing(&'static str),
    /// No device tree and no board description in the image.
    NoDescription,
    /// The device tree lies on top of the kernel image.
    OverlapsImage,
}

impl core::fmt::Display for Error {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        match self {
            Self::Unmappable => f.write_str("cannot map the device tree"),
            Self::BadDeviceTree => f.write_str("the device tree is malformed"),
            Self::Missing(what) => write!(f, "the device tree has no usable {what}"),
            Self::NoDescription => {
                f.write_str("no device tree and no board description in the image")
            }
            Self::OverlapsImage => f.write_str("the device tree overlaps the kernel image"),
        }
    }
}

/// The first word of a flattened device tree (big endian 0xd00dfeed).
const FDT_MAGIC: [u8; 4] = [0xd0, 0x0d, 0xfe, 0xed];

/// Largest device tree accepted (the Linux arm64 limit).
const MAX_DEVICE_TREE: u64 = 2 << 20;

/// Describes the board: from the device tree at `dtb_pa` if there is one, else from the image.
pub fn discover(
    dtb_pa: u64,
    from_image: Option<BoardDescription<'static>>,
) -> Result<(BoardDescription<'static>, Source, Option<&'static str>), Error> {
    let from_image = || {
        from_image
            .map(|d| (d, Source::Image, None))
            .ok_or(Error::NoDescription)
    };
    if dtb_pa == 0 || !dtb_pa.is_multiple_of(8) {
        return from_image();
    }
    let header = mmu::map_physical_bytes(dtb_pa, 8, Attributes::KERNEL_DATA)
        .map_err(|_| Error::Unmappable)?;
    // Loaders without device trees may still leave a pointer in x0 (raspi3b: the ATAG list).
    if header[..4] != FDT_MAGIC {
        return from_image();
    }
    let total = u32::from_be_bytes([header[4], header[5], header[6], header[7]]) as u64;
    if total > MAX_DEVICE_TREE {
        return Err(Error::BadDeviceTree);
    }
    let (image_start, image_end) = mmu::image_physical_range();
    if dtb_pa < image_end && image_start < dtb_pa + total {
        return Err(Error::OverlapsImage);
    }
    let bytes = mmu::map_physical_bytes(dtb_pa, total as usize, Attributes::KERNEL_DATA)
        .map_err(|_| Error::Unmappable)?;
    let tree = Fdt::new(bytes).map_err(|_| Error::BadDeviceTree)?;
    // `fdt` 0.1 panics when a node it calls required is absent: check first.
    for required in ["/", "/chosen", "/cpus", "/memory"] {
        if tree.find_node(required).is_none() {
            return Err(Error::Missing(required));
        }
    }
    let bootargs = tree.chosen().bootargs().filter(|args| !args.is_empty());
    Ok((
        describe(&tree)?,
        Source::DeviceTree(dtb_pa, total),
        bootargs,
    ))
}

fn describe(tree: &Fdt<'static>) -> Result<BoardDescription<'static>, Error> {
    let model = tree
        .root()
        .property("model")
        .and_then(|p| p.as_str())
        .or_else(|| tree.root().property("compatible").and_then(|p| p.as_str()))
        .unwrap_or("unknown board");
    let ram = tree
        .memory()
        .regions()
        .find_map(|r| {
            Some(MemoryRange {
                base: r.starting_address as u64,
                size: r.size? as u64,
            })
        })
        .ok_or(Error::Missing("memory node"))?;
    let uart_node = tree
        .find_compatible(&["arm,pl011"])
        .ok_or(Error::Missing("PL011 UART"))?;
    let uart_irq = uart_node
        .property("interrupts")
        .and_then(|p| p.value.get(0..8))
        .and_then(|cells| {
            let kind = u32::from_be_bytes([cells[0], cells[1], cells[2], cells[3]]);
            let number = u32::from_be_bytes([cells[4], cells[5], cells[6], cells[7]]);
            match kind {
                0 => Some(32 + number), // SPI
                1 => Some(16 + number), // PPI
                _ => None,
            }
        })
        .ok_or(Error::Missing("PL011 interrupt"))?;
    let uart = Uart {
        base: first_reg(&uart_node).ok_or(Error::Missing("PL011 reg"))?.0,
        clock_hz: uart_clock(tree, &uart_node),
    };
    let interrupt_controller = interrupt_controller(tree)?;
    let timer = tree
        .find_compatible(&["arm,armv8-timer", "arm,armv7-timer"])
        .ok_or(Error::Missing("generic timer"))?;
    let timer_irq = timer_interrupt(&timer, 1).ok_or(Error::Missing("timer interrupts"))?;
    let slice_timer_irq =
        timer_interrupt(&timer, 2).ok_or(Error::Missing("virtual timer interrupt"))?;
    let power = match tree
        .find_compatible(&["arm,psci-1.0", "arm,psci-0.2", "arm,psci"])
        .and_then(|psci| psci.property("method"))
        .and_then(|m| m.as_str())
    {
        Some("hvc") => Power::PsciHvc,
        Some("smc") => Power::PsciSmc,
        _ => Power::None,
    };
    let cpus = tree.cpus().count().max(1) as u32;
    Ok(BoardDescription {
        model,
        ram,
        uart,
        interrupt_controller,
        timer_irq,
        slice_timer_irq,
        uart_irq,
        power,
        cpus,
    })
}

fn first_reg(node: &FdtNode<'_, '_>) -> Option<(u64, Option<u64>)> {
    let region = node.reg()?.next()?;
    Some((
        region.starting_address as u64,
        region.size.map(|s| s as u64),
    ))
}

fn interrupt_controller(tree: &Fdt<'static>) -> Result<InterruptController, Error> {
    if let Some(gic) = tree.find_compatible(&["arm,gic-v3"]) {
        let mut regs = gic.reg().ok_or(Error::Missing("GICv3 reg"))?;
        let distributor = regs
            .next()
            .ok_or(Error::Missing("GICv3 distributor"))?
            .starting_address as u64;
        let redistributors = regs
            .next()
            .ok_or(Error::Missing("GICv3 redistributors"))?
            .starting_address as u64;
        return Ok(InterruptController::GicV3 {
            distributor,
            redistributors,
        });
    }
    if let Some(gic) =
        tree.find_compatible(&["arm,cortex-a15-gic", "arm,gic-400", "arm,cortex-a9-gic"])
    {
        let mut regs = gic.reg().ok_or(Error::Missing("GICv2 reg"))?;
        let distributor = regs
            .next()
            .ok_or(Error::Missing("GICv2 distributor"))?
            .starting_address as u64;
        let cpu_interface = regs
            .next()
            .ok_or(Error::Missing("GICv2 CPU interface"))?
            .starting_address as u64;
        return Ok(InterruptController::GicV2 {
            distributor,
            cpu_interface,
        });
    }
    Err(Error::Missing("interrupt controller (GICv2 or GICv3)"))
}

/// The INTID of the generic timer's interrupt `entry` (0 secure physical, 1 non-secure
/// physical = EL1 physical, 2 virtual, 3 hypervisor).
///
/// Read from the raw property: `fdt` 0.1 does not decode three-cell GIC specifiers.
fn timer_interrupt(timer: &FdtNode<'_, '_>, entry: usize) -> Option<u32> {
    let raw = timer.property("interrupts")?.value;
    let cell = |i: usize| {
        raw.get(i * 4..i * 4 + 4)
            .map(|b| u32::from_be_bytes([b[0], b[1], b[2], b[3]]))
    };
    // Each entry is three cells: type, number, flags.
    let (kind, number) = (cell(entry * 3)?, cell(entry * 3 + 1)?);
    match kind {
        1 => Some(16 + number), // PPI
        0 => Some(32 + number), // SPI
        _ => None,
    }
}

/// The UART reference clock: the first `clocks` phandle's `clock-frequency`, or the PL011's
/// common 24 MHz when the tree does not say.
fn uart_clock(tree: &Fdt<'static>, uart: &FdtNode<'_, '_>) -> u32 {
    uart.property("clocks")
        .and_then(|p| p.value.get(0..4))
        .map(|b| u32::from_be_bytes([b[0], b[1], b[2], b[3]]))
        .and_then(|phandle| tree.find_phandle(phandle))
        .and_then(|clock| clock.property("clock-frequency"))
        .and_then(|f| f.as_usize())
        .map_or(24_000_000, |hz| hz as u32)
}
