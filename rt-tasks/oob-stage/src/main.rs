//! The oob stage of the real-time images (`latency`, `latency-stress`, `default`,
//! `oob-uart`): the irq-server, with the components that run out-of-band linked in: the
//! timer-server (the proxy tick device, on the board timer's line) and the oob UART
//! driver (on the console UART's line, started only in images that grant it the UART).
#![no_std]
#![no_main]
#![deny(unsafe_code)]

use irq_server::{OobHandler, Service, Stage};

sluice::main!(main);

static HANDLERS: [OobHandler; 2] = [timer_server::HANDLER, oob_uart::HANDLER];
static SERVICES: [Service; 1] = [timer_server::SERVICE];

fn main() -> ! {
    match oob_uart::start() {
        Ok(()) => sluice::println!("oob stage: oob UART driver started"),
        Err(oob_uart::StartError::NotInImage) => {}
        Err(oob_uart::StartError::Misconfigured(why)) => {
            sluice::println!("oob stage: the oob UART driver cannot start: {why}")
        }
    }
    irq_server::run_stage(Stage {
        handlers: &HANDLERS,
        services: &SERVICES,
    })
}
