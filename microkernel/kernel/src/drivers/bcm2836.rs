//! The Raspberry Pi 2/3 interrupt controllers, driven directly: the BCM2836 per-core
//! "local" controller (timers, mailboxes, PMU, and a cascade input for the GPU
//! interrupts) in front of the BCM2835 "ARM control" interrupt controller.
//!
//! No well-kept crate drives these for a bare-metal aarch64 kernel, hence this driver.
//!
//! The kernel numbers their sources in one flat space (no source is lost, and each number
//! maps to one register bit in O(1)):
//!
//! | numbers  | source                                             |
//! |----------|----------------------------------------------------|
//! | 0..=31   | BCM2835 GPU interrupts 0-31 (IRQ pending 1)         |
//! | 32..=63  | BCM2835 GPU interrupts 32-63 (IRQ pending 2; PL011 = 57) |
//! | 64..=71  | BCM2835 basic pending bits 0-7 (ARM timer, mailbox, doorbells, ...) |
//! | 96..=107 | BCM2836 core-local sources, bit n of the core's IRQ source register: 96 CNTPS, 97 CNTPNS (EL1 physical timer), 98 CNTHP, 99 CNTV, 100-103 mailboxes, 105 PMU, 107 local timer |

use core::ptr::{read_volatile, write_volatile};

/// One past the highest source number.
pub const LINES: u32 = 108;

const LOCAL_BASE: u32 = 96;
const GPU_CASCADE_BIT: u32 = 8;

// BCM2836 local controller registers (offsets from its base).
const CORE0_TIMER_IRQ_CONTROL: u64 = 0x40;
const CORE0_MAILBOX_IRQ_CONTROL: u64 = 0x50;
const CORE0_IRQ_SOURCE: u64 = 0x60;
const PMU_IRQ_ROUTING_SET: u64 = 0x10;
const PMU_IRQ_ROUTING_CLEAR: u64 = 0x14;
const LOCAL_TIMER_CONTROL: u64 = 0x34;

// BCM2835 interrupt controller registers (offsets from 0x...B200).
const BASIC_PENDING: u64 = 0x00;
const PENDING_1: u64 = 0x04;
const PENDING_2: u64 = 0x08;
const ENABLE_1: u64 = 0x10;
const ENABLE_BASIC: u64 = 0x18;
const DISABLE_1: u64 = 0x1c;
const DISABLE_BASIC: u64 = 0x24;

/// The two controllers of a BCM2836/2837 SoC (core 0's view).
#[derive(Debug)]
pub struct Bcm2836 {
    local: u64,
    armctrl: u64,
}

impl Bcm2836 {
    /// Maps both controllers and masks every source.
    pub fn new(local: u64, armctrl: u64) -> Result<Self, &'static str> {
        let map = |base, what| {
            crate::arch::mmu::map_physical(base, 0x1000, paging::Attributes::KERNEL_DEVICE)
                .map_err(|_| what)
        };
        let this = Self {
            local: map(local, "cannot map the BCM2836 local controller")?,
            armctrl: map(armctrl, "cannot map the BCM2835 interrupt controller")?,
        };
        this.write_local(CORE0_TIMER_IRQ_CONTROL, 0);
        this.write_local(CORE0_MAILBOX_IRQ_CONTROL, 0);
        this.write_armctrl(DISABLE_1, u32::MAX);
        this.write_armctrl(DISABLE_1 + 4, u32::MAX);
        this.write_armctrl(DISABLE_BASIC, u32::MAX);
        Ok(this)
    }

    /// Unmasks or masks a source (core-local sources on core 0).
    pub fn set_enabled(&mut self, irq: u32, enabled: bool) -> Result<(), &'static str> {
        let set_or_clear = |register: u64, bit: u32| {
            let value = self.read_local(register);
            let value = if enabled {
                value | (1 << bit)
            } else {
                value & !(1 << bit)
            };
            self.write_local(register, value);
        };
        match irq {
            0..=63 => {
                let bank = u64::from(irq / 32) * 4;
                let register = if enabled { ENABLE_1 } else { DISABLE_1 };
                self.write_armctrl(register + bank, 1 << (irq % 32));
            }
            64..=71 => {
                let register = if enabled { ENABLE_BASIC } else { DISABLE_BASIC };
                self.write_armctrl(register, 1 << (irq - 64));
            }
            96..=99 => set_or_clear(CORE0_TIMER_IRQ_CONTROL, irq - LOCAL_BASE),
            100..=103 => set_or_clear(CORE0_MAILBOX_IRQ_CONTROL, irq - 100),
            105 => {
                let register = if enabled {
                    PMU_IRQ_ROUTING_SET
                } else {
                    PMU_IRQ_ROUTING_CLEAR
                };
                self.write_local(register, 1);
            }
            107 => {
                // Bit 29: local timer interrupt enable.
                let value = self.read_local(LOCAL_TIMER_CONTROL);
                let value = if enabled {
                    value | 1 << 29
                } else {
                    value & !(1 << 29)
                };
                self.write_local(LOCAL_TIMER_CONTROL, value);
            }
            _ => return Err("no such BCM2836/2835 interrupt source"),
        }
        Ok(())
    }

    /// The lowest-numbered pending source of core 0, if any. Sources are level-triggered
    /// and need no acknowledgement at the controller.
    pub fn pending(&mut self) -> Option<u32> {
        let local = self.read_local(CORE0_IRQ_SOURCE);
        let local_without_cascade = local & !(1 << GPU_CASCADE_BIT);
        if local_without_cascade != 0 {
            return Some(LOCAL_BASE + local_without_cascade.trailing_zeros());
        }
        if local & (1 << GPU_CASCADE_BIT) == 0 {
            return None;
        }
        let pending_1 = self.read_armctrl(PENDING_1);
        if pending_1 != 0 {
            return Some(pending_1.trailing_zeros());
        }
        let pending_2 = self.read_armctrl(PENDING_2);
        if pending_2 != 0 {
            return Some(32 + pending_2.trailing_zeros());
        }
        let basic = self.read_armctrl(BASIC_PENDING) & 0xff;
        (basic != 0).then(|| 64 + basic.trailing_zeros())
    }

    fn read_local(&self, offset: u64) -> u32 {
        // SAFETY: `local` maps the controller's 4 KiB register block as device memory and
        // every offset used is a 4-byte aligned register inside it.
        unsafe { read_volatile((self.local + offset) as *const u32) }
    }

    fn write_local(&self, offset: u64, value: u32) {
        // SAFETY: as in `read_local`.
        unsafe { write_volatile((self.local + offset) as *mut u32, value) }
    }

    fn read_armctrl(&self, offset: u64) -> u32 {
        // SAFETY: `armctrl` maps the BCM2835 interrupt registers (page containing
        // 0x...B200) as device memory; offsets are aligned registers within that block.
        unsafe { read_volatile((self.armctrl + offset) as *const u32) }
    }

    fn write_armctrl(&self, offset: u64, value: u32) {
        // SAFETY: as in `read_armctrl`.
        unsafe { write_volatile((self.armctrl + offset) as *mut u32, value) }
    }
}
