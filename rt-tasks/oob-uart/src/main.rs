//! `oob-uart`, the in-band companion of the oob UART driver (see the library): a domain
//! of the pipeline that, at each doorbell of its irq_work IRQ, takes the characters the
//! oob stage put into their shared ring, assembles lines and prints them. After `lines=N` lines (default 2)
//! it checks that every character the oob handler received reached it (none dropped),
//! prints the UART line's pipeline statistics (every interrupt handled oob, none
//! delivered in-band) and powers off.
#![no_std]
#![no_main]
#![deny(unsafe_code)]

use irq_client::{Domain, Irq};
use oob_uart::ring;
use sluice::{Frame, SystemControl, println, require_cap, testing::Checks};

sluice::main!(main);

fn fail(what: core::fmt::Arguments<'_>) -> ! {
    println!("FAIL: oob-uart companion: {what}");
    sluice::sys::panic_trap(b"oob-uart companion failed")
}

fn main() -> ! {
    let lines_wanted = sluice::arg_u64("lines", 2).unwrap_or(2);
    let domain = Domain::connect().unwrap_or_else(|error| fail(format_args!("connect: {error}")));
    let work = domain
        .irq_work_setup()
        .unwrap_or_else(|error| fail(format_args!("irq_work_setup: {error}")));
    let Ok(page) =
        require_cap::<Frame>("uart-ring").map_view(sluice::abi::layout::SHARED_MAP_BASE, true)
    else {
        fail(format_args!("cannot map uart-ring"))
    };
    println!(
        "oob-uart companion: ready (irq_work IRQ {}), type a line",
        work.0
    );
    let mut line = [0u8; 96];
    let (mut len, mut lines, mut chars) = (0usize, 0u64, 0u64);
    while lines < lines_wanted {
        let mut work_pending = false;
        if let Err(error) = domain.wait_for_events(&mut |event| {
            work_pending |= event.irq == work.0;
        }) {
            fail(format_args!("wait: {error}"));
        }
        if !work_pending {
            continue;
        }
        // The doorbells only say "look": the ring holds the data.
        loop {
            match domain.irq_work_run(&mut |_| {}) {
                Ok(0) => break,
                Ok(_) => {}
                Err(error) => fail(format_args!("irq_work_run: {error}")),
            }
        }
        let produced = page.read(ring::PRODUCED).unwrap_or(0);
        let mut consumed = page.read(ring::CONSUMED).unwrap_or(0);
        while consumed < produced {
            let byte = page
                .read(ring::DATA + (consumed as usize) % ring::SLOTS)
                .unwrap_or(0) as u8;
            consumed += 1;
            chars += 1;
            if byte == b'\n' || byte == b'\r' {
                if len > 0 {
                    lines += 1;
                    let text = core::str::from_utf8(&line[..len]).unwrap_or("?");
                    println!(
                        "oob-uart companion: line {lines}: \"{text}\" ({len} characters, taken in the oob stage)"
                    );
                }
                len = 0;
            } else if len < line.len() {
                line[len] = byte;
                len += 1;
            }
        }
        let _ = page.write(ring::CONSUMED, consumed);
    }
    let mut checks = Checks::new();
    let received = page.read(ring::RECEIVED).unwrap_or(0);
    checks.expect_eq(
        "every character the oob handler took reached the companion",
        chars,
        received,
    );
    checks.expect_eq(
        "no character dropped",
        page.read(ring::DROPPED).unwrap_or(u64::MAX),
        0,
    );
    let uart_irq = sluice::start_info().uart_irq as u16;
    if let Ok(line_stats) = domain.stats(Irq(uart_irq)) {
        println!(
            "oob-uart companion: UART IRQ {uart_irq}: received {}, oob-handled {}, delivered in-band {}",
            line_stats.received, line_stats.oob_handled, line_stats.delivered
        );
        checks.expect_eq(
            "every UART interrupt was handled in the oob stage",
            (line_stats.oob_handled, line_stats.delivered),
            (line_stats.received, 0),
        );
    }
    checks.finish(&require_cap::<SystemControl>("power"))
}
