//! The oob stage of the real-time images (`latency`, `latency-stress`, `default`): the
//! irq-server, with the components that run out-of-band linked in: the timer-server
//! (the proxy tick device, on the board timer's line).
#![no_std]
#![no_main]
#![deny(unsafe_code)]

use irq_server::{OobHandler, Service, Stage};

sluice::main!(main);

static HANDLERS: [OobHandler; 1] = [timer_server::HANDLER];
static SERVICES: [Service; 1] = [timer_server::SERVICE];

fn main() -> ! {
    irq_server::run_stage(Stage {
        handlers: &HANDLERS,
        services: &SERVICES,
    })
}
