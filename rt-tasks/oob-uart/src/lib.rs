//! An out-of-band driver: the PL011 console UART's receive interrupt, handled entirely in
//! the oob stage.
//!
//! The kernel keeps the UART for its console (it only transmits, polling); this driver
//! owns the receive side. At every receive interrupt, [`HANDLER`] drains the receive FIFO
//! in the oob stage, at once, whatever the in-band domains are doing, into a
//! single-producer, single-consumer ring in the page it shares with its in-band
//! companion, and rings the companion's doorbell through `irq_work` (the item is the
//! ring's produced count; a doorbell already pending is enough, so a full irq_work queue
//! loses no data). A full ring drops characters and counts them: never silently.
//!
//! The oob stage calls [`start`] before `irq_server::run_stage`: it needs the
//! `console-uart` device frame as `uart`, the shared page `uart-ring` (see [`ring`]) and
//! the companion's domain number in the task's args (`uart_companion=N`).
#![no_std]
#![deny(unsafe_code)]

use irq_server::{Line, OobContext, OobHandler};
use sluice::{Frame, Mapping, cap};

/// PL011 registers (byte offsets) and bits.
mod pl011 {
    pub const DR: usize = 0x000;
    pub const FR: usize = 0x018;
    pub const FR_RXFE: u32 = 1 << 4;
    pub const IMSC: usize = 0x038;
    pub const ICR: usize = 0x044;
    /// Receive and receive-timeout interrupts (IMSC and ICR bits).
    pub const RX_INTERRUPTS: u32 = (1 << 4) | (1 << 6);
}

/// The page the driver shares with its companion, in 8-byte words.
pub mod ring {
    /// Characters received (driver).
    pub const RECEIVED: usize = 0;
    /// Doorbells queued (driver).
    pub const DOORBELLS: usize = 1;
    /// Characters dropped because the ring was full (driver).
    pub const DROPPED: usize = 2;
    /// Characters produced into the ring (driver; only grows).
    pub const PRODUCED: usize = 3;
    /// Characters consumed (companion; only grows).
    pub const CONSUMED: usize = 4;
    /// The ring: character `i` in word `DATA + i % SLOTS`.
    pub const DATA: usize = 8;
    /// Characters the ring holds.
    pub const SLOTS: usize = 512 - DATA;
}

/// Where the oob stage maps the UART and the ring page.
const UART_VA: u64 = sluice::abi::layout::SHARED_MAP_BASE + 0x50_0000;
const RING_VA: u64 = UART_VA + 0x1000;

/// Longest FIFO drain per interrupt: the PL011's FIFO holds 32; a stuck `RXFE` can never
/// keep the oob stage here for good.
const MAX_DRAIN: usize = 64;

struct Driver {
    uart: Mapping,
    ring: Mapping,
    companion: u8,
}

static DRIVER: spin::Once<Driver> = spin::Once::new();

/// The oob handler on the board's console UART line.
pub const HANDLER: OobHandler = OobHandler {
    name: "oob-uart",
    line: Line::BoardUart,
    handle: on_receive,
};

/// Why [`start`] did not start the driver.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StartError {
    /// This oob stage has no `uart` capability: the image has no oob UART driver.
    NotInImage,
    /// `uart-ring` is missing, a mapping was refused, or `uart_companion` is missing.
    Misconfigured(&'static str),
}

/// Maps the UART and enables its receive interrupts.
///
/// # Errors
/// [`StartError`].
pub fn start() -> Result<(), StartError> {
    let Ok(frame) = cap::<Frame>("uart") else {
        return Err(StartError::NotInImage);
    };
    let uart = frame
        .map_view(UART_VA, true)
        .map_err(|_| StartError::Misconfigured("cannot map the UART"))?;
    let ring = cap::<Frame>("uart-ring")
        .ok()
        .and_then(|f| f.map_view(RING_VA, true).ok())
        .ok_or(StartError::Misconfigured("no uart-ring page"))?;
    let companion = sluice::arg("uart_companion")
        .and_then(|text| text.parse::<u8>().ok())
        .ok_or(StartError::Misconfigured("no uart_companion=N argument"))?;
    let enabled = uart.read_u32(pl011::IMSC).unwrap_or(0) | pl011::RX_INTERRUPTS;
    let _ = uart.write_u32(pl011::IMSC, enabled);
    DRIVER.call_once(|| Driver {
        uart,
        ring,
        companion,
    });
    Ok(())
}

fn on_receive(context: &mut OobContext<'_>) {
    let Some(driver) = DRIVER.get() else { return };
    let page = &driver.ring;
    let word = |index| page.read(index).unwrap_or(0);
    let (mut produced, consumed) = (word(ring::PRODUCED), word(ring::CONSUMED));
    let (mut received, mut dropped) = (0u64, 0u64);
    // Clear first, then drain until empty: a character that arrives after the last
    // look raises the interrupt again; clearing after the drain could swallow the
    // interrupt of a character that arrived meanwhile, and it would sit in the FIFO.
    let _ = driver.uart.write_u32(pl011::ICR, pl011::RX_INTERRUPTS);
    for _ in 0..MAX_DRAIN {
        let empty = driver.uart.read_u32(pl011::FR).unwrap_or(pl011::FR_RXFE) & pl011::FR_RXFE;
        if empty != 0 {
            break;
        }
        let byte = driver.uart.read_u32(pl011::DR).unwrap_or(0) & 0xff;
        received += 1;
        if produced - consumed < ring::SLOTS as u64 {
            let _ = page.write(
                ring::DATA + (produced as usize) % ring::SLOTS,
                u64::from(byte),
            );
            produced += 1;
        } else {
            dropped += 1;
        }
    }
    // The data before the index that publishes it.
    let _ = page.write(ring::PRODUCED, produced);
    let _ = page.write(ring::RECEIVED, word(ring::RECEIVED) + received);
    let _ = page.write(ring::DROPPED, word(ring::DROPPED) + dropped);
    if received > 0
        && context
            .irq_work_queue(driver.companion, produced as u32)
            .is_ok()
    {
        let _ = page.write(ring::DOORBELLS, word(ring::DOORBELLS) + 1);
    }
}
