//! Timer-server test (image `test-timer-inband`): an in-band domain's timers reach it
//! through the pipeline.
//!
//! 1. Bad requests are refused with the error that names the problem: no such timer, an
//!    IRQ the domain does not own, a zero deadline.
//! 2. A one-shot timer that expires while the domain is stalled fires (the timer-server
//!    counts it) but runs no handler; it is logged, and runs exactly once, late, when the
//!    domain unstalls; nothing runs after.
//! 3. A periodic timer (1 ms) across a 10.5 ms stall: its ten expiries coalesce into one
//!    logged event with count 10, replayed once at unstall; no overrun (the server served
//!    each on time); after cancel nothing more arrives.
//! 4. Unstalled, a one-shot timer is delivered at once: the handler runs within 1 ms of
//!    the deadline (a behaviour bound, not a benchmark).
#![no_std]
#![no_main]
#![deny(unsafe_code)]

use irq_client::{Domain, Event};
use sluice::{SystemControl, println, require_cap, testing::Checks};
use timer_client::{Error, InbandTimers, TimerError, now, ns_from_ticks, ticks_from_ns};

sluice::main!(main);

fn spin_until(deadline: u64) {
    while now() < deadline {
        core::hint::spin_loop();
    }
}

/// The events a handler ran, with the time it ran the last.
#[derive(Default)]
struct Ran {
    events: u32,
    raises: u32,
    last_irq: u16,
    at: u64,
}

impl Ran {
    fn take(&mut self) -> impl FnMut(Event) + '_ {
        |event: Event| {
            self.events += 1;
            self.raises += event.count;
            self.last_irq = event.irq;
            self.at = now();
        }
    }
}

fn main() -> ! {
    let power = require_cap::<SystemControl>("power");
    let mut checks = Checks::new();
    let Ok(domain) = Domain::connect() else {
        sluice::sys::panic_trap(b"cannot connect the domain");
    };
    let Ok(timers) = InbandTimers::connect() else {
        sluice::sys::panic_trap(b"cannot connect the timers");
    };
    let Ok(irq) = domain.alloc_synthetic() else {
        sluice::sys::panic_trap(b"cannot allocate a synthetic IRQ");
    };
    let ms = ticks_from_ns(1_000_000);

    // 1. Refusals.
    checks.expect_eq(
        "timer 9 does not exist",
        timers.arm(9, irq.0, now() + ms, 0),
        Err(Error::Refused(TimerError::NoSuchTimer)),
    );
    checks.expect_eq(
        "an IRQ the domain does not own is refused",
        timers.arm(0, irq.0 + 1, now() + ms, 0),
        Err(Error::Refused(TimerError::NotYourIrq)),
    );
    checks.expect_eq(
        "a hardware line is refused",
        timers.arm(0, 30, now() + ms, 0),
        Err(Error::Refused(TimerError::NotYourIrq)),
    );
    checks.expect_eq(
        "a zero deadline is refused",
        timers.arm(0, irq.0, 0, 0),
        Err(Error::Refused(TimerError::BadDeadline)),
    );
    checks.expect_eq(
        "status of timer 4 is refused",
        timers.status(4).map(drop),
        Err(Error::Refused(TimerError::NoSuchTimer)),
    );

    // 2. One-shot across a stall.
    let mut ran = Ran::default();
    domain.stall();
    let deadline = now() + ms;
    checks.expect_eq(
        "arm a one-shot timer",
        timers.arm(0, irq.0, deadline, 0),
        Ok(()),
    );
    spin_until(deadline + 5 * ms);
    let fired = timers.status(0).map(|s| s.expiries);
    checks.expect_eq("it fired while the domain was stalled", fired, Ok(1));
    checks.expect_eq(
        "its event is logged, waiting for the unstall",
        domain.sync_pending(),
        true,
    );
    checks.expect_eq("no handler ran while stalled", ran.events, 0);
    let replayed = domain.unstall(&mut ran.take());
    checks.expect_eq("unstall ran it", replayed.map_err(drop), Ok(1));
    checks.expect_eq(
        "exactly once, as its IRQ",
        (ran.events, ran.raises, ran.last_irq),
        (1, 1, irq.0),
    );
    let late = ns_from_ticks(ran.at - deadline);
    println!("test-timer-inband: the stalled one-shot ran {late} ns after its deadline");
    checks.check(
        "it ran late: after the stall, at least 5 ms after its deadline",
        late >= 5_000_000,
        format_args!("{late} ns"),
    );
    spin_until(now() + 3 * ms);
    let more = domain.poll_events(&mut ran.take());
    checks.expect_eq(
        "nothing more arrives",
        (more.map_err(drop), ran.events),
        (Ok(0), 1),
    );

    // 3. Periodic across a stall: coalesced, with the count.
    let Ok(tick) = domain.alloc_synthetic() else {
        sluice::sys::panic_trap(b"cannot allocate a synthetic IRQ");
    };
    let mut ran = Ran::default();
    domain.stall();
    let first = now() + ms;
    checks.expect_eq(
        "arm a periodic timer (1 ms)",
        timers.arm(1, tick.0, first, ms),
        Ok(()),
    );
    spin_until(first + 9 * ms + ms / 2);
    let replayed = domain.unstall(&mut ran.take());
    let status = timers.status(1);
    checks.expect_eq(
        "ten expiries while stalled",
        status.map(|s| s.expiries),
        Ok(10),
    );
    checks.expect_eq("no overrun", status.map(|s| s.overruns), Ok(0));
    checks.expect_eq(
        "replayed as one event of count 10",
        (replayed.map_err(drop), ran.events, ran.raises, ran.last_irq),
        (Ok(1), 1, 10, tick.0),
    );
    checks.expect_eq("cancel it", timers.cancel(1), Ok(true));
    spin_until(now() + 3 * ms);
    let more = domain.poll_events(&mut ran.take());
    checks.expect_eq(
        "nothing after cancel",
        (more.map_err(drop), ran.events),
        (Ok(0), 1),
    );

    // 4. Unstalled: delivered at once.
    let mut ran = Ran::default();
    let deadline = now() + ms;
    checks.expect_eq(
        "arm a one-shot, unstalled",
        timers.arm(2, irq.0, deadline, 0),
        Ok(()),
    );
    while ran.events == 0 {
        if domain.wait_for_events(&mut ran.take()).is_err() {
            break;
        }
    }
    let late = ns_from_ticks(ran.at.saturating_sub(deadline));
    println!("test-timer-inband: the unstalled one-shot ran {late} ns after its deadline");
    checks.check(
        "delivered within 1 ms of its deadline",
        ran.events == 1 && ran.last_irq == irq.0 && late < 1_000_000,
        format_args!("{} events, {late} ns late", ran.events),
    );
    checks.finish(&power)
}
