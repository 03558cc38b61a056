//! The interrupt pipeline, model-checked: the real [`Pipeline`] on 2 CPUs with 3 in-band
//! domains and 4 lines, driven by every interleaving of hardware IRQs, injections, posts,
//! stalls, unstalls, syncs, acks, mode switches, oob handler returns, capability
//! revocations, forged capabilities, re-entry attempts and grace-period reclaims.
//!
//! # The system
//!
//! | line | IRQ | trigger | starts as |
//! |---|---|---|---|
//! | 0 | 10 (hardware) | edge | oob, handler 1 |
//! | 1 | 11 (hardware) | level | in-band, domain 0 |
//! | 2 | 12 (hardware) | edge | in-band, domain 1 |
//! | 3 | 1024 (synthetic) | edge | in-band, domain 0 |
//! | 4 | 1025 (synthetic) | edge | in-band, domain 2 |
//!
//! Domain 0 owns two lines (so its log orders entries of different lines), domain 1 a
//! hardware edge line, domain 2 a synthetic one. A switch gives a line to the next
//! domain (`(owner + 1) % 3`; a line with no in-band owner goes back to its first owner,
//! line 0 to domain 0), to a fresh oob handler, or to nobody.
//!
//! # What the state holds besides the pipeline
//!
//! - `masked`: the interrupt controller, as the irq-server leaves it by applying every
//!   [`LineAction`] and [`pipeline::Unmask`] it is told. Hardware only raises an unmasked
//!   line, and only on a CPU that is not running an oob handler (hard IRQs are off there);
//!   a synthetic IRQ can be injected from anywhere, oob handlers included.
//! - `mode`, `log`, `phase`: the specification. `mode` is each line's owner after the
//!   switches that succeeded; `log` is, per domain and CPU, the entries that must be
//!   pending, in order of first arrival, with their counts; `phase` is where each
//!   domain's code is on each CPU: running with interrupts enabled, stalled, or unstalled
//!   but bound to sync before it runs on (after an unstall that reported logged events,
//!   or an event posted to it while it ran).
//! - `running`: the oob handlers executing on each CPU (innermost last);
//!   `grace`: a [`GracePeriods`] kept in step with the pipeline's (same enters and
//!   leaves), so a retired handler's token can be rebuilt for each reclaim attempt
//!   (tokens are deliberately not `Clone`; the rebuilt token is checked equal to the
//!   pipeline's when it is issued); `retired`: the handlers waiting for their grace
//!   period, with the CPUs that were running an oob handler when they were retired.
//! - `ledger`: what the model saw happen to the events of each line.
//! - `faults`: a bit per invariant, set by a step whose answer broke it (the step checks
//!   what can only be seen in a transition: the answer to `receive`, the order of a
//!   replay, the result of a reclaim).
//!
//! Every bound is a budget in the state, so the reachable state space is finite and the
//! checker explores all of it (no depth limit).

use std::fmt;

use pipeline::{
    CpuId, Dispatch, DomainId, Error, GracePeriods, HandlerId, Irq, LineAction, Mode, Pipeline,
    Replayed, SYNTHETIC_BASE, StallCap, Trigger,
};
use stateright::{Model, Property};

/// CPUs of the model.
pub const CPUS: usize = 2;
/// In-band domains of the model.
pub const DOMAINS: usize = 3;
/// Lines of the model (all attached at setup).
pub const LINES: usize = 5;
/// The pipeline under test.
pub type P = Pipeline<CPUS, DOMAINS, LINES>;

/// One line of the model system.
#[derive(Clone, Copy, Debug)]
pub struct LineSpec {
    /// Its IRQ number.
    pub irq: Irq,
    /// Its trigger.
    pub trigger: Trigger,
    /// Who owns it at the start.
    pub initial: Mode,
}

/// The lines (see the module documentation).
pub const LINE_SPECS: [LineSpec; LINES] = [
    LineSpec {
        irq: Irq(10),
        trigger: Trigger::Edge,
        initial: Mode::Oob {
            handler: HandlerId(1),
        },
    },
    LineSpec {
        irq: Irq(11),
        trigger: Trigger::Level,
        initial: Mode::InBand {
            domain: DomainId(0),
        },
    },
    LineSpec {
        irq: Irq(12),
        trigger: Trigger::Edge,
        initial: Mode::InBand {
            domain: DomainId(1),
        },
    },
    LineSpec {
        irq: Irq(SYNTHETIC_BASE),
        trigger: Trigger::Edge,
        initial: Mode::InBand {
            domain: DomainId(0),
        },
    },
    LineSpec {
        irq: Irq(SYNTHETIC_BASE + 1),
        trigger: Trigger::Edge,
        initial: Mode::InBand {
            domain: DomainId(2),
        },
    },
];

/// Lines that `post_inband` is used on (the synthetic ones).
const POSTABLE: [usize; 2] = [3, 4];

/// The bounds of one exploration: how many of each state-changing action may happen.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Bounds {
    /// Events: hardware IRQs, injections and posts together.
    pub events: u8,
    /// Mode switches (`switch_oob`, `switch_inband`, `release`).
    pub switches: u8,
    /// Stall capability revocations.
    pub revokes: u8,
    /// In-band operations attempted from oob context (each must be refused).
    pub reentries: u8,
    /// Domains that stall and unstall on every CPU (domains `0..smp_domains`); the others
    /// do so on CPU 0 only and stay unstalled elsewhere (they still receive, log and sync
    /// everywhere). Not a budget: it bounds the action set.
    pub smp_domains: u8,
}

impl Bounds {
    /// `cargo xtask test`, every kind of action: two events, one switch, one revocation,
    /// one re-entry attempt; domain 0 stalls on both CPUs, domains 1 and 2 on CPU 0.
    pub const ALL: Bounds = Bounds {
        events: 2,
        switches: 1,
        revokes: 1,
        reentries: 1,
        smp_domains: 1,
    };
    /// `cargo xtask test`, event interleavings: four events (IRQs, injections, posts) with
    /// every stall, unstall, sync and ack around them, no reconfiguration.
    pub const EVENTS: Bounds = Bounds {
        events: 4,
        switches: 0,
        revokes: 0,
        reentries: 0,
        smp_domains: 1,
    };
    /// `--deep`, every kind of action, three events, every domain on both CPUs.
    pub const ALL_DEEP: Bounds = Bounds {
        events: 3,
        switches: 1,
        revokes: 1,
        reentries: 1,
        smp_domains: 3,
    };
    /// `--deep`, event interleavings: five events, every domain on both CPUs.
    pub const EVENTS_DEEP: Bounds = Bounds {
        events: 5,
        switches: 0,
        revokes: 0,
        reentries: 0,
        smp_domains: 3,
    };

    /// `INVARIANTS_PIPELINE_BOUNDS=events,switches,revokes,reentries,smp_domains`, if set
    /// (for sizing bounds).
    pub fn from_env() -> Option<Bounds> {
        let v = std::env::var("INVARIANTS_PIPELINE_BOUNDS").ok()?;
        let n: Vec<u8> = v
            .split(',')
            .map(|x| x.trim().parse().expect("a number"))
            .collect();
        assert_eq!(n.len(), 5, "INVARIANTS_PIPELINE_BOUNDS takes 5 numbers");
        Some(Bounds {
            events: n[0],
            switches: n[1],
            revokes: n[2],
            reentries: n[3],
            smp_domains: n[4],
        })
    }
}

/// Where a domain's code is on one CPU.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Phase {
    /// Unstalled and running code that expects interrupts enabled.
    Enabled,
    /// Stalled (its virtual interrupt flag is set).
    Stalled,
    /// Unstalled, with logged events it must replay (sync) before it runs on.
    MustSync,
}

/// A handler retired by a switch, waiting for its grace period.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct Retired {
    /// The handler.
    pub handler: HandlerId,
    /// The model's grace periods at the retire (rebuilds the token).
    pub at: GracePeriods<CPUS>,
    /// CPUs that were running an oob handler at the retire and have not left oob context
    /// since: the grace period ends when this is empty.
    pub waiting: [bool; CPUS],
}

/// What happened to the events of one line.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub struct Ledger {
    /// Events raised: hardware receipts, injections, posts.
    pub raised: u8,
    /// Events that ran an oob handler at once.
    pub oob_run: u8,
    /// Events delivered at once to an unstalled domain.
    pub delivered: u8,
    /// Events with no owner.
    pub unhandled: u8,
    /// Events handed to a domain by a replay (sum of the replayed entries' counts).
    pub replayed: u8,
}

/// Fault bits (one per invariant; set by a step, checked by the `always` properties).
pub mod fault {
    /// Invariant 1.
    pub const OOB_AT_ONCE: u16 = 1 << 0;
    /// Invariant 2.
    pub const NOTHING_WHILE_STALLED: u16 = 1 << 1;
    /// Invariant 3.
    pub const NO_EVENT_LOST: u16 = 1 << 2;
    /// Invariant 4.
    pub const REPLAY_IN_ORDER: u16 = 1 << 3;
    /// Invariant 5.
    pub const NO_REENTRY: u16 = 1 << 4;
    /// Invariant 6.
    pub const CAPABILITIES: u16 = 1 << 5;
    /// Grace periods of retired oob handlers.
    pub const GRACE: u16 = 1 << 6;
    /// Line actions (mask/unmask) and acks.
    pub const LINE_ACTIONS: u16 = 1 << 7;
}

/// One state of the model.
#[derive(Clone, PartialEq, Eq, Hash)]
pub struct State {
    /// The real pipeline.
    pub p: P,
    /// The interrupt controller: hardware line masked.
    pub masked: [bool; LINES],
    /// Specification: each line's owner.
    pub mode: [Mode; LINES],
    /// Specification: each domain's log on each CPU, `(line, count)` in first-arrival order.
    pub log: [[Vec<(u8, u32)>; CPUS]; DOMAINS],
    /// Where each domain's code is on each CPU.
    pub phase: [[Phase; CPUS]; DOMAINS],
    /// Level lines whose event the domain handled and has to ack (bit per line).
    pub awaiting_ack: [u8; DOMAINS],
    /// The oob handlers running on each CPU, innermost last.
    pub running: [Vec<HandlerId>; CPUS],
    /// Grace periods kept in step with the pipeline's.
    pub grace: GracePeriods<CPUS>,
    /// Retired handlers not reclaimed yet.
    pub retired: Vec<Retired>,
    /// Handlers reclaimed so far.
    pub reclaimed: u8,
    /// Each domain's current stall capability generation (specification).
    pub generation: [u32; DOMAINS],
    /// The generation of the capability each domain holds (stale after a revoke, until
    /// its supervisor hands it the new one).
    pub held: [u32; DOMAINS],
    /// Per line.
    pub ledger: [Ledger; LINES],
    /// Re-entry attempts made from oob context, per CPU.
    pub reentries: [u64; CPUS],
    /// Budgets left: events, switches, revokes, re-entry attempts.
    pub budget: Bounds,
    /// The next fresh oob handler id.
    pub next_handler: u16,
    /// Invariants a step broke (see [`fault`]).
    pub faults: u16,
    /// What the first broken step was.
    pub why: Option<String>,
}

impl fmt::Debug for State {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // The pipeline's own `Debug` prints its 1088-entry IRQ index; show what matters.
        let modes: Vec<_> = LINE_SPECS.iter().map(|l| self.p.mode(l.irq)).collect();
        let stalled: Vec<Vec<bool>> = (0..DOMAINS)
            .map(|d| {
                (0..CPUS)
                    .map(|c| self.p.is_stalled(dom(d), cpu(c)))
                    .collect()
            })
            .collect();
        let pending: Vec<Vec<Vec<Replayed>>> = (0..DOMAINS)
            .map(|d| {
                (0..CPUS)
                    .map(|c| self.p.pending(dom(d), cpu(c)).collect())
                    .collect()
            })
            .collect();
        let stats: Vec<_> = LINE_SPECS.iter().map(|l| self.p.stats(l.irq)).collect();
        f.debug_struct("State")
            .field("why", &self.why)
            .field("faults", &format_args!("{:#06x}", self.faults))
            .field("pipeline.modes", &modes)
            .field("pipeline.stalled[domain][cpu]", &stalled)
            .field("pipeline.pending[domain][cpu]", &pending)
            .field("pipeline.stats", &stats)
            .field("masked", &self.masked)
            .field("mode", &self.mode)
            .field("log", &self.log)
            .field("phase", &self.phase)
            .field("awaiting_ack", &self.awaiting_ack)
            .field("running", &self.running)
            .field("retired", &self.retired)
            .field("generation", &self.generation)
            .field("held", &self.held)
            .field("ledger", &self.ledger)
            .field("budget", &self.budget)
            .finish()
    }
}

/// Actions. CPUs, domains and lines are indices.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Action {
    /// The hardware raises line `line` on `cpu` (`receive`), or code on `cpu` injects the
    /// synthetic line (`inject`; oob handlers too).
    Raise {
        /// CPU.
        cpu: u8,
        /// Line.
        line: u8,
    },
    /// `post_inband` of `line` to its owner, into its log on `cpu`.
    Post {
        /// CPU.
        cpu: u8,
        /// Line.
        line: u8,
    },
    /// `post_inband` naming a domain that does not own the line: refused.
    PostForeign {
        /// CPU.
        cpu: u8,
        /// Line.
        line: u8,
    },
    /// The innermost oob handler running on `cpu` returns (`leave_oob`).
    OobReturn {
        /// CPU.
        cpu: u8,
    },
    /// The oob handler running on `cpu` calls in-band-only operation `op` (0: stall,
    /// 1: sync, 2: switch_inband, 3: ack): refused as a re-entry.
    OobReentry {
        /// CPU.
        cpu: u8,
        /// Which operation.
        op: u8,
    },
    /// Domain `dom` stalls on `cpu` (nested: `local_irq_save` when already stalled).
    Stall {
        /// Domain.
        dom: u8,
        /// CPU.
        cpu: u8,
    },
    /// Domain `dom` unstalls on `cpu`.
    Unstall {
        /// Domain.
        dom: u8,
        /// CPU.
        cpu: u8,
    },
    /// Domain `dom` (or the server for it) replays one entry of its log on `cpu`.
    SyncOne {
        /// Domain.
        dom: u8,
        /// CPU.
        cpu: u8,
    },
    /// Domain `dom` tries to sync on `cpu` while stalled there: refused.
    SyncWhileStalled {
        /// Domain.
        dom: u8,
        /// CPU.
        cpu: u8,
    },
    /// Domain `dom` acks level line `line` after handling its event.
    Ack {
        /// Domain.
        dom: u8,
        /// CPU.
        cpu: u8,
        /// Line.
        line: u8,
    },
    /// Domain `dom` stalls or unstalls with a forged capability (`kind` 0: a generation
    /// other than the current one, 1: a domain that does not exist): refused.
    ForgedCap {
        /// Domain.
        dom: u8,
        /// CPU.
        cpu: u8,
        /// Which forgery.
        kind: u8,
    },
    /// `irq_switch_oob` of `line` to a fresh handler.
    SwitchOob {
        /// Line.
        line: u8,
    },
    /// Gives `line` to in-band domain `dom`.
    SwitchInband {
        /// Line.
        line: u8,
        /// Domain.
        dom: u8,
    },
    /// Takes `line` from its owner.
    Release {
        /// Line.
        line: u8,
    },
    /// The supervisor revokes domain `dom`'s stall capability.
    Revoke {
        /// Domain.
        dom: u8,
    },
    /// The supervisor hands domain `dom` its current capability.
    Regrant {
        /// Domain.
        dom: u8,
    },
    /// The irq-server tries to reclaim retired handler `index`.
    Reclaim {
        /// Index into `retired`.
        index: u8,
    },
}

fn cpu(c: usize) -> CpuId {
    CpuId(c as u8)
}

fn dom(d: usize) -> DomainId {
    DomainId(d as u8)
}

/// The domain a switch gives line `l` to: the next one after its in-band owner, or its
/// first in-band owner (domain 0 for line 0).
fn next_owner(mode: Mode, l: usize) -> usize {
    match (mode, LINE_SPECS[l].initial) {
        (Mode::InBand { domain }, _) => (usize::from(domain.0) + 1) % DOMAINS,
        (_, Mode::InBand { domain }) => usize::from(domain.0),
        _ => 0,
    }
}

fn is_level(l: usize) -> bool {
    LINE_SPECS[l].trigger == Trigger::Level
}

fn is_hardware(l: usize) -> bool {
    LINE_SPECS[l].irq.is_hardware()
}

/// The model.
#[derive(Clone, Debug)]
pub struct PipelineModel {
    /// Bounds of the exploration.
    pub bounds: Bounds,
}

impl PipelineModel {
    /// The model with `bounds`.
    pub fn new(bounds: Bounds) -> Self {
        Self { bounds }
    }

    /// The initial state: every line attached and given its first owner.
    pub fn initial(&self) -> State {
        let mut p = P::new();
        let c0 = CpuId(0);
        let mut masked = [false; LINES];
        for (l, spec) in LINE_SPECS.iter().enumerate() {
            if spec.irq.is_synthetic() {
                assert_eq!(p.alloc_synthetic(c0), Ok(spec.irq));
            } else {
                p.attach(c0, spec.irq, spec.trigger).expect("attach");
                masked[l] = true;
            }
            let switched = match spec.initial {
                Mode::Oob { handler } => p.switch_oob(c0, spec.irq, handler),
                Mode::InBand { domain } => p.switch_inband(c0, spec.irq, domain),
                Mode::Unassigned => unreachable!("every line starts with an owner"),
            }
            .expect("initial switch");
            assert!(switched.retired.is_none());
            apply_line(&mut masked, l, switched.line);
        }
        State {
            p,
            masked,
            mode: LINE_SPECS.map(|l| l.initial),
            log: Default::default(),
            phase: [[Phase::Enabled; CPUS]; DOMAINS],
            awaiting_ack: [0; DOMAINS],
            running: Default::default(),
            grace: GracePeriods::new(),
            retired: Vec::new(),
            reclaimed: 0,
            generation: [0; DOMAINS],
            held: [0; DOMAINS],
            ledger: [Ledger::default(); LINES],
            reentries: [0; CPUS],
            budget: self.bounds,
            next_handler: 2,
            faults: 0,
            why: None,
        }
    }
}

/// Applies a line action to the controller.
fn apply_line(masked: &mut [bool; LINES], l: usize, action: LineAction) {
    match action {
        LineAction::Keep => {}
        LineAction::MaskUntilAck | LineAction::Mask => masked[l] = true,
        LineAction::Unmask => masked[l] = false,
    }
}

impl State {
    fn fail(&mut self, bit: u16, why: String) {
        self.faults |= bit;
        if self.why.is_none() {
            self.why = Some(why);
        }
    }

    fn in_oob(&self, c: usize) -> bool {
        !self.running[c].is_empty()
    }

    /// The CPU the in-band configuration code runs on: the first not running oob code.
    fn config_cpu(&self) -> Option<usize> {
        (0..CPUS).find(|&c| !self.in_oob(c))
    }

    fn cap(&self, d: usize) -> StallCap {
        StallCap {
            domain: dom(d),
            generation: self.held[d],
        }
    }

    fn stale(&self, d: usize) -> bool {
        self.held[d] != self.generation[d]
    }

    fn stale_error(&self, d: usize) -> Error {
        Error::StaleCap {
            domain: dom(d),
            presented: self.held[d],
            current: self.generation[d],
        }
    }

    /// Whether any domain other than `d` has `line` in a log.
    fn logged_elsewhere(&self, line: usize, d: usize) -> Option<usize> {
        (0..DOMAINS).find(|&o| {
            o != d
                && self.log[o]
                    .iter()
                    .any(|log| log.iter().any(|&(l, _)| usize::from(l) == line))
        })
    }

    fn spend_event(&mut self, l: usize) {
        self.budget.events -= 1;
        self.ledger[l].raised += 1;
    }

    /// An in-band handler of domain `d` runs on `c` for an event of line `l`.
    fn inband_handler_runs(&mut self, d: usize, c: usize, l: usize) {
        if self.p.is_stalled(dom(d), cpu(c)) || self.phase[d][c] == Phase::Stalled {
            self.fail(
                fault::NOTHING_WHILE_STALLED,
                format!("an in-band handler of domain {d} ran on CPU {c} while it was stalled"),
            );
        }
        if is_level(l) {
            self.awaiting_ack[d] |= 1 << l;
        }
    }

    /// The event the pipeline answered for `l` on `c` with `got`, where the
    /// specification says `want`: records it and checks they agree.
    fn event(&mut self, c: usize, l: usize, got: Result<Dispatch, Error>, want: Dispatch) {
        if got != Ok(want) {
            let (bit, what) = match (want, got) {
                (Dispatch::RunOob { .. }, _) => (fault::OOB_AT_ONCE, "oob line not run at once"),
                (_, Ok(Dispatch::Deliver { domain, .. }))
                    if self.phase[usize::from(domain.0)][c] == Phase::Stalled =>
                {
                    (
                        fault::NOTHING_WHILE_STALLED,
                        "delivered to a stalled domain",
                    )
                }
                (_, Ok(Dispatch::Deliver { .. })) => (
                    fault::REPLAY_IN_ORDER,
                    "delivered ahead of logged events or before the domain synced",
                ),
                _ => (fault::NO_EVENT_LOST, "event not handled as documented"),
            };
            self.fail(
                bit,
                format!("{what}: line {l} on CPU {c}: got {got:?}, want {want:?}"),
            );
            return;
        }
        match want {
            Dispatch::RunOob { handler } => {
                self.ledger[l].oob_run += 1;
                self.running[c].push(handler);
                self.grace.enter(cpu(c)).expect("grace mirror");
            }
            Dispatch::Deliver { domain, line, .. } => {
                let d = usize::from(domain.0);
                self.ledger[l].delivered += 1;
                apply_line(&mut self.masked, l, line);
                self.inband_handler_runs(d, c, l);
            }
            Dispatch::Logged {
                domain,
                line,
                sync_needed,
            } => {
                let d = usize::from(domain.0);
                self.log[d][c].push((l as u8, 1));
                apply_line(&mut self.masked, l, line);
                if sync_needed {
                    self.phase[d][c] = Phase::MustSync;
                }
            }
            Dispatch::Coalesced {
                domain,
                count,
                line,
                sync_needed,
            } => {
                let d = usize::from(domain.0);
                if let Some(entry) = self.log[d][c]
                    .iter_mut()
                    .find(|(e, _)| usize::from(*e) == l)
                {
                    entry.1 = count;
                }
                apply_line(&mut self.masked, l, line);
                if sync_needed {
                    self.phase[d][c] = Phase::MustSync;
                }
            }
            Dispatch::Unhandled => {
                self.ledger[l].unhandled += 1;
                if is_hardware(l) {
                    apply_line(&mut self.masked, l, LineAction::Mask);
                }
            }
        }
    }

    /// The specification's answer to an event of `l` on `c` (`posted`: `post_inband`).
    fn expected_dispatch(&self, c: usize, l: usize, posted: bool) -> Dispatch {
        match self.mode[l] {
            Mode::Oob { handler } => Dispatch::RunOob { handler },
            Mode::Unassigned => Dispatch::Unhandled,
            Mode::InBand { domain } => {
                let d = usize::from(domain.0);
                let action = if posted || !is_level(l) {
                    LineAction::Keep
                } else {
                    LineAction::MaskUntilAck
                };
                let sync_needed = self.phase[d][c] != Phase::Stalled;
                if !posted && self.phase[d][c] == Phase::Enabled && self.log[d][c].is_empty() {
                    return Dispatch::Deliver {
                        domain,
                        irq: LINE_SPECS[l].irq,
                        count: 1,
                        line: action,
                    };
                }
                match self.log[d][c].iter().find(|(e, _)| usize::from(*e) == l) {
                    Some(&(_, count)) => Dispatch::Coalesced {
                        domain,
                        count: count + 1,
                        line: action,
                        sync_needed,
                    },
                    None => Dispatch::Logged {
                        domain,
                        line: action,
                        sync_needed,
                    },
                }
            }
        }
    }

    /// A CPU's oob handler returned: retired handlers stop waiting for it once it has
    /// left oob context.
    fn oob_return(&mut self, c: usize) {
        self.running[c].pop();
        if let Err(e) = self.p.leave_oob(cpu(c)) {
            self.fail(fault::GRACE, format!("leave_oob on CPU {c}: {e:?}"));
        }
        self.grace.leave(cpu(c)).expect("grace mirror");
        if self.running[c].is_empty() {
            for r in &mut self.retired {
                r.waiting[c] = false;
            }
        }
    }

    /// A switch retired `old` (or not): checks the token and records it.
    fn retire(
        &mut self,
        c: usize,
        old: Mode,
        new: Mode,
        token: Option<pipeline::RetiredHandler<CPUS>>,
    ) {
        let want = match old {
            Mode::Oob { handler } if old != new => Some(handler),
            _ => None,
        };
        match (want, token) {
            (None, None) => {}
            (Some(handler), Some(token)) if token.handler() == handler => {
                let rebuilt = self.grace.retire(handler);
                if rebuilt != token {
                    self.fail(
                        fault::GRACE,
                        format!("retire token {token:?} is not the grace periods' {rebuilt:?}"),
                    );
                }
                let waiting = core::array::from_fn(|cc| self.in_oob(cc));
                self.retired.push(Retired {
                    handler,
                    at: self.grace.clone(),
                    waiting,
                });
            }
            (want, token) => self.fail(
                fault::GRACE,
                format!("switch on CPU {c}: retired {token:?}, want {want:?}"),
            ),
        }
    }

    /// Checks the answer to a switch and applies it.
    fn switched(
        &mut self,
        c: usize,
        l: usize,
        new: Mode,
        got: Result<pipeline::Switched<CPUS>, Error>,
        want_line: LineAction,
    ) {
        match got {
            Ok(switched) => {
                let old = self.mode[l];
                if switched.line != want_line {
                    // An oob line left masked waits for an in-band ack: invariant 1.
                    let bit = if matches!(new, Mode::Oob { .. }) {
                        fault::OOB_AT_ONCE
                    } else {
                        fault::LINE_ACTIONS
                    };
                    self.fail(
                        bit,
                        format!(
                            "switch of line {l} to {new:?}: line action {:?}, want {want_line:?}",
                            switched.line
                        ),
                    );
                }
                apply_line(&mut self.masked, l, switched.line);
                self.retire(c, old, new, switched.retired);
                self.mode[l] = new;
            }
            Err(e) => self.fail(
                fault::NO_EVENT_LOST,
                format!("switch of line {l} to {new:?} refused: {e:?}"),
            ),
        }
    }
}

impl Model for PipelineModel {
    type State = State;
    type Action = Action;

    fn init_states(&self) -> Vec<State> {
        vec![self.initial()]
    }

    fn actions(&self, s: &State, actions: &mut Vec<Action>) {
        let b = s.budget;
        for c in 0..CPUS {
            let c8 = c as u8;
            let oob = s.in_oob(c);
            if b.events > 0 {
                for l in 0..LINES {
                    // Hardware raises an unmasked line on a CPU not running oob code;
                    // injection works from anywhere.
                    if !is_hardware(l) || (!s.masked[l] && !oob) {
                        actions.push(Action::Raise {
                            cpu: c8,
                            line: l as u8,
                        });
                    }
                }
                for l in POSTABLE {
                    if matches!(s.mode[l], Mode::InBand { .. }) {
                        actions.push(Action::Post {
                            cpu: c8,
                            line: l as u8,
                        });
                    }
                }
            }
            for l in POSTABLE {
                actions.push(Action::PostForeign {
                    cpu: c8,
                    line: l as u8,
                });
            }
            if oob {
                actions.push(Action::OobReturn { cpu: c8 });
                if b.reentries > 0 {
                    for op in 0..4 {
                        actions.push(Action::OobReentry { cpu: c8, op });
                    }
                }
                // A CPU running an oob handler runs no in-band code.
                continue;
            }
            for d in 0..DOMAINS {
                let d8 = d as u8;
                let stalls_here = c == 0 || d < usize::from(self.bounds.smp_domains);
                match s.phase[d][c] {
                    Phase::Enabled if stalls_here => {
                        actions.push(Action::Stall { dom: d8, cpu: c8 });
                    }
                    Phase::Enabled => {}
                    Phase::Stalled => {
                        actions.push(Action::Stall { dom: d8, cpu: c8 });
                        actions.push(Action::Unstall { dom: d8, cpu: c8 });
                        actions.push(Action::SyncWhileStalled { dom: d8, cpu: c8 });
                    }
                    Phase::MustSync => actions.push(Action::SyncOne { dom: d8, cpu: c8 }),
                }
                if s.phase[d][c] != Phase::MustSync {
                    for l in 0..LINES {
                        if s.awaiting_ack[d] & (1 << l) != 0 {
                            actions.push(Action::Ack {
                                dom: d8,
                                cpu: c8,
                                line: l as u8,
                            });
                        }
                    }
                }
                for kind in 0..2 {
                    actions.push(Action::ForgedCap {
                        dom: d8,
                        cpu: c8,
                        kind,
                    });
                }
            }
        }
        if s.config_cpu().is_some() {
            if b.switches > 0 && s.next_handler < u16::MAX {
                for l in 0..LINES {
                    actions.push(Action::SwitchOob { line: l as u8 });
                    actions.push(Action::SwitchInband {
                        line: l as u8,
                        dom: next_owner(s.mode[l], l) as u8,
                    });
                    if s.mode[l] != Mode::Unassigned {
                        actions.push(Action::Release { line: l as u8 });
                    }
                }
            }
            for d in 0..DOMAINS {
                if b.revokes > 0 {
                    actions.push(Action::Revoke { dom: d as u8 });
                }
                if s.stale(d) {
                    actions.push(Action::Regrant { dom: d as u8 });
                }
            }
        }
        for i in 0..s.retired.len() {
            actions.push(Action::Reclaim { index: i as u8 });
        }
    }

    fn next_state(&self, last: &State, action: Action) -> Option<State> {
        let mut s = last.clone();
        match action {
            Action::Raise { cpu: c, line: l } => {
                let (c, l) = (usize::from(c), usize::from(l));
                s.spend_event(l);
                let want = s.expected_dispatch(c, l, false);
                let irq = LINE_SPECS[l].irq;
                let got = if is_hardware(l) {
                    s.p.receive(cpu(c), irq)
                } else {
                    s.p.inject(cpu(c), irq)
                };
                s.event(c, l, got, want);
            }
            Action::Post { cpu: c, line: l } => {
                let (c, l) = (usize::from(c), usize::from(l));
                let Mode::InBand { domain } = s.mode[l] else {
                    return None;
                };
                s.spend_event(l);
                let want = s.expected_dispatch(c, l, true);
                let got = s.p.post_inband(cpu(c), domain, LINE_SPECS[l].irq);
                s.event(c, l, got, want);
            }
            Action::PostForeign { cpu: c, line: l } => {
                let (c, l) = (usize::from(c), usize::from(l));
                let owner = match s.mode[l] {
                    Mode::InBand { domain } => usize::from(domain.0),
                    _ => DOMAINS - 1,
                };
                let other = dom((owner + 1) % DOMAINS);
                let irq = LINE_SPECS[l].irq;
                let got = s.p.post_inband(cpu(c), other, irq);
                let want = Err(Error::NotOwner { irq, domain: other });
                if got != want || s.p != last.p {
                    s.fail(
                        fault::NO_EVENT_LOST,
                        format!("post of line {l} to non-owner {other:?}: {got:?}, want {want:?}, state unchanged"),
                    );
                }
            }
            Action::OobReturn { cpu: c } => s.oob_return(usize::from(c)),
            Action::OobReentry { cpu: c, op } => {
                let c = usize::from(c);
                s.budget.reentries -= 1;
                s.reentries[c] += 1;
                let cap = StallCap {
                    domain: DomainId(0),
                    generation: s.generation[0],
                };
                let got = match op {
                    0 => s.p.stall(cap, cpu(c)).map(drop),
                    1 => s.p.sync(cap, cpu(c)).map(drop),
                    2 => {
                        s.p.switch_inband(cpu(c), LINE_SPECS[2].irq, DomainId(0))
                            .map(drop)
                    }
                    _ => s.p.ack(cap, cpu(c), LINE_SPECS[1].irq).map(drop),
                };
                let unchanged = (0..DOMAINS).all(|d| {
                    (0..CPUS).all(|cc| {
                        s.p.is_stalled(dom(d), cpu(cc)) == last.p.is_stalled(dom(d), cpu(cc))
                            && s.p.log_len(dom(d), cpu(cc)) == last.p.log_len(dom(d), cpu(cc))
                    })
                }) && LINE_SPECS.iter().all(|spec| {
                    s.p.mode(spec.irq) == last.p.mode(spec.irq)
                        && s.p.is_masked_until_ack(spec.irq) == last.p.is_masked_until_ack(spec.irq)
                });
                if got != Err(Error::Reentry { cpu: cpu(c) }) || !unchanged {
                    s.fail(
                        fault::NO_REENTRY,
                        format!("in-band operation {op} from oob context on CPU {c}: {got:?}"),
                    );
                }
            }
            Action::Stall { dom: d, cpu: c } => {
                let (d, c) = (usize::from(d), usize::from(c));
                let got = s.p.stall(s.cap(d), cpu(c));
                if s.stale(d) {
                    let want = s.stale_error(d);
                    check_refused(&mut s, last, got, want, "stall with a revoked capability");
                } else {
                    let was = s.phase[d][c] == Phase::Stalled;
                    if got != Ok(was) {
                        s.fail(
                            fault::CAPABILITIES,
                            format!("stall of domain {d} on CPU {c}: {got:?}, want Ok({was})"),
                        );
                    }
                    s.phase[d][c] = Phase::Stalled;
                }
            }
            Action::Unstall { dom: d, cpu: c } => {
                let (d, c) = (usize::from(d), usize::from(c));
                let got = s.p.unstall(s.cap(d), cpu(c));
                if s.stale(d) {
                    let want = s.stale_error(d);
                    check_refused(&mut s, last, got, want, "unstall with a revoked capability");
                } else {
                    let need = !s.log[d][c].is_empty();
                    if got != Ok(need) {
                        s.fail(
                            fault::REPLAY_IN_ORDER,
                            format!("unstall of domain {d} on CPU {c}: {got:?}, want Ok({need})"),
                        );
                    }
                    s.phase[d][c] = if need {
                        Phase::MustSync
                    } else {
                        Phase::Enabled
                    };
                }
            }
            Action::SyncOne { dom: d, cpu: c } => {
                let (d, c) = (usize::from(d), usize::from(c));
                if s.stale(d) {
                    let got = s.p.sync(s.cap(d), cpu(c)).map(drop);
                    let want = s.stale_error(d);
                    check_refused(&mut s, last, got, want, "sync with a revoked capability");
                    return Some(s);
                }
                let want = s.log[d][c].first().map(|&(l, count)| Replayed {
                    irq: LINE_SPECS[usize::from(l)].irq,
                    count,
                });
                let cap = s.cap(d);
                let got = match s.p.sync(cap, cpu(c)) {
                    Ok(mut replay) => {
                        let first = replay.next();
                        Ok((first, replay.remaining()))
                    }
                    Err(e) => Err(e),
                };
                let remaining = s.log[d][c].len().saturating_sub(1);
                if got != Ok((want, remaining)) {
                    s.fail(
                        fault::REPLAY_IN_ORDER,
                        format!("sync of domain {d} on CPU {c}: {got:?}, want {want:?} with {remaining} left"),
                    );
                    return Some(s);
                }
                if let Some(Replayed { count, .. }) = want {
                    let (l, _) = s.log[d][c].remove(0);
                    let l = usize::from(l);
                    s.ledger[l].replayed += count as u8;
                    s.inband_handler_runs(d, c, l);
                }
                if s.log[d][c].is_empty() {
                    s.phase[d][c] = Phase::Enabled;
                }
            }
            Action::SyncWhileStalled { dom: d, cpu: c } => {
                let (d, c) = (usize::from(d), usize::from(c));
                let got = s.p.sync(s.cap(d), cpu(c)).map(|mut r| r.next());
                let want = if s.stale(d) {
                    s.stale_error(d)
                } else {
                    Error::Stalled {
                        domain: dom(d),
                        cpu: cpu(c),
                    }
                };
                if got != Err(want) || s.p != last.p {
                    s.fail(
                        fault::NOTHING_WHILE_STALLED,
                        format!("sync of stalled domain {d} on CPU {c}: {got:?}"),
                    );
                }
            }
            Action::Ack {
                dom: d,
                cpu: c,
                line: l,
            } => {
                let (d, c, l) = (usize::from(d), usize::from(c), usize::from(l));
                let irq = LINE_SPECS[l].irq;
                let got = s.p.ack(s.cap(d), cpu(c), irq);
                if s.stale(d) {
                    let want = s.stale_error(d);
                    check_refused(&mut s, last, got, want, "ack with a revoked capability");
                    return Some(s);
                }
                s.awaiting_ack[d] &= !(1 << l);
                let want = if s.mode[l] != (Mode::InBand { domain: dom(d) }) {
                    Err(Error::NotOwner {
                        irq,
                        domain: dom(d),
                    })
                } else if !s.masked[l] {
                    Err(Error::NotMasked(irq))
                } else {
                    Ok(pipeline::Unmask(irq))
                };
                if got != want {
                    s.fail(
                        fault::LINE_ACTIONS,
                        format!("ack of line {l} by domain {d}: {got:?}, want {want:?}"),
                    );
                }
                if got.is_ok() {
                    s.masked[l] = false;
                }
            }
            Action::ForgedCap {
                dom: d,
                cpu: c,
                kind,
            } => {
                let (d, c) = (usize::from(d), usize::from(c));
                let (cap, want) = if kind == 0 {
                    let presented = s.generation[d].wrapping_add(1);
                    (
                        StallCap {
                            domain: dom(d),
                            generation: presented,
                        },
                        Error::StaleCap {
                            domain: dom(d),
                            presented,
                            current: s.generation[d],
                        },
                    )
                } else {
                    (
                        StallCap {
                            domain: dom(DOMAINS),
                            generation: 0,
                        },
                        Error::NoSuchDomain(dom(DOMAINS)),
                    )
                };
                let got = if s.phase[d][c] == Phase::Stalled {
                    s.p.unstall(cap, cpu(c))
                } else {
                    s.p.stall(cap, cpu(c))
                };
                check_refused(&mut s, last, got, want, "a forged stall capability");
            }
            Action::SwitchOob { line: l } => {
                let l = usize::from(l);
                let c = s.config_cpu()?;
                s.budget.switches -= 1;
                let handler = HandlerId(s.next_handler);
                s.next_handler += 1;
                let got = s.p.switch_oob(cpu(c), LINE_SPECS[l].irq, handler);
                let want = if is_hardware(l) && s.masked[l] {
                    LineAction::Unmask
                } else {
                    LineAction::Keep
                };
                s.switched(c, l, Mode::Oob { handler }, got, want);
            }
            Action::SwitchInband { line: l, dom: d } => {
                let (l, d) = (usize::from(l), usize::from(d));
                let c = s.config_cpu()?;
                let irq = LINE_SPECS[l].irq;
                let new = Mode::InBand { domain: dom(d) };
                let got = s.p.switch_inband(cpu(c), irq, dom(d));
                if let Some(other) = s.logged_elsewhere(l, d) {
                    // A line is pending for one domain at a time.
                    let want = Error::StillLogged {
                        irq,
                        domain: dom(other),
                    };
                    check_refused(
                        &mut s,
                        last,
                        got.map(drop),
                        want,
                        "switch of a line logged elsewhere",
                    );
                    return Some(s);
                }
                s.budget.switches -= 1;
                let want = if is_hardware(l) && s.masked[l] && s.mode[l] != new {
                    LineAction::Unmask
                } else {
                    LineAction::Keep
                };
                s.switched(c, l, new, got, want);
            }
            Action::Release { line: l } => {
                let l = usize::from(l);
                let c = s.config_cpu()?;
                s.budget.switches -= 1;
                let got = s.p.release(cpu(c), LINE_SPECS[l].irq);
                let want = if is_hardware(l) && !s.masked[l] {
                    LineAction::Mask
                } else {
                    LineAction::Keep
                };
                s.switched(c, l, Mode::Unassigned, got, want);
                if is_hardware(l) {
                    s.masked[l] = true;
                }
            }
            Action::Revoke { dom: d } => {
                let d = usize::from(d);
                let c = s.config_cpu()?;
                s.budget.revokes -= 1;
                let got = s.p.revoke_stall_cap(cpu(c), dom(d));
                s.generation[d] += 1;
                let want = StallCap {
                    domain: dom(d),
                    generation: s.generation[d],
                };
                if got != Ok(want) {
                    s.fail(
                        fault::CAPABILITIES,
                        format!("revoke of domain {d}: {got:?}, want {want:?}"),
                    );
                }
            }
            Action::Regrant { dom: d } => {
                let d = usize::from(d);
                s.held[d] = s.generation[d];
            }
            Action::Reclaim { index } => {
                let i = usize::from(index);
                let record = s.retired[i].clone();
                let token = record.at.retire(record.handler);
                let got = s.p.reclaim(token).map_err(|t| t.handler());
                let elapsed = !record.waiting.contains(&true);
                match got {
                    Ok(h) if elapsed && h == record.handler => {
                        if s.running.iter().any(|r| r.contains(&h)) {
                            s.fail(
                                fault::GRACE,
                                format!("{h:?} reclaimed while a CPU still runs it"),
                            );
                        }
                        s.retired.remove(i);
                        s.reclaimed += 1;
                    }
                    Err(h) if !elapsed && h == record.handler => {}
                    _ => s.fail(
                        fault::GRACE,
                        format!(
                            "reclaim of {:?} (grace period elapsed: {elapsed}): {got:?}",
                            record.handler
                        ),
                    ),
                }
            }
        }
        // A refused call that changed nothing leaves the state as it was: no new state.
        if s == *last { None } else { Some(s) }
    }

    fn properties(&self) -> Vec<Property<Self>> {
        let mut properties = vec![
            Property::always(
                "invariant 1: an oob handler runs at once, never held up",
                inv1,
            ),
            Property::always("invariant 2: nothing reaches a stalled domain", inv2),
            Property::always(
                "invariant 3: every event is accounted for exactly once",
                inv3,
            ),
            Property::always(
                "invariant 4: logged events replay in arrival order before the domain runs on",
                inv4,
            ),
            Property::always("invariant 5: oob code never re-enters in-band code", inv5),
            Property::always("invariant 6: only a current stall capability acts", inv6),
            Property::always(
                "grace periods: a retired handler is reclaimed once no CPU can run it, not before",
                grace,
            ),
            Property::always(
                "line actions: the controller masks exactly the unowned and until-ack lines",
                line_actions,
            ),
        ];
        let b = self.bounds;
        let has_switch = b.switches > 0;
        let sometimes: Vec<(bool, Property<Self>)> = vec![
            (
                true,
                Property::sometimes(
                    "an event logged while stalled is replayed after the unstall",
                    |_, s: &State| s.ledger.iter().any(|l| l.replayed > 0),
                ),
            ),
            (
                b.events >= 2,
                Property::sometimes(
                    "coalesced events replay as one entry with their count",
                    |_, s: &State| {
                        LINE_SPECS.iter().any(|l| {
                            s.p.stats(l.irq)
                                .is_some_and(|st| st.coalesced > 0 && st.replayed >= 2)
                        })
                    },
                ),
            ),
            (
                true,
                Property::sometimes(
                    "an oob handler runs while the domain on that CPU is stalled",
                    |_, s: &State| {
                        (0..CPUS).any(|c| {
                            s.in_oob(c) && (0..DOMAINS).any(|d| s.phase[d][c] == Phase::Stalled)
                        })
                    },
                ),
            ),
            (
                b.events >= 2,
                Property::sometimes(
                    "events wait behind older ones between an unstall and its sync",
                    |_, s: &State| {
                        (0..DOMAINS).any(|d| {
                            (0..CPUS)
                                .any(|c| s.phase[d][c] == Phase::MustSync && s.log[d][c].len() >= 2)
                        })
                    },
                ),
            ),
            (
                true,
                Property::sometimes(
                    "a level line stays masked while its owner is stalled",
                    |_, s: &State| {
                        let irq = LINE_SPECS[1].irq;
                        matches!(s.mode[1], Mode::InBand { domain }
                            if s.p.is_masked_until_ack(irq)
                                && s.phase[usize::from(domain.0)].contains(&Phase::Stalled))
                    },
                ),
            ),
            (
                has_switch,
                Property::sometimes(
                    "a line switched to oob still replays to its old domain",
                    |_, s: &State| {
                        (0..LINES).any(|l| {
                            matches!(s.mode[l], Mode::Oob { .. })
                                && s.log
                                    .iter()
                                    .flatten()
                                    .flatten()
                                    .any(|&(e, _)| usize::from(e) == l)
                        })
                    },
                ),
            ),
            (
                has_switch,
                Property::sometimes(
                    "a retired handler waits for a CPU still running it",
                    |_, s: &State| {
                        s.retired.iter().any(|r| {
                            (0..CPUS).any(|c| r.waiting[c] && s.running[c].contains(&r.handler))
                        })
                    },
                ),
            ),
            (
                has_switch,
                Property::sometimes("a retired handler is reclaimed", |_, s: &State| {
                    s.reclaimed > 0
                }),
            ),
            (
                b.reentries > 0,
                Property::sometimes("a re-entry from oob context is caught", |_, s: &State| {
                    s.reentries.iter().any(|&n| n > 0)
                }),
            ),
            (
                b.revokes > 0,
                Property::sometimes(
                    "a domain works on with a new capability after a revoke",
                    |_, s: &State| {
                        (0..DOMAINS).any(|d| s.held[d] > 0 && s.phase[d].contains(&Phase::Stalled))
                    },
                ),
            ),
        ];
        properties.extend(sometimes.into_iter().filter(|(on, _)| *on).map(|(_, p)| p));
        properties
    }
}

/// Checks that a call was refused with `want` and changed nothing.
fn check_refused<T: fmt::Debug>(
    s: &mut State,
    last: &State,
    got: Result<T, Error>,
    want: Error,
    what: &str,
) {
    let refused = matches!(&got, Err(e) if *e == want);
    if !refused || s.p != last.p {
        let bit = match want {
            Error::StillLogged { .. } => fault::NO_EVENT_LOST,
            _ => fault::CAPABILITIES,
        };
        s.fail(
            bit,
            format!("{what}: {got:?}, want Err({want:?}) and no change"),
        );
    }
}

// ----- properties ------------------------------------------------------------------------

/// A property holds in `s` if no step broke it (`bit`) and, when no step broke anything,
/// `state` holds. After a broken step the model's bookkeeping stopped following the
/// pipeline, so only the property the step broke reports it.
fn holds(s: &State, bit: u16, state: impl FnOnce() -> bool) -> bool {
    if s.faults != 0 {
        s.faults & bit == 0
    } else {
        state()
    }
}

fn inv1(_: &PipelineModel, s: &State) -> bool {
    holds(s, fault::OOB_AT_ONCE, || {
        (0..LINES).all(|l| {
            let oob = matches!(s.mode[l], Mode::Oob { .. });
            // The pipeline says what the spec says, and an oob line is never masked.
            s.p.mode(LINE_SPECS[l].irq) == Some(s.mode[l])
                && s.p.is_oob(LINE_SPECS[l].irq) == oob
                && !(oob && s.masked[l])
        })
    })
}

fn inv2(_: &PipelineModel, s: &State) -> bool {
    holds(s, fault::NOTHING_WHILE_STALLED, || {
        (0..DOMAINS).all(|d| {
            (0..CPUS).all(|c| s.p.is_stalled(dom(d), cpu(c)) == (s.phase[d][c] == Phase::Stalled))
        })
    })
}

fn inv3(_: &PipelineModel, s: &State) -> bool {
    holds(s, fault::NO_EVENT_LOST, || {
        (0..LINES).all(|l| balanced(s, l))
    })
}

/// Line `l`'s events all went one way or wait in a log, and the statistics agree.
fn balanced(s: &State, l: usize) -> bool {
    {
        let irq = LINE_SPECS[l].irq;
        let pending: u64 = (0..DOMAINS)
            .flat_map(|d| (0..CPUS).map(move |c| (d, c)))
            .flat_map(|(d, c)| s.p.pending(dom(d), cpu(c)))
            .filter(|r| r.irq == irq)
            .map(|r| u64::from(r.count))
            .sum();
        let g = s.ledger[l];
        let (raised, oob, delivered, unhandled, replayed) = (
            u64::from(g.raised),
            u64::from(g.oob_run),
            u64::from(g.delivered),
            u64::from(g.unhandled),
            u64::from(g.replayed),
        );
        let Some(st) = s.p.stats(irq) else {
            return false;
        };
        // Every event raised went exactly one way, or is still waiting in a log.
        raised == oob + delivered + unhandled + replayed + pending
            // and the pipeline's statistics say the same.
            && st.received == raised
            && st.oob_handled == oob
            && st.delivered == delivered
            && st.unhandled == unhandled
            && st.replayed == replayed
            && st.logged + st.coalesced == replayed + pending
    }
}

fn inv4(_: &PipelineModel, s: &State) -> bool {
    holds(s, fault::REPLAY_IN_ORDER, || {
        (0..DOMAINS).all(|d| {
            (0..CPUS).all(|c| {
                let real: Vec<Replayed> = s.p.pending(dom(d), cpu(c)).collect();
                let spec: Vec<Replayed> = s.log[d][c]
                    .iter()
                    .map(|&(l, count)| Replayed {
                        irq: LINE_SPECS[usize::from(l)].irq,
                        count,
                    })
                    .collect();
                // The log holds what arrived, in order of first arrival; and a domain that
                // runs with interrupts enabled has nothing logged.
                real == spec && (s.phase[d][c] != Phase::Enabled || real.is_empty())
            })
        })
    })
}

fn inv5(_: &PipelineModel, s: &State) -> bool {
    holds(s, fault::NO_REENTRY, || {
        (0..CPUS).all(|c| {
            s.p.in_oob(cpu(c)) == s.in_oob(c) && s.p.reentry_attempts(cpu(c)) == s.reentries[c]
        })
    })
}

fn inv6(_: &PipelineModel, s: &State) -> bool {
    holds(s, fault::CAPABILITIES, || {
        (0..DOMAINS).all(|d| {
            s.p.stall_cap(dom(d))
                == Ok(StallCap {
                    domain: dom(d),
                    generation: s.generation[d],
                })
        })
    })
}

fn grace(_: &PipelineModel, s: &State) -> bool {
    holds(s, fault::GRACE, || true)
}

fn line_actions(_: &PipelineModel, s: &State) -> bool {
    holds(s, fault::LINE_ACTIONS, || (0..LINES).all(|l| line_ok(s, l)))
}

/// The controller and the pipeline agree on line `l`, and it is not masked for nothing.
fn line_ok(s: &State, l: usize) -> bool {
    {
        let irq = LINE_SPECS[l].irq;
        let until_ack = s.p.is_masked_until_ack(irq);
        let controller = if is_hardware(l) {
            s.masked[l] == (s.mode[l] == Mode::Unassigned || until_ack)
        } else {
            !s.masked[l]
        };
        // A level line masked for its owner has an event in its log or an ack due:
        // it cannot stay masked for nothing.
        let not_stuck = match s.mode[l] {
            Mode::InBand { domain } if until_ack => {
                let d = usize::from(domain.0);
                s.awaiting_ack[d] & (1 << l) != 0
                    || s.log[d].iter().flatten().any(|&(e, _)| usize::from(e) == l)
            }
            _ => true,
        };
        controller && not_stuck
    }
}
