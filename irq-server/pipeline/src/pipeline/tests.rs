//! Unit tests of the pipeline's rules, one scenario each.

use super::*;
use crate::irq_work::IRQ_WORK_ITEMS;

type P = Pipeline<2, 3, 16>;

const C0: CpuId = CpuId(0);
const C1: CpuId = CpuId(1);
const A: DomainId = DomainId(0);
const B: DomainId = DomainId(1);
const H1: HandlerId = HandlerId(1);
const H2: HandlerId = HandlerId(2);
const EDGE: Irq = Irq(33);
const LEVEL: Irq = Irq(34);
const TIMER: Irq = Irq(30);

/// A pipeline with EDGE and LEVEL in-band for A, TIMER oob (H1).
fn setup() -> (P, StallCap, StallCap) {
    let mut p = P::new();
    p.attach(C0, EDGE, Trigger::Edge).unwrap();
    p.attach(C0, LEVEL, Trigger::Level).unwrap();
    p.attach(C0, TIMER, Trigger::Level).unwrap();
    assert_eq!(
        p.switch_inband(C0, EDGE, A).unwrap().line,
        LineAction::Unmask
    );
    assert_eq!(
        p.switch_inband(C0, LEVEL, A).unwrap().line,
        LineAction::Unmask
    );
    let s = p.switch_oob(C0, TIMER, H1).unwrap();
    assert_eq!((s.line, s.retired), (LineAction::Unmask, None));
    let a = p.stall_cap(A).unwrap();
    let b = p.stall_cap(B).unwrap();
    (p, a, b)
}

fn replay(p: &mut P, cap: StallCap, cpu: CpuId) -> [Option<(u16, u32)>; 4] {
    let mut out = [None; 4];
    for (slot, r) in out.iter_mut().zip(p.sync(cap, cpu).unwrap()) {
        *slot = Some((r.irq.0, r.count));
    }
    out
}

#[test]
fn oob_runs_at_once_whatever_the_domains_do() {
    let (mut p, a, b) = setup();
    p.stall(a, C0).unwrap();
    p.stall(b, C0).unwrap();
    assert_eq!(p.receive(C0, TIMER), Ok(Dispatch::RunOob { handler: H1 }));
    assert!(p.in_oob(C0));
    // Nested oob event while in oob context: still at once.
    assert_eq!(p.receive(C0, TIMER), Ok(Dispatch::RunOob { handler: H1 }));
    p.leave_oob(C0).unwrap();
    p.leave_oob(C0).unwrap();
    assert!(!p.in_oob(C0));
    assert_eq!(p.stats(TIMER).unwrap().oob_handled, 2);
    assert!(p.is_oob(TIMER));
}

#[test]
fn deliver_when_unstalled_log_when_stalled_replay_in_arrival_order() {
    let (mut p, a, _) = setup();
    let other = Irq(35);
    p.attach(C0, other, Trigger::Edge).unwrap();
    let _ = p.switch_inband(C0, other, A).unwrap();
    assert_eq!(
        p.receive(C0, EDGE),
        Ok(Dispatch::Deliver {
            domain: A,
            irq: EDGE,
            count: 1,
            line: LineAction::Keep
        })
    );
    assert_eq!(p.stall(a, C0), Ok(false));
    assert_eq!(p.stall(a, C0), Ok(true));
    assert!(matches!(
        p.receive(C0, other),
        Ok(Dispatch::Logged {
            domain: A,
            sync_needed: false,
            ..
        })
    ));
    assert!(matches!(p.receive(C0, EDGE), Ok(Dispatch::Logged { .. })));
    assert!(matches!(
        p.receive(C0, other),
        Ok(Dispatch::Coalesced { count: 2, .. })
    ));
    // The other CPU is not stalled: delivered there.
    assert!(matches!(p.receive(C1, EDGE), Ok(Dispatch::Deliver { .. })));
    assert_eq!(
        p.sync(a, C0).err(),
        Some(Error::Stalled { domain: A, cpu: C0 })
    );
    assert_eq!(p.unstall(a, C0), Ok(true));
    // A new event after unstall, before sync, goes behind the logged ones.
    let third = p.receive(C0, EDGE);
    assert!(matches!(
        third,
        Ok(Dispatch::Coalesced {
            sync_needed: true,
            ..
        })
    ));
    assert_eq!(
        replay(&mut p, a, C0),
        [Some((35, 2)), Some((33, 2)), None, None]
    );
    assert_eq!(p.unstall(a, C0), Ok(false));
    let s = p.stats(other).unwrap();
    assert_eq!(
        (s.received, s.logged, s.coalesced, s.replayed),
        (2, 1, 1, 2)
    );
    let s = p.stats(EDGE).unwrap();
    assert_eq!(s.received, s.delivered + s.logged + s.coalesced);
    assert_eq!(s.replayed, s.logged + s.coalesced);
}

#[test]
fn an_event_after_unstall_waits_behind_the_log() {
    let (mut p, a, _) = setup();
    p.stall(a, C0).unwrap();
    assert!(matches!(p.receive(C0, EDGE), Ok(Dispatch::Logged { .. })));
    assert_eq!(p.unstall(a, C0), Ok(true));
    assert!(matches!(
        p.receive(C0, LEVEL),
        Ok(Dispatch::Logged {
            sync_needed: true,
            line: LineAction::MaskUntilAck,
            ..
        })
    ));
    assert_eq!(
        replay(&mut p, a, C0),
        [Some((33, 1)), Some((34, 1)), None, None]
    );
    assert!(matches!(p.receive(C0, EDGE), Ok(Dispatch::Deliver { .. })));
}

#[test]
fn partial_replay_keeps_the_rest_first_in_line() {
    let (mut p, a, _) = setup();
    p.stall(a, C0).unwrap();
    let _ = p.receive(C0, EDGE).unwrap();
    let _ = p.receive(C0, LEVEL).unwrap();
    p.unstall(a, C0).unwrap();
    {
        let mut r = p.sync(a, C0).unwrap();
        assert_eq!(r.remaining(), 2);
        assert_eq!(
            r.next(),
            Some(Replayed {
                irq: EDGE,
                count: 1
            })
        );
    }
    assert!(matches!(p.receive(C0, EDGE), Ok(Dispatch::Logged { .. })));
    assert_eq!(
        replay(&mut p, a, C0),
        [Some((34, 1)), Some((33, 1)), None, None]
    );
}

#[test]
fn level_line_stays_masked_until_the_owner_acks() {
    let (mut p, a, b) = setup();
    p.stall(a, C0).unwrap();
    assert!(matches!(
        p.receive(C0, LEVEL),
        Ok(Dispatch::Logged {
            line: LineAction::MaskUntilAck,
            ..
        })
    ));
    assert!(p.is_masked_until_ack(LEVEL));
    // A straggler while masked: coalesced, no second mask order.
    assert!(matches!(
        p.receive(C0, LEVEL),
        Ok(Dispatch::Coalesced {
            line: LineAction::Keep,
            ..
        })
    ));
    assert_eq!(
        p.ack(b, C0, LEVEL),
        Err(Error::NotOwner {
            irq: LEVEL,
            domain: B
        })
    );
    assert_eq!(p.ack(a, C0, EDGE), Err(Error::NotMasked(EDGE)));
    p.unstall(a, C0).unwrap();
    assert_eq!(replay(&mut p, a, C0)[0], Some((34, 2)));
    assert!(p.is_masked_until_ack(LEVEL));
    assert_eq!(p.ack(a, C0, LEVEL), Ok(Unmask(LEVEL)));
    assert_eq!(p.ack(a, C0, LEVEL), Err(Error::NotMasked(LEVEL)));
    assert!(matches!(
        p.receive(C0, LEVEL),
        Ok(Dispatch::Deliver {
            line: LineAction::MaskUntilAck,
            ..
        })
    ));
}

#[test]
fn switch_to_oob_leaves_logged_events_to_the_domain_that_logged_them() {
    let (mut p, a, _) = setup();
    p.stall(a, C0).unwrap();
    let _ = p.receive(C0, LEVEL).unwrap();
    let s = p.switch_oob(C0, LEVEL, H2).unwrap();
    assert_eq!((s.line, s.retired), (LineAction::Unmask, None));
    assert!(p.is_oob(LEVEL));
    assert_eq!(p.receive(C0, LEVEL), Ok(Dispatch::RunOob { handler: H2 }));
    p.leave_oob(C0).unwrap();
    assert_eq!(
        p.ack(a, C0, LEVEL),
        Err(Error::NotOwner {
            irq: LEVEL,
            domain: A
        })
    );
    // No other domain may take the line while A still has it logged.
    assert_eq!(
        p.switch_inband(C0, LEVEL, B).map(|s| s.line),
        Err(Error::StillLogged {
            irq: LEVEL,
            domain: A
        })
    );
    p.unstall(a, C0).unwrap();
    assert_eq!(replay(&mut p, a, C0)[0], Some((34, 1)));
    let s = p.switch_inband(C0, LEVEL, B).unwrap();
    assert_eq!(s.retired.as_ref().map(RetiredHandler::handler), Some(H2));
    assert_eq!(p.reclaim(s.retired.unwrap()), Ok(H2));
    assert!(!p.is_oob(LEVEL));
}

#[test]
fn switching_back_to_the_same_domain_coalesces_with_its_log() {
    let (mut p, a, _) = setup();
    p.stall(a, C0).unwrap();
    let _ = p.receive(C0, EDGE).unwrap();
    let s = p.switch_oob(C0, EDGE, H2).unwrap();
    assert_eq!(s.retired, None);
    let s = p.switch_inband(C0, EDGE, A).unwrap();
    assert_eq!(p.reclaim(s.retired.unwrap()), Ok(H2));
    assert!(matches!(
        p.receive(C0, EDGE),
        Ok(Dispatch::Coalesced { count: 2, .. })
    ));
}

#[test]
fn release_masks_and_events_become_unhandled() {
    let (mut p, _, _) = setup();
    let s = p.release(C0, EDGE).unwrap();
    assert_eq!((s.line, s.retired), (LineAction::Mask, None));
    assert_eq!(p.receive(C0, EDGE), Ok(Dispatch::Unhandled));
    assert_eq!(p.stats(EDGE).unwrap().unhandled, 1);
    assert_eq!(p.receive(C0, Irq(99)), Ok(Dispatch::Unhandled));
    assert_eq!(p.spurious(), 1);
    p.detach(C0, EDGE).unwrap();
    assert_eq!(p.mode(EDGE), None);
    assert_eq!(p.detach(C0, LEVEL), Err(Error::StillAssigned(LEVEL)));
}

#[test]
fn in_band_operations_from_oob_context_are_refused_and_counted() {
    let (mut p, a, _) = setup();
    let _ = p.receive(C0, TIMER).unwrap(); // C0 now runs an oob handler
    assert_eq!(p.stall(a, C0), Err(Error::Reentry { cpu: C0 }));
    assert_eq!(p.sync(a, C0).err(), Some(Error::Reentry { cpu: C0 }));
    assert_eq!(
        p.switch_oob(C0, EDGE, H2).err(),
        Some(Error::Reentry { cpu: C0 })
    );
    assert_eq!(p.ack(a, C0, LEVEL), Err(Error::Reentry { cpu: C0 }));
    assert_eq!(p.alloc_synthetic(C0), Err(Error::Reentry { cpu: C0 }));
    assert_eq!(p.reentry_attempts(C0), 5);
    // Oob-safe operations still work, and the other CPU is in-band.
    assert!(matches!(p.receive(C0, EDGE), Ok(Dispatch::Deliver { .. })));
    assert_eq!(p.stall(a, C1), Ok(false));
    assert_eq!(p.reentry_attempts(C1), 0);
    p.leave_oob(C0).unwrap();
    assert_eq!(p.stall(a, C0), Ok(false));
    assert_eq!(p.leave_oob(C0), Err(Error::NotInOob(C0)));
}

#[test]
fn stale_and_forged_capabilities_are_refused() {
    let (mut p, a, _) = setup();
    let a2 = p.revoke_stall_cap(C0, A).unwrap();
    assert_eq!(a2.generation, 1);
    let stale = Err(Error::StaleCap {
        domain: A,
        presented: 0,
        current: 1,
    });
    assert_eq!(p.stall(a, C0), stale);
    assert_eq!(p.unstall(a, C0), stale);
    assert_eq!(p.sync(a, C0).err(), stale.err());
    assert_eq!(p.irq_work_run(a, C0).err(), stale.err());
    assert!(!p.is_stalled(A, C0));
    let forged = StallCap {
        domain: DomainId(7),
        generation: 0,
    };
    assert_eq!(p.stall(forged, C0), Err(Error::NoSuchDomain(DomainId(7))));
    let guessed = StallCap {
        domain: A,
        generation: 2,
    };
    assert!(matches!(p.stall(guessed, C0), Err(Error::StaleCap { .. })));
    assert_eq!(p.stall(a2, C0), Ok(false));
}

#[test]
fn a_replaced_handler_is_not_reclaimed_while_another_cpu_may_run_it() {
    let (mut p, _, _) = setup();
    assert_eq!(p.receive(C1, TIMER), Ok(Dispatch::RunOob { handler: H1 }));
    let s = p.switch_oob(C0, TIMER, H2).unwrap();
    let token = s.retired.unwrap();
    assert_eq!(token.handler(), H1);
    // New dispatches see H2 only.
    assert_eq!(p.receive(C0, TIMER), Ok(Dispatch::RunOob { handler: H2 }));
    let token = p.reclaim(token).unwrap_err();
    p.leave_oob(C0).unwrap();
    let token = p.reclaim(token).unwrap_err(); // C1 still in H1
    p.leave_oob(C1).unwrap();
    assert_eq!(p.reclaim(token), Ok(H1));
}

#[test]
fn synthetic_irqs_inject_and_post() {
    let (mut p, a, _) = setup();
    let s1 = p.alloc_synthetic(C0).unwrap();
    let s2 = p.alloc_synthetic(C0).unwrap();
    assert_eq!((s1, s2), (Irq(SYNTHETIC_BASE), Irq(SYNTHETIC_BASE + 1)));
    assert_eq!(p.trigger(s1), Some(Trigger::Edge));
    assert_eq!(p.inject(C0, s1), Ok(Dispatch::Unhandled));
    let s = p.switch_oob(C0, s1, H2).unwrap();
    assert_eq!(s.line, LineAction::Keep);
    assert_eq!(p.inject(C1, s1), Ok(Dispatch::RunOob { handler: H2 }));
    p.leave_oob(C1).unwrap();
    let _ = p.switch_inband(C0, s2, A).unwrap();
    assert_eq!(
        p.post_inband(C0, B, s2),
        Err(Error::NotOwner { irq: s2, domain: B })
    );
    // Posting logs even though A is unstalled, and asks for a sync.
    assert_eq!(
        p.post_inband(C0, A, s2),
        Ok(Dispatch::Logged {
            domain: A,
            line: LineAction::Keep,
            sync_needed: true
        })
    );
    assert!(matches!(
        p.inject(C0, s2),
        Ok(Dispatch::Coalesced { count: 2, .. })
    ));
    assert_eq!(p.free_synthetic(C0, s2), Err(Error::StillAssigned(s2)));
    let _ = p.release(C0, s2).unwrap();
    assert_eq!(
        p.free_synthetic(C0, s2),
        Err(Error::StillLogged { irq: s2, domain: A })
    );
    assert_eq!(replay(&mut p, a, C0)[0], Some((s2.0, 2)));
    p.free_synthetic(C0, s2).unwrap();
    assert_eq!(p.inject(C0, s2), Err(Error::NotAttached(s2)));
    assert_eq!(p.free_synthetic(C0, EDGE), Err(Error::WrongKind(EDGE)));
    assert_eq!(p.alloc_synthetic(C0), Ok(s2));
}

#[test]
fn synthetic_and_line_capacity_exhaustion_is_an_error() {
    let mut p = Pipeline::<1, 1, 4>::new();
    for _ in 0..4 {
        p.alloc_synthetic(C0).unwrap();
    }
    assert_eq!(p.alloc_synthetic(C0), Err(Error::NoFreeLine));
    assert_eq!(p.attach(C0, EDGE, Trigger::Edge), Err(Error::NoFreeLine));
    let mut p = Pipeline::<1, 1, 80>::new();
    for _ in 0..SYNTHETIC_IRQS {
        p.alloc_synthetic(C0).unwrap();
    }
    assert_eq!(p.alloc_synthetic(C0), Err(Error::NoFreeSynthetic));
}

#[test]
fn irq_work_coalesces_the_irq_but_runs_every_item_once() {
    let (mut p, a, _) = setup();
    let irq = p.irq_work_setup(C0, A).unwrap();
    assert_eq!(p.irq_work_setup(C0, A), Ok(irq));
    p.stall(a, C0).unwrap();
    let _ = p.receive(C1, TIMER).unwrap(); // queue from oob context on C1
    assert!(matches!(
        p.irq_work_queue(C1, A, WorkItem(1)),
        Ok(WorkQueued::Raised(Dispatch::Deliver { .. }))
    ));
    assert_eq!(
        p.irq_work_queue(C1, A, WorkItem(2)),
        Ok(WorkQueued::Coalesced)
    );
    p.leave_oob(C1).unwrap();
    assert!(matches!(
        p.irq_work_queue(C0, A, WorkItem(3)),
        Ok(WorkQueued::Raised(Dispatch::Logged { .. }))
    ));
    assert_eq!(
        p.irq_work_run(a, C1).unwrap().as_slice(),
        &[WorkItem(1), WorkItem(2)]
    );
    for i in 4..=IRQ_WORK_ITEMS as u32 + 2 {
        let _ = p.irq_work_queue(C0, A, WorkItem(i)).unwrap();
    }
    assert_eq!(
        p.irq_work_queue(C0, A, WorkItem(99)),
        Err(Error::WorkQueueFull { domain: A, cpu: C0 })
    );
    p.unstall(a, C0).unwrap();
    assert_eq!(replay(&mut p, a, C0)[0], Some((irq.0, 1)));
    let batch = p.irq_work_run(a, C0).unwrap();
    assert_eq!(batch.len(), IRQ_WORK_ITEMS);
    assert_eq!(batch[0], WorkItem(3));
    assert_eq!(
        p.irq_work_queue(C0, B, WorkItem(1)),
        Err(Error::NoIrqWork(B))
    );
}

#[test]
fn masked_time_is_accounted_from_caller_timestamps() {
    let (mut p, _, _) = setup();
    p.mask_started(LEVEL, 100).unwrap();
    p.mask_started(LEVEL, 150).unwrap(); // keeps the first
    p.mask_ended(LEVEL, 400).unwrap();
    p.mask_ended(LEVEL, 500).unwrap(); // not masked: ignored
    p.mask_started(LEVEL, 1000).unwrap();
    p.mask_ended(LEVEL, 900).unwrap(); // clock went backwards: adds 0
    assert_eq!(p.stats(LEVEL).unwrap().masked_time, 300);
    assert_eq!(p.mask_started(Irq(7), 0), Err(Error::NotAttached(Irq(7))));
}

#[test]
fn bad_numbers_are_errors_not_panics() {
    let (mut p, a, _) = setup();
    assert_eq!(p.receive(CpuId(2), EDGE), Err(Error::NoSuchCpu(CpuId(2))));
    assert_eq!(p.receive(C0, Irq(5000)), Err(Error::NoSuchIrq(Irq(5000))));
    assert_eq!(p.stall(a, CpuId(200)), Err(Error::NoSuchCpu(CpuId(200))));
    assert_eq!(
        p.switch_inband(C0, EDGE, DomainId(3)).err(),
        Some(Error::NoSuchDomain(DomainId(3)))
    );
    assert_eq!(
        p.attach(C0, EDGE, Trigger::Edge),
        Err(Error::AlreadyAttached(EDGE))
    );
    assert_eq!(
        p.attach(C0, Irq(SYNTHETIC_BASE), Trigger::Edge),
        Err(Error::WrongKind(Irq(SYNTHETIC_BASE)))
    );
    assert_eq!(p.leave_oob(CpuId(9)), Err(Error::NoSuchCpu(CpuId(9))));
    assert_eq!(p.log_len(A, CpuId(9)), 0);
    assert_eq!(p.pending(A, CpuId(9)).next(), None);
    assert_eq!(p.pending(DomainId(200), C0).next(), None);
    assert!(!p.is_stalled(DomainId(200), C0));
    assert_eq!(p.stats(Irq(u16::MAX)), None);
}

#[test]
fn the_state_fits_a_static() {
    static PIPELINE: Pipeline<2, 4, 128> = Pipeline::new();
    assert!(!PIPELINE.in_oob(C0));
    let size = core::mem::size_of::<Pipeline<2, 4, 128>>();
    // Recorded in the crate documentation; a change here is a change to review.
    assert!(size < 16 * 1024, "Pipeline<2, 4, 128> is {size} bytes");
}

#[test]
fn mirror_stall_is_allowed_in_oob_context_and_decides_the_next_event() {
    let (mut p, _, _) = setup();
    assert_eq!(p.receive(C0, TIMER), Ok(Dispatch::RunOob { handler: H1 }));
    // Inside the oob handler: the server copies A's published stall word.
    p.mirror_stall(A, C0, true).unwrap();
    assert!(p.is_stalled(A, C0));
    assert_eq!(p.reentry_attempts(C0), 0, "a mirror is no re-entry");
    assert!(matches!(
        p.receive(C0, EDGE),
        Ok(Dispatch::Logged { domain: A, .. })
    ));
    p.leave_oob(C0).unwrap();
    assert_eq!(
        p.mirror_stall(DomainId(9), C0, true),
        Err(Error::NoSuchDomain(DomainId(9)))
    );
}
