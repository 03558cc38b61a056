//! The oob stage of the pipeline test images: the irq-server, linked with two oob handlers
//! that the tests drive through synthetic IRQs.
//!
//! Both share the page `oob-counters` with the test domains:
//! - handler 0, "count": adds 1 to word 0 each time it runs;
//! - handler 1, "post": posts the synthetic IRQ whose number the domain wrote in word 1
//!   to domain 0's in-band log (`irq_post_inband` from the oob stage), and adds 1 to
//!   word 2;
//! - handler 2, "work": queues an irq_work item for domain 0 whose value is the number of
//!   times it has run (word 3 counts them);
//! - handler 3, "reenter": misbehaves: calls the in-band-only `sync` from the oob stage;
//!   the pipeline refuses it (and counts it), word 4 counts the refusals it saw.
#![no_std]
#![no_main]
#![deny(unsafe_code)]

use irq_server::{Line, OobContext, OobHandler};
use sluice::{Frame, Mapping, require_cap};

sluice::main!(main);

/// Where the counters page is mapped (past the server's own pages).
const COUNTERS_VA: u64 = sluice::abi::layout::SHARED_MAP_BASE + 0x10_0000;

static COUNTERS: spin::Once<Mapping> = spin::Once::new();

static HANDLERS: [OobHandler; 4] = [
    OobHandler {
        name: "count",
        line: Line::None,
        handle: count,
    },
    OobHandler {
        name: "post",
        line: Line::None,
        handle: post,
    },
    OobHandler {
        name: "work",
        line: Line::None,
        handle: work,
    },
    OobHandler {
        name: "reenter",
        line: Line::None,
        handle: reenter,
    },
];

fn bump(word: usize) {
    if let Some(counters) = COUNTERS.get() {
        let _ = counters.write(word, counters.read(word).unwrap_or(0) + 1);
    }
}

fn count(_: &mut OobContext<'_>) {
    bump(0);
}

fn post(context: &mut OobContext<'_>) {
    let irq = COUNTERS.get().and_then(|c| c.read(1)).unwrap_or(0);
    if context.post_inband(0, irq as u16).is_ok() {
        bump(2);
    }
}

fn work(context: &mut OobContext<'_>) {
    let runs = COUNTERS.get().and_then(|c| c.read(3)).unwrap_or(0) + 1;
    if context.irq_work_queue(0, runs as u32).is_ok() {
        bump(3);
    }
}

fn reenter(context: &mut OobContext<'_>) {
    if matches!(
        context.sync(0),
        Err(irq_server::PipelineError::Reentry { .. })
    ) {
        bump(4);
    }
}

fn main() -> ! {
    let Ok(counters) = require_cap::<Frame>("oob-counters").map_view(COUNTERS_VA, true) else {
        sluice::sys::panic_trap(b"cannot map the oob counters");
    };
    COUNTERS.call_once(|| counters);
    irq_server::run(&HANDLERS)
}
