//! Edges of the public API that the model tests leave open, found by `cargo xtask
//! mutants`: each test names the surviving mutants it kills.

use std::collections::hash_map::DefaultHasher;
use std::hash::{Hash, Hasher};

use pipeline::stall_page::{AfterLog, StallWord};
use pipeline::{
    CpuId, DomainId, Error, GracePeriods, HandlerId, Irq, NR_IRQS, Pipeline, SYNTHETIC_BASE,
    StallCap, Trigger, WorkItem,
};

type P = Pipeline<2, 2, 8>;
const C0: CpuId = CpuId(0);
const D0: DomainId = DomainId(0);

fn hash<T: Hash>(value: &T) -> u64 {
    let mut h = DefaultHasher::new();
    value.hash(&mut h);
    h.finish()
}

/// Invariant 6 asks for a clear error: every refusal names what was wrong.
/// (Kills `Display for Error`, `Irq`, `DomainId`, `CpuId`, `HandlerId` -> `Ok(())`.)
#[test]
fn edge_pipeline_errors_say_what_was_wrong() {
    let stale = Error::StaleCap {
        domain: DomainId(2),
        presented: 0,
        current: 1,
    };
    assert_eq!(
        stale.to_string(),
        "stall capability for domain 2 is revoked (generation 0, current 1)"
    );
    assert_eq!(
        Error::Reentry { cpu: CpuId(1) }.to_string(),
        "in-band-only operation attempted from oob context on CPU 1 (re-entry refused)"
    );
    assert_eq!(
        Error::NotOwner {
            irq: Irq(SYNTHETIC_BASE + 3),
            domain: D0
        }
        .to_string(),
        "IRQ 1027 (synthetic #3) is not owned in-band by domain 0"
    );
    assert_eq!(Irq(33).to_string(), "IRQ 33");
    assert_eq!(HandlerId(4).to_string(), "oob handler 4");
    // Every variant has a message of its own.
    let all = [
        Error::NoSuchIrq(Irq(9999)),
        Error::NoSuchCpu(CpuId(7)),
        Error::NoSuchDomain(DomainId(9)),
        Error::Reentry { cpu: C0 },
        stale,
        Error::NotOwner {
            irq: Irq(1),
            domain: D0,
        },
        Error::NotMasked(Irq(1)),
        Error::Stalled {
            domain: D0,
            cpu: C0,
        },
        Error::NotAttached(Irq(1)),
        Error::AlreadyAttached(Irq(1)),
        Error::NoFreeLine,
        Error::NoFreeSynthetic,
        Error::WrongKind(Irq(1)),
        Error::StillAssigned(Irq(1)),
        Error::StillLogged {
            irq: Irq(1),
            domain: D0,
        },
        Error::NotInOob(C0),
        Error::OobNestingOverflow(C0),
        Error::WorkQueueFull {
            domain: D0,
            cpu: C0,
        },
        Error::NoIrqWork(D0),
        Error::GenerationExhausted(D0),
    ];
    let mut messages: Vec<String> = all.iter().map(ToString::to_string).collect();
    assert!(messages.iter().all(|m| m.len() > 10), "{messages:?}");
    messages.sort();
    messages.dedup();
    assert_eq!(messages.len(), all.len(), "two errors share a message");
}

/// The last IRQ number is valid, the one past it is refused, not an index out of bounds.
/// (Kills `<` -> `<=` in `Irq::is_valid` and `Irq::is_synthetic`.)
#[test]
fn edge_pipeline_irq_numbers_end_at_nr_irqs() {
    let last = Irq(NR_IRQS as u16 - 1);
    let past = Irq(NR_IRQS as u16);
    assert!(last.is_valid() && last.is_synthetic() && !last.is_hardware());
    assert!(!past.is_valid() && !past.is_synthetic());
    let mut p = P::new();
    assert_eq!(p.receive(C0, past), Err(Error::NoSuchIrq(past)));
    assert_eq!(p.inject(C0, past), Err(Error::NoSuchIrq(past)));
    assert_eq!(
        p.attach(C0, past, Trigger::Edge),
        Err(Error::NoSuchIrq(past))
    );
    assert_eq!(p.free_synthetic(C0, past), Err(Error::NoSuchIrq(past)));
    assert!(p.mode(past).is_none());
    assert_eq!(p.spurious(), 0);
}

/// A replay tells how much is left: `size_hint` is `(0, Some(remaining))`.
/// (Kills every `Replay::size_hint` replacement.)
#[test]
fn edge_pipeline_replay_size_hint_is_what_remains() {
    let mut p = P::new();
    let cap = p.stall_cap(D0).unwrap();
    let a = p.alloc_synthetic(C0).unwrap();
    let b = p.alloc_synthetic(C0).unwrap();
    for irq in [a, b] {
        let _ = p.switch_inband(C0, irq, D0).unwrap();
    }
    assert!(!p.stall(cap, C0).unwrap());
    for irq in [a, b, a] {
        let _ = p.inject(C0, irq).unwrap();
    }
    assert!(p.unstall(cap, C0).unwrap());
    let mut replay = p.sync(cap, C0).unwrap();
    assert_eq!(replay.size_hint(), (0, Some(2)));
    assert_eq!(replay.next().map(|r| (r.irq, r.count)), Some((a, 2)));
    assert_eq!(replay.size_hint(), (0, Some(1)));
    assert_eq!(replay.next().map(|r| (r.irq, r.count)), Some((b, 1)));
    assert_eq!(replay.size_hint(), (0, Some(0)));
    assert_eq!(replay.next(), None);
}

/// Oob nesting depth as the grace periods count it. (Kills `GracePeriods::depth` -> 0, 1.)
#[test]
fn edge_pipeline_grace_depth_counts_nesting() {
    let mut g = GracePeriods::<2>::new();
    assert_eq!(g.depth(CpuId(1)), 0);
    g.enter(CpuId(1)).unwrap();
    g.enter(CpuId(1)).unwrap();
    assert_eq!(g.depth(CpuId(1)), 2);
    assert_eq!(g.depth(C0), 0);
    assert_eq!(g.depth(CpuId(5)), 0);
    g.leave(CpuId(1)).unwrap();
    assert_eq!(g.depth(CpuId(1)), 1);
}

/// The stall word reads back what was written, both ways.
/// (Kills `StallWord::is_stalled` -> true and `StallWord::has_pending` -> true.)
#[test]
fn edge_pipeline_stall_word_reads_back() {
    let w = StallWord::new();
    assert!(!w.is_stalled() && !w.has_pending());
    w.stall();
    assert!(w.is_stalled());
    assert_eq!(w.log_posted(), AfterLog::DomainWillSync);
    assert!(w.has_pending());
    assert!(w.unstall());
    assert!(!w.is_stalled());
    w.log_drained();
    assert!(!w.has_pending());
    assert!(!w.unstall());
}

/// Model checking dedups states by their hash: two pipelines that differ only in queued
/// irq_work must not hash alike, or the checker would merge them and skip one.
/// (Kills `Hash for IrqWorkQueue` -> `()`.)
#[test]
fn edge_pipeline_hash_sees_irq_work() {
    let mut p = P::new();
    let _ = p.irq_work_setup(C0, D0).unwrap();
    let cap = p.stall_cap(D0).unwrap();
    let _ = p.stall(cap, C0).unwrap();
    let mut q = p.clone();
    let _ = p.irq_work_queue(C0, D0, WorkItem(1)).unwrap();
    let _ = q.irq_work_queue(C0, D0, WorkItem(2)).unwrap();
    assert_ne!(p, q);
    assert_ne!(hash(&p), hash(&q));
    let mut r = p.clone();
    assert_eq!(hash(&p), hash(&r));
    let _ = r.irq_work_queue(C0, D0, WorkItem(3)).unwrap();
    assert_ne!(hash(&p), hash(&r));
    // A forged capability still changes nothing.
    let forged = StallCap {
        domain: D0,
        generation: 1,
    };
    assert!(r.irq_work_run(forged, C0).is_err());
}
