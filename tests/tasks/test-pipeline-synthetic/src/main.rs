//! Pipeline test (image `test-pipeline-synthetic`): synthetic IRQs both ways between the
//! stages (reference 002, "Synthetic interrupt vectors").
//!
//! The oob stage (`test-oob-stage`) has two oob handlers sharing the page `oob-counters`
//! with this domain (domain 0): handler 0, "count", adds 1 to word 0; handler 1, "post",
//! posts the synthetic IRQ whose number is in word 1 to domain 0's in-band log
//! (`irq_post_inband`) and adds 1 to word 2.
//!
//! Checks, in order (18):
//! - 1: `Domain::connect` and the counters page maps.
//! - (a) oob handler of a synthetic IRQ, immediate even while the domain is stalled:
//!   - 2: a synthetic IRQ S is allocated and switched to handler 0;
//!   - 3: `is_oob(S)` says 1;
//!   - 4: stalled, one injection of S has run the handler when `inject` returns (word 0
//!     grew by one);
//!   - 5: nine more injections, nine more runs, still stalled;
//!   - 6: no in-band event: no handler ran, the ring is empty, nothing is pending;
//!   - 7: `unstall` has nothing to replay;
//!   - 8: stats(S) = received 10, oob-handled 10, nothing in-band.
//! - (b) an in-band synthetic IRQ posted from the oob stage:
//!   - 9: synthetic IRQs P (stays in-band) and T (switched to handler 1) are allocated;
//!   - 10: `is_oob` says 1 for T and 0 for P;
//!   - 11: P is written to word 1 (what "post" posts);
//!   - 12: stalled, an injection of T runs "post" at once (word 2 grew by one);
//!   - 13: while stalled, no handler ran, the ring is empty, and `pending` is published;
//!   - 14: `unstall` runs exactly (P, 1);
//!   - 15: nothing more to poll (exactly once);
//!   - 16: stats(P) = received 1, logged 1, replayed 1; stats(T) = received 1, oob-handled 1;
//!   - 17: unstalled, an injection of T posts P again; the server replays it at once (the
//!     domain is unstalled: the `ReplayNow` half of the stall-word protocol) and
//!     `wait_for_events` runs exactly (P, 1);
//!   - 18: stats(P) = received 2, logged 2, replayed 2.
#![no_std]
#![no_main]
#![deny(unsafe_code)]

use irq_client::{Domain, Event, Irq, Stats};
use sluice::{Frame, Mapping, SystemControl, abi::layout, testing::Checks};

sluice::main!(main);

/// Where the oob counters page is mapped (the domain page is at the window's end).
const COUNTERS_VA: u64 = layout::SHARED_MAP_BASE;
/// Runs of oob handler 0 ("count").
const COUNT_CALLS: usize = 0;
/// The IRQ oob handler 1 ("post") posts to domain 0.
const POST_IRQ: usize = 1;
/// Runs of oob handler 1 that posted.
const POST_CALLS: usize = 2;
/// The oob handlers of `test-oob-stage`.
const COUNT: u16 = 0;
const POST: u16 = 1;

/// What the in-band handler saw, in order.
struct Seen {
    events: [Event; 8],
    len: usize,
    calls: usize,
}

impl Seen {
    const fn new() -> Self {
        Self {
            events: [Event { irq: 0, count: 0 }; 8],
            len: 0,
            calls: 0,
        }
    }

    /// The in-band handler: records the event.
    fn handle(&mut self, event: Event) {
        self.calls += 1;
        if let Some(slot) = self.events.get_mut(self.len) {
            *slot = event;
            self.len += 1;
        }
    }

    /// The events since the last call, and forgets them.
    fn take(&mut self) -> &[Event] {
        let len = core::mem::take(&mut self.len);
        &self.events[..len]
    }
}

const fn event(irq: Irq, count: u32) -> Event {
    Event { irq: irq.0, count }
}

fn word(counters: &Mapping, index: usize) -> u64 {
    counters.read(index).unwrap_or(u64::MAX)
}

fn main() {
    let power = sluice::require_cap::<SystemControl>("power");
    let mut checks = Checks::new();
    let counters = sluice::cap::<Frame>("oob-counters")
        .ok()
        .and_then(|frame| frame.map_view(COUNTERS_VA, true).ok());
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
    let mut seen = Seen::new();

    // (a) An oob handler runs at once, whatever the in-band stage does.
    let s = match domain.alloc_synthetic() {
        Ok(s) if domain.switch_oob(s, COUNT).is_ok() => {
            checks.pass(format_args!(
                "allocate synthetic {s} and switch it to oob handler 0"
            ));
            s
        }
        other => {
            checks.fail(
                "allocate a synthetic IRQ and switch it to oob handler 0",
                format_args!("{other:?}"),
            );
            checks.finish(&power)
        }
    };
    checks.expect_eq("is_oob(S) says 1", domain.is_oob(s), Ok(true));
    domain.stall();
    let before = word(&counters, COUNT_CALLS);
    let injected = domain.inject(s);
    checks.expect_eq(
        "stalled: the oob handler ran before inject returned",
        (
            injected,
            word(&counters, COUNT_CALLS).wrapping_sub(before),
            domain.is_stalled(),
        ),
        (Ok(()), 1, true),
    );
    let injected = (0..9).try_for_each(|_| domain.inject(s));
    checks.expect_eq(
        "stalled: nine more injections, nine more oob runs",
        (
            injected,
            word(&counters, COUNT_CALLS).wrapping_sub(before),
            domain.is_stalled(),
        ),
        (Ok(()), 10, true),
    );
    checks.expect_eq(
        "no in-band event: no handler ran, the ring is empty, nothing is pending",
        (seen.calls, domain.queued_events(), domain.sync_pending()),
        (0, 0, false),
    );
    checks.expect_eq(
        "unstall has nothing to replay",
        domain.unstall(&mut |e| seen.handle(e)),
        Ok(0),
    );
    checks.expect_eq(
        "stats(S): received 10, oob-handled 10",
        domain.stats(s),
        Ok(Stats {
            received: 10,
            oob_handled: 10,
            ..Stats::default()
        }),
    );

    // (b) The oob stage posts an in-band synthetic IRQ to this domain.
    let (p, t) = match (domain.alloc_synthetic(), domain.alloc_synthetic()) {
        (Ok(p), Ok(t)) if p != t && domain.switch_oob(t, POST).is_ok() => {
            checks.pass(format_args!(
                "allocate in-band {p} and {t}, switched to oob handler 1"
            ));
            (p, t)
        }
        other => {
            checks.fail(
                "allocate two synthetic IRQs and switch one to oob handler 1",
                format_args!("{other:?}"),
            );
            checks.finish(&power)
        }
    };
    checks.expect_eq(
        "is_oob: 1 for T, 0 for P",
        (domain.is_oob(t), domain.is_oob(p)),
        (Ok(true), Ok(false)),
    );
    checks.expect_eq(
        "tell the post handler which IRQ to post",
        counters.write(POST_IRQ, u64::from(p.0)),
        Ok(()),
    );
    domain.stall();
    let before = word(&counters, POST_CALLS);
    let injected = domain.inject(t);
    checks.expect_eq(
        "stalled: the post handler ran in the oob stage before inject returned",
        (injected, word(&counters, POST_CALLS).wrapping_sub(before)),
        (Ok(()), 1),
    );
    checks.expect_eq(
        "while stalled: no handler ran, the ring is empty, pending is published",
        (
            seen.calls,
            domain.queued_events(),
            domain.sync_pending(),
            domain.is_stalled(),
        ),
        (0, 0, true, true),
    );
    let ran = domain.unstall(&mut |e| seen.handle(e));
    checks.expect_eq(
        "unstall runs the posted IRQ once",
        (ran, seen.take()),
        (Ok(1), &[event(p, 1)][..]),
    );
    checks.expect_eq(
        "nothing more to poll: the posted IRQ ran exactly once",
        (domain.poll_events(&mut |e| seen.handle(e)), seen.take()),
        (Ok(0), &[][..]),
    );
    checks.expect_eq(
        "stats: P received 1, logged 1, replayed 1; T received 1, oob-handled 1",
        (domain.stats(p), domain.stats(t)),
        (
            Ok(Stats {
                received: 1,
                logged: 1,
                replayed: 1,
                ..Stats::default()
            }),
            Ok(Stats {
                received: 1,
                oob_handled: 1,
                ..Stats::default()
            }),
        ),
    );
    let injected = domain.inject(t);
    let ran = domain.wait_for_events(&mut |e| seen.handle(e));
    let polled = domain.poll_events(&mut |e| seen.handle(e));
    checks.expect_eq(
        "unstalled: a post is replayed by the server at once and runs exactly once",
        (injected, ran, polled, seen.take()),
        (Ok(()), Ok(1), Ok(0), &[event(p, 1)][..]),
    );
    checks.expect_eq(
        "stats(P): received 2, logged 2, replayed 2",
        domain.stats(p),
        Ok(Stats {
            received: 2,
            logged: 2,
            replayed: 2,
            ..Stats::default()
        }),
    );

    checks.finish(&power);
}
