//! Pipeline test (image `test-pipeline-oob-timer`): an out-of-band handler on the board's
//! timer interrupt keeps its rate while an in-band domain stays stalled for long
//! stretches (invariant 1: the oob stage is never delayed by in-band activity).
//!
//! One program, two roles by task name:
//! - `irq-server`: the oob stage, with one handler, "tick", on the board timer: it counts
//!   in word 0 of the shared `oob-counters` page, programs the next deadline at
//!   `start + n * period` (1 kHz, no drift) and keeps the worst lateness (counter ticks
//!   from deadline to handler) in word 1;
//! - `domain0`: an in-band domain that stalls itself three times for 100 ms of busy work
//!   and checks that the tick count grew by the programmed rate meanwhile (±10 %).
#![no_std]
#![no_main]
#![deny(unsafe_code)]

use irq_protocol::DomainPage;
use irq_server::{Line, OobContext, OobHandler};
use sluice::{
    Frame, Mapping, SharedMemory, SystemControl, println, require_cap, sys::counter,
    testing::Checks,
};

sluice::main!(main);

const COUNTERS_VA: u64 = sluice::abi::layout::SHARED_MAP_BASE + 0x10_0000;
const PAGE_VA: u64 = sluice::abi::layout::SHARED_MAP_BASE + 0x20_0000;
const HZ: u64 = 1000;

struct Tick {
    counters: Mapping,
    start: u64,
    period: u64,
}

static TICK: spin::Once<Tick> = spin::Once::new();

static HANDLERS: [OobHandler; 1] = [OobHandler {
    name: "tick",
    line: Line::BoardTimer,
    handle: tick,
}];

fn tick(_: &mut OobContext<'_>) {
    let now = counter();
    let Some(tick) = TICK.get() else { return };
    let n = tick.counters.read(0).unwrap_or(0) + 1;
    let deadline = tick.start + n * tick.period;
    let _ = tick.counters.write(0, n);
    let worst = tick.counters.read(1).unwrap_or(0);
    let _ = tick
        .counters
        .write(1, worst.max(now.saturating_sub(deadline)));
    sluice::timer::set_deadline(deadline + tick.period);
}

fn main() -> ! {
    match sluice::task_name() {
        "irq-server" => oob_stage(),
        _ => domain(),
    }
}

fn oob_stage() -> ! {
    let Ok(counters) = require_cap::<Frame>("oob-counters").map_view(COUNTERS_VA, true) else {
        sluice::sys::panic_trap(b"cannot map the oob counters");
    };
    let period = sluice::timer::frequency() / HZ;
    let start = counter();
    TICK.call_once(|| Tick {
        counters,
        start,
        period,
    });
    sluice::timer::set_deadline(start + period);
    irq_server::run(&HANDLERS)
}

/// The domain page, every field an atomic.
#[repr(transparent)]
struct Page(DomainPage);

// SAFETY: `DomainPage` is made of `StallWord`s (atomics) and an `EventRing` (atomics);
// every byte is accessed through an atomic and any bit pattern is valid.
#[allow(unsafe_code)]
unsafe impl SharedMemory for Page {}

fn domain() -> ! {
    let power = require_cap::<SystemControl>("power");
    let Ok(page) = require_cap::<Frame>("irq-page").map_view(PAGE_VA, true) else {
        sluice::sys::panic_trap(b"cannot map the domain page");
    };
    let Ok(counters) = require_cap::<Frame>("oob-counters").map_view(COUNTERS_VA, false) else {
        sluice::sys::panic_trap(b"cannot map the oob counters");
    };
    let Some(Page(page)) = page.view::<Page>() else {
        sluice::sys::panic_trap(b"domain page too small")
    };
    let mut checks = Checks::new();
    let frequency = sluice::timer::frequency();
    let stretch = frequency / 10; // 100 ms
    for round in 1..=3 {
        page.stall[0].stall();
        let (t0, c0) = (counter(), counters.read(0).unwrap_or(0));
        sluice::sys::spin_for(stretch);
        let (t1, c1) = (counter(), counters.read(0).unwrap_or(0));
        let stalled = page.stall[0].is_stalled();
        let sync_needed = page.stall[0].unstall();
        let expected = (t1 - t0) * HZ / frequency;
        let ticks = c1 - c0;
        println!(
            "domain0: stretch {round}: stalled for {} us, {ticks} oob ticks (expected {expected})",
            (t1 - t0) * 1_000_000 / frequency
        );
        checks.expect_eq("the domain was stalled during the stretch", stalled, true);
        checks.expect_eq(
            "no in-band event was pending at unstall",
            sync_needed,
            false,
        );
        if ticks.abs_diff(expected) <= expected / 10 {
            checks.pass(format_args!(
                "stretch {round}: the oob timer kept its rate while the domain was stalled"
            ));
        } else {
            checks.fail(
                format_args!("stretch {round}: oob ticks"),
                format_args!("{ticks}, expected {expected}"),
            );
        }
    }
    println!(
        "domain0: worst oob tick lateness {} ns",
        counters.read(1).unwrap_or(0) * 1_000_000_000 / frequency
    );
    checks.finish(&power)
}
