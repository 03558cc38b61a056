//! `latmus`: how late a periodic real-time task wakes, in the style of EVL's latmus.
//!
//! One program, two tasks, two protection domains:
//!
//! - **`latmus`**, the sampler: an oob client of the timer-server, at a priority just
//!   below the oob stage. It arms one periodic timer (`period_us`, default 1000) and, at
//!   every wake-up, takes the lateness `wake time - deadline` (the deadline the
//!   timer-server reached, from the status page; the wake time from the counter, no
//!   call), keeps min/avg/max, overruns and a 1 us histogram, and once a second publishes
//!   the second's figures into the page it shares with the reporter and signals it. It
//!   never prints: printing is in-band work.
//! - **`latmus-report`**, the reporter: an in-band task that prints a line a second and
//!   the final report, EVL style (`RTD|` lines, then `RTS|`, the histogram as `HIST`
//!   lines and the figures as `BENCH` lines for `cargo xtask bench`), then the
//!   pipeline's statistics per IRQ and the timer-server's counters, checks the run (sample
//!   count exact, no overrun, maximum under `max_ns` when given) and powers off.
//!
//! Arguments (`args` in the manifest): sampler `period_us=N seconds=N`; reporter
//! `tag=NAME` (names the figures), `max_ns=N` (a behaviour bound, not a benchmark),
//! `poweroff=0` to leave the system running.
#![no_std]
#![no_main]
#![deny(unsafe_code)]

mod report;
mod sampler;

sluice::main!(main);

/// Histogram buckets of 1 us: 0..255 us, the last one also everything above.
pub const BUCKETS: usize = 256;

/// The page the sampler writes and the reporter reads, in 8-byte words.
pub mod shm {
    /// Where both map it.
    pub const VA: u64 = sluice::abi::layout::SHARED_MAP_BASE + 0x30_0000;
    /// 1 once the sampler armed its timer, 2 once it finished.
    pub const STATE: usize = 0;
    /// Seconds published so far.
    pub const SECONDS: usize = 1;
    /// The period, ns.
    pub const PERIOD_NS: usize = 2;
    /// Samples the run takes.
    pub const PLANNED: usize = 3;
    /// Seconds the run takes.
    pub const PLANNED_SECONDS: usize = 4;
    /// The sampler's priority.
    pub const PRIORITY: usize = 5;
    /// Deep idle entries while the timer was armed (must stay 0: the veto).
    pub const DEEP_IDLE_ARMED: usize = 6;
    /// Idle entries kept shallow by the veto while the timer was armed.
    pub const VETOED_IDLE_ARMED: usize = 7;
    /// Per-second records: a ring of [`RING`] of [`RECORD_WORDS`] words from here.
    pub const RING_BASE: usize = 16;
    /// Records the ring holds.
    pub const RING: usize = 16;
    /// Words of one record: samples, min, avg, max, overruns, missed wake-ups.
    pub const RECORD_WORDS: usize = 8;
    /// The totals of the run, a record.
    pub const TOTAL: usize = RING_BASE + RING * RECORD_WORDS;
    /// The histogram of the whole run, [`BUCKETS`](crate::BUCKETS) words.
    pub const HISTOGRAM: usize = 192;
    const _: () = assert!(TOTAL + RECORD_WORDS <= HISTOGRAM);
    const _: () = assert!(HISTOGRAM + crate::BUCKETS <= 512);
}

fn main() -> ! {
    match sluice::task_name() {
        "latmus" => sampler::run(),
        _ => report::run(),
    }
}
