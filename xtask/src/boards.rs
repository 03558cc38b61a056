//! Board files (`images/boards/NAME.toml`): how QEMU emulates a board, and, for boards that
//! pass no device tree, the board description the image carries to the kernel.
//!
//! ```toml
//! description = "QEMU virt, GICv3, Cortex-A72"
//! qemu = ["-machine", "virt,gic-version=3", "-cpu", "cortex-a72", "-m", "512M"]
//! device-tree = true          # the loader passes one; the kernel reads the board from it
//!
//! [hardware]                  # only where device-tree = false: what the kernel is told
//! model = "Raspberry Pi 3 Model B"
//! ram = { base = 0x0, size = 0x3c000000 }
//! uart = { base = 0x3f201000, clock-hz = 48000000 }
//! interrupt-controller = { kind = "bcm2836", local = 0x40000000, armctrl = 0x3f00b200 }
//! timer-irq = 97
//! slice-timer-irq = 99
//! uart-irq = 57
//! power = "none"              # or "psci-hvc", "psci-smc"
//! cpus = 4
//! ```

use crate::manifest::parse_toml;
use anyhow::{Context, Result, bail};
use serde::Deserialize;
use std::path::{Path, PathBuf};

/// A board QEMU can emulate.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub struct Board {
    /// The file's stem; set after parsing.
    #[serde(skip)]
    pub name: String,
    /// One line for humans.
    pub description: String,
    /// QEMU arguments selecting machine, CPU and memory.
    pub qemu: Vec<String>,
    /// Whether the loader passes a device tree in x0.
    pub device_tree: bool,
    /// Hardware description for boards without a device tree.
    pub hardware: Option<Hardware>,
}

/// The `[hardware]` table.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub struct Hardware {
    model: String,
    ram: Range,
    uart: UartFile,
    interrupt_controller: ControllerFile,
    timer_irq: u32,
    slice_timer_irq: u32,
    uart_irq: u32,
    power: PowerFile,
    cpus: u32,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct Range {
    base: u64,
    size: u64,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
struct UartFile {
    base: u64,
    clock_hz: u32,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, tag = "kind", rename_all = "kebab-case")]
enum ControllerFile {
    GicV2 {
        distributor: u64,
        cpu_interface: u64,
    },
    GicV3 {
        distributor: u64,
        redistributors: u64,
    },
    Bcm2836 {
        local: u64,
        armctrl: u64,
    },
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "kebab-case")]
enum PowerFile {
    PsciHvc,
    PsciSmc,
    None,
}

impl Board {
    /// The description to put in the image payload, if the board needs one.
    pub fn kernel_description(&self) -> Option<boot_info::BoardDescription<'_>> {
        use boot_info::{InterruptController, Power};
        let hw = self.hardware.as_ref()?;
        Some(boot_info::BoardDescription {
            model: &hw.model,
            ram: boot_info::MemoryRange {
                base: hw.ram.base,
                size: hw.ram.size,
            },
            uart: boot_info::Uart {
                base: hw.uart.base,
                clock_hz: hw.uart.clock_hz,
            },
            interrupt_controller: match hw.interrupt_controller {
                ControllerFile::GicV2 {
                    distributor,
                    cpu_interface,
                } => InterruptController::GicV2 {
                    distributor,
                    cpu_interface,
                },
                ControllerFile::GicV3 {
                    distributor,
                    redistributors,
                } => InterruptController::GicV3 {
                    distributor,
                    redistributors,
                },
                ControllerFile::Bcm2836 { local, armctrl } => {
                    InterruptController::Bcm2836 { local, armctrl }
                }
            },
            timer_irq: hw.timer_irq,
            slice_timer_irq: hw.slice_timer_irq,
            uart_irq: hw.uart_irq,
            power: match hw.power {
                PowerFile::PsciHvc => Power::PsciHvc,
                PowerFile::PsciSmc => Power::PsciSmc,
                PowerFile::None => Power::None,
            },
            cpus: hw.cpus,
        })
    }
}

fn boards_dir(root: &Path) -> PathBuf {
    root.join("images/boards")
}

/// Loads `images/boards/NAME.toml`.
pub fn load(root: &Path, name: &str) -> Result<Board> {
    let path = boards_dir(root).join(format!("{name}.toml"));
    if !path.exists() {
        bail!("no board '{name}' (known: {})", names(root)?.join(", "));
    }
    let mut board: Board = parse_toml(&path)?;
    board.name = name.to_string();
    if !board.device_tree && board.hardware.is_none() {
        bail!(
            "{}: a board without a device tree needs a [hardware] table",
            path.display()
        );
    }
    Ok(board)
}

/// Names of all board files, sorted.
pub fn names(root: &Path) -> Result<Vec<String>> {
    let dir = boards_dir(root);
    let mut names = Vec::new();
    for entry in std::fs::read_dir(&dir).with_context(|| format!("reading {}", dir.display()))? {
        let path = entry?.path();
        if path.extension().is_some_and(|e| e == "toml") {
            names.push(
                path.file_stem()
                    .unwrap_or_default()
                    .to_string_lossy()
                    .into_owned(),
            );
        }
    }
    names.sort();
    Ok(names)
}
