//! Pipeline test (image `test-pipeline-switch`): one synthetic IRQ moved between the oob
//! stage and the in-band stage under load (`irq_switch_oob`), with the domain stalled
//! and unstalled; every injection is accounted for (invariant 3) and `is_oob` always
//! reports the current mode.
//!
//! 1000 injections of synthetic IRQ S in ten blocks of 100. The mode alternates every
//! block (in-band, oob, in-band, ...; oob means handler 0 of `test-oob-stage`, "count",
//! which adds 1 to word 0 of the page `oob-counters`), the stall every two blocks
//! (unstalled for blocks 0-1, stalled for 2-3, unstalled 4-5, stalled 6-7, unstalled
//! 8-9), so every combination occurs. At a block boundary the stall changes first, then
//! the mode: the unstall before blocks 4 and 8 replays the 100 events logged in blocks 2
//! and 6 while S is oob (logged events replay to their domain whatever the line's mode
//! is now). While unstalled and in-band, each injection is delivered at once and polled.
//!
//! Checks, in order (12):
//! - 1: `Domain::connect` and the counters page maps.
//! - 2: S is allocated, in-band.
//! - 3: the nine switches are accepted.
//! - 4: `is_oob(S)` matched the current mode before each of the 1000 injections.
//! - 5: every injection, poll and unstall succeeded.
//! - 6: the in-band handler never ran while the domain was stalled, and only for S.
//! - 7: the oob handler ran 500 times.
//! - 8: the in-band events count 500 raises.
//! - 9: oob runs + in-band raises = 1000: every injection accounted for.
//! - 10: the in-band handler ran 302 times: 300 direct deliveries, 2 replays of 100
//!   coalesced raises.
//! - 11: stats(S) = received 1000, oob-handled 500, delivered 300, logged 2, replayed
//!   200, coalesced 198.
//! - 12: at the end the domain is unstalled with nothing pending or queued.
#![no_std]
#![no_main]
#![deny(unsafe_code)]

use core::cell::Cell;

use irq_client::{Domain, Event, Stats};
use sluice::{Frame, SystemControl, abi::layout, testing::Checks};

sluice::main!(main);

/// Where the oob counters page is mapped (the domain page is at the window's end).
const COUNTERS_VA: u64 = layout::SHARED_MAP_BASE;
/// Runs of oob handler 0 ("count"): word 0 of the counters page.
const COUNT_CALLS: usize = 0;
/// Oob handler 0 of `test-oob-stage`.
const COUNT: u16 = 0;
const BLOCKS: u32 = 10;
const BLOCK: u32 = 100;

fn main() {
    let power = sluice::require_cap::<SystemControl>("power");
    let mut checks = Checks::new();
    let counters = sluice::cap::<Frame>("oob-counters")
        .ok()
        .and_then(|frame| frame.map_view(COUNTERS_VA, false).ok());
    let (domain, counters) = match (Domain::connect(), counters) {
        (Ok(domain), Some(counters)) => {
            checks.pass("connect to the irq-server and map the oob counters");
            (domain, counters)
        }
        (domain, counters) => {
            checks.fail(
                "connect to the irq-server and map the oob counters",
                format_args!(
                    "{:?}, counters mapped: {}",
                    domain.err(),
                    counters.is_some()
                ),
            );
            checks.finish(&power)
        }
    };
    let s = match domain.alloc_synthetic() {
        Ok(s) if domain.is_oob(s) == Ok(false) => {
            checks.pass(format_args!("allocate synthetic {s}, in-band"));
            s
        }
        other => {
            checks.fail(
                "allocate an in-band synthetic IRQ",
                format_args!("{other:?}"),
            );
            checks.finish(&power)
        }
    };

    // What the in-band handler saw.
    let stalled = Cell::new(false);
    let calls = Cell::new(0u64);
    let raises = Cell::new(0u64);
    let ran_stalled = Cell::new(0u64);
    let foreign = Cell::new(0u64);
    let mut handler = |event: Event| {
        calls.set(calls.get() + 1);
        raises.set(raises.get() + u64::from(event.count));
        if stalled.get() {
            ran_stalled.set(ran_stalled.get() + 1);
        }
        if event.irq != s.0 {
            foreign.set(foreign.get() + 1);
        }
    };

    let oob_before = counters.read(COUNT_CALLS).unwrap_or(0);
    let (mut oob, mut switches, mut switch_failures) = (false, 0, 0);
    let (mut mismatches, mut failures) = (0, 0);
    for block in 0..BLOCKS {
        let want_stalled = (block / 2) % 2 == 1;
        let want_oob = block % 2 == 1;
        if want_stalled != stalled.get() {
            if want_stalled {
                domain.stall();
                stalled.set(true);
            } else {
                stalled.set(false);
                failures += u32::from(domain.unstall(&mut handler).is_err());
            }
        }
        if want_oob != oob {
            let switched = if want_oob {
                domain.switch_oob(s, COUNT)
            } else {
                domain.switch_inband(s)
            };
            switches += 1;
            switch_failures += u32::from(switched.is_err());
            oob = want_oob;
        }
        for _ in 0..BLOCK {
            mismatches += u32::from(domain.is_oob(s) != Ok(oob));
            failures += u32::from(domain.inject(s).is_err());
            if !stalled.get() {
                failures += u32::from(domain.poll_events(&mut handler).is_err());
            }
        }
    }
    failures += u32::from(domain.poll_events(&mut handler).is_err());
    let oob_runs = counters
        .read(COUNT_CALLS)
        .unwrap_or(0)
        .wrapping_sub(oob_before);

    checks.expect_eq(
        "the nine switches between oob and in-band are accepted",
        (switches, switch_failures),
        (9, 0),
    );
    checks.expect_eq(
        "is_oob reported the current mode before each of the 1000 injections",
        mismatches,
        0,
    );
    checks.expect_eq("every injection, poll and unstall succeeded", failures, 0);
    checks.expect_eq(
        "the in-band handler never ran while stalled, and only for S",
        (ran_stalled.get(), foreign.get()),
        (0, 0),
    );
    checks.expect_eq("the oob handler ran 500 times", oob_runs, 500);
    checks.expect_eq("the in-band events count 500 raises", raises.get(), 500);
    checks.expect_eq(
        "oob runs + in-band raises = 1000: every injection accounted for",
        oob_runs + raises.get(),
        1000,
    );
    checks.expect_eq(
        "the in-band handler ran 302 times (300 direct, 2 replays of 100 coalesced)",
        calls.get(),
        302,
    );
    checks.expect_eq(
        "stats(S): received 1000, oob 500, delivered 300, logged 2, replayed 200, coalesced 198",
        domain.stats(s),
        Ok(Stats {
            received: 1000,
            oob_handled: 500,
            delivered: 300,
            logged: 2,
            replayed: 200,
            coalesced: 198,
            masked_time: 0,
        }),
    );
    checks.expect_eq(
        "the domain ends unstalled with nothing pending or queued",
        (
            domain.is_stalled(),
            domain.sync_pending(),
            domain.queued_events(),
        ),
        (false, false, 0),
    );

    checks.finish(&power);
}
