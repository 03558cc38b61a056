//! Pipeline test (image `test-pipeline-replay`): the events of a stalled domain are
//! logged, coalesced and replayed in arrival order when it unstalls (invariants 2, 3, 4).
//!
//! Domain 0 allocates two synthetic IRQs A and B (owned in-band by it), stalls, injects
//! A, B, A, B, A, and unstalls. Checks, in order (20):
//! - 1: `Domain::connect` maps the domain page.
//! - 2: two distinct synthetic IRQs are allocated.
//! - 3: both are in-band (`is_oob` says 0).
//! - 4: `stall` raises the flag (`is_stalled`).
//! - 5: the five injections are accepted.
//! - 6-9: while stalled, no handler ran, nothing was delivered into the event ring,
//!   `poll_events` refuses (`Stalled`) and runs nothing, and the server has published
//!   `pending` in the stall word.
//! - 10: `unstall` runs exactly two events, A then B (order of first arrival), with
//!   counts 3 and 2 (coalesced).
//! - 11: afterwards the domain is unstalled, nothing is pending, a poll finds nothing.
//! - 12-13: stats(A) = received 3, logged 1, coalesced 2, replayed 3; stats(B) =
//!   received 2, logged 1, coalesced 1, replayed 2; nothing delivered at once or oob.
//! - 14: unstalled, an injection of A is delivered at once: one event in the ring, which
//!   `poll_events` runs as (A, 1).
//! - 15: `wait_for_events` runs an injection of B delivered before the call, (B, 1).
//! - 16: stats(A) now counts one direct delivery (received 4, delivered 1).
//! - 17-18: `irq_save`/`irq_restore` nest like `local_irq_save`: an event injected inside
//!   waits through the inner restore (still stalled) and runs at the outer one.
//! - 19: injecting a synthetic IRQ this domain did not allocate is refused (`NotYours`).
//! - 20: statistics of a line nobody attached are refused.
#![no_std]
#![no_main]
#![deny(unsafe_code)]

use irq_client::{Domain, Error, Event, Irq, Refusal, SYNTHETIC_BASE, Stats};
use sluice::{SystemControl, testing::Checks};

sluice::main!(main);

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

fn main() {
    let power = sluice::require_cap::<SystemControl>("power");
    let mut checks = Checks::new();
    let domain = match Domain::connect() {
        Ok(domain) => {
            checks.pass("connect to the irq-server and map the domain page");
            domain
        }
        Err(error) => {
            checks.fail("connect to the irq-server", format_args!("{error}"));
            checks.finish(&power)
        }
    };
    let (a, b) = match (domain.alloc_synthetic(), domain.alloc_synthetic()) {
        (Ok(a), Ok(b)) if a != b => {
            checks.pass(format_args!("allocate two synthetic IRQs ({a}, {b})"));
            (a, b)
        }
        other => {
            checks.fail("allocate two synthetic IRQs", format_args!("{other:?}"));
            checks.finish(&power)
        }
    };
    checks.expect_eq(
        "synthetic IRQs start in-band",
        (domain.is_oob(a), domain.is_oob(b)),
        (Ok(false), Ok(false)),
    );

    let mut seen = Seen::new();
    domain.stall();
    checks.check(
        "stall raises the virtual interrupt flag",
        domain.is_stalled(),
        format_args!("is_stalled() is false"),
    );
    let injected = [a, b, a, b, a]
        .into_iter()
        .try_for_each(|irq| domain.inject(irq));
    checks.expect_eq("inject A, B, A, B, A while stalled", injected, Ok(()));
    checks.expect_eq("no in-band handler ran while stalled", seen.calls, 0);
    checks.expect_eq(
        "nothing was delivered into the event ring while stalled",
        domain.queued_events(),
        0,
    );
    checks.expect_eq(
        "poll_events refuses while stalled and runs nothing",
        (domain.poll_events(&mut |e| seen.handle(e)), seen.calls),
        (Err(Error::Stalled), 0),
    );
    checks.check(
        "the irq-server published pending in the stall word",
        domain.sync_pending(),
        format_args!("sync_pending() is false"),
    );

    let ran = domain.unstall(&mut |e| seen.handle(e));
    checks.expect_eq(
        "unstall replays A then B with their counts (3, 2) before returning",
        (ran, seen.take()),
        (Ok(2), &[event(a, 3), event(b, 2)][..]),
    );
    checks.expect_eq(
        "after the replay: unstalled, nothing pending, nothing more to poll",
        (
            domain.is_stalled(),
            domain.sync_pending(),
            domain.poll_events(&mut |e| seen.handle(e)),
        ),
        (false, false, Ok(0)),
    );
    checks.expect_eq(
        "stats(A): received 3, logged 1, coalesced 2, replayed 3",
        domain.stats(a),
        Ok(Stats {
            received: 3,
            oob_handled: 0,
            delivered: 0,
            logged: 1,
            replayed: 3,
            coalesced: 2,
            masked_time: 0,
        }),
    );
    checks.expect_eq(
        "stats(B): received 2, logged 1, coalesced 1, replayed 2",
        domain.stats(b),
        Ok(Stats {
            received: 2,
            oob_handled: 0,
            delivered: 0,
            logged: 1,
            replayed: 2,
            coalesced: 1,
            masked_time: 0,
        }),
    );

    let injected = domain.inject(a);
    let queued = domain.queued_events();
    let ran = domain.poll_events(&mut |e| seen.handle(e));
    checks.expect_eq(
        "unstalled: an injection is delivered at once and poll_events runs it",
        (injected, queued, ran, seen.take()),
        (Ok(()), 1, Ok(1), &[event(a, 1)][..]),
    );
    let injected = domain.inject(b);
    let ran = domain.wait_for_events(&mut |e| seen.handle(e));
    checks.expect_eq(
        "wait_for_events runs an event delivered before the call (its signal is set)",
        (injected, ran, seen.take()),
        (Ok(()), Ok(1), &[event(b, 1)][..]),
    );
    checks.expect_eq(
        "stats(A) counts the direct delivery",
        domain.stats(a),
        Ok(Stats {
            received: 4,
            oob_handled: 0,
            delivered: 1,
            logged: 1,
            replayed: 3,
            coalesced: 2,
            masked_time: 0,
        }),
    );

    let outer = domain.irq_save();
    let inner = domain.irq_save();
    let injected = domain.inject(a);
    let restored = domain.irq_restore(inner, &mut |e| seen.handle(e));
    checks.expect_eq(
        "nested irq_save/irq_restore: the inner restore keeps the domain stalled",
        (
            outer,
            inner,
            injected,
            restored,
            domain.is_stalled(),
            seen.take(),
        ),
        (false, true, Ok(()), Ok(0), true, &[][..]),
    );
    let restored = domain.irq_restore(outer, &mut |e| seen.handle(e));
    checks.expect_eq(
        "the outer irq_restore unstalls and runs the event logged inside",
        (restored, domain.is_stalled(), seen.take()),
        (Ok(1), false, &[event(a, 1)][..]),
    );

    let foreign = Irq(SYNTHETIC_BASE + 63);
    checks.expect_eq(
        "injecting a synthetic IRQ this domain did not allocate is refused",
        domain.inject(foreign),
        Err(Error::Refused(Refusal::NotYours)),
    );
    let stats = domain.stats(foreign);
    checks.check(
        "statistics of a line nobody attached are refused",
        matches!(stats, Err(Error::Refused(_))),
        format_args!("got {stats:?}"),
    );

    checks.finish(&power);
}
