//! The sampler: the periodic oob task.

use crate::{BUCKETS, shm};
use latency_stats::LatencyStats;
use sluice::{Frame, Mapping, Notification, println, require_cap};
use timer_client::{OobTimers, now, ns_from_ticks, ticks_from_ns};

type Stats = LatencyStats<BUCKETS>;

fn fail(what: core::fmt::Arguments<'_>) -> ! {
    println!("latmus: {what}");
    sluice::sys::panic_trap(b"latmus cannot run")
}

pub fn run() -> ! {
    let period_us = sluice::arg_u64("period_us", 1000)
        .unwrap_or_else(|text| fail(format_args!("period_us={text} is not a number")));
    let seconds = sluice::arg_u64("seconds", 5)
        .unwrap_or_else(|text| fail(format_args!("seconds={text} is not a number")));
    if !(10..=1_000_000).contains(&period_us) || 1_000_000 % period_us != 0 || seconds == 0 {
        fail(format_args!(
            "period_us must divide one second and lie in 10..=1000000, seconds > 0 \
             (got {period_us}, {seconds})"
        ));
    }
    let timers =
        OobTimers::connect().unwrap_or_else(|error| fail(format_args!("timer-server: {error}")));
    let Ok(page) = require_cap::<Frame>("latmus-shm").map_view(shm::VA, true) else {
        fail(format_args!("cannot map latmus-shm"))
    };
    let report = require_cap::<Notification>("latmus-report");
    let per_second = 1_000_000 / period_us;
    let planned = per_second * seconds;
    let period = ticks_from_ns(period_us * 1000);
    for (word, value) in [
        (shm::PERIOD_NS, period_us * 1000),
        (shm::PLANNED, planned),
        (shm::PLANNED_SECONDS, seconds),
        (shm::PRIORITY, 254),
    ] {
        let _ = page.write(word, value);
    }

    // The first deadline a few periods out, so that the arm call is long done.
    let first = now() + 4 * period;
    if let Err(error) = timers.arm_periodic(0, first, period) {
        fail(format_args!("arming the periodic timer: {error}"));
    }
    let idle_before = timers.idle_stats().unwrap_or_default();
    let _ = page.write(shm::STATE, 1);
    let _ = report.signal();

    let (mut second, mut total) = (Stats::new(), Stats::new());
    let (mut seen_expiries, mut seen_overruns, mut missed, mut total_missed) = (0, 0, 0, 0);
    let mut published = 0;
    let mut taken = 0;
    while taken < planned {
        if timers.wait().is_err() {
            fail(format_args!("waiting for the timer was refused"));
        }
        let woke = now();
        let status = timers.status(0);
        second.record(ns_from_ticks(woke.saturating_sub(status.deadline)));
        second.add_overruns(status.overruns - seen_overruns);
        seen_overruns = status.overruns;
        // Expiries that went by without a wake-up of their own (the notification
        // coalesced them): the lateness of those is not measured, so they are counted.
        missed += status.expiries.saturating_sub(seen_expiries + 1);
        seen_expiries = status.expiries;
        taken += 1;
        if taken % per_second == 0 || taken == planned {
            publish_second(&page, published, &second, missed);
            published += 1;
            let _ = page.write(shm::SECONDS, published);
            total.merge(&second);
            total_missed += missed;
            second = Stats::new();
            missed = 0;
            let _ = report.signal();
        }
    }
    let idle_after = timers.idle_stats().unwrap_or_default();
    let _ = timers.cancel(0);
    let _ = page.write(shm::DEEP_IDLE_ARMED, idle_after.deep - idle_before.deep);
    let _ = page.write(
        shm::VETOED_IDLE_ARMED,
        idle_after.vetoed - idle_before.vetoed,
    );
    write_record(&page, shm::TOTAL, &total, total_missed);
    for (bucket, &count) in total.histogram().iter().enumerate() {
        let _ = page.write(shm::HISTOGRAM + bucket, count);
    }
    let _ = page.write(shm::STATE, 2);
    let _ = report.signal();
    // Done: a sampler that returned would be reported as a fault; it waits for good.
    loop {
        let _ = timers.wait();
    }
}

fn publish_second(page: &Mapping, index: u64, stats: &Stats, missed: u64) {
    let slot = (index as usize) % shm::RING;
    write_record(
        page,
        shm::RING_BASE + slot * shm::RECORD_WORDS,
        stats,
        missed,
    );
}

fn write_record(page: &Mapping, base: usize, stats: &Stats, missed: u64) {
    let words = [
        stats.count(),
        stats.min().unwrap_or(0),
        stats.avg().unwrap_or(0),
        stats.max().unwrap_or(0),
        stats.overruns(),
        missed,
    ];
    for (offset, value) in words.into_iter().enumerate() {
        let _ = page.write(base + offset, value);
    }
}
