//! The boot-time timer check: take periodic generic-timer interrupts through the interrupt
//! controller and verify the rate against the system counter.
//!
//! Deadlines are absolute (deadline n = start + n * period), so a late interrupt does not
//! shift the ones after it: the measured rate is the programmed one unless interrupts are
//! lost, and the lateness of each tick (handler entry minus deadline) is recorded.

use crate::{arch, drivers::Trigger, irq};
use core::sync::atomic::{AtomicU64, Ordering};

static TICKS: AtomicU64 = AtomicU64::new(0);
static TARGET: AtomicU64 = AtomicU64::new(0);
static START: AtomicU64 = AtomicU64::new(0);
static PERIOD: AtomicU64 = AtomicU64::new(0);
static LAST_TICK_AT: AtomicU64 = AtomicU64::new(0);
static WORST_LATENESS: AtomicU64 = AtomicU64::new(0);

/// What the check measured.
#[derive(Clone, Copy, Debug)]
pub struct Report {
    /// Interrupts taken.
    pub ticks: u64,
    /// Counter ticks from start to the last interrupt.
    pub elapsed: u64,
    /// Measured rate in millihertz.
    pub measured_mhz: u64,
    /// Worst handler-entry lateness, in counter ticks.
    pub worst_lateness: u64,
}

fn on_tick(_irq: u32) {
    let now = arch::timer::counter();
    let n = TICKS.fetch_add(1, Ordering::Relaxed) + 1;
    let deadline = START.load(Ordering::Relaxed) + n * PERIOD.load(Ordering::Relaxed);
    WORST_LATENESS.fetch_max(now.saturating_sub(deadline), Ordering::Relaxed);
    LAST_TICK_AT.store(now, Ordering::Relaxed);
    if n < TARGET.load(Ordering::Relaxed) {
        arch::timer::set_deadline(deadline + PERIOD.load(Ordering::Relaxed));
    } else {
        arch::timer::stop();
    }
}

/// Takes `ticks` timer interrupts at `hz` on `timer_irq` and reports what it measured.
pub fn run(timer_irq: u32, hz: u64, ticks: u64) -> Result<Report, irq::AttachError> {
    let frequency = arch::timer::frequency();
    let period = frequency / hz;
    TICKS.store(0, Ordering::Relaxed);
    TARGET.store(ticks, Ordering::Relaxed);
    PERIOD.store(period, Ordering::Relaxed);
    WORST_LATENESS.store(0, Ordering::Relaxed);
    irq::attach(timer_irq, Trigger::Level, on_tick)?;
    let start = arch::timer::counter();
    START.store(start, Ordering::Relaxed);
    arch::timer::set_deadline(start + period);
    arch::cpu::enable_irqs();
    while TICKS.load(Ordering::Relaxed) < ticks {
        arch::cpu::wait_for_interrupt();
    }
    arch::cpu::disable_irqs();
    irq::detach(timer_irq);
    let taken = TICKS.load(Ordering::Relaxed);
    let elapsed = LAST_TICK_AT.load(Ordering::Relaxed) - start;
    let measured_mhz =
        (u128::from(taken) * u128::from(frequency) * 1000 / u128::from(elapsed.max(1))) as u64;
    Ok(Report {
        ticks: taken,
        elapsed,
        measured_mhz,
        worst_lateness: WORST_LATENESS.load(Ordering::Relaxed),
    })
}
