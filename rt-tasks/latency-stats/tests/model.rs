//! The statistics against a reference: every sample kept in a list.

use latency_stats::{BUCKET_NS, LatencyStats};
use proptest::prelude::*;

const B: usize = 16;

fn reference(samples: &[u64]) -> (u64, Option<u64>, Option<u64>, Option<u64>, [u64; B]) {
    let mut histogram = [0; B];
    for &s in samples {
        histogram[((s / BUCKET_NS) as usize).min(B - 1)] += 1;
    }
    let count = samples.len() as u64;
    let avg = (count > 0).then(|| samples.iter().sum::<u64>() / count);
    (
        count,
        samples.iter().copied().min(),
        samples.iter().copied().max(),
        avg,
        histogram,
    )
}

proptest! {
    #[test]
    fn matches_the_list_of_samples(samples in prop::collection::vec(0u64..40_000, 0..300)) {
        let mut stats = LatencyStats::<B>::new();
        for &s in &samples {
            stats.record(s);
        }
        let (count, min, max, avg, histogram) = reference(&samples);
        prop_assert_eq!(stats.count(), count);
        prop_assert_eq!(stats.min(), min);
        prop_assert_eq!(stats.max(), max);
        prop_assert_eq!(stats.avg(), avg);
        prop_assert_eq!(stats.histogram(), &histogram);
        prop_assert_eq!(stats.histogram().iter().sum::<u64>(), count);
    }

    #[test]
    fn merging_equals_recording_everything(
        a in prop::collection::vec(0u64..40_000, 0..100),
        b in prop::collection::vec(0u64..40_000, 0..100),
        overruns in 0u64..5,
    ) {
        let (mut left, mut right, mut all) =
            (LatencyStats::<B>::new(), LatencyStats::<B>::new(), LatencyStats::<B>::new());
        for &s in &a { left.record(s); all.record(s); }
        for &s in &b { right.record(s); all.record(s); }
        right.add_overruns(overruns);
        all.add_overruns(overruns);
        left.merge(&right);
        prop_assert_eq!(left, all);
    }

    #[test]
    fn percentile_bound_covers_the_fraction(samples in prop::collection::vec(0u64..14_000, 1..200), pm in 0u64..=1_000_000) {
        let mut stats = LatencyStats::<B>::new();
        for &s in &samples { stats.record(s); }
        let bound = stats.percentile_bound_ns(pm).expect("no sample reaches the overflow bucket");
        let below = samples.iter().filter(|&&s| s < bound).count() as u64;
        prop_assert!(below * 1_000_000 >= pm * samples.len() as u64);
        // The bucket below the bound would not do.
        let tighter = samples.iter().filter(|&&s| s < bound - BUCKET_NS).count() as u64;
        prop_assert!(bound == BUCKET_NS || tighter * 1_000_000 < (pm * samples.len() as u64).max(1));
    }
}

#[test]
fn empty_has_no_extremes_and_huge_samples_land_in_overflow() {
    let mut stats = LatencyStats::<4>::new();
    assert_eq!((stats.min(), stats.max(), stats.avg()), (None, None, None));
    assert_eq!(stats.percentile_bound_ns(500_000), None);
    stats.record(u64::MAX);
    stats.record(u64::MAX);
    assert_eq!(stats.histogram(), &[0, 0, 0, 2]);
    assert_eq!(stats.avg(), Some(u64::MAX / 2)); // the sum saturated, nothing panicked
    assert_eq!(stats.percentile_bound_ns(500_000), None);
}
