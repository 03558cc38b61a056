//! Pipeline test (image `test-pipeline-level`): a level-triggered line held asserted while
//! its in-band domain is stalled causes no interrupt storm.
//!
//! The domain owns the board timer's line in-band (the manifest grants it that line, and
//! only that one) and may program the timer. It arms a
//! deadline that has already passed, so the line asserts and stays asserted, and keeps
//! itself stalled for 50 ms. The kernel masks the line when it routes the interrupt, the
//! irq-server logs the event and leaves the line masked until the domain acks it, so the
//! line is received once, not thousands of times. Then: the replay on unstall runs the
//! handler once; the line stays masked while still asserted until the ack; an ack while
//! it is still asserted brings exactly one more event; an ack after the device was quiet
//! brings none.
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
    let Ok(domain) = Domain::connect() else {
        sluice::sys::panic_trap(b"cannot connect")
    };
    let line = Irq(sluice::start_info().timer_irq as u16);
    checks.expect_eq(
        "a line the manifest does not grant (the UART's) is refused",
        domain.attach(Irq(sluice::start_info().uart_irq as u16), Trigger::Level),
        Err(Error::Refused(Refusal::NotYours)),
    );
    checks.expect_eq(
        "the domain attaches the timer line in-band, level-triggered",
        domain.attach(line, Trigger::Level).is_ok(),
        true,
    );
    let ms = timer::frequency() / 1000;

    // A held level line while stalled: received once, logged once.
    domain.stall();
    timer::set_deadline(counter()); // already due: the line asserts and stays asserted
    spin_for(50 * ms);
    let stats = domain.stats(line);
    checks.expect_eq(
        "while stalled for 50 ms with the line held, it was received once",
        stats.ok().map(|s| s.received),
        Some(1),
    );
    checks.expect_eq("and logged once", stats.ok().map(|s| s.logged), Some(1));

    let mut handled = 0u32;
    let ran = domain.unstall(&mut |event: Event| {
        if event.irq == line.0 {
            handled += event.count;
        }
    });
    checks.expect_eq(
        "unstall replays the timer event once",
        (ran.ok(), handled),
        (Some(1), 1),
    );

    // Unstalled, still asserted, not acked: still masked.
    spin_for(10 * ms);
    checks.expect_eq(
        "unstalled but not acked, the held line stays masked",
        domain.stats(line).ok().map(|s| s.received),
        Some(1),
    );

    // Ack while still asserted: exactly one more event.
    checks.expect_eq(
        "ack while the line is still asserted",
        domain.ack(line).is_ok(),
        true,
    );
    let mut second = 0u32;
    let waited = domain.wait_for_events(&mut |event: Event| {
        if event.irq == line.0 {
            second += event.count;
            timer::stop(); // the device is serviced: the line drops
        }
    });
    checks.expect_eq(
        "the still-asserted line brings exactly one more event",
        (waited.is_ok(), second),
        (true, 1),
    );
    checks.expect_eq(
        "ack after servicing the device",
        domain.ack(line).is_ok(),
        true,
    );
    spin_for(10 * ms);
    let stats = domain.stats(line);
    checks.expect_eq(
        "no further event once the device is quiet",
        stats.ok().map(|s| s.received),
        Some(2),
    );
    // Masked from the first event to the first ack: the 50 ms stall and 10 ms after.
    checks.expect_eq(
        "the masked time covers the 60 ms until the first ack",
        stats.ok().map(|s| s.masked_time >= 60 * ms),
        Some(true),
    );
    println!("test-pipeline-level: timer line {}: {:?}", line.0, stats);
    checks.finish(&power)
}
