//! The PL011 UART console, through the `arm-pl011-uart` crate.

use arm_pl011_uart::{
    DataBits, LineConfig, PL011Registers, Parity, StopBits, Uart, UniqueMmioPointer,
};
use core::{fmt, ptr::NonNull};

/// The console UART.
pub struct Console(Uart<'static>);

impl fmt::Debug for Console {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Console(PL011)")
    }
}

impl Console {
    /// Takes the UART at physical `base` (mapped into the linear map here) and enables it
    /// at 115200 8N1.
    pub fn new(base: u64, clock_hz: u32) -> Result<Self, &'static str> {
        let va = crate::arch::mmu::map_physical(base, 0x1000, paging::Attributes::KERNEL_DEVICE)
            .map_err(|_| "cannot map the UART")?;
        let registers = NonNull::new(va as *mut PL011Registers).ok_or("UART at address 0")?;
        // SAFETY: `va` maps the PL011's 4 KiB register block as device memory, and the
        // console is created once, so this is the only pointer to those registers.
        let mut uart = Uart::new(unsafe { UniqueMmioPointer::new(registers) });
        let config = LineConfig {
            data_bits: DataBits::Bits8,
            parity: Parity::None,
            stop_bits: StopBits::One,
        };
        uart.enable(config, 115_200, clock_hz)
            .map_err(|_| "UART clock too low for 115200 baud")?;
        Ok(Self(uart))
    }
}

impl fmt::Write for Console {
    fn write_str(&mut self, s: &str) -> fmt::Result {
        for byte in s.bytes() {
            if byte == b'\n' {
                self.0.write_word(b'\r');
            }
            self.0.write_word(byte);
        }
        Ok(())
    }
}
