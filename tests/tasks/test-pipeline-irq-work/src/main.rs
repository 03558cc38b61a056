//! Pipeline test (image `test-pipeline-irq-work`):
//!
//! - `irq_work`: oob code queues in-band work for a domain through the domain's irq_work
//!   IRQ. A synthetic IRQ switched to oob handler 2 ("work") queues one item per run.
//!   Unstalled, five injections queue items 1..5, which all run once, in order; stalled,
//!   three more are held until the unstall replays the irq_work IRQ, then run once, in
//!   order.
//! - the re-entry guard (invariant 5): oob handler 3 ("reenter") calls the in-band-only
//!   `sync` from the oob stage; the pipeline refuses it with an error and counts it in its
//!   diagnostics, and the system keeps serving.
//! - per-domain statistics reflect what happened.
#![no_std]
#![no_main]
#![deny(unsafe_code)]

use irq_client::{Domain, Event};
use sluice::{Frame, SystemControl, println, require_cap, testing::Checks};

sluice::main!(main);

const COUNTERS_VA: u64 = sluice::abi::layout::SHARED_MAP_BASE + 0x10_0000;

fn fail(what: &str) -> ! {
    println!("test-pipeline-irq-work: {what}");
    sluice::sys::panic_trap(b"test set-up failed")
}

fn main() {
    let power = require_cap::<SystemControl>("power");
    let mut checks = Checks::new();
    let Ok(domain) = Domain::connect() else {
        fail("cannot connect")
    };
    let Ok(counters) = require_cap::<Frame>("oob-counters").map_view(COUNTERS_VA, false) else {
        fail("cannot map the oob counters")
    };
    let Ok(work_irq) = domain.irq_work_setup() else {
        fail("no irq_work IRQ")
    };
    let Ok(trigger) = domain.alloc_synthetic() else {
        fail("no synthetic IRQ")
    };
    if domain.switch_oob(trigger, 2).is_err() {
        fail("cannot switch to the work handler");
    }

    // Unstalled: five items, queued from oob, run in-band once each, in order.
    for _ in 0..5 {
        if domain.inject(trigger).is_err() {
            fail("inject failed");
        }
    }
    let mut work_events = 0;
    let _ = domain.poll_events(&mut |event: Event| {
        if event.irq == work_irq.0 {
            work_events += 1;
        }
    });
    checks.expect_eq(
        "the irq_work IRQ reached the unstalled domain",
        work_events >= 1,
        true,
    );
    let mut items = [0u32; 16];
    let mut count = 0;
    let ran = domain.irq_work_run(&mut |item| {
        if count < items.len() {
            items[count] = item;
        }
        count += 1;
    });
    checks.expect_eq(
        "five items queued from the oob stage ran in-band once each",
        ran.ok(),
        Some(5),
    );
    checks.expect_eq(
        "in queueing order",
        &items[..count.min(16)],
        &[1, 2, 3, 4, 5][..],
    );

    // Stalled: three more items wait for the unstall.
    domain.stall();
    for _ in 0..3 {
        if domain.inject(trigger).is_err() {
            fail("inject failed");
        }
    }
    checks.expect_eq(
        "while stalled, nothing is queued to run",
        domain.queued_events(),
        0,
    );
    let mut replayed_work = false;
    let _ = domain.unstall(&mut |event: Event| replayed_work |= event.irq == work_irq.0);
    checks.expect_eq("the unstall replays the irq_work IRQ", replayed_work, true);
    count = 0;
    let ran = domain.irq_work_run(&mut |item| {
        if count < items.len() {
            items[count] = item;
        }
        count += 1;
    });
    checks.expect_eq(
        "the three held items run once each, in order",
        (ran.ok(), &items[..3]),
        (Some(3), &[6, 7, 8][..]),
    );
    checks.expect_eq(
        "and nothing more",
        domain.irq_work_run(&mut |_| {}).ok(),
        Some(0),
    );

    // Re-entry: an oob handler calling an in-band-only service is refused and counted.
    let Ok(misbehaving) = domain.alloc_synthetic() else {
        fail("no synthetic IRQ")
    };
    if domain.switch_oob(misbehaving, 3).is_err() {
        fail("cannot switch to the reenter handler");
    }
    let before = domain.diagnostics().map(|d| d.0).unwrap_or(u64::MAX);
    checks.expect_eq(
        "the misbehaving oob handler's IRQ is served",
        domain.inject(misbehaving).is_ok(),
        true,
    );
    checks.expect_eq(
        "its in-band call was refused with Reentry",
        counters.read(4),
        Some(1),
    );
    let after = domain.diagnostics().map(|d| d.0).unwrap_or(0);
    checks.expect_eq("and counted in the diagnostics", after, before + 1);
    checks.expect_eq(
        "the server still serves requests",
        domain.is_oob(misbehaving).ok(),
        Some(true),
    );

    let stats = domain.domain_stats();
    println!(
        "test-pipeline-irq-work: domain stats (delivered, logged, replayed, syncs) = {stats:?}"
    );
    checks.expect_eq(
        "per-domain statistics count deliveries, logs, replays and syncs",
        stats
            .map(|(d, l, r, s)| d >= 1 && l >= 1 && r >= 1 && s >= 1)
            .ok(),
        Some(true),
    );
    checks.finish(&power)
}
