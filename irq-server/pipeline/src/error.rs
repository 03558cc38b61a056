//! Errors: every refusal is a value that names what was wrong; nothing in this crate
//! panics on bad input.

use core::fmt;

use crate::types::{CpuId, DomainId, Irq};

/// Why the pipeline refused an operation. The pipeline's state is unchanged by a refused
/// operation, except for the diagnostic counters named in the variant's description.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Error {
    /// The IRQ number is outside `0..NR_IRQS`.
    NoSuchIrq(Irq),
    /// The CPU number is not below the pipeline's CPU count.
    NoSuchCpu(CpuId),
    /// The domain number is not below the pipeline's domain count.
    NoSuchDomain(DomainId),
    /// An in-band-only operation was attempted from oob context on this CPU (invariant 5).
    /// Counted in [`Pipeline::reentry_attempts`](crate::Pipeline::reentry_attempts).
    Reentry {
        /// The CPU that is in oob context.
        cpu: CpuId,
    },
    /// The stall capability has been revoked: its generation is not the domain's current
    /// one (invariant 6).
    StaleCap {
        /// The domain the capability names.
        domain: DomainId,
        /// The generation the capability carries.
        presented: u32,
        /// The domain's current generation.
        current: u32,
    },
    /// The domain does not own this IRQ in-band (ack, post, irq_work on a line that is
    /// oob, unassigned or owned by another domain).
    NotOwner {
        /// The IRQ.
        irq: Irq,
        /// The domain that asked.
        domain: DomainId,
    },
    /// `ack` of a line that is not masked until ack (an edge line, or already acked).
    NotMasked(Irq),
    /// `sync` of a domain that is stalled on that CPU: nothing may be delivered to it
    /// (invariant 2).
    Stalled {
        /// The stalled domain.
        domain: DomainId,
        /// The CPU on which it is stalled.
        cpu: CpuId,
    },
    /// The IRQ has no line slot: `attach` it (hardware) or `alloc_synthetic` first.
    NotAttached(Irq),
    /// `attach` of an IRQ that already has a line slot.
    AlreadyAttached(Irq),
    /// All line slots are in use (the `LINES` capacity of the pipeline).
    NoFreeLine,
    /// All synthetic IRQ numbers are allocated.
    NoFreeSynthetic,
    /// A synthetic IRQ was expected (`free_synthetic`), or a hardware one (`attach`,
    /// `detach`).
    WrongKind(Irq),
    /// The line still has an owner; `release` it first (`detach`, `free_synthetic`).
    StillAssigned(Irq),
    /// Events of this IRQ are still logged for `domain` on some CPU: the line cannot be
    /// given to another in-band domain, detached or freed until that domain has synced.
    StillLogged {
        /// The IRQ.
        irq: Irq,
        /// The domain whose log holds its events.
        domain: DomainId,
    },
    /// `leave_oob` on a CPU that is not in oob context.
    NotInOob(CpuId),
    /// Oob context nesting would overflow its counter.
    OobNestingOverflow(CpuId),
    /// The domain's irq_work queue on that CPU is full; the item was not queued.
    WorkQueueFull {
        /// The domain.
        domain: DomainId,
        /// The CPU.
        cpu: CpuId,
    },
    /// The domain has no irq_work IRQ (`irq_work_setup` first).
    NoIrqWork(DomainId),
    /// The domain's capability generation counter is exhausted; it cannot be revoked
    /// again (the old capabilities stay refused).
    GenerationExhausted(DomainId),
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match *self {
            Error::NoSuchIrq(irq) => write!(f, "no such IRQ number: {}", irq.0),
            Error::NoSuchCpu(cpu) => write!(f, "no such CPU: {}", cpu.0),
            Error::NoSuchDomain(d) => write!(f, "no such domain: {}", d.0),
            Error::Reentry { cpu } => write!(
                f,
                "in-band-only operation attempted from oob context on {cpu} (re-entry refused)"
            ),
            Error::StaleCap {
                domain,
                presented,
                current,
            } => write!(
                f,
                "stall capability for {domain} is revoked (generation {presented}, current {current})"
            ),
            Error::NotOwner { irq, domain } => write!(f, "{irq} is not owned in-band by {domain}"),
            Error::NotMasked(irq) => write!(f, "{irq} is not masked until ack; nothing to ack"),
            Error::Stalled { domain, cpu } => {
                write!(f, "{domain} is stalled on {cpu}; unstall before sync")
            }
            Error::NotAttached(irq) => write!(f, "{irq} is not attached to the pipeline"),
            Error::AlreadyAttached(irq) => write!(f, "{irq} is already attached"),
            Error::NoFreeLine => write!(f, "all line slots are in use"),
            Error::NoFreeSynthetic => write!(f, "all synthetic IRQs are allocated"),
            Error::WrongKind(irq) => write!(f, "{irq} is the wrong kind (hardware vs synthetic)"),
            Error::StillAssigned(irq) => write!(f, "{irq} still has an owner; release it first"),
            Error::StillLogged { irq, domain } => {
                write!(
                    f,
                    "{irq} still has events logged for {domain}; it must sync first"
                )
            }
            Error::NotInOob(cpu) => write!(f, "{cpu} is not in oob context"),
            Error::OobNestingOverflow(cpu) => write!(f, "oob context nesting overflow on {cpu}"),
            Error::WorkQueueFull { domain, cpu } => {
                write!(f, "irq_work queue of {domain} on {cpu} is full")
            }
            Error::NoIrqWork(d) => write!(f, "{d} has no irq_work IRQ"),
            Error::GenerationExhausted(d) => {
                write!(f, "stall capability generations of {d} are exhausted")
            }
        }
    }
}

impl core::error::Error for Error {}
