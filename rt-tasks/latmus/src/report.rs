//! The reporter: prints what the sampler measured, in-band, in its own protection domain.

use crate::{BUCKETS, shm};
use core::fmt;
use irq_client::{Domain, Irq};
use sluice::{Frame, Mapping, Notification, SystemControl, println, require_cap, testing::Checks};
use timer_client::InbandTimers;

/// Nanoseconds shown as microseconds with three decimals, as EVL's latmus prints them.
struct Us(u64);

impl fmt::Display for Us {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let width = f.width().unwrap_or(0).saturating_sub(4);
        write!(f, "{:>width$}.{:03}", self.0 / 1000, self.0 % 1000)
    }
}

struct Record {
    samples: u64,
    min: u64,
    avg: u64,
    max: u64,
    overruns: u64,
    missed: u64,
}

fn record(page: &Mapping, base: usize) -> Record {
    let word = |offset| page.read(base + offset).unwrap_or(0);
    Record {
        samples: word(0),
        min: word(1),
        avg: word(2),
        max: word(3),
        overruns: word(4),
        missed: word(5),
    }
}

fn clock(seconds: u64) -> impl fmt::Display {
    struct Clock(u64);
    impl fmt::Display for Clock {
        fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
            let s = self.0;
            write!(f, "{:02}:{:02}:{:02}", s / 3600, s / 60 % 60, s % 60)
        }
    }
    Clock(seconds)
}

pub fn run() -> ! {
    let tag = sluice::arg("tag").unwrap_or("latmus");
    let max_ns = sluice::arg("max_ns").and_then(|text| text.parse::<u64>().ok());
    let poweroff = sluice::arg("poweroff") != Some("0");
    let Ok(page) = require_cap::<Frame>("latmus-shm").map_view(shm::VA, false) else {
        sluice::sys::panic_trap(b"latmus-report: cannot map latmus-shm");
    };
    let wake = require_cap::<Notification>("latmus-report");
    while page.read(shm::STATE).unwrap_or(0) == 0 {
        let _ = wake.wait();
    }
    let period_ns = page.read(shm::PERIOD_NS).unwrap_or(0);
    let planned = page.read(shm::PLANNED).unwrap_or(0);
    let planned_seconds = page.read(shm::PLANNED_SECONDS).unwrap_or(0);
    println!(
        "RTT|  {}  (oob timer, {} us period, priority {}, {tag})",
        clock(0),
        period_ns / 1000,
        page.read(shm::PRIORITY).unwrap_or(0)
    );
    println!("RTH|----lat min|----lat avg|----lat max|-overrun|---msw|---lat best|--lat worst");
    let (mut printed, mut best, mut worst) = (0, u64::MAX, 0);
    loop {
        let seconds = page.read(shm::SECONDS).unwrap_or(0);
        // Fell behind by more than the ring holds (the reporter is in-band; the sampler
        // never waits for it): say so rather than print overwritten records.
        if seconds - printed > shm::RING as u64 {
            println!(
                "RTD| (reporter fell behind: {} seconds not shown)",
                seconds - printed - shm::RING as u64
            );
            printed = seconds - shm::RING as u64;
        }
        while printed < seconds {
            let slot = (printed as usize) % shm::RING;
            let r = record(&page, shm::RING_BASE + slot * shm::RECORD_WORDS);
            best = best.min(r.min);
            worst = worst.max(r.max);
            println!(
                "RTD|{:>11}|{:>11}|{:>11}|{:>8}|{:>6}|{:>11}|{:>11}",
                Us(r.min),
                Us(r.avg),
                Us(r.max),
                r.overruns,
                r.missed,
                Us(best),
                Us(worst)
            );
            printed += 1;
        }
        if page.read(shm::STATE).unwrap_or(0) == 2 {
            break;
        }
        let _ = wake.wait();
    }
    let total = record(&page, shm::TOTAL);
    wait_for_the_load();
    println!(
        "RTS|{:>11}|{:>11}|{:>11}|{:>8}|{:>6}|    {}/{}",
        Us(total.min),
        Us(total.avg),
        Us(total.max),
        total.overruns,
        total.missed,
        clock(planned_seconds),
        clock(planned_seconds)
    );
    println!(
        "latmus: {tag}: {} samples, histogram (1 us buckets, lateness in us: samples):",
        total.samples
    );
    for bucket in 0..BUCKETS {
        let count = page.read(shm::HISTOGRAM + bucket).unwrap_or(0);
        if count > 0 {
            let above = if bucket == BUCKETS - 1 { "+" } else { "" };
            println!("HIST {tag} {bucket}{above} {count}");
        }
    }
    for (key, value) in [
        ("latmus_min_ns", total.min),
        ("latmus_avg_ns", total.avg),
        ("latmus_max_ns", total.max),
        ("latmus_samples", total.samples),
        ("latmus_overruns", total.overruns),
    ] {
        println!("BENCH {key}.{tag} {value}");
    }
    pipeline_statistics();

    let mut checks = Checks::new();
    checks.expect_eq("every planned sample was taken", total.samples, planned);
    checks.expect_eq("no overrun", total.overruns, 0);
    checks.expect_eq("no wake-up missed", total.missed, 0);
    let vetoed = page.read(shm::VETOED_IDLE_ARMED).unwrap_or(0);
    println!("latmus-report: {vetoed} idle entries kept shallow while the oob timer was armed");
    checks.expect_eq(
        "no deep idle while the oob timer was armed (the timer-server's veto)",
        page.read(shm::DEEP_IDLE_ARMED).unwrap_or(u64::MAX),
        0,
    );
    if let Some(bound) = max_ns {
        checks.check(
            format_args!("worst lateness under {} us", Us(bound)),
            total.max < bound,
            format_args!("worst {} us", Us(total.max)),
        );
    }
    if poweroff && let Ok(power) = sluice::cap::<SystemControl>("power") {
        checks.finish(&power)
    }
    println!(
        "latmus-report: {} checks passed, {} failed",
        checks.passed(),
        checks.failed()
    );
    loop {
        let _ = wake.wait();
    }
}

/// With `load-done` (and `load=N` in the arguments: the tasks of the load, each
/// signalling its own badge bit), waits until the load has finished too, so that the
/// statistics printed next count all of it.
fn wait_for_the_load() {
    let Ok(done) = sluice::cap::<Notification>("load-done") else {
        return;
    };
    let tasks = sluice::arg_u64("load", 0).unwrap_or(0).min(63);
    let all = (1u64 << tasks) - 1;
    let mut seen = 0;
    while seen & all != all {
        match done.wait() {
            Ok(bits) => seen |= bits,
            Err(_) => return,
        }
    }
    println!("latmus-report: the load finished ({tasks} tasks)");
}

/// The pipeline's statistics of every IRQ that saw an event, and the timer-server's
/// counters, when this task is a domain of the pipeline (it holds `irq-server`).
fn pipeline_statistics() {
    let Ok(domain) = Domain::connect() else {
        return;
    };
    println!("pipeline statistics (per IRQ):");
    println!(
        "  {:>5} {:>10} {:>10} {:>10} {:>10} {:>10} {:>10}",
        "irq", "received", "oob", "delivered", "logged", "replayed", "coalesced"
    );
    let lines = sluice::start_info()
        .irq_lines
        .min(u32::from(irq_client::SYNTHETIC_BASE)) as u16;
    let synthetic = irq_client::SYNTHETIC_BASE..irq_client::SYNTHETIC_BASE + 64;
    for irq in (0..lines).chain(synthetic) {
        let Ok(stats) = domain.stats(Irq(irq)) else {
            continue;
        };
        if stats.received == 0 {
            continue;
        }
        let kind = if irq >= irq_client::SYNTHETIC_BASE {
            "s"
        } else {
            " "
        };
        println!(
            "  {irq:>4}{kind} {:>10} {:>10} {:>10} {:>10} {:>10} {:>10}",
            stats.received,
            stats.oob_handled,
            stats.delivered,
            stats.logged,
            stats.replayed,
            stats.coalesced
        );
    }
    if let Ok((reentries, unowned, unrecorded)) = domain.diagnostics() {
        println!(
            "  refused re-entries {reentries}, unowned interrupts {unowned}, unrecorded {unrecorded}"
        );
    }
    let Ok(timers) = InbandTimers::connect() else {
        return;
    };
    if let Ok(idle) = timers.idle_stats() {
        println!(
            "idle: {} deep entries, {} shallow, {} kept shallow by the oob timer's veto (now {})",
            idle.deep,
            idle.shallow,
            idle.vetoed,
            if idle.veto_now { "vetoed" } else { "allowed" }
        );
    }
    if let Ok(stats) = timers.server_stats() {
        println!(
            "timer-server: {} interrupts, {} oob expiries, {} in-band expiries, {} overruns, worst own lateness {} ns, {} comparator writes",
            stats.interrupts,
            stats.oob_expiries,
            stats.inband_expiries,
            stats.overruns,
            timer_client::ns_from_ticks(stats.worst_lateness),
            stats.programmed
        );
    }
}
