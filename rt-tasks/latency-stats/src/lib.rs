//! Lateness statistics of a periodic task, as `latmus` keeps them (pure logic).
//!
//! A sample is the lateness of one wake-up, `wake time - deadline`, in nanoseconds. The
//! statistics keep the minimum, the maximum, the sum (for the average), the count, the
//! overruns reported by the timer (deadlines that passed unserved) and a histogram of
//! `B` buckets of 1 us each: bucket `i` counts samples in `[i us, i+1 us)`, the last
//! bucket also everything above (it is the overflow bucket, so no sample is dropped and
//! the buckets always add up to the count).
//!
//! Integer arithmetic only (the tasks run without floating point); sums saturate at
//! `u64::MAX`, about 584 years of lateness, so no input can panic.
#![no_std]
#![forbid(unsafe_code)]

/// Nanoseconds per histogram bucket.
pub const BUCKET_NS: u64 = 1_000;

/// Lateness statistics with a histogram of `B` 1-us buckets (`B` >= 1).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LatencyStats<const B: usize> {
    count: u64,
    sum: u64,
    min: u64,
    max: u64,
    overruns: u64,
    histogram: [u64; B],
}

impl<const B: usize> Default for LatencyStats<B> {
    fn default() -> Self {
        Self::new()
    }
}

impl<const B: usize> LatencyStats<B> {
    const NONEMPTY: () = assert!(B >= 1, "a histogram needs at least its overflow bucket");

    /// No samples yet.
    #[must_use]
    pub const fn new() -> Self {
        let () = Self::NONEMPTY;
        Self {
            count: 0,
            sum: 0,
            min: u64::MAX,
            max: 0,
            overruns: 0,
            histogram: [0; B],
        }
    }

    /// Adds one wake-up that was `lateness_ns` late.
    pub fn record(&mut self, lateness_ns: u64) {
        self.count += 1;
        self.sum = self.sum.saturating_add(lateness_ns);
        self.min = self.min.min(lateness_ns);
        self.max = self.max.max(lateness_ns);
        let bucket = usize::try_from(lateness_ns / BUCKET_NS).map_or(B - 1, |b| b.min(B - 1));
        self.histogram[bucket] += 1;
    }

    /// Adds `overruns` deadlines the timer reported as passed unserved.
    pub fn add_overruns(&mut self, overruns: u64) {
        self.overruns = self.overruns.saturating_add(overruns);
    }

    /// Adds every sample of `other` (the per-second statistics into the totals).
    pub fn merge(&mut self, other: &Self) {
        self.count += other.count;
        self.sum = self.sum.saturating_add(other.sum);
        self.min = self.min.min(other.min);
        self.max = self.max.max(other.max);
        self.overruns = self.overruns.saturating_add(other.overruns);
        for (mine, theirs) in self.histogram.iter_mut().zip(other.histogram.iter()) {
            *mine += theirs;
        }
    }

    /// Samples recorded.
    #[must_use]
    pub const fn count(&self) -> u64 {
        self.count
    }

    /// The smallest lateness, `None` before the first sample.
    #[must_use]
    pub const fn min(&self) -> Option<u64> {
        if self.count == 0 {
            None
        } else {
            Some(self.min)
        }
    }

    /// The largest lateness, `None` before the first sample.
    #[must_use]
    pub const fn max(&self) -> Option<u64> {
        if self.count == 0 {
            None
        } else {
            Some(self.max)
        }
    }

    /// The average lateness, rounded down; `None` before the first sample.
    #[must_use]
    pub const fn avg(&self) -> Option<u64> {
        self.sum.checked_div(self.count)
    }

    /// Overruns reported.
    #[must_use]
    pub const fn overruns(&self) -> u64 {
        self.overruns
    }

    /// The histogram: bucket `i` counts samples in `[i, i+1)` us, the last one also all
    /// above.
    #[must_use]
    pub const fn histogram(&self) -> &[u64; B] {
        &self.histogram
    }

    /// The smallest lateness bound (a bucket's upper edge, in ns) that at least
    /// `per_million` / 1,000,000 of the samples stay below: a percentile from the
    /// histogram, `None` before the first sample or when it falls in the overflow bucket.
    #[must_use]
    pub fn percentile_bound_ns(&self, per_million: u64) -> Option<u64> {
        if self.count == 0 {
            return None;
        }
        let needed = (u128::from(self.count) * u128::from(per_million.min(1_000_000)))
            .div_ceil(1_000_000) as u64;
        let mut seen = 0;
        for (bucket, &n) in self.histogram[..B - 1].iter().enumerate() {
            seen += n;
            if seen >= needed.max(1) {
                return Some((bucket as u64 + 1) * BUCKET_NS);
            }
        }
        None
    }
}
