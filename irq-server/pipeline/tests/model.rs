//! Property test: random interleavings of IRQs (oob, in-band, edge, level, synthetic),
//! stalls, unstalls, syncs, acks, switches, oob context, grace periods, capabilities and
//! irq_work, on 2 CPUs and 3 domains, against a plain reference model.
//!
//! After every step the pipeline's answer must equal the model's, the whole observable
//! state must equal the model's, and invariants 1-6 are checked on their own terms (so a
//! failure names the invariant, not just "model mismatch"). At the end every log is
//! drained and every event must be accounted for exactly once.

use std::collections::{BTreeMap, VecDeque};
use std::vec::Vec;

use pipeline::{
    CpuId, Dispatch, DomainId, Error, HandlerId, Irq, IrqStats, LineAction, Mode, Pipeline,
    RetiredHandler, SYNTHETIC_BASE, SYNTHETIC_IRQS, StallCap, Trigger, Unmask, WorkItem,
    WorkQueued,
};
use proptest::prelude::*;
use proptest::test_runner::TestCaseError;

const CPUS: usize = 2;
const DOMAINS: usize = 3;
const LINES: usize = 16;
const WORK_ITEMS: usize = pipeline::IRQ_WORK_ITEMS;
type P = Pipeline<CPUS, DOMAINS, LINES>;

/// The hardware lines of the test system, all attached at setup.
const HW: [(u16, Trigger); 6] = [
    (10, Trigger::Edge),
    (11, Trigger::Edge),
    (12, Trigger::Level),
    (13, Trigger::Level),
    (14, Trigger::Edge),
    (15, Trigger::Level),
];
/// A hardware IRQ that is never attached.
const UNATTACHED: u16 = 77;

#[derive(Clone, Copy, Debug)]
enum CapSel {
    Current,
    Stale,
    Forged,
}

#[derive(Clone, Debug)]
enum Op {
    Receive {
        cpu: u8,
        irq: u8,
    },
    Inject {
        cpu: u8,
        irq: u8,
    },
    Post {
        cpu: u8,
        domain: u8,
        irq: u8,
    },
    Stall {
        cpu: u8,
        domain: u8,
        cap: CapSel,
    },
    Unstall {
        cpu: u8,
        domain: u8,
        cap: CapSel,
    },
    Sync {
        cpu: u8,
        domain: u8,
        cap: CapSel,
        take: Option<u8>,
    },
    Ack {
        cpu: u8,
        domain: u8,
        cap: CapSel,
        irq: u8,
    },
    SwitchOob {
        cpu: u8,
        irq: u8,
        handler: u16,
    },
    SwitchInband {
        cpu: u8,
        irq: u8,
        domain: u8,
    },
    Release {
        cpu: u8,
        irq: u8,
    },
    EnterOob {
        cpu: u8,
    },
    LeaveOob {
        cpu: u8,
    },
    Reclaim {
        token: u8,
    },
    Revoke {
        cpu: u8,
        domain: u8,
    },
    AllocSynthetic {
        cpu: u8,
    },
    FreeSynthetic {
        cpu: u8,
        irq: u8,
    },
    WorkQueue {
        cpu: u8,
        domain: u8,
    },
    WorkRun {
        cpu: u8,
        domain: u8,
        cap: CapSel,
    },
}

fn cap_sel() -> impl Strategy<Value = CapSel> {
    prop_oneof![8 => Just(CapSel::Current), 1 => Just(CapSel::Stale), 1 => Just(CapSel::Forged)]
}

fn op() -> impl Strategy<Value = Op> {
    let cpu = 0..CPUS as u8;
    let dom = 0..DOMAINS as u8;
    prop_oneof![
        20 => (cpu.clone(), any::<u8>()).prop_map(|(cpu, irq)| Op::Receive { cpu, irq }),
        5 => (cpu.clone(), any::<u8>()).prop_map(|(cpu, irq)| Op::Inject { cpu, irq }),
        4 => (cpu.clone(), dom.clone(), any::<u8>())
            .prop_map(|(cpu, domain, irq)| Op::Post { cpu, domain, irq }),
        9 => (cpu.clone(), dom.clone(), cap_sel())
            .prop_map(|(cpu, domain, cap)| Op::Stall { cpu, domain, cap }),
        8 => (cpu.clone(), dom.clone(), cap_sel())
            .prop_map(|(cpu, domain, cap)| Op::Unstall { cpu, domain, cap }),
        8 => (cpu.clone(), dom.clone(), cap_sel(), proptest::option::of(0u8..3))
            .prop_map(|(cpu, domain, cap, take)| Op::Sync { cpu, domain, cap, take }),
        5 => (cpu.clone(), dom.clone(), cap_sel(), any::<u8>())
            .prop_map(|(cpu, domain, cap, irq)| Op::Ack { cpu, domain, cap, irq }),
        2 => (cpu.clone(), any::<u8>(), 1u16..4)
            .prop_map(|(cpu, irq, handler)| Op::SwitchOob { cpu, irq, handler }),
        3 => (cpu.clone(), any::<u8>(), dom.clone())
            .prop_map(|(cpu, irq, domain)| Op::SwitchInband { cpu, irq, domain }),
        2 => (cpu.clone(), any::<u8>()).prop_map(|(cpu, irq)| Op::Release { cpu, irq }),
        2 => cpu.clone().prop_map(|cpu| Op::EnterOob { cpu }),
        14 => cpu.clone().prop_map(|cpu| Op::LeaveOob { cpu }),
        2 => any::<u8>().prop_map(|token| Op::Reclaim { token }),
        1 => (cpu.clone(), dom.clone()).prop_map(|(cpu, domain)| Op::Revoke { cpu, domain }),
        2 => cpu.clone().prop_map(|cpu| Op::AllocSynthetic { cpu }),
        2 => (cpu.clone(), any::<u8>()).prop_map(|(cpu, irq)| Op::FreeSynthetic { cpu, irq }),
        6 => (cpu.clone(), dom.clone()).prop_map(|(cpu, domain)| Op::WorkQueue { cpu, domain }),
        1 => (cpu, dom, cap_sel()).prop_map(|(cpu, domain, cap)| Op::WorkRun { cpu, domain, cap }),
    ]
}

// ----- the reference model ---------------------------------------------------------------

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum LineState {
    NoOwner,
    UntilAck,
    Unmasked,
}

#[derive(Clone, Copy, Debug)]
struct Line {
    mode: Mode,
    trigger: Trigger,
    state: LineState,
    stats: IrqStats,
}

/// The test's own account of each IRQ's events, from the answers the caller saw.
#[derive(Clone, Copy, Debug, Default)]
struct Ledger {
    sent: u64,
    oob: u64,
    direct: u64,
    unhandled: u64,
    replayed: u64,
}

struct Token {
    token: RetiredHandler<CPUS>,
    handler: HandlerId,
    /// CPUs inside a dispatch at retire time, with the id of that dispatch.
    readers: Vec<(usize, u64)>,
}

#[derive(Default)]
struct Model {
    lines: BTreeMap<u16, Line>,
    synthetic: Vec<u16>,
    stalled: [[bool; CPUS]; DOMAINS],
    log: [[Vec<(u16, u32)>; CPUS]; DOMAINS],
    generation: [u32; DOMAINS],
    depth: [u32; CPUS],
    /// Incremented each time a CPU enters oob context from depth 0.
    dispatch_id: [u64; CPUS],
    reentry: [u64; CPUS],
    spurious: u64,
    work_irq: [Option<u16>; DOMAINS],
    work: [[VecDeque<u32>; CPUS]; DOMAINS],
    raised: [[bool; CPUS]; DOMAINS],
    next_item: u32,
    ledger: BTreeMap<u16, Ledger>,
    queued_items: u64,
    run_items: u64,
    /// Level lines with a hardware event delivered or logged and not acked yet,
    /// tracked independently of the line state (the "no storm" check).
    awaiting_ack: std::collections::BTreeSet<u16>,
}

type R<T> = Result<T, Error>;

impl Model {
    fn inband_only(&mut self, cpu: usize) -> R<()> {
        if self.depth[cpu] > 0 {
            self.reentry[cpu] += 1;
            return Err(Error::Reentry {
                cpu: CpuId(cpu as u8),
            });
        }
        Ok(())
    }

    fn cap(&self, sel: CapSel, domain: usize) -> StallCap {
        let g = self.generation[domain];
        match sel {
            CapSel::Current => StallCap {
                domain: DomainId(domain as u8),
                generation: g,
            },
            CapSel::Stale => StallCap {
                domain: DomainId(domain as u8),
                generation: if g > 0 { g - 1 } else { g + 1 },
            },
            CapSel::Forged => StallCap {
                domain: DomainId(DOMAINS as u8 + domain as u8),
                generation: 0,
            },
        }
    }

    fn check_cap(&self, cap: StallCap) -> R<usize> {
        let d = usize::from(cap.domain.0);
        if d >= DOMAINS {
            return Err(Error::NoSuchDomain(cap.domain));
        }
        if cap.generation != self.generation[d] {
            return Err(Error::StaleCap {
                domain: cap.domain,
                presented: cap.generation,
                current: self.generation[d],
            });
        }
        Ok(d)
    }

    fn line(&self, irq: u16) -> R<Line> {
        self.lines
            .get(&irq)
            .copied()
            .ok_or(Error::NotAttached(Irq(irq)))
    }

    fn line_mut(&mut self, irq: u16) -> &mut Line {
        self.lines.get_mut(&irq).unwrap()
    }

    fn logged_for(&self, irq: u16) -> Option<usize> {
        (0..DOMAINS).find(|&d| (0..CPUS).any(|c| self.log[d][c].iter().any(|e| e.0 == irq)))
    }

    fn enter(&mut self, cpu: usize) {
        if self.depth[cpu] == 0 {
            self.dispatch_id[cpu] += 1;
        }
        self.depth[cpu] += 1;
    }

    fn log_event(&mut self, d: usize, cpu: usize, irq: u16, action: LineAction) -> Dispatch {
        let sync_needed = !self.stalled[d][cpu];
        let domain = DomainId(d as u8);
        if let Some(e) = self.log[d][cpu].iter_mut().find(|e| e.0 == irq) {
            e.1 += 1;
            let count = e.1;
            self.line_mut(irq).stats.coalesced += 1;
            Dispatch::Coalesced {
                domain,
                count,
                line: action,
                sync_needed,
            }
        } else {
            self.log[d][cpu].push((irq, 1));
            self.line_mut(irq).stats.logged += 1;
            Dispatch::Logged {
                domain,
                line: action,
                sync_needed,
            }
        }
    }

    fn receive(&mut self, cpu: usize, irq: u16) -> R<Dispatch> {
        let Some(line) = self.lines.get(&irq).copied() else {
            self.spurious += 1;
            return Ok(Dispatch::Unhandled);
        };
        self.line_mut(irq).stats.received += 1;
        match line.mode {
            Mode::Oob { handler } => {
                self.enter(cpu);
                self.line_mut(irq).stats.oob_handled += 1;
                Ok(Dispatch::RunOob { handler })
            }
            Mode::Unassigned => {
                self.line_mut(irq).stats.unhandled += 1;
                Ok(Dispatch::Unhandled)
            }
            Mode::InBand { domain } => {
                let d = usize::from(domain.0);
                let action = if line.trigger == Trigger::Level && line.state == LineState::Unmasked
                {
                    self.line_mut(irq).state = LineState::UntilAck;
                    LineAction::MaskUntilAck
                } else {
                    LineAction::Keep
                };
                if !self.stalled[d][cpu] && self.log[d][cpu].is_empty() {
                    self.line_mut(irq).stats.delivered += 1;
                    Ok(Dispatch::Deliver {
                        domain,
                        irq: Irq(irq),
                        count: 1,
                        line: action,
                    })
                } else {
                    Ok(self.log_event(d, cpu, irq, action))
                }
            }
        }
    }

    fn switch_action(&mut self, irq: u16, new: Mode) -> (LineAction, Option<HandlerId>) {
        let line = self.line(irq).unwrap();
        let retired = match line.mode {
            Mode::Oob { handler } if line.mode != new => Some(handler),
            _ => None,
        };
        let synthetic = Irq(irq).is_synthetic();
        let (state, action) = match (new, line.state) {
            (_, LineState::Unmasked) if new != Mode::Unassigned => {
                (LineState::Unmasked, LineAction::Keep)
            }
            (Mode::Oob { .. }, _) => (LineState::Unmasked, LineAction::Unmask),
            (Mode::InBand { .. }, LineState::UntilAck) if line.mode == new => {
                (LineState::UntilAck, LineAction::Keep)
            }
            (Mode::InBand { .. }, _) => (LineState::Unmasked, LineAction::Unmask),
            (Mode::Unassigned, LineState::Unmasked) => (LineState::NoOwner, LineAction::Mask),
            (Mode::Unassigned, _) => (LineState::NoOwner, LineAction::Keep),
        };
        let l = self.line_mut(irq);
        l.mode = new;
        if synthetic {
            return (LineAction::Keep, retired);
        }
        l.state = state;
        (action, retired)
    }

    fn first_free_synthetic(&self) -> Option<u16> {
        (SYNTHETIC_BASE..SYNTHETIC_BASE + SYNTHETIC_IRQS).find(|n| !self.synthetic.contains(n))
    }
}

// ----- the harness -----------------------------------------------------------------------

struct Harness {
    p: P,
    m: Model,
    tokens: Vec<Token>,
    /// First difference between the pipeline's answer and the model's in this step;
    /// reported after the invariant checks, so that a failure names the invariant.
    mismatch: Option<String>,
}

/// Records a difference between the pipeline's answer and the model's.
macro_rules! model_eq {
    ($h:expr, $got:expr, $expect:expr, $($fmt:tt)+) => {{
        let (got, expect) = (&$got, &$expect);
        if got != expect && $h.mismatch.is_none() {
            $h.mismatch = Some(format!(
                "model mismatch: {}: pipeline answered {:?}, model {:?}",
                format!($($fmt)+),
                got,
                expect
            ));
        }
    }};
}

fn c(cpu: usize) -> CpuId {
    CpuId(cpu as u8)
}

impl Harness {
    fn new() -> Self {
        let mut h = Harness {
            p: P::new(),
            m: Model::default(),
            tokens: Vec::new(),
            mismatch: None,
        };
        let initial = [
            Mode::InBand {
                domain: DomainId(0),
            },
            Mode::InBand {
                domain: DomainId(1),
            },
            Mode::InBand {
                domain: DomainId(0),
            },
            Mode::Oob {
                handler: HandlerId(1),
            },
            Mode::InBand {
                domain: DomainId(2),
            },
            Mode::InBand {
                domain: DomainId(1),
            },
        ];
        for ((irq, trigger), mode) in HW.into_iter().zip(initial) {
            h.p.attach(c(0), Irq(irq), trigger).unwrap();
            let s = match mode {
                Mode::Oob { handler } => h.p.switch_oob(c(0), Irq(irq), handler).unwrap(),
                Mode::InBand { domain } => h.p.switch_inband(c(0), Irq(irq), domain).unwrap(),
                Mode::Unassigned => unreachable!(),
            };
            assert_eq!((s.line, s.retired), (LineAction::Unmask, None));
            h.m.lines.insert(
                irq,
                Line {
                    mode,
                    trigger,
                    state: LineState::Unmasked,
                    stats: IrqStats::default(),
                },
            );
        }
        // irq_work for domains 0 and 1.
        for d in 0..2 {
            let irq = h.p.irq_work_setup(c(0), DomainId(d as u8)).unwrap();
            assert_eq!(Some(irq.0), h.m.first_free_synthetic());
            h.m.synthetic.push(irq.0);
            h.m.work_irq[d] = Some(irq.0);
            h.m.lines.insert(
                irq.0,
                Line {
                    mode: Mode::InBand {
                        domain: DomainId(d as u8),
                    },
                    trigger: Trigger::Edge,
                    state: LineState::Unmasked,
                    stats: IrqStats::default(),
                },
            );
        }
        h
    }

    /// The IRQ numbers ops choose from: the hardware lines, an unattached hardware IRQ,
    /// the allocated synthetic IRQs and the next free synthetic number.
    fn universe(&self) -> Vec<u16> {
        let mut u: Vec<u16> = HW.iter().map(|h| h.0).collect();
        u.push(UNATTACHED);
        let mut s = self.m.synthetic.clone();
        s.sort_unstable();
        u.extend(s);
        u.extend(self.m.first_free_synthetic());
        u
    }

    fn pick(&self, sel: u8) -> u16 {
        let u = self.universe();
        u[usize::from(sel) % u.len()]
    }

    fn account(&mut self, irq: u16, d: &R<Dispatch>) {
        let l = self.m.ledger.entry(irq).or_default();
        match d {
            Ok(Dispatch::RunOob { .. }) => {
                l.sent += 1;
                l.oob += 1;
            }
            Ok(Dispatch::Deliver { count, .. }) => {
                l.sent += 1;
                l.direct += u64::from(*count);
            }
            Ok(Dispatch::Logged { .. } | Dispatch::Coalesced { .. }) => l.sent += 1,
            Ok(Dispatch::Unhandled) => {
                l.sent += 1;
                l.unhandled += 1;
            }
            Err(_) => {}
        }
    }

    /// Invariants 1, 2 and 4 on one dispatch answer, against the state before the event.
    fn check_dispatch(
        pre_mode: Option<Mode>,
        pre_stalled: &[[bool; CPUS]; DOMAINS],
        pre_log_empty: &[[bool; CPUS]; DOMAINS],
        cpu: usize,
        d: &R<Dispatch>,
    ) -> Result<(), TestCaseError> {
        if let Some(Mode::Oob { handler }) = pre_mode {
            prop_assert_eq!(
                d,
                &Ok(Dispatch::RunOob { handler }),
                "invariant 1: oob handler runs at once"
            );
        }
        if let Ok(Dispatch::Deliver { domain, .. }) = d {
            let dd = usize::from(domain.0);
            prop_assert!(
                !pre_stalled[dd][cpu],
                "invariant 2: delivered to a stalled domain"
            );
            prop_assert!(
                pre_log_empty[dd][cpu],
                "invariant 4: delivery overtook logged events"
            );
        }
        Ok(())
    }

    fn step(&mut self, op: &Op) -> Result<(), TestCaseError> {
        let pre_stalled = self.m.stalled;
        let mut pre_log_empty = [[true; CPUS]; DOMAINS];
        for (d, row) in pre_log_empty.iter_mut().enumerate() {
            for (cpu, e) in row.iter_mut().enumerate() {
                *e = self.m.log[d][cpu].is_empty();
            }
        }
        let pre_depth = self.m.depth;
        let pre_reentry = self.m.reentry;
        // The answer of a capability-taking operation (invariant 6).
        let mut cap_result: Option<R<()>> = None;
        match *op {
            Op::Receive { cpu, irq } | Op::Inject { cpu, irq } => {
                let cpu = usize::from(cpu);
                let irq = self.pick(irq);
                let pre_mode = self.m.lines.get(&irq).map(|l| l.mode);
                let inject = matches!(op, Op::Inject { .. });
                let expect = if inject && !self.m.lines.contains_key(&irq) {
                    Err(Error::NotAttached(Irq(irq)))
                } else {
                    self.m.receive(cpu, irq)
                };
                let got = if inject {
                    self.p.inject(c(cpu), Irq(irq))
                } else {
                    self.p.receive(c(cpu), Irq(irq))
                };
                model_eq!(self, got, expect, "{:?} irq {}", op, irq);
                Self::check_dispatch(pre_mode, &pre_stalled, &pre_log_empty, cpu, &got)?;
                self.account(irq, &got);
                if let Ok(
                    Dispatch::Deliver { .. } | Dispatch::Logged { .. } | Dispatch::Coalesced { .. },
                ) = got
                    && self
                        .m
                        .lines
                        .get(&irq)
                        .is_some_and(|l| l.trigger == Trigger::Level)
                {
                    self.m.awaiting_ack.insert(irq);
                }
            }
            Op::Post { cpu, domain, irq } => {
                let (cpu, d) = (usize::from(cpu), usize::from(domain));
                let irq = self.pick(irq);
                let expect = match self.m.line(irq) {
                    Err(e) => Err(e),
                    Ok(l)
                        if l.mode
                            != (Mode::InBand {
                                domain: DomainId(domain),
                            }) =>
                    {
                        Err(Error::NotOwner {
                            irq: Irq(irq),
                            domain: DomainId(domain),
                        })
                    }
                    Ok(_) => {
                        self.m.line_mut(irq).stats.received += 1;
                        Ok(self.m.log_event(d, cpu, irq, LineAction::Keep))
                    }
                };
                let got = self.p.post_inband(c(cpu), DomainId(domain), Irq(irq));
                model_eq!(self, got, expect, "{:?} irq {}", op, irq);
                self.account(irq, &got);
            }
            Op::Stall { cpu, domain, cap } | Op::Unstall { cpu, domain, cap } => {
                let (cpu, d) = (usize::from(cpu), usize::from(domain));
                let stall = matches!(op, Op::Stall { .. });
                let cap = self.m.cap(cap, d);
                let expect = self
                    .m
                    .inband_only(cpu)
                    .and_then(|()| self.m.check_cap(cap))
                    .map(|d| {
                        if stall {
                            std::mem::replace(&mut self.m.stalled[d][cpu], true)
                        } else {
                            self.m.stalled[d][cpu] = false;
                            !self.m.log[d][cpu].is_empty()
                        }
                    });
                let got = if stall {
                    self.p.stall(cap, c(cpu))
                } else {
                    self.p.unstall(cap, c(cpu))
                };
                cap_result = Some(got.map(|_| ()));
                model_eq!(self, got, expect, "{:?}", op);
            }
            Op::Sync {
                cpu,
                domain,
                cap,
                take,
            } => {
                let (cpu, d) = (usize::from(cpu), usize::from(domain));
                let cap = self.m.cap(cap, d);
                let expect = self
                    .m
                    .inband_only(cpu)
                    .and_then(|()| self.m.check_cap(cap))
                    .and_then(|d| {
                        if self.m.stalled[d][cpu] {
                            return Err(Error::Stalled {
                                domain: cap.domain,
                                cpu: c(cpu),
                            });
                        }
                        let log = &mut self.m.log[d][cpu];
                        let n = take.map_or(log.len(), |t| usize::from(t).min(log.len()));
                        Ok(log.drain(..n).collect::<Vec<_>>())
                    });
                let got = self.p.sync(cap, c(cpu)).map(|r| {
                    let n = take.map_or(usize::MAX, usize::from);
                    r.take(n).map(|e| (e.irq.0, e.count)).collect::<Vec<_>>()
                });
                cap_result = Some(got.as_ref().map(|_| ()).map_err(|e| *e));
                model_eq!(
                    self,
                    got,
                    expect,
                    "{:?}: replay order/content (invariant 4)",
                    op
                );
                if let Ok(entries) = &got {
                    prop_assert!(
                        entries.is_empty() || !pre_stalled[d][cpu],
                        "invariant 2: replayed to a stalled domain"
                    );
                    for &(irq, count) in entries {
                        self.m.line_mut(irq).stats.replayed += u64::from(count);
                        self.m.ledger.entry(irq).or_default().replayed += u64::from(count);
                    }
                }
            }
            Op::Ack {
                cpu,
                domain,
                cap,
                irq,
            } => {
                let (cpu, d) = (usize::from(cpu), usize::from(domain));
                let irq = self.pick(irq);
                let cap = self.m.cap(cap, d);
                let expect = self
                    .m
                    .inband_only(cpu)
                    .and_then(|()| self.m.check_cap(cap))
                    .and_then(|_| {
                        if !Irq(irq).is_valid() {
                            return Err(Error::NoSuchIrq(Irq(irq)));
                        }
                        let line = self.m.line(irq)?;
                        if line.mode != (Mode::InBand { domain: cap.domain }) {
                            return Err(Error::NotOwner {
                                irq: Irq(irq),
                                domain: cap.domain,
                            });
                        }
                        if line.state != LineState::UntilAck {
                            return Err(Error::NotMasked(Irq(irq)));
                        }
                        self.m.line_mut(irq).state = LineState::Unmasked;
                        Ok(Unmask(Irq(irq)))
                    });
                let got = self.p.ack(cap, c(cpu), Irq(irq));
                cap_result = Some(got.map(|_| ()));
                model_eq!(self, got, expect, "{:?} irq {}", op, irq);
                if got.is_ok() {
                    self.m.awaiting_ack.remove(&irq);
                }
            }
            Op::SwitchOob { cpu, irq, .. }
            | Op::SwitchInband { cpu, irq, .. }
            | Op::Release { cpu, irq } => {
                let cpu = usize::from(cpu);
                let irq = self.pick(irq);
                let pre_mode_of_switch = self.m.lines.get(&irq).map(|l| l.mode);
                let new = match *op {
                    Op::SwitchOob { handler, .. } => Mode::Oob {
                        handler: HandlerId(handler),
                    },
                    Op::SwitchInband { domain, .. } => Mode::InBand {
                        domain: DomainId(domain),
                    },
                    _ => Mode::Unassigned,
                };
                let expect = self.m.inband_only(cpu).and_then(|()| {
                    self.m.line(irq)?;
                    if let Mode::InBand { domain } = new
                        && let Some(other) = self.m.logged_for(irq)
                        && other != usize::from(domain.0)
                    {
                        return Err(Error::StillLogged {
                            irq: Irq(irq),
                            domain: DomainId(other as u8),
                        });
                    }
                    Ok(self.m.switch_action(irq, new))
                });
                let got = match new {
                    Mode::Oob { handler } => self.p.switch_oob(c(cpu), Irq(irq), handler),
                    Mode::InBand { domain } => self.p.switch_inband(c(cpu), Irq(irq), domain),
                    Mode::Unassigned => self.p.release(c(cpu), Irq(irq)),
                };
                let got = got.map(|s| {
                    let summary = (s.line, s.retired.as_ref().map(RetiredHandler::handler));
                    if let Some(token) = s.retired {
                        let readers = (0..CPUS)
                            .filter(|&k| self.m.depth[k] > 0)
                            .map(|k| (k, self.m.dispatch_id[k]))
                            .collect();
                        let handler = token.handler();
                        self.tokens.push(Token {
                            token,
                            handler,
                            readers,
                        });
                    }
                    summary
                });
                model_eq!(self, got, expect, "{:?} irq {}", op, irq);
                // Only a switch back to the same in-band owner keeps waiting for its ack.
                if got.is_ok() && self.m.lines.get(&irq).map(|l| l.mode) != pre_mode_of_switch {
                    self.m.awaiting_ack.remove(&irq);
                }
            }
            Op::EnterOob { cpu } => {
                let cpu = usize::from(cpu);
                self.m.enter(cpu);
                prop_assert_eq!(self.p.enter_oob(c(cpu)), Ok(()));
            }
            Op::LeaveOob { cpu } => {
                let cpu = usize::from(cpu);
                let expect = if self.m.depth[cpu] == 0 {
                    Err(Error::NotInOob(c(cpu)))
                } else {
                    self.m.depth[cpu] -= 1;
                    Ok(())
                };
                model_eq!(self, self.p.leave_oob(c(cpu)), expect, "{:?}", op);
            }
            Op::Reclaim { token } => {
                if !self.tokens.is_empty() {
                    let i = usize::from(token) % self.tokens.len();
                    let t = self.tokens.swap_remove(i);
                    let still_reading = t
                        .readers
                        .iter()
                        .any(|&(k, id)| self.m.depth[k] > 0 && self.m.dispatch_id[k] == id);
                    match self.p.reclaim(t.token) {
                        Ok(h) => {
                            prop_assert_eq!(h, t.handler);
                            prop_assert!(
                                !still_reading,
                                "grace period: {:?} reclaimed while a CPU may still run it",
                                h
                            );
                        }
                        Err(token) => {
                            prop_assert!(
                                still_reading,
                                "grace period: reclaim refused with all CPUs quiescent"
                            );
                            self.tokens.push(Token {
                                token,
                                handler: t.handler,
                                readers: t.readers,
                            });
                        }
                    }
                }
            }
            Op::Revoke { cpu, domain } => {
                let (cpu, d) = (usize::from(cpu), usize::from(domain));
                let expect = self.m.inband_only(cpu).map(|()| {
                    self.m.generation[d] += 1;
                    StallCap {
                        domain: DomainId(domain),
                        generation: self.m.generation[d],
                    }
                });
                model_eq!(
                    self,
                    self.p.revoke_stall_cap(c(cpu), DomainId(domain)),
                    expect,
                    "{:?}",
                    op
                );
            }
            Op::AllocSynthetic { cpu } => {
                let cpu = usize::from(cpu);
                let expect = self.m.inband_only(cpu).and_then(|()| {
                    let irq = self
                        .m
                        .first_free_synthetic()
                        .ok_or(Error::NoFreeSynthetic)?;
                    if self.m.lines.len() >= LINES {
                        return Err(Error::NoFreeLine);
                    }
                    self.m.synthetic.push(irq);
                    self.m.lines.insert(
                        irq,
                        Line {
                            mode: Mode::Unassigned,
                            trigger: Trigger::Edge,
                            state: LineState::Unmasked,
                            stats: IrqStats::default(),
                        },
                    );
                    Ok(Irq(irq))
                });
                model_eq!(self, self.p.alloc_synthetic(c(cpu)), expect, "{:?}", op);
            }
            Op::FreeSynthetic { cpu, irq } => {
                let cpu = usize::from(cpu);
                let irq = self.pick(irq);
                let expect = self.m.inband_only(cpu).and_then(|()| {
                    if !Irq(irq).is_synthetic() {
                        return Err(Error::WrongKind(Irq(irq)));
                    }
                    let line = self.m.line(irq)?;
                    if line.mode != Mode::Unassigned {
                        return Err(Error::StillAssigned(Irq(irq)));
                    }
                    if let Some(d) = self.m.logged_for(irq) {
                        return Err(Error::StillLogged {
                            irq: Irq(irq),
                            domain: DomainId(d as u8),
                        });
                    }
                    Ok(())
                });
                let got = self.p.free_synthetic(c(cpu), Irq(irq));
                model_eq!(self, got, expect, "{:?} irq {}", op, irq);
                if got.is_ok() {
                    // Its events are all settled: check, then forget (stats go with it).
                    let l = self.m.ledger.remove(&irq).unwrap_or_default();
                    prop_assert_eq!(
                        l.sent,
                        l.oob + l.direct + l.unhandled + l.replayed,
                        "invariant 3 on free"
                    );
                    self.m.lines.remove(&irq);
                    self.m.synthetic.retain(|&s| s != irq);
                    for w in &mut self.m.work_irq {
                        if *w == Some(irq) {
                            *w = None;
                        }
                    }
                }
            }
            Op::WorkQueue { cpu, domain } => {
                let (cpu, d) = (usize::from(cpu), usize::from(domain));
                let item = self.m.next_item;
                self.m.next_item += 1;
                let mut work_event = None;
                let expect = (|| {
                    let irq = self.m.work_irq[d].ok_or(Error::NoIrqWork(DomainId(domain)))?;
                    let line = self.m.line(irq)?;
                    if line.mode
                        != (Mode::InBand {
                            domain: DomainId(domain),
                        })
                    {
                        return Err(Error::NotOwner {
                            irq: Irq(irq),
                            domain: DomainId(domain),
                        });
                    }
                    if self.m.work[d][cpu].len() == WORK_ITEMS {
                        return Err(Error::WorkQueueFull {
                            domain: DomainId(domain),
                            cpu: c(cpu),
                        });
                    }
                    self.m.work[d][cpu].push_back(item);
                    self.m.queued_items += 1;
                    if self.m.raised[d][cpu] {
                        return Ok(WorkQueued::Coalesced);
                    }
                    self.m.raised[d][cpu] = true;
                    work_event = Some(irq);
                    Ok(WorkQueued::Raised(self.m.receive(cpu, irq)?))
                })();
                let got = self
                    .p
                    .irq_work_queue(c(cpu), DomainId(domain), WorkItem(item));
                model_eq!(self, got, expect, "{:?}", op);
                if let (Some(irq), Ok(WorkQueued::Raised(d))) = (work_event, &got) {
                    Self::check_dispatch(None, &pre_stalled, &pre_log_empty, cpu, &Ok(*d))?;
                    self.account(irq, &Ok(*d));
                }
            }
            Op::WorkRun { cpu, domain, cap } => {
                let (cpu, d) = (usize::from(cpu), usize::from(domain));
                let cap = self.m.cap(cap, d);
                let expect = self
                    .m
                    .inband_only(cpu)
                    .and_then(|()| self.m.check_cap(cap))
                    .map(|d| {
                        self.m.raised[d][cpu] = false;
                        let items: Vec<u32> = self.m.work[d][cpu].drain(..).collect();
                        self.m.run_items += items.len() as u64;
                        items
                    });
                let got = self
                    .p
                    .irq_work_run(cap, c(cpu))
                    .map(|b| b.iter().map(|w| w.0).collect::<Vec<_>>());
                cap_result = Some(got.as_ref().map(|_| ()).map_err(|e| *e));
                model_eq!(self, got, expect, "{:?}", op);
            }
        }

        // Invariant 5: an in-band-only operation from oob context is refused and counted.
        let inband_only_cpu = match *op {
            Op::Stall { cpu, .. }
            | Op::Unstall { cpu, .. }
            | Op::Sync { cpu, .. }
            | Op::Ack { cpu, .. }
            | Op::SwitchOob { cpu, .. }
            | Op::SwitchInband { cpu, .. }
            | Op::Release { cpu, .. }
            | Op::Revoke { cpu, .. }
            | Op::AllocSynthetic { cpu }
            | Op::FreeSynthetic { cpu, .. }
            | Op::WorkRun { cpu, .. } => Some(usize::from(cpu)),
            _ => None,
        };
        if let Some(cpu) = inband_only_cpu
            && pre_depth[cpu] > 0
        {
            prop_assert_eq!(
                self.p.reentry_attempts(c(cpu)),
                pre_reentry[cpu] + 1,
                "invariant 5: re-entry not refused and counted"
            );
        }
        // Invariant 6: a stale or forged capability is refused and changes no flag.
        if let Op::Stall { cap, .. }
        | Op::Unstall { cap, .. }
        | Op::Sync { cap, .. }
        | Op::Ack { cap, .. }
        | Op::WorkRun { cap, .. } = *op
            && matches!(cap, CapSel::Stale | CapSel::Forged)
        {
            prop_assert!(
                matches!(
                    cap_result,
                    Some(Err(Error::StaleCap { .. }
                        | Error::NoSuchDomain(_)
                        | Error::Reentry { .. }))
                ),
                "invariant 6: {:?} was answered {:?}",
                op,
                cap_result
            );
        }
        if let Op::Stall {
            cap: CapSel::Stale | CapSel::Forged,
            ..
        }
        | Op::Unstall {
            cap: CapSel::Stale | CapSel::Forged,
            ..
        } = op
        {
            for (d, row) in pre_stalled.iter().enumerate() {
                for (cpu, &was) in row.iter().enumerate() {
                    prop_assert_eq!(
                        self.p.is_stalled(DomainId(d as u8), c(cpu)),
                        was,
                        "invariant 6: a stale/forged capability changed a stall flag"
                    );
                }
            }
        }
        self.check_state()?;
        match self.mismatch.take() {
            Some(m) => Err(TestCaseError::fail(m)),
            None => Ok(()),
        }
    }

    /// Events of `irq` waiting in the pipeline's logs, as the pipeline shows them.
    fn pipeline_pending(&self, irq: u16) -> u64 {
        let mut n = 0;
        for d in 0..DOMAINS {
            for cpu in 0..CPUS {
                n += self
                    .p
                    .pending(DomainId(d as u8), c(cpu))
                    .filter(|e| e.irq.0 == irq)
                    .map(|e| u64::from(e.count))
                    .sum::<u64>();
            }
        }
        n
    }

    /// Invariant 3 and the no-storm rule on the pipeline's own state, then: the whole
    /// observable state equals the model's.
    fn check_state(&self) -> Result<(), TestCaseError> {
        for irq in self.universe() {
            let waiting = self.pipeline_pending(irq);
            if let Some(s) = self.p.stats(Irq(irq)) {
                prop_assert_eq!(
                    s.received,
                    s.oob_handled + s.delivered + s.logged + s.coalesced + s.unhandled,
                    "invariant 3: received events of {} do not balance",
                    irq
                );
                prop_assert_eq!(
                    s.logged + s.coalesced,
                    s.replayed + waiting,
                    "invariant 3: logged events of {} do not balance with the logs",
                    irq
                );
            }
            let l = self.m.ledger.get(&irq).copied().unwrap_or_default();
            prop_assert_eq!(
                l.sent,
                l.oob + l.direct + l.unhandled + l.replayed + waiting,
                "invariant 3: an event of {} was lost or duplicated",
                irq
            );
            // No storm: a level line with a hardware event delivered or logged stays masked
            // until its owner acks.
            if self.m.awaiting_ack.contains(&irq) {
                prop_assert!(
                    self.p.is_masked_until_ack(Irq(irq)),
                    "level line {} unmasked before the owner acked",
                    irq
                );
            }
        }
        for d in 0..DOMAINS {
            for cpu in 0..CPUS {
                let dom = DomainId(d as u8);
                prop_assert_eq!(
                    self.p.is_stalled(dom, c(cpu)),
                    self.m.stalled[d][cpu],
                    "model mismatch: stall flag {} {}",
                    d,
                    cpu
                );
                let log: Vec<(u16, u32)> = self
                    .p
                    .pending(dom, c(cpu))
                    .map(|e| (e.irq.0, e.count))
                    .collect();
                prop_assert_eq!(
                    &log,
                    &self.m.log[d][cpu],
                    "invariant 4 / model: log of domain {} on CPU {} (contents, arrival order)",
                    d,
                    cpu
                );
                prop_assert_eq!(self.p.log_len(dom, c(cpu)), log.len());
            }
        }
        for cpu in 0..CPUS {
            prop_assert_eq!(self.p.in_oob(c(cpu)), self.m.depth[cpu] > 0);
            prop_assert_eq!(self.p.reentry_attempts(c(cpu)), self.m.reentry[cpu]);
        }
        prop_assert_eq!(self.p.spurious(), self.m.spurious);
        for irq in self.universe() {
            let line = self.m.lines.get(&irq);
            prop_assert_eq!(
                self.p.mode(Irq(irq)),
                line.map(|l| l.mode),
                "model mismatch: mode of {}",
                irq
            );
            prop_assert_eq!(
                self.p.is_oob(Irq(irq)),
                matches!(line.map(|l| l.mode), Some(Mode::Oob { .. }))
            );
            prop_assert_eq!(
                self.p.is_masked_until_ack(Irq(irq)),
                line.is_some_and(|l| l.state == LineState::UntilAck),
                "model mismatch: masked-until-ack state of {}",
                irq
            );
            prop_assert_eq!(
                self.p.stats(Irq(irq)),
                line.map(|l| l.stats),
                "model mismatch: stats of {}",
                irq
            );
        }
        Ok(())
    }

    /// Leaves oob context everywhere, unstalls and syncs every domain on every CPU, runs
    /// all irq_work and reclaims every retired handler: everything must be accounted for.
    fn finish(&mut self) -> Result<(), TestCaseError> {
        for cpu in 0..CPUS {
            while self.m.depth[cpu] > 0 {
                self.step(&Op::LeaveOob { cpu: cpu as u8 })?;
            }
        }
        for d in 0..DOMAINS {
            for cpu in 0..CPUS {
                let (cpu, domain) = (cpu as u8, d as u8);
                self.step(&Op::Unstall {
                    cpu,
                    domain,
                    cap: CapSel::Current,
                })?;
                self.step(&Op::Sync {
                    cpu,
                    domain,
                    cap: CapSel::Current,
                    take: None,
                })?;
                self.step(&Op::WorkRun {
                    cpu,
                    domain,
                    cap: CapSel::Current,
                })?;
                prop_assert!(self.m.log[d][usize::from(cpu)].is_empty());
            }
        }
        prop_assert_eq!(
            self.m.queued_items,
            self.m.run_items,
            "an irq_work item was lost"
        );
        for (irq, l) in &self.m.ledger {
            prop_assert_eq!(
                l.sent,
                l.oob + l.direct + l.unhandled + l.replayed,
                "invariant 3: IRQ {}",
                irq
            );
        }
        for t in self.tokens.drain(..) {
            prop_assert_eq!(
                self.p.reclaim(t.token),
                Ok(t.handler),
                "grace period never ends"
            );
        }
        Ok(())
    }
}

/// `PROPTEST_CASES` when set (`cargo xtask test --deep`), else `default`: an explicit
/// `cases` in a config would otherwise override the environment.
fn cases_from_env(default: u32) -> u32 {
    std::env::var("PROPTEST_CASES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

proptest! {
    #![proptest_config(ProptestConfig {
        cases: cases_from_env(600),
        failure_persistence: None,
        ..ProptestConfig::default()
    })]

    #[test]
    fn pipeline_matches_model_and_keeps_invariants(ops in proptest::collection::vec(op(), 1..160)) {
        let mut h = Harness::new();
        h.check_state()?;
        for op in &ops {
            h.step(op)?;
        }
        h.finish()?;
    }
}
