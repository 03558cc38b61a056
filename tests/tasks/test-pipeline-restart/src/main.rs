//! Pipeline test (image `test-pipeline-restart`): a domain restarted after a fault starts
//! afresh.
//!
//! Run 0 (no restart yet): the domain attaches the board timer's line (level), gives it
//! back and takes it again, allocates a synthetic IRQ, stalls, injects the synthetic IRQ
//! twice and lets the timer line assert, so the irq-server holds logged events for it and
//! keeps the line masked until an ack that never comes. Then it faults (a panic report)
//! while still stalled. Its supervisor restarts it.
//!
//! Run 1: `Domain::connect` resets the domain (`Request::Reset`, because the task was
//! restarted). The checks: the old incarnation's events are gone, and counted, the timer line attaches
//! again (before the reset the server answered `Busy`: the dead incarnation still owned
//! it) and brings its still-held event exactly once, a live domain cannot take the line
//! twice, and a new synthetic IRQ brings its own event and nothing of the old one.
#![no_std]
#![no_main]
#![deny(unsafe_code)]

use irq_client::{Domain, Error, Event, Irq, Refusal, Trigger};
use sluice::{
    SystemControl, println, require_cap,
    sys::{counter, spin_for},
    testing::Checks,
    timer,
};

sluice::main!(main);

fn main() {
    let power = require_cap::<SystemControl>("power");
    let mut checks = Checks::new();
    let domain = match Domain::connect() {
        Ok(domain) => domain,
        Err(error) => {
            println!("FAIL: connect (restart {}): {error}", sluice::restarts());
            sluice::sys::panic_trap(b"cannot connect")
        }
    };
    let line = Irq(sluice::start_info().timer_irq as u16);
    match sluice::restarts() {
        0 => first_run(&domain, line, &mut checks),
        1 => {}
        n => {
            println!("FAIL: restarted {n} times, once was expected");
            sluice::sys::panic_trap(b"restarted too often")
        }
    }
    checks.expect_eq("this is the restarted incarnation", sluice::restarts(), 1);
    // Run 0 left the synthetic IRQ logged twice (one coalesced entry, count 2) and the
    // timer line once.
    checks.expect_eq(
        "the reset discarded the 3 events the old incarnation left logged",
        domain.discarded_at_connect(),
        3,
    );
    checks.expect_eq(
        "after the reset nothing of the old incarnation is logged or queued",
        (domain.sync_pending(), domain.queued_events()),
        (false, 0),
    );
    checks.expect_eq(
        "the restarted domain attaches its line again",
        domain.attach(line, Trigger::Level),
        Ok(()),
    );
    checks.expect_eq(
        "a second attach of the line by the live domain is refused as busy",
        domain.attach(line, Trigger::Level),
        Err(Error::Refused(Refusal::Busy)),
    );
    // The timer still asserts its line (run 0 armed a deadline long past): unmasked by
    // the attach, it brings one event.
    let mut timer_events = 0;
    let waited = domain.wait_for_events(&mut |event: Event| {
        if event.irq == line.0 {
            timer_events += event.count;
            timer::stop();
        }
    });
    checks.expect_eq(
        "the held line brings its event once",
        (waited, timer_events),
        (Ok(1), 1),
    );
    checks.expect_eq("and acks", domain.ack(line), Ok(()));
    let synthetic = expect_ok(&mut checks, "a new synthetic IRQ", domain.alloc_synthetic());
    if let Some(synthetic) = synthetic {
        checks.expect_eq("inject it", domain.inject(synthetic), Ok(()));
        let mut seen = [(0u16, 0u32); 4];
        let mut n = 0;
        let waited = domain.wait_for_events(&mut |event: Event| {
            if n < seen.len() {
                seen[n] = (event.irq, event.count);
            }
            n += 1;
        });
        checks.expect_eq(
            "exactly its own event arrives, nothing of the old synthetic IRQ",
            (waited, &seen[..n.min(seen.len())]),
            (Ok(1), &[(synthetic.0, 1)][..]),
        );
    }
    let ms = timer::frequency() / 1000;
    spin_for(5 * ms);
    checks.expect_eq(
        "no stray event follows",
        domain.poll_events(&mut |_| {}),
        Ok(0),
    );
    checks.finish(&power)
}

/// Run 0: leaves the irq-server holding the timer line (masked until an ack), a synthetic
/// IRQ and logged events for this domain, then faults while stalled.
fn first_run(domain: &Domain, line: Irq, checks: &mut Checks) -> ! {
    let ok = checks.expect_eq("attach", domain.attach(line, Trigger::Level), Ok(()))
        && checks.expect_eq("detach", domain.detach(line), Ok(()))
        && checks.expect_eq(
            "a line given back attaches again",
            domain.attach(line, Trigger::Level),
            Ok(()),
        );
    let synthetic = expect_ok(checks, "allocate a synthetic IRQ", domain.alloc_synthetic());
    domain.stall();
    if let Some(synthetic) = synthetic {
        let _ = domain.inject(synthetic);
        let _ = domain.inject(synthetic);
    }
    timer::set_deadline(counter()); // already due: the line asserts and stays asserted
    spin_for(5 * (timer::frequency() / 1000));
    let logged = checks.expect_eq(
        "events are logged for the stalled domain",
        domain.sync_pending(),
        true,
    );
    if ok && synthetic.is_some() && logged {
        println!("test-pipeline-restart: run 0: faulting on purpose, stalled, with events logged");
    }
    sluice::sys::panic_trap(b"deliberate fault: restart me")
}

/// [`Checks::expect_ok`] for the irq-server client's errors.
fn expect_ok<T>(checks: &mut Checks, what: &str, result: Result<T, Error>) -> Option<T> {
    match result {
        Ok(value) => {
            checks.pass(what);
            Some(value)
        }
        Err(error) => {
            checks.fail(what, format_args!("{error}"));
            None
        }
    }
}
