//! The interrupt pipeline's decisions and state: oob/in-band routing, stall, log, replay
//! (pure logic).
//!
//! This crate is Dovetail's interrupt pipeline (reference 002) recast for a microkernel in
//! which the pipeline is a user-level service, the irq-server. It holds no hardware and
//! makes no system calls: the irq-server task and the host tests run the same code. The
//! irq-server feeds it events and applies its answers (run an oob handler, signal a
//! domain, mask or unmask a line).
//!
//! # Vocabulary
//!
//! - **oob stage**: the irq-server's top-priority threads; oob handlers run there at once.
//! - **in-band domain**: an in-band server process ([`DomainId`]); each has, per CPU, a
//!   virtual interrupt flag (**stalled** or not) and a **log** of events it could not take
//!   yet. Several domains exist side by side, each with its own flags.
//! - **sync**: replaying a domain's log after it unstalls.
//! - **synthetic IRQ**: an IRQ number with no hardware behind it, allocated by the pipeline
//!   and routed like a hardware one.
//!
//! # The dispatch decision ([`Pipeline::receive`], O(1))
//!
//! | line mode | domain state on the CPU | decision |
//! |---|---|---|
//! | oob handler | anything | [`Dispatch::RunOob`] at once (invariant 1) |
//! | in-band | unstalled, log empty | [`Dispatch::Deliver`] |
//! | in-band | stalled, or log not empty | [`Dispatch::Logged`] / [`Dispatch::Coalesced`] |
//! | none | — | [`Dispatch::Unhandled`]: mask the line |
//!
//! A level-triggered in-band event also answers [`LineAction::MaskUntilAck`]: the line
//! stays masked from the moment the event is delivered or logged until the owning domain
//! calls [`Pipeline::ack`], so a stalled domain cannot cause an interrupt storm.
//!
//! # Rules and the decisions taken where the design was silent
//!
//! 1. **Log bound and coalescing.** A domain's log on a CPU holds each IRQ at most once, so
//!    it can never overflow and no event is ever dropped. An event of an IRQ already
//!    pending in that log does not add an entry: it increments the entry's count and the
//!    IRQ's `coalesced` statistic. Replay drains the log in the order of first arrival,
//!    each entry once with its count (see [`log`]).
//! 2. **Invariant 4 without a race.** An in-band event is delivered directly only if the
//!    domain is unstalled *and* its log on that CPU is empty. Between an unstall that
//!    reported "sync needed" and the sync, new events are logged behind the old ones
//!    (answer `sync_needed: true`); they cannot overtake them.
//! 3. **Stall is per CPU, nothing is delivered while stalled.** [`Pipeline::sync`] is
//!    refused while the domain is stalled on that CPU (invariant 2).
//! 4. **Switching a line.** Events already logged stay in the log of the domain that logged
//!    them and replay to it, whatever the line's mode is now (oob, unassigned, or back to
//!    that domain, in which case new events coalesce with them). A line is pending for one
//!    domain at a time: giving it to a *different* in-band domain, detaching or freeing it
//!    is refused with [`Error::StillLogged`] until the old domain has synced. Switching to
//!    oob unmasks a line masked until ack (an oob handler never waits for an in-band ack);
//!    giving the line to another in-band domain unmasks it too (the old owner's ack is
//!    refused from then on); releasing it masks it. [`Pipeline::is_oob`] reports the
//!    current mode.
//! 5. **Delivery from oob context.** Deliver means "signal the domain's notification", an
//!    oob-safe kernel operation, not running in-band code on the oob stack. So an oob
//!    handler may inject an IRQ and the answer may be `Deliver`; this is not a re-entry.
//!    [`Pipeline::post_inband`] always logs (Dovetail's `irq_post_inband`).
//! 6. **Re-entry guard (invariant 5).** `receive`, `inject`, `post_inband`,
//!    `irq_work_queue`, `enter_oob`/`leave_oob`, `reclaim` and the queries are allowed
//!    anywhere. Every other operation (stall, unstall, sync, ack, irq_work_run, switches,
//!    attach/detach, synthetic alloc/free, capability revocation) is in-band only: it takes
//!    the caller's CPU and answers [`Error::Reentry`] from oob context, counting the
//!    attempt in [`Pipeline::reentry_attempts`].
//! 7. **Stall capabilities (invariant 6).** Stall, unstall, sync, ack and irq_work_run
//!    take a [`StallCap`]; a capability naming a nonexistent domain or carrying an old
//!    generation is refused; an ack of a line the capability's domain does not own is
//!    refused. Revocation bumps the generation and returns the new capability.
//! 8. **Grace periods (reference 003).** [`Dispatch::RunOob`] enters oob context in the
//!    same step as it reads the handler; replacing or removing an oob handler returns a
//!    [`RetiredHandler`] token that [`Pipeline::reclaim`] only gives back once every CPU
//!    that was in oob context at the retire has left it (see [`grace`]).
//! 9. **Statistics** per attached IRQ ([`IrqStats`]); events of IRQs with no line slot
//!    are counted in [`Pipeline::spurious`].
//! 10. **Capacity and size.** `LINES` line slots (hardware and synthetic IRQs attached at
//!     once), no heap, every capacity fixed at compile time; [`Pipeline::new`] is `const`,
//!     so the state is a `static`. State is kept per line slot, not per IRQ number, and
//!     the logs are per CPU, shared by the domains (see [`log`]): only the 2-byte
//!     IRQ → slot index covers all [`NR_IRQS`] numbers. `Pipeline<2, 4, 128>` (2 CPUs,
//!     4 domains, 128 lines) is 14,880 bytes: 2,176 for the index, 128 × 80 for the line
//!     slots (64 of them statistics), 2 × 128 × 7 for the logs, the rest for flags,
//!     capabilities, irq_work queues and grace periods. At 2 CPUs each extra line costs
//!     about 96 bytes (`80 + 7 × CPUS`, aligned) and each extra domain 160 bytes (mostly
//!     its irq_work queues); `Pipeline<4, 4, 128>` is 17,264 bytes.
//! 11. **Calling CPU.** In-band operations take the CPU the caller runs on: it names the
//!     flag and log concerned (a domain stalls, unstalls and syncs itself on its own CPU)
//!     and is the CPU checked by the re-entry guard.
//!
//! The lock-free half (the page in which a domain stalls itself with a store) is in
//! [`stall_page`]; [`irq_work`] describes in-band work queued from the oob stage.
#![no_std]
#![forbid(unsafe_code)]
#![warn(missing_docs)]

pub mod error;
pub mod grace;
pub mod irq_work;
pub mod log;
mod pipeline;
pub mod stall_page;
pub mod types;

pub use error::Error;
pub use grace::{GracePeriods, RetiredHandler};
pub use irq_work::{IRQ_WORK_ITEMS, WorkBatch, WorkItem};
pub use pipeline::{
    Dispatch, IrqStats, Pending, Pipeline, Replay, Replayed, StallCap, Switched, Unmask, WorkQueued,
};
pub use types::{
    CpuId, DomainId, HW_IRQS, HandlerId, Irq, LineAction, Mode, NR_IRQS, SYNTHETIC_BASE,
    SYNTHETIC_IRQS, Trigger,
};
