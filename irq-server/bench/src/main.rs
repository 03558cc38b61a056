//! Pipeline benchmarks (image `bench-pipeline`, run by `cargo xtask bench`).
//!
//! Two roles by task name: `irq-server` is the oob stage with one handler, "stamp";
//! `domain0` is an in-band domain that drives four measurements and prints `BENCH` lines:
//!
//! - `irq_to_oob_handler_ns`: the board timer, switched to the oob handler, fires at a
//!   programmed deadline; the handler's first action reads the counter. Average of
//!   `counter - deadline` over 1000 interrupts (the counter ticks every 16 guest
//!   instructions under `-icount shift=0`, so each sample is exact to 16 ns).
//! - `irq_to_inband_handler_ns`: the same line switched back in-band to the (unstalled)
//!   domain: deadline to the first instruction of the domain's event handler.
//! - `stall_unstall_ns`: `stall()` then `unstall()` with nothing pending, in the domain,
//!   measured with the PMU cycle counter (one per guest instruction), loop included.
//! - `unstall_replay_ns_per_event`: 32 events logged while stalled (32 synthetic IRQs
//!   injected), then one `unstall()` replays them all; its cost divided by 32.
#![no_std]
#![no_main]
#![deny(unsafe_code)]

use irq_client::{Domain, Event, Irq, Trigger};
use irq_server::{Line, OobContext, OobHandler};
use sluice::{Frame, Mapping, SystemControl, cycles, println, require_cap, sys::counter, timer};

sluice::main!(main);

const SHARED_VA: u64 = sluice::abi::layout::SHARED_MAP_BASE + 0x10_0000;
const SAMPLES: u64 = 1000;
/// Words of the shared page.
const DEADLINE: usize = 0;
const SUM: usize = 1;
const COUNT: usize = 2;
const PERIOD: usize = 3;
/// Sum of the server's share (cycles from its wake-up to the handler).
const SERVER_SHARE: usize = 4;

static SHARED: spin::Once<Mapping> = spin::Once::new();

static HANDLERS: [OobHandler; 1] = [OobHandler {
    name: "stamp",
    line: Line::None,
    handle: stamp,
}];

/// Oob handler: lateness of this interrupt, then the next deadline (or stop).
fn stamp(context: &mut OobContext<'_>) {
    let now = counter();
    let server_share = cycles().wrapping_sub(context.woke);
    let Some(shared) = SHARED.get() else { return };
    let deadline = shared.read(DEADLINE).unwrap_or(0);
    let _ = shared.write(
        SUM,
        shared.read(SUM).unwrap_or(0) + now.saturating_sub(deadline),
    );
    let share = shared.read(SERVER_SHARE).unwrap_or(0) + server_share;
    let _ = shared.write(SERVER_SHARE, share);
    let count = shared.read(COUNT).unwrap_or(0) + 1;
    let _ = shared.write(COUNT, count);
    if count < SAMPLES {
        let next = deadline + shared.read(PERIOD).unwrap_or(0);
        let _ = shared.write(DEADLINE, next);
        timer::set_deadline(next);
    } else {
        timer::stop();
    }
}

fn main() -> ! {
    let Ok(shared) = require_cap::<Frame>("bench-page").map_view(SHARED_VA, true) else {
        sluice::sys::panic_trap(b"cannot map the bench page");
    };
    SHARED.call_once(|| shared);
    match sluice::task_name() {
        "irq-server" => irq_server::run(&HANDLERS),
        _ => drive(),
    }
}

fn fail(what: &str) -> ! {
    println!("bench-pipeline: {what}");
    sluice::sys::panic_trap(b"benchmark failed")
}

/// Prints a figure in tenths of a nanosecond.
fn report(key: &str, tenths: u64) {
    println!("BENCH {key} {}.{}", tenths / 10, tenths % 10);
}

fn ticks_to_tenths_ns(ticks: u64, samples: u64) -> u64 {
    ticks * 10_000_000_000 / timer::frequency() / samples
}

fn drive() -> ! {
    let power = require_cap::<SystemControl>("power");
    let Some(shared) = SHARED.get() else {
        fail("no bench page")
    };
    let Ok(domain) = Domain::connect() else {
        fail("cannot connect to the irq-server")
    };
    let line = Irq(sluice::start_info().timer_irq as u16);
    let period = timer::frequency() / 2000; // 500 us: room for the in-band path too
    if domain.attach(line, Trigger::Level).is_err() || domain.switch_oob(line, 0).is_err() {
        fail("cannot take the timer line");
    }

    // 1. Interrupt to oob handler.
    let _ = shared.write(PERIOD, period);
    let first = counter() + period;
    let _ = shared.write(DEADLINE, first);
    timer::set_deadline(first);
    while shared.read(COUNT).unwrap_or(0) < SAMPLES {
        core::hint::spin_loop();
    }
    report(
        "irq_to_oob_handler_ns",
        ticks_to_tenths_ns(shared.read(SUM).unwrap_or(0), SAMPLES),
    );
    println!(
        "bench-pipeline: of which the irq-server's share (wake-up to handler): {} ns",
        shared.read(SERVER_SHARE).unwrap_or(0) / SAMPLES
    );

    // 2. Interrupt to in-band handler (domain unstalled, waiting for its events).
    if domain.switch_inband(line).is_err() {
        fail("cannot move the timer line in-band");
    }
    let mut sum = 0;
    for _ in 0..SAMPLES {
        let deadline = counter() + period;
        timer::set_deadline(deadline);
        let mut taken = false;
        while !taken {
            let ran = domain.wait_for_events(&mut |event: Event| {
                let now = counter();
                if event.irq == line.0 {
                    sum += now.saturating_sub(deadline);
                    timer::stop(); // the level line drops before the ack unmasks it
                    taken = true;
                }
            });
            if ran.is_err() {
                fail("waiting for the timer event failed");
            }
        }
        if domain.ack(line).is_err() {
            fail("ack failed");
        }
    }
    report("irq_to_inband_handler_ns", ticks_to_tenths_ns(sum, SAMPLES));

    // 3. Stall and unstall with nothing pending: plain memory, no kernel entry.
    const ROUNDS: u64 = 10_000;
    let start = cycles();
    for _ in 0..ROUNDS {
        domain.stall();
        if domain.unstall(&mut |_| {}).is_err() {
            fail("unstall failed");
        }
    }
    report("stall_unstall_ns", (cycles() - start) * 10 / ROUNDS);

    // 4. Replay cost per event: 32 distinct synthetic IRQs logged while stalled.
    const EVENTS: usize = 32;
    let mut irqs = [Irq(0); EVENTS];
    for irq in &mut irqs {
        *irq = domain
            .alloc_synthetic()
            .unwrap_or_else(|_| fail("cannot allocate synthetic IRQs"));
    }
    let mut total = 0;
    let mut replayed = 0;
    for _ in 0..10 {
        domain.stall();
        for irq in irqs {
            if domain.inject(irq).is_err() {
                fail("inject failed");
            }
        }
        let start = cycles();
        replayed += domain.unstall(&mut |_| {}).unwrap_or(0);
        total += cycles() - start;
    }
    if replayed != EVENTS * 10 {
        fail("the replay did not run every logged event");
    }
    report(
        "unstall_replay_ns_per_event",
        total * 10 / (EVENTS as u64 * 10),
    );
    println!("BENCH done");
    let _ = power.power_off(0);
    fail("power off refused")
}
