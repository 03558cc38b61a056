//! `hectic-domain`: an in-band domain under stress, with exact accounting of its events.

use crate::{Deadline, idle};
use irq_client::{Domain, Event, Irq};
use sluice::println;
use timer_client::{InbandTimers, now, ticks_from_ns};

/// Events the handlers ran, per source (raises counted: a coalesced event counts all).
#[derive(Default)]
struct Seen {
    flood: u64,
    storm: u64,
    timer: u64,
    other: u64,
}

fn fail(what: core::fmt::Arguments<'_>) -> ! {
    println!("FAIL: hectic-domain: {what}");
    sluice::sys::panic_trap(b"hectic-domain failed")
}

pub fn run() -> ! {
    let domain = Domain::connect().unwrap_or_else(|error| fail(format_args!("connect: {error}")));
    let timers =
        InbandTimers::connect().unwrap_or_else(|error| fail(format_args!("timers: {error}")));
    let alloc = || {
        domain
            .alloc_synthetic()
            .unwrap_or_else(|error| fail(format_args!("alloc_synthetic: {error}")))
    };
    let (flood, storm, tick) = (alloc(), alloc(), alloc());
    let timer_us = sluice::arg_u64("timer_us", 250).unwrap_or(250).max(10);
    let period = ticks_from_ns(timer_us * 1000);
    if let Err(error) = timers.arm(0, tick.0, now() + period, period) {
        fail(format_args!("arming the in-band timer: {error}"));
    }
    let deadline = Deadline::from_args();
    let mut seen = Seen::default();
    let mut on_event = |event: Event| {
        let count = u64::from(event.count);
        match Irq(event.irq) {
            irq if irq == flood => seen.flood += count,
            irq if irq == storm => seen.storm += count,
            irq if irq == tick => seen.timer += count,
            _ => seen.other += count,
        }
    };
    let (mut injected_flood, mut injected_storm, mut stalls, mut rounds) = (0u64, 0u64, 0u64, 0u64);
    while !deadline.passed() {
        // A flood while stalled: logged once, coalesced after, one replay at unstall.
        domain.stall();
        for _ in 0..16 {
            inject(&domain, flood);
            injected_flood += 1;
        }
        unstall(&domain, &mut on_event);
        stalls += 1;
        // A stall/unstall storm with one injection per stall: each logged and replayed.
        for _ in 0..32 {
            domain.stall();
            inject(&domain, storm);
            injected_storm += 1;
            unstall(&domain, &mut on_event);
            stalls += 1;
        }
        // Unstalled: delivered at once, run here.
        inject(&domain, flood);
        injected_flood += 1;
        if let Err(error) = domain.poll_events(&mut on_event) {
            fail(format_args!("poll: {error}"));
        }
        // Stall/unstall with nothing pending: no kernel entry at all.
        for _ in 0..256 {
            domain.stall();
            unstall(&domain, &mut on_event);
        }
        stalls += 256;
        rounds += 1;
    }
    let _ = timers.cancel(0);
    // Take what is still in flight: the last timer expiry may be on its way.
    for _ in 0..4 {
        let _ = domain.poll_events(&mut on_event);
        sluice::yield_now();
    }
    let status = timers
        .status(0)
        .unwrap_or_else(|error| fail(format_args!("timer status: {error}")));
    println!(
        "hectic-domain: {rounds} rounds, {stalls} stalls, {} injections, {} in-band timer expiries ({} overruns)",
        injected_flood + injected_storm,
        status.expiries,
        status.overruns
    );
    if seen.flood != injected_flood || seen.storm != injected_storm || seen.other != 0 {
        fail(format_args!(
            "events lost or invented: flood {}/{injected_flood}, storm {}/{injected_storm}, other {}",
            seen.flood, seen.storm, seen.other
        ));
    }
    if seen.timer != status.expiries {
        fail(format_args!(
            "in-band timer: {} events ran, the timer-server reports {} expiries",
            seen.timer, status.expiries
        ));
    }
    println!("hectic-domain: every event accounted for");
    idle()
}

fn inject(domain: &Domain, irq: Irq) {
    if let Err(error) = domain.inject(irq) {
        fail(format_args!("inject {}: {error}", irq.0));
    }
}

fn unstall(domain: &Domain, on_event: &mut impl FnMut(Event)) {
    if let Err(error) = domain.unstall(on_event) {
        fail(format_args!("unstall: {error}"));
    }
}
