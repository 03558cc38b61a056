//! The pipeline: per-line mode and state, per-domain × per-CPU stall flags and logs, and
//! the dispatch decision for every event. See the crate documentation for the rules.

use crate::error::Error;
use crate::grace::{GracePeriods, RetiredHandler};
use crate::irq_work::{IrqWorkQueue, WorkBatch, WorkItem};
use crate::log::{InbandLog, LineIndex, LogError, Logged};
use crate::types::{
    CpuId, DomainId, HandlerId, Irq, LineAction, Mode, NR_IRQS, SYNTHETIC_BASE, SYNTHETIC_IRQS,
    Trigger,
};

/// `line_of` entry for an IRQ with no line slot.
const NO_LINE: u16 = u16::MAX;
/// Words in the synthetic allocation bitmap.
const SYNTHETIC_WORDS: usize = (SYNTHETIC_IRQS as usize).div_ceil(64);
/// `mask_since` value when the line is not being timed.
const NOT_MASKED: u64 = u64::MAX;

/// The right to set and clear one domain's virtual interrupt flag (and to sync and ack
/// for that domain). Issued by [`Pipeline::stall_cap`]; refused once
/// [`Pipeline::revoke_stall_cap`] has moved the domain to a newer generation.
///
/// The fields are public because the value travels as an IPC badge; the pipeline never
/// trusts it: it checks that the domain exists and that the generation is current.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct StallCap {
    /// The domain whose flag this capability controls.
    pub domain: DomainId,
    /// The capability's generation.
    pub generation: u32,
}

/// Per-IRQ statistics (per line slot; they start at zero when the IRQ is attached).
///
/// With the logs empty they balance:
/// `received == oob_handled + delivered + logged + coalesced + unhandled` and
/// `replayed == logged + coalesced`. While events wait in logs, `logged + coalesced -
/// replayed` is the number of events waiting.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub struct IrqStats {
    /// Events that entered the pipeline: hardware receipts, injections, posts.
    pub received: u64,
    /// Events that ran an oob handler at once.
    pub oob_handled: u64,
    /// Events delivered at once to an unstalled in-band domain.
    pub delivered: u64,
    /// Events that opened a new entry in an in-band log.
    pub logged: u64,
    /// Events handed out by replay (sum of the replayed entries' counts).
    pub replayed: u64,
    /// Events merged into an entry already pending in a log.
    pub coalesced: u64,
    /// Events with no owner (the line is masked).
    pub unhandled: u64,
    /// Total time the line spent masked, in the caller's time unit
    /// ([`Pipeline::mask_started`] / [`Pipeline::mask_ended`]).
    pub masked_time: u64,
}

/// The pipeline's decision for one event.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[must_use = "the caller must act on the dispatch decision"]
pub enum Dispatch {
    /// Run this oob handler now (invariant 1). The CPU has entered oob context in the
    /// same step: call [`Pipeline::leave_oob`] when the handler returns.
    RunOob {
        /// The handler.
        handler: HandlerId,
    },
    /// Deliver the event to the in-band domain now (signal its notification).
    Deliver {
        /// The owning domain, unstalled on this CPU with an empty log.
        domain: DomainId,
        /// The IRQ.
        irq: Irq,
        /// Always 1 for a direct delivery.
        count: u32,
        /// `MaskUntilAck` for a level-triggered line, `Keep` otherwise.
        line: LineAction,
    },
    /// The event opened a new entry in the domain's log on this CPU.
    Logged {
        /// The owning domain.
        domain: DomainId,
        /// `MaskUntilAck` for a level-triggered line (first event since the last ack),
        /// `Keep` otherwise.
        line: LineAction,
        /// The domain is unstalled on this CPU (it is waiting for a sync, or the event
        /// was posted): the irq-server must see that a sync runs.
        sync_needed: bool,
    },
    /// The event was merged into the entry already pending for this IRQ.
    Coalesced {
        /// The owning domain.
        domain: DomainId,
        /// The entry's count after this event.
        count: u32,
        /// As for `Logged`.
        line: LineAction,
        /// As for `Logged`.
        sync_needed: bool,
    },
    /// Nobody owns the IRQ: mask the line. Counted in `unhandled` (attached lines) or
    /// [`Pipeline::spurious`] (IRQs with no line slot).
    Unhandled,
}

/// The result of a mode change of a line.
#[derive(Debug, PartialEq, Eq)]
#[must_use = "the line action must be applied and the retired handler reclaimed"]
pub struct Switched<const CPUS: usize> {
    /// What to do with the line at the interrupt controller (`Keep` for synthetic IRQs).
    pub line: LineAction,
    /// The oob handler the line had before, if it changed: free its data only after
    /// [`Pipeline::reclaim`] gives it back.
    pub retired: Option<RetiredHandler<CPUS>>,
}

/// Answer to a valid ack: unmask this line.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[must_use = "the line must be unmasked"]
pub struct Unmask(pub Irq);

/// One replayed log entry.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Replayed {
    /// The IRQ.
    pub irq: Irq,
    /// How many events of it were merged into this entry (≥ 1).
    pub count: u32,
}

/// Result of [`Pipeline::irq_work_queue`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[must_use = "a raised irq_work IRQ carries a dispatch decision"]
pub enum WorkQueued {
    /// The domain's irq_work IRQ was raised on the CPU; act on this decision.
    Raised(Dispatch),
    /// The IRQ was already raised and the work not yet run: the item rides along.
    Coalesced,
}

/// The state of an attached line at the interrupt controller, as the pipeline models it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
enum LineState {
    /// Masked because it has no owner (the state right after `attach`, as with Hubris:
    /// an IRQ starts masked).
    NoOwner,
    /// Masked by a level-triggered in-band event until the owning domain acks.
    UntilAck,
    /// Unmasked.
    Unmasked,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
struct Line {
    irq: Irq,
    mode: Mode,
    trigger: Trigger,
    state: LineState,
    mask_since: u64,
    stats: IrqStats,
}

impl Line {
    fn new(irq: Irq, trigger: Trigger) -> Self {
        Self {
            irq,
            mode: Mode::Unassigned,
            trigger,
            // Synthetic lines have no controller line to mask.
            state: if irq.is_synthetic() {
                LineState::Unmasked
            } else {
                LineState::NoOwner
            },
            mask_since: NOT_MASKED,
            stats: IrqStats::default(),
        }
    }
}

#[derive(Clone, Debug, PartialEq, Eq, Hash)]
struct DomainState<const CPUS: usize> {
    generation: u32,
    stalled: [bool; CPUS],
    work_irq: Option<Irq>,
    work: [IrqWorkQueue; CPUS],
}

#[derive(Clone, Debug, PartialEq, Eq, Hash)]
struct CpuState<const DOMAINS: usize, const LINES: usize> {
    log: InbandLog<DOMAINS, LINES>,
    reentry: u64,
}

/// The interrupt pipeline for `CPUS` CPUs, `DOMAINS` in-band domains and at most `LINES`
/// attached IRQs (hardware and synthetic) at a time.
///
/// Every method takes `&mut self`: the irq-server serializes calls with a lock that is
/// safe against the oob stage (a hard spinlock), and releases it while an oob handler
/// runs; grace periods ([`Pipeline::reclaim`]) cover that window.
///
/// `Clone`, `Eq` and `Hash` compare and hash the whole state (host model checking keeps
/// pipelines as states).
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct Pipeline<const CPUS: usize, const DOMAINS: usize, const LINES: usize> {
    line_of: [u16; NR_IRQS],
    lines: [Option<Line>; LINES],
    synthetic: [u64; SYNTHETIC_WORDS],
    domains: [DomainState<CPUS>; DOMAINS],
    cpus: [CpuState<DOMAINS, LINES>; CPUS],
    grace: GracePeriods<CPUS>,
    spurious: u64,
}

impl<const CPUS: usize, const DOMAINS: usize, const LINES: usize> Default
    for Pipeline<CPUS, DOMAINS, LINES>
{
    fn default() -> Self {
        Self::new()
    }
}

impl<const CPUS: usize, const DOMAINS: usize, const LINES: usize> Pipeline<CPUS, DOMAINS, LINES> {
    const CAPACITY_OK: () = assert!(
        CPUS >= 1 && CPUS <= 64 && DOMAINS >= 1 && DOMAINS < 255 && LINES >= 1 && LINES < 65535,
        "Pipeline: CPUS in 1..=64, DOMAINS in 1..255, LINES in 1..65535"
    );

    /// A pipeline with no IRQ attached, every domain unstalled everywhere at capability
    /// generation 0, every CPU in in-band context. `const`, so it can initialize a
    /// `static`.
    pub const fn new() -> Self {
        let () = Self::CAPACITY_OK;
        Self {
            line_of: [NO_LINE; NR_IRQS],
            lines: [None; LINES],
            synthetic: [0; SYNTHETIC_WORDS],
            domains: [const {
                DomainState {
                    generation: 0,
                    stalled: [false; CPUS],
                    work_irq: None,
                    work: [const { IrqWorkQueue::new() }; CPUS],
                }
            }; DOMAINS],
            cpus: [const {
                CpuState {
                    log: InbandLog::new(),
                    reentry: 0,
                }
            }; CPUS],
            grace: GracePeriods::new(),
            spurious: 0,
        }
    }

    // ----- checks ---------------------------------------------------------------------

    fn cpu_ix(cpu: CpuId) -> Result<usize, Error> {
        let c = usize::from(cpu.0);
        if c < CPUS {
            Ok(c)
        } else {
            Err(Error::NoSuchCpu(cpu))
        }
    }

    fn domain_ix(domain: DomainId) -> Result<usize, Error> {
        let d = usize::from(domain.0);
        if d < DOMAINS {
            Ok(d)
        } else {
            Err(Error::NoSuchDomain(domain))
        }
    }

    /// The re-entry guard (invariant 5): in-band-only operations from oob context are
    /// refused and counted.
    fn inband_only(&mut self, cpu: CpuId) -> Result<usize, Error> {
        let c = Self::cpu_ix(cpu)?;
        if self.grace.in_oob(cpu) {
            self.cpus[c].reentry = self.cpus[c].reentry.saturating_add(1);
            return Err(Error::Reentry { cpu });
        }
        Ok(c)
    }

    /// Invariant 6: the capability names an existing domain at its current generation.
    fn check_cap(&self, cap: StallCap) -> Result<usize, Error> {
        let d = Self::domain_ix(cap.domain)?;
        let current = self.domains[d].generation;
        if cap.generation != current {
            return Err(Error::StaleCap {
                domain: cap.domain,
                presented: cap.generation,
                current,
            });
        }
        Ok(d)
    }

    fn line_ix(&self, irq: Irq) -> Result<usize, Error> {
        if !irq.is_valid() {
            return Err(Error::NoSuchIrq(irq));
        }
        let l = self.line_of[usize::from(irq.0)];
        if l == NO_LINE || self.lines[usize::from(l)].is_none() {
            return Err(Error::NotAttached(irq));
        }
        Ok(usize::from(l))
    }

    fn line(&self, irq: Irq) -> Option<&Line> {
        self.line_ix(irq).ok().and_then(|l| self.lines[l].as_ref())
    }

    /// The domain whose log holds events of line `l` on some CPU (at most one domain: see
    /// `switch_inband`). O(CPUS); configuration paths only.
    fn logged_for(&self, l: usize) -> Option<DomainId> {
        let l = l as LineIndex;
        self.cpus.iter().find_map(|cpu| cpu.log.holder(l))
    }

    // ----- oob stage: dispatch --------------------------------------------------------

    /// Decides what happens to an event of `irq` received on `cpu` (hardware receipt; see
    /// [`inject`](Self::inject) for synthetic IRQs). O(1).
    ///
    /// - oob handler → [`Dispatch::RunOob`] at once, whatever any domain's state, and the
    ///   CPU enters oob context;
    /// - in-band owner unstalled on `cpu` with an empty log → [`Dispatch::Deliver`];
    /// - otherwise → [`Dispatch::Logged`] or [`Dispatch::Coalesced`] (behind anything
    ///   logged before: invariant 4);
    /// - no owner → [`Dispatch::Unhandled`].
    ///
    /// A level-triggered in-band event also says `MaskUntilAck`. May be called from oob
    /// context (an oob handler injecting): delivering to an in-band domain means
    /// signalling its notification, not running in-band code, so it is no re-entry.
    pub fn receive(&mut self, cpu: CpuId, irq: Irq) -> Result<Dispatch, Error> {
        self.receive_with_stall(cpu, irq, |_| None)
    }

    /// [`receive`](Self::receive), reading the owner's stall flag where it lives: for an
    /// in-band line, `live_stall(owner)` gives the flag the domain published for `cpu`
    /// (`None`: keep the mirrored one), which is mirrored ([`mirror_stall`]
    /// (Self::mirror_stall)) before the decision. An oob line never calls it: its handler
    /// runs whatever the domains do, so the irq-server reads no stall word on that path.
    pub fn receive_with_stall(
        &mut self,
        cpu: CpuId,
        irq: Irq,
        live_stall: impl FnOnce(DomainId) -> Option<bool>,
    ) -> Result<Dispatch, Error> {
        let c = Self::cpu_ix(cpu)?;
        if !irq.is_valid() {
            return Err(Error::NoSuchIrq(irq));
        }
        let l = self.line_of[usize::from(irq.0)];
        let Some(line) = self.lines.get_mut(usize::from(l)).and_then(Option::as_mut) else {
            self.spurious = self.spurious.saturating_add(1);
            return Ok(Dispatch::Unhandled);
        };
        match line.mode {
            Mode::Oob { handler } => {
                // Enter before counting: on overflow nothing happened.
                self.grace.enter(cpu)?;
                line.stats.received += 1;
                line.stats.oob_handled += 1;
                Ok(Dispatch::RunOob { handler })
            }
            Mode::Unassigned => {
                line.stats.received += 1;
                line.stats.unhandled += 1;
                Ok(Dispatch::Unhandled)
            }
            Mode::InBand { domain } => {
                let action = if line.trigger == Trigger::Level && line.state == LineState::Unmasked
                {
                    line.state = LineState::UntilAck;
                    LineAction::MaskUntilAck
                } else {
                    LineAction::Keep
                };
                let flag = &mut self.domains[usize::from(domain.0)].stalled[c];
                if let Some(live) = live_stall(domain) {
                    *flag = live;
                }
                let stalled = *flag;
                let log = &mut self.cpus[c].log;
                if !stalled && log.is_empty(domain) {
                    line.stats.received += 1;
                    line.stats.delivered += 1;
                    return Ok(Dispatch::Deliver {
                        domain,
                        irq,
                        count: 1,
                        line: action,
                    });
                }
                match log.push(domain, l) {
                    Ok(Logged::First) => {
                        line.stats.received += 1;
                        line.stats.logged += 1;
                        Ok(Dispatch::Logged {
                            domain,
                            line: action,
                            sync_needed: !stalled,
                        })
                    }
                    Ok(Logged::Coalesced { count }) => {
                        line.stats.received += 1;
                        line.stats.coalesced += 1;
                        Ok(Dispatch::Coalesced {
                            domain,
                            count,
                            line: action,
                            sync_needed: !stalled,
                        })
                    }
                    // Unreachable: a line is only given to an in-band domain when no other
                    // domain has events of it logged.
                    Err(LogError::HeldBy(other)) => Err(Error::StillLogged { irq, domain: other }),
                    Err(LogError::OutOfRange) => Err(Error::NoSuchDomain(domain)),
                }
            }
        }
    }

    /// `irq_inject_pipeline`: feeds an event of an attached IRQ (typically synthetic)
    /// through [`receive`](Self::receive) on `cpu`, exactly as the hardware would.
    pub fn inject(&mut self, cpu: CpuId, irq: Irq) -> Result<Dispatch, Error> {
        Self::cpu_ix(cpu)?;
        self.line_ix(irq)?;
        self.receive(cpu, irq)
    }

    /// `irq_post_inband`: puts an event of `irq`, which `domain` owns in-band, straight
    /// into `domain`'s log on `cpu`, even if the domain is unstalled (meant for oob
    /// context, where in-band work cannot run). Answers `Logged` or `Coalesced`; with
    /// `sync_needed` when the domain is unstalled on `cpu`. Never masks the line.
    pub fn post_inband(
        &mut self,
        cpu: CpuId,
        domain: DomainId,
        irq: Irq,
    ) -> Result<Dispatch, Error> {
        let c = Self::cpu_ix(cpu)?;
        let d = Self::domain_ix(domain)?;
        let l = self.line_ix(irq)?;
        let Some(line) = self.lines[l].as_mut() else {
            return Err(Error::NotAttached(irq));
        };
        if line.mode != (Mode::InBand { domain }) {
            return Err(Error::NotOwner { irq, domain });
        }
        let sync_needed = !self.domains[d].stalled[c];
        match self.cpus[c].log.push(domain, l as LineIndex) {
            Ok(Logged::First) => {
                line.stats.received += 1;
                line.stats.logged += 1;
                Ok(Dispatch::Logged {
                    domain,
                    line: LineAction::Keep,
                    sync_needed,
                })
            }
            Ok(Logged::Coalesced { count }) => {
                line.stats.received += 1;
                line.stats.coalesced += 1;
                Ok(Dispatch::Coalesced {
                    domain,
                    count,
                    line: LineAction::Keep,
                    sync_needed,
                })
            }
            Err(LogError::HeldBy(other)) => Err(Error::StillLogged { irq, domain: other }),
            Err(LogError::OutOfRange) => Err(Error::NoSuchDomain(domain)),
        }
    }

    /// Enters oob context on `cpu` (nesting allowed): from now on in-band-only operations
    /// from `cpu` are refused, and `cpu` is inside a dispatch for grace periods.
    pub fn enter_oob(&mut self, cpu: CpuId) -> Result<(), Error> {
        self.grace.enter(cpu)
    }

    /// Leaves one level of oob context on `cpu` (after an oob handler, or to match
    /// [`enter_oob`](Self::enter_oob)). Back at depth 0 the CPU is quiescent.
    pub fn leave_oob(&mut self, cpu: CpuId) -> Result<(), Error> {
        self.grace.leave(cpu)
    }

    /// Whether `cpu` is in oob context.
    pub fn in_oob(&self, cpu: CpuId) -> bool {
        self.grace.in_oob(cpu)
    }

    /// Gives back the retired handler once every CPU that could still be running it has
    /// left oob context; otherwise returns the token to try again later. Never blocks.
    pub fn reclaim(&self, token: RetiredHandler<CPUS>) -> Result<HandlerId, RetiredHandler<CPUS>> {
        self.grace.reclaim(token)
    }

    /// `irq_work_queue`: queues `item` for `domain` on `cpu` and raises the domain's
    /// irq_work IRQ there unless it is already raised (see [`crate::irq_work`]). Allowed
    /// from oob context.
    pub fn irq_work_queue(
        &mut self,
        cpu: CpuId,
        domain: DomainId,
        item: WorkItem,
    ) -> Result<WorkQueued, Error> {
        let c = Self::cpu_ix(cpu)?;
        let d = Self::domain_ix(domain)?;
        let irq = self.domains[d].work_irq.ok_or(Error::NoIrqWork(domain))?;
        let l = self.line_ix(irq)?;
        if self.lines[l].map(|line| line.mode) != Some(Mode::InBand { domain }) {
            return Err(Error::NotOwner { irq, domain });
        }
        let queue = &mut self.domains[d].work[c];
        if queue.is_full() {
            return Err(Error::WorkQueueFull { domain, cpu });
        }
        let raised_before = queue.raised();
        match queue.push(item) {
            Err(_) => Err(Error::WorkQueueFull { domain, cpu }),
            Ok(false) => Ok(WorkQueued::Coalesced),
            Ok(true) => match self.receive(cpu, irq) {
                Ok(dispatch) => Ok(WorkQueued::Raised(dispatch)),
                Err(e) => {
                    self.domains[d].work[c].undo_push(raised_before);
                    Err(e)
                }
            },
        }
    }

    // ----- in-band stage: stall, sync, ack --------------------------------------------

    /// The current stall capability of `domain` (to hand to that domain at setup).
    pub fn stall_cap(&self, domain: DomainId) -> Result<StallCap, Error> {
        let d = Self::domain_ix(domain)?;
        Ok(StallCap {
            domain,
            generation: self.domains[d].generation,
        })
    }

    /// Revokes every stall capability of `domain` and returns the new one. The domain's
    /// flags and logs are left as they are: whoever holds the new capability can unstall
    /// and sync it (a supervisor restarting the domain, for instance). In-band only.
    pub fn revoke_stall_cap(&mut self, cpu: CpuId, domain: DomainId) -> Result<StallCap, Error> {
        self.inband_only(cpu)?;
        let d = Self::domain_ix(domain)?;
        let generation = self.domains[d]
            .generation
            .checked_add(1)
            .ok_or(Error::GenerationExhausted(domain))?;
        self.domains[d].generation = generation;
        Ok(StallCap { domain, generation })
    }

    /// Stalls `cap.domain` on `cpu` (`local_irq_disable`); returns whether it was already
    /// stalled (`local_irq_save`). In-band only.
    pub fn stall(&mut self, cap: StallCap, cpu: CpuId) -> Result<bool, Error> {
        let c = self.inband_only(cpu)?;
        let d = self.check_cap(cap)?;
        let was = self.domains[d].stalled[c];
        self.domains[d].stalled[c] = true;
        Ok(was)
    }

    /// Copies the stall flag `domain` published for `cpu` (its stall word, which it writes
    /// itself through its stall capability) into the state the decisions read. Only the
    /// flag changes, never a log, so it is allowed from oob context too: an oob handler
    /// that posts to a domain decides on that domain's word as it is at that moment.
    pub fn mirror_stall(
        &mut self,
        domain: DomainId,
        cpu: CpuId,
        stalled: bool,
    ) -> Result<(), Error> {
        let (d, c) = (Self::domain_ix(domain)?, Self::cpu_ix(cpu)?);
        self.domains[d].stalled[c] = stalled;
        Ok(())
    }

    /// Unstalls `cap.domain` on `cpu`; returns whether a [`sync`](Self::sync) is needed
    /// (its log on `cpu` is not empty). Until that sync, new events for the domain on
    /// `cpu` are logged behind the old ones, never delivered ahead of them. In-band only.
    pub fn unstall(&mut self, cap: StallCap, cpu: CpuId) -> Result<bool, Error> {
        let c = self.inband_only(cpu)?;
        let d = self.check_cap(cap)?;
        self.domains[d].stalled[c] = false;
        Ok(!self.cpus[c].log.is_empty(cap.domain))
    }

    /// Replays `cap.domain`'s log on `cpu`: an iterator that takes the entries in the
    /// order of their first arrival, each once with its count. Entries the caller does
    /// not take stay logged, still first in line. Refused while the domain is stalled on
    /// `cpu` (invariant 2). In-band only.
    pub fn sync(&mut self, cap: StallCap, cpu: CpuId) -> Result<Replay<'_, DOMAINS, LINES>, Error> {
        let c = self.inband_only(cpu)?;
        let d = self.check_cap(cap)?;
        if self.domains[d].stalled[c] {
            return Err(Error::Stalled {
                domain: cap.domain,
                cpu,
            });
        }
        Ok(Replay {
            log: &mut self.cpus[c].log,
            lines: &mut self.lines,
            domain: cap.domain,
        })
    }

    /// The owning domain acks a level-triggered IRQ it handled: the line may be unmasked.
    /// Refused if `cap.domain` does not own `irq` in-band or the line is not masked until
    /// ack. In-band only.
    pub fn ack(&mut self, cap: StallCap, cpu: CpuId, irq: Irq) -> Result<Unmask, Error> {
        self.inband_only(cpu)?;
        self.check_cap(cap)?;
        let l = self.line_ix(irq)?;
        let Some(line) = self.lines[l].as_mut() else {
            return Err(Error::NotAttached(irq));
        };
        if line.mode != (Mode::InBand { domain: cap.domain }) {
            return Err(Error::NotOwner {
                irq,
                domain: cap.domain,
            });
        }
        if line.state != LineState::UntilAck {
            return Err(Error::NotMasked(irq));
        }
        line.state = LineState::Unmasked;
        Ok(Unmask(irq))
    }

    /// Hands out all irq_work items queued for `cap.domain` on `cpu`, in queueing order;
    /// the next item queued raises the IRQ again. In-band only.
    pub fn irq_work_run(&mut self, cap: StallCap, cpu: CpuId) -> Result<WorkBatch, Error> {
        let c = self.inband_only(cpu)?;
        let d = self.check_cap(cap)?;
        Ok(self.domains[d].work[c].run())
    }

    // ----- configuration (in-band) ----------------------------------------------------

    fn alloc_line(&mut self, irq: Irq, trigger: Trigger) -> Result<(), Error> {
        let slot = self
            .lines
            .iter()
            .position(Option::is_none)
            .ok_or(Error::NoFreeLine)?;
        self.lines[slot] = Some(Line::new(irq, trigger));
        self.line_of[usize::from(irq.0)] = slot as u16;
        Ok(())
    }

    /// Checks that line `l` can be freed, then frees it.
    fn free_line(&mut self, irq: Irq, l: usize) -> Result<(), Error> {
        let Some(line) = self.lines[l] else {
            return Err(Error::NotAttached(irq));
        };
        if line.mode != Mode::Unassigned {
            return Err(Error::StillAssigned(irq));
        }
        if let Some(domain) = self.logged_for(l) {
            return Err(Error::StillLogged { irq, domain });
        }
        self.lines[l] = None;
        self.line_of[usize::from(irq.0)] = NO_LINE;
        Ok(())
    }

    /// Gives hardware IRQ `irq` a line slot, unassigned and masked, with its trigger.
    /// In-band only.
    pub fn attach(&mut self, cpu: CpuId, irq: Irq, trigger: Trigger) -> Result<(), Error> {
        self.inband_only(cpu)?;
        if !irq.is_valid() {
            return Err(Error::NoSuchIrq(irq));
        }
        if !irq.is_hardware() {
            return Err(Error::WrongKind(irq));
        }
        if self.line_of[usize::from(irq.0)] != NO_LINE {
            return Err(Error::AlreadyAttached(irq));
        }
        self.alloc_line(irq, trigger)
    }

    /// Frees the line slot of hardware IRQ `irq` (and its statistics). Refused while the
    /// line has an owner or events of it are logged. In-band only.
    pub fn detach(&mut self, cpu: CpuId, irq: Irq) -> Result<(), Error> {
        self.inband_only(cpu)?;
        let l = self.line_ix(irq)?;
        if !irq.is_hardware() {
            return Err(Error::WrongKind(irq));
        }
        self.free_line(irq, l)
    }

    /// Allocates a synthetic IRQ (edge-triggered, unassigned) with its line slot.
    /// In-band only. O(SYNTHETIC_IRQS / 64 + LINES).
    pub fn alloc_synthetic(&mut self, cpu: CpuId) -> Result<Irq, Error> {
        self.inband_only(cpu)?;
        let n = (0..usize::from(SYNTHETIC_IRQS))
            .find(|&n| self.synthetic[n / 64] & (1 << (n % 64)) == 0)
            .ok_or(Error::NoFreeSynthetic)?;
        let irq = Irq(SYNTHETIC_BASE + n as u16);
        self.alloc_line(irq, Trigger::Edge)?;
        self.synthetic[n / 64] |= 1 << (n % 64);
        Ok(irq)
    }

    /// Frees a synthetic IRQ. Refused while it has an owner or events of it are logged.
    /// In-band only.
    pub fn free_synthetic(&mut self, cpu: CpuId, irq: Irq) -> Result<(), Error> {
        self.inband_only(cpu)?;
        if !irq.is_valid() {
            return Err(Error::NoSuchIrq(irq));
        }
        if !irq.is_synthetic() {
            return Err(Error::WrongKind(irq));
        }
        let l = self.line_ix(irq)?;
        self.free_line(irq, l)?;
        let n = usize::from(irq.0 - SYNTHETIC_BASE);
        self.synthetic[n / 64] &= !(1 << (n % 64));
        for domain in &mut self.domains {
            if domain.work_irq == Some(irq) {
                domain.work_irq = None;
            }
        }
        Ok(())
    }

    fn retire(&self, old: Mode, new: Mode) -> Option<RetiredHandler<CPUS>> {
        match old {
            Mode::Oob { handler } if old != new => Some(self.grace.retire(handler)),
            _ => None,
        }
    }

    /// `irq_switch_oob`: from now on events of `irq` run `handler` in the oob stage.
    ///
    /// Events already logged for the in-band domain that owned it stay in that domain's
    /// log and replay to it. A line masked until ack is unmasked: an oob handler never
    /// waits for an in-band ack (invariant 1). A previous, different oob handler is
    /// retired. In-band only.
    pub fn switch_oob(
        &mut self,
        cpu: CpuId,
        irq: Irq,
        handler: HandlerId,
    ) -> Result<Switched<CPUS>, Error> {
        self.inband_only(cpu)?;
        let l = self.line_ix(irq)?;
        let Some(mut line) = self.lines[l] else {
            return Err(Error::NotAttached(irq));
        };
        let new = Mode::Oob { handler };
        let retired = self.retire(line.mode, new);
        let action = match line.state {
            LineState::Unmasked => LineAction::Keep,
            LineState::NoOwner | LineState::UntilAck => LineAction::Unmask,
        };
        line.state = LineState::Unmasked;
        line.mode = new;
        self.lines[l] = Some(line);
        Ok(Switched {
            line: if irq.is_synthetic() {
                LineAction::Keep
            } else {
                action
            },
            retired,
        })
    }

    /// Gives `irq` to in-band `domain`: from now on its events are delivered to or logged
    /// for that domain.
    ///
    /// Refused with [`Error::StillLogged`] while another domain still has events of it
    /// logged on some CPU (a line is pending for one domain at a time; that domain must
    /// sync first). A line masked until an ack from another owner is unmasked (the new
    /// owner gets a fresh event if the device still asserts). A previous oob handler is
    /// retired. In-band only.
    pub fn switch_inband(
        &mut self,
        cpu: CpuId,
        irq: Irq,
        domain: DomainId,
    ) -> Result<Switched<CPUS>, Error> {
        self.inband_only(cpu)?;
        Self::domain_ix(domain)?;
        let l = self.line_ix(irq)?;
        let Some(mut line) = self.lines[l] else {
            return Err(Error::NotAttached(irq));
        };
        if let Some(other) = self.logged_for(l)
            && other != domain
        {
            return Err(Error::StillLogged { irq, domain: other });
        }
        let new = Mode::InBand { domain };
        let retired = self.retire(line.mode, new);
        let action = match line.state {
            LineState::Unmasked => LineAction::Keep,
            LineState::UntilAck if line.mode == new => LineAction::Keep,
            LineState::NoOwner | LineState::UntilAck => {
                line.state = LineState::Unmasked;
                LineAction::Unmask
            }
        };
        line.mode = new;
        self.lines[l] = Some(line);
        Ok(Switched {
            line: if irq.is_synthetic() {
                LineAction::Keep
            } else {
                action
            },
            retired,
        })
    }

    /// Takes `irq` away from its owner (`free_irq`): events become `Unhandled` and the line
    /// is masked. Logged events stay and replay to the domain that logged them; an oob
    /// handler is retired. In-band only.
    pub fn release(&mut self, cpu: CpuId, irq: Irq) -> Result<Switched<CPUS>, Error> {
        self.inband_only(cpu)?;
        let l = self.line_ix(irq)?;
        let Some(mut line) = self.lines[l] else {
            return Err(Error::NotAttached(irq));
        };
        let retired = self.retire(line.mode, Mode::Unassigned);
        line.mode = Mode::Unassigned;
        let action = if irq.is_synthetic() {
            LineAction::Keep
        } else {
            let was = line.state;
            line.state = LineState::NoOwner;
            if was == LineState::Unmasked {
                LineAction::Mask
            } else {
                LineAction::Keep
            }
        };
        self.lines[l] = Some(line);
        Ok(Switched {
            line: action,
            retired,
        })
    }

    /// Gives `domain` its irq_work IRQ (a synthetic IRQ owned in-band by it), or returns
    /// the one it has. In-band only.
    pub fn irq_work_setup(&mut self, cpu: CpuId, domain: DomainId) -> Result<Irq, Error> {
        self.inband_only(cpu)?;
        let d = Self::domain_ix(domain)?;
        if let Some(irq) = self.domains[d].work_irq {
            return Ok(irq);
        }
        let irq = self.alloc_synthetic(cpu)?;
        // A fresh synthetic line: no handler to retire, nothing to unmask.
        let _ = self.switch_inband(cpu, irq, domain)?;
        self.domains[d].work_irq = Some(irq);
        Ok(irq)
    }

    /// Masked-time accounting: the caller masked the line of `irq` at time `now`. A second
    /// call before [`mask_ended`](Self::mask_ended) keeps the first time.
    pub fn mask_started(&mut self, irq: Irq, now: u64) -> Result<(), Error> {
        let l = self.line_ix(irq)?;
        if let Some(line) = self.lines[l].as_mut()
            && line.mask_since == NOT_MASKED
        {
            line.mask_since = now;
        }
        Ok(())
    }

    /// Masked-time accounting: the caller unmasked the line of `irq` at time `now`; adds
    /// `now - start` to `masked_time` (0 if the clock went backwards).
    pub fn mask_ended(&mut self, irq: Irq, now: u64) -> Result<(), Error> {
        let l = self.line_ix(irq)?;
        if let Some(line) = self.lines[l].as_mut()
            && line.mask_since != NOT_MASKED
        {
            line.stats.masked_time = line
                .stats
                .masked_time
                .saturating_add(now.saturating_sub(line.mask_since));
            line.mask_since = NOT_MASKED;
        }
        Ok(())
    }

    // ----- queries --------------------------------------------------------------------

    /// `irq_is_oob`: whether `irq` is in oob mode *now* (not how it was registered).
    pub fn is_oob(&self, irq: Irq) -> bool {
        matches!(self.mode(irq), Some(Mode::Oob { .. }))
    }

    /// The current mode of `irq`, if attached.
    pub fn mode(&self, irq: Irq) -> Option<Mode> {
        self.line(irq).map(|line| line.mode)
    }

    /// The trigger of `irq`, if attached.
    pub fn trigger(&self, irq: Irq) -> Option<Trigger> {
        self.line(irq).map(|line| line.trigger)
    }

    /// Whether the line of `irq` is masked until its owner acks.
    pub fn is_masked_until_ack(&self, irq: Irq) -> bool {
        self.line(irq)
            .is_some_and(|line| line.state == LineState::UntilAck)
    }

    /// The statistics of `irq`, if attached.
    pub fn stats(&self, irq: Irq) -> Option<IrqStats> {
        self.line(irq).map(|line| line.stats)
    }

    /// Whether `domain` is stalled on `cpu` (false for unknown ones).
    pub fn is_stalled(&self, domain: DomainId, cpu: CpuId) -> bool {
        match (Self::domain_ix(domain), Self::cpu_ix(cpu)) {
            (Ok(d), Ok(c)) => self.domains[d].stalled[c],
            _ => false,
        }
    }

    /// Number of entries in `domain`'s log on `cpu`.
    pub fn log_len(&self, domain: DomainId, cpu: CpuId) -> usize {
        Self::cpu_ix(cpu).map_or(0, |c| self.cpus[c].log.len(domain))
    }

    /// The entries of `domain`'s log on `cpu`, oldest first, without replaying them.
    pub fn pending(&self, domain: DomainId, cpu: CpuId) -> Pending<'_, DOMAINS, LINES> {
        let c = Self::cpu_ix(cpu).unwrap_or(0);
        // An unknown domain or CPU yields nothing: the log's iterator of an unknown domain
        // is empty, and an unknown CPU is mapped to an unknown domain.
        let domain = if Self::cpu_ix(cpu).is_ok() {
            domain
        } else {
            DomainId(u8::MAX)
        };
        Pending {
            inner: self.cpus[c].log.iter(domain),
            lines: &self.lines,
        }
    }

    /// How many in-band-only operations were refused on `cpu` because it was in oob
    /// context (invariant 5 diagnostics).
    pub fn reentry_attempts(&self, cpu: CpuId) -> u64 {
        Self::cpu_ix(cpu).map_or(0, |c| self.cpus[c].reentry)
    }

    /// Events of IRQs with no line slot (unattached hardware IRQs).
    pub fn spurious(&self) -> u64 {
        self.spurious
    }
}

/// The replay of one domain's log on one CPU (see [`Pipeline::sync`]).
#[derive(Debug)]
pub struct Replay<'a, const DOMAINS: usize, const LINES: usize> {
    log: &'a mut InbandLog<DOMAINS, LINES>,
    lines: &'a mut [Option<Line>; LINES],
    domain: DomainId,
}

impl<const DOMAINS: usize, const LINES: usize> Replay<'_, DOMAINS, LINES> {
    /// Entries not yet taken.
    pub fn remaining(&self) -> usize {
        self.log.len(self.domain)
    }
}

impl<const DOMAINS: usize, const LINES: usize> Iterator for Replay<'_, DOMAINS, LINES> {
    type Item = Replayed;

    fn next(&mut self) -> Option<Replayed> {
        loop {
            let (l, count) = self.log.pop(self.domain)?;
            // Always attached: a line cannot be freed while it is logged.
            if let Some(line) = self.lines[usize::from(l)].as_mut() {
                line.stats.replayed += u64::from(count);
                return Some(Replayed {
                    irq: line.irq,
                    count,
                });
            }
        }
    }

    fn size_hint(&self) -> (usize, Option<usize>) {
        (0, Some(self.remaining()))
    }
}

/// The entries of one domain's log on one CPU, oldest first (see [`Pipeline::pending`]).
#[derive(Debug)]
pub struct Pending<'a, const DOMAINS: usize, const LINES: usize> {
    inner: crate::log::LogIter<'a, DOMAINS, LINES>,
    lines: &'a [Option<Line>; LINES],
}

impl<const DOMAINS: usize, const LINES: usize> Iterator for Pending<'_, DOMAINS, LINES> {
    type Item = Replayed;

    fn next(&mut self) -> Option<Replayed> {
        loop {
            let (l, count) = self.inner.next()?;
            if let Some(line) = &self.lines[usize::from(l)] {
                return Some(Replayed {
                    irq: line.irq,
                    count,
                });
            }
        }
    }
}

#[cfg(test)]
mod tests;
