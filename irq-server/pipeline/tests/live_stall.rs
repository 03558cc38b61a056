//! `Pipeline::receive_with_stall`: the decision reads the owner's live stall flag for an
//! in-band line (and mirrors it), and reads none for an oob line.

use pipeline::{CpuId, Dispatch, DomainId, HandlerId, Irq, LineAction, Pipeline, Trigger};

type P = Pipeline<2, 2, 8>;
const C0: CpuId = CpuId(0);
const D0: DomainId = DomainId(0);
const LINE: Irq = Irq(30);

fn inband() -> P {
    let mut p = P::new();
    p.attach(C0, LINE, Trigger::Edge).unwrap();
    let _ = p.switch_inband(C0, LINE, D0).unwrap();
    p
}

#[test]
fn an_inband_decision_takes_the_live_flag_and_mirrors_it() {
    let mut p = inband();
    // The mirror says unstalled; the domain's word says stalled: the event is logged.
    let mut asked = None;
    let dispatch = p.receive_with_stall(C0, LINE, |domain| {
        asked = Some(domain);
        Some(true)
    });
    assert_eq!(asked, Some(D0));
    assert!(
        matches!(dispatch, Ok(Dispatch::Logged { domain: D0, .. })),
        "{dispatch:?}"
    );
    assert!(p.is_stalled(D0, C0), "the live flag is mirrored");
}

#[test]
fn no_live_flag_keeps_the_mirrored_one() {
    let mut p = inband();
    let dispatch = p.receive_with_stall(C0, LINE, |_| None);
    assert_eq!(
        dispatch,
        Ok(Dispatch::Deliver {
            domain: D0,
            irq: LINE,
            count: 1,
            line: LineAction::Keep,
        })
    );
    p.mirror_stall(D0, C0, true).unwrap();
    let dispatch = p.receive_with_stall(C0, LINE, |_| None);
    assert!(
        matches!(dispatch, Ok(Dispatch::Logged { .. })),
        "{dispatch:?}"
    );
}

#[test]
fn an_oob_decision_reads_no_stall_flag() {
    let mut p = P::new();
    p.attach(C0, LINE, Trigger::Level).unwrap();
    let _ = p.switch_oob(C0, LINE, HandlerId(0)).unwrap();
    let dispatch = p.receive_with_stall(C0, LINE, |_| panic!("read a stall word for an oob line"));
    assert_eq!(
        dispatch,
        Ok(Dispatch::RunOob {
            handler: HandlerId(0)
        })
    );
}
