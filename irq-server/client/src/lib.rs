//! The in-band side of the interrupt pipeline: what an in-band server (a *domain*) links
//! to take interrupts from the irq-server, in the programming model Linux driver authors
//! know (reference 002, Dovetail's interrupt pipelining).
//!
//! | Linux / Dovetail | here |
//! |---|---|
//! | `local_irq_disable()` | [`Domain::stall`]: one store to the domain's stall word |
//! | `local_irq_enable()` | [`Domain::unstall`]: one store and one load; only when events were logged meanwhile, a `Sync` request and the replay, before it returns |
//! | `local_irq_save()` / `local_irq_restore()` | [`Domain::irq_save`] / [`Domain::irq_restore`] |
//! | `irqs_disabled()` | [`Domain::is_stalled`] |
//! | `request_irq()` / `free_irq()` | [`Domain::attach`] / [`Domain::detach`] |
//! | end of a level-triggered flow | [`Domain::ack`] |
//! | `irq_create_direct_mapping(synthetic_irq_domain)` | [`Domain::alloc_synthetic`] |
//! | `irq_inject_pipeline()` | [`Domain::inject`] |
//! | `irq_switch_oob()` / `irq_is_oob()` | [`Domain::switch_oob`], [`Domain::switch_inband`] / [`Domain::is_oob`] |
//! | the in-band handler running | the `on_event` closure, called once per [`Event`] |
//!
//! # How events reach the domain
//!
//! The irq-server (the oob stage) decides for every event of a line this domain owns
//! in-band: if the domain is unstalled and nothing of it is logged, the event is
//! *delivered*: appended to the event ring of the domain page and the domain's
//! `irq-events` notification signalled; otherwise it is *logged* in the server (an event
//! of an IRQ already logged is *coalesced* into its entry, which then counts several
//! raises) and the server sets the `pending` half of the stall word. The domain runs its
//! handlers when it takes events from the ring: in [`Domain::wait_for_events`],
//! [`Domain::poll_events`], and in [`Domain::unstall`] when the unstall found events
//! logged (it then asks the server to `Sync`, which moves the log into the ring in
//! arrival order, and runs them before returning: invariant 4).
//!
//! Handlers run with the domain stalled, as Linux runs interrupt handlers with
//! interrupts disabled: events raised meanwhile are logged and run right after, before
//! the draining call returns. Nothing runs an in-band handler while the domain is
//! stalled by its own code (invariant 2): [`Domain::poll_events`] and
//! [`Domain::wait_for_events`] refuse with [`Error::Stalled`] then (waiting with the
//! flag raised would also sleep forever: logged events signal nobody).
//!
//! # Capabilities (from the task's manifest)
//!
//! | name | object | rights |
//! |---|---|---|
//! | `irq-server` | the irq-server's request endpoint, badged with the domain id + 1 | write |
//! | `irq-page` | the domain page (`irq_protocol::DomainPage`) | read, write |
//! | `irq-events` | the notification the server signals when it appends events | read |
//!
//! The domain page is mapped at [`DOMAIN_PAGE_VA`], the last page of the window for
//! shared memory, so task code can use the window from its base.
//!
//! # CPUs
//!
//! The kernel runs tasks on CPU 0 until SMP bring-up; the domain uses the stall word of
//! [`CPU`] and names it in `Sync`. The domain page already holds one word per CPU.
#![no_std]
#![deny(unsafe_code)]
#![warn(missing_docs)]

use core::fmt;

use irq_protocol::{DomainPage, EVENT_SLOTS, Request};
use sluice::{Cap, Endpoint, Frame, LookupError, Message, Notification, SharedMemory, abi::layout};

pub use irq_protocol::{Error as Refusal, Event, Irq, StallWord};
pub use pipeline::{SYNTHETIC_BASE, Trigger};

/// Where [`Domain::connect`] maps the domain page: the last page of the window
/// `FrameOp::Map` serves (`SHARED_MAP_BASE..USER_MAP_END`).
pub const DOMAIN_PAGE_VA: u64 = layout::USER_MAP_END - 0x1000;

/// The CPU whose stall word the domain uses (tasks run on CPU 0 until SMP bring-up).
pub const CPU: usize = 0;

const _: () = assert!(DOMAIN_PAGE_VA >= layout::SHARED_MAP_BASE);
const _: () = assert!(CPU < irq_protocol::MAX_CPUS);

/// The domain page as this crate views it.
#[repr(transparent)]
struct Page(DomainPage);

// SAFETY: `DomainPage` is `repr(C)`: `[StallWord; MAX_CPUS]` (each two `AtomicU32` in a
// `repr(C, align(64))` line) and an `EventRing` (`AtomicU64` counters and slots). 1. Every
// byte that holds data is inside an atomic and only accessed through it. 2. Any bit
// pattern of those atomics is a valid value (a garbage stall word or ring entry is a
// wrong value, never an invalid one). 3. The padding after each stall word and at the end
// of the page is never read as data. `repr(transparent)` gives `Page` the same layout.
#[allow(unsafe_code)]
unsafe impl SharedMemory for Page {}

/// Why [`Domain::connect`] failed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ConnectError {
    /// A capability the domain needs is missing from the manifest or of the wrong kind.
    Cap {
        /// The capability's name (`irq-server`, `irq-page` or `irq-events`).
        name: &'static str,
        /// What the lookup found.
        error: LookupError,
    },
    /// The kernel refused to map the domain page at [`DOMAIN_PAGE_VA`] (e.g. the page is
    /// mapped already: a task connects once).
    Map(sluice::Error),
    /// The page is too small for a `DomainPage` or not writable (the `irq-page`
    /// capability needs READ and WRITE).
    Page,
    /// The task was restarted, and the irq-server refused to reset its domain (see
    /// [`Domain::reset`]).
    Reset(Error),
}

impl fmt::Display for ConnectError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Cap { name, error } => write!(f, "capability \"{name}\": {error}"),
            Self::Map(error) => write!(
                f,
                "mapping the domain page at {DOMAIN_PAGE_VA:#x}: {}",
                error.name()
            ),
            Self::Page => f.write_str("the domain page is too small or not writable"),
            Self::Reset(error) => write!(f, "resetting the restarted domain: {error}"),
        }
    }
}

/// Why a call into the pipeline failed. The domain's state is unchanged unless the
/// variant says otherwise.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Error {
    /// The irq-server refused the request (the reply's label).
    Refused(Refusal),
    /// The irq-server answered with a code or a word the protocol does not define.
    BadReply(u64),
    /// The kernel refused the IPC or the wait (e.g. a capability without its right).
    Kernel(sluice::Error),
    /// The domain is stalled: no in-band handler may run now (invariant 2), and waiting
    /// would sleep forever. Unstall first.
    Stalled,
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Refused(error) => write!(f, "the irq-server refused: {}", error.name()),
            Self::BadReply(value) => write!(f, "the irq-server answered {value:#x}, not a reply"),
            Self::Kernel(error) => write!(f, "the kernel refused: {}", error.name()),
            Self::Stalled => f.write_str("the domain is stalled"),
        }
    }
}

/// The statistics of one line, as the irq-server keeps them (`Request::Stats`).
///
/// `received == oob_handled + delivered + logged + coalesced` (plus events nobody
/// owned), and once the logs are empty `replayed == logged + coalesced`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Stats {
    /// Events that entered the pipeline: hardware receipts, injections, posts.
    pub received: u64,
    /// Events that ran an oob handler at once.
    pub oob_handled: u64,
    /// Events delivered at once to an unstalled in-band domain.
    pub delivered: u64,
    /// Events that opened a new entry in an in-band log.
    pub logged: u64,
    /// Events handed out by replay (the sum of the replayed entries' counts).
    pub replayed: u64,
    /// Events merged into an entry already pending in a log.
    pub coalesced: u64,
    /// Time the line spent masked waiting for its domain's ack, in system counter ticks.
    pub masked_time: u64,
}

/// This task's in-band domain: its stall word, its event ring, its requests to the
/// irq-server. See the crate documentation.
#[derive(Debug)]
pub struct Domain {
    page: &'static DomainPage,
    server: Cap<Endpoint>,
    events: Cap<Notification>,
    /// Events of the previous incarnation that [`Domain::connect`]'s reset discarded.
    discarded_at_connect: u64,
}

fn lookup<T: sluice::CapType>(name: &'static str) -> Result<Cap<T>, ConnectError> {
    sluice::cap::<T>(name).map_err(|error| ConnectError::Cap { name, error })
}

impl Domain {
    /// Finds the capabilities `irq-server`, `irq-page` and `irq-events`, maps the domain
    /// page at [`DOMAIN_PAGE_VA`] for good, and returns the domain. Call it once per task.
    ///
    /// # Errors
    /// [`ConnectError`]: a missing or mistyped capability, a refused map, a page that
    /// cannot hold a `DomainPage` (then it is unmapped again).
    pub fn connect() -> Result<Self, ConnectError> {
        let server = lookup::<Endpoint>("irq-server")?;
        let frame = lookup::<Frame>("irq-page")?;
        let events = lookup::<Notification>("irq-events")?;
        let mapping = frame
            .map_view(DOMAIN_PAGE_VA, true)
            .map_err(ConnectError::Map)?;
        match mapping.into_view::<Page>() {
            Ok(page) => {
                let mut domain = Self {
                    page: &page.0,
                    server,
                    events,
                    discarded_at_connect: 0,
                };
                // A restarted task finds its lines still attached by the incarnation that
                // died, and that one's events still queued: give them all back.
                if sluice::restarts() > 0 {
                    domain.discarded_at_connect = domain.reset().map_err(ConnectError::Reset)?;
                }
                Ok(domain)
            }
            Err(mapping) => {
                // Best effort: the error names the real problem either way.
                let _ = mapping.unmap();
                Err(ConnectError::Page)
            }
        }
    }

    fn word(&self) -> &StallWord {
        &self.page.stall[CPU]
    }

    // ----- the virtual interrupt flag ------------------------------------------------------

    /// `local_irq_disable`: stalls the domain (one store). Events for it are logged from
    /// now on and run at the next [`Domain::unstall`].
    #[inline]
    pub fn stall(&self) {
        self.word().stall();
    }

    /// `local_irq_enable`: unstalls the domain (one store and one load). Only if events
    /// were logged while it was stalled does it ask the irq-server to `Sync` and run
    /// `on_event` for each replayed event, in arrival order, before returning (invariant
    /// 4). Returns how many events it ran.
    ///
    /// # Errors
    /// What the `Sync` request returns; the domain is unstalled either way, and events
    /// the failed sync left logged run at the next successful one.
    #[inline]
    pub fn unstall(&self, on_event: &mut impl FnMut(Event)) -> Result<usize, Error> {
        if self.word().unstall() {
            self.run_events(on_event, true)
        } else {
            Ok(0)
        }
    }

    /// Whether the domain is stalled (`irqs_disabled`).
    #[must_use]
    pub fn is_stalled(&self) -> bool {
        self.word().is_stalled()
    }

    /// `local_irq_save`: stalls the domain and returns whether it was stalled already.
    #[must_use = "pass the state to irq_restore"]
    pub fn irq_save(&self) -> bool {
        self.word().test_and_stall()
    }

    /// `local_irq_restore`: back to the state [`Domain::irq_save`] returned: stays
    /// stalled if it was, else unstalls like [`Domain::unstall`] (running what was logged
    /// meanwhile). Returns how many events it ran.
    ///
    /// # Errors
    /// As [`Domain::unstall`].
    pub fn irq_restore(
        &self,
        was_stalled: bool,
        on_event: &mut impl FnMut(Event),
    ) -> Result<usize, Error> {
        if was_stalled {
            self.stall();
            Ok(0)
        } else {
            self.unstall(on_event)
        }
    }

    /// Runs `critical` with the domain stalled (`local_irq_save` ... `local_irq_restore`
    /// around it) and returns its value; events logged meanwhile run on the way out, as
    /// [`Domain::irq_restore`] does.
    ///
    /// # Errors
    /// As [`Domain::unstall`]; `critical` has run either way.
    pub fn with_stalled<R>(
        &self,
        on_event: &mut impl FnMut(Event),
        critical: impl FnOnce() -> R,
    ) -> Result<R, Error> {
        let was_stalled = self.irq_save();
        let value = critical();
        self.irq_restore(was_stalled, on_event).map(|_| value)
    }

    /// Whether the irq-server says events of this domain are logged and wait for a sync
    /// (the `pending` half of the stall word).
    #[must_use]
    pub fn sync_pending(&self) -> bool {
        self.word().has_pending()
    }

    /// Events delivered into the ring and not yet run (no handler runs for them here).
    #[must_use]
    pub fn queued_events(&self) -> usize {
        EVENT_SLOTS.saturating_sub(self.page.events.room())
    }

    // ----- taking events ----------------------------------------------------------------

    /// Blocks on the `irq-events` notification until events arrive, then runs `on_event`
    /// for each, in arrival order. Returns how many ran (at least one: a wake-up whose
    /// events an earlier [`Domain::poll_events`] took already waits again).
    ///
    /// # Errors
    /// [`Error::Stalled`] if the domain is stalled (handlers must not run, and logged
    /// events signal nobody: this would sleep forever); what the wait or a sync returns.
    pub fn wait_for_events(&self, on_event: &mut impl FnMut(Event)) -> Result<usize, Error> {
        if self.is_stalled() {
            return Err(Error::Stalled);
        }
        loop {
            // Events may be waiting already (delivered while this code ran): take them
            // before sleeping; their signal, still set, would only wake us for nothing.
            let handled = self.run_events(on_event, self.sync_pending())?;
            if handled > 0 {
                return Ok(handled);
            }
            self.events.wait().map_err(Error::Kernel)?;
        }
    }

    /// Runs `on_event` for the events delivered so far (and for logged ones, should the
    /// server have left any), without blocking. Returns how many ran.
    ///
    /// # Errors
    /// [`Error::Stalled`] if the domain is stalled (no in-band handler runs then; the
    /// events stay queued for the next unstall or poll); what a sync returns.
    pub fn poll_events(&self, on_event: &mut impl FnMut(Event)) -> Result<usize, Error> {
        if self.is_stalled() {
            return Err(Error::Stalled);
        }
        self.run_events(on_event, self.sync_pending())
    }

    /// The domain is unstalled: syncs if `sync`, then runs every event of the ring with
    /// the domain stalled (like a Linux interrupt handler), unstalls, and repeats while
    /// events were logged meanwhile.
    fn run_events(&self, on_event: &mut impl FnMut(Event), mut sync: bool) -> Result<usize, Error> {
        let mut handled = 0;
        loop {
            if sync {
                self.call(Request::Sync, &[CPU as u64])?;
            }
            self.stall();
            while let Some(event) = self.page.events.pop() {
                on_event(event);
                handled += 1;
            }
            sync = self.word().unstall();
            if !sync {
                return Ok(handled);
            }
        }
    }

    // ----- requests ---------------------------------------------------------------------

    /// One request: `Call` with the request's label and `words`; the reply's words if its
    /// label is 0.
    fn call(&self, request: Request, words: &[u64]) -> Result<[u64; 6], Error> {
        let message = Message::with_words(request as u32, words).map_err(Error::Kernel)?;
        let reply = self.server.call(&message).map_err(Error::Kernel)?;
        match reply.label() {
            0 => Ok(core::array::from_fn(|index| reply.word(index))),
            code => {
                Err(Refusal::from_code(code)
                    .map_or(Error::BadReply(u64::from(code)), Error::Refused))
            }
        }
    }

    /// Starts the domain afresh, as if it had never connected: unstalls it, has the
    /// irq-server discard its logged events and irq_work items and give back every line
    /// and synthetic IRQ it holds, and drops the events waiting in its ring. Returns how
    /// many events were discarded. [`Domain::connect`] calls it in a restarted task (one
    /// whose [`sluice::restarts`] is not 0), so that it can attach its lines again.
    ///
    /// # Errors
    /// What the irq-server or the kernel returns; the ring is left as it was then.
    pub fn reset(&self) -> Result<u64, Error> {
        // Pending logged events are discarded below, not synced.
        let _ = self.word().unstall();
        let discarded = self.call(Request::Reset, &[])?[0];
        let mut dropped = 0;
        while self.page.events.pop().is_some() {
            dropped += 1;
        }
        Ok(discarded + dropped)
    }

    /// How many events of the previous incarnation (logged, queued as irq_work or waiting
    /// in the ring) the reset in [`Domain::connect`] discarded; 0 in a task that was not
    /// restarted. The accounting that keeps "no event is lost" exact across a restart.
    #[must_use]
    pub fn discarded_at_connect(&self) -> u64 {
        self.discarded_at_connect
    }

    /// `request_irq`: owns hardware line `irq` in-band; its events come to this domain.
    /// A [`Trigger::Level`] line stays masked after each event until [`Domain::ack`].
    ///
    /// # Errors
    /// [`Error::Refused`]: `NotYours` / `Busy` if the line is not this domain's to take
    /// or taken already; or what the kernel returns.
    pub fn attach(&self, irq: Irq, trigger: Trigger) -> Result<(), Error> {
        let edge = match trigger {
            Trigger::Level => 0,
            Trigger::Edge => 1,
        };
        self.call(Request::Attach, &[u64::from(irq.0), edge])
            .map(drop)
    }

    /// `free_irq`: gives line (or synthetic IRQ) `irq` back.
    ///
    /// # Errors
    /// [`Error::Refused`] (`NotYours`, or `Pipeline` while events of it are still
    /// logged); or what the kernel returns.
    pub fn detach(&self, irq: Irq) -> Result<(), Error> {
        self.call(Request::Detach, &[u64::from(irq.0)]).map(drop)
    }

    /// The in-band handler of level-triggered line `irq` ran: the server unmasks it.
    ///
    /// # Errors
    /// [`Error::Refused`] (`NotYours`, `Pipeline`); or what the kernel returns.
    pub fn ack(&self, irq: Irq) -> Result<(), Error> {
        self.call(Request::Ack, &[u64::from(irq.0)]).map(drop)
    }

    /// Allocates a synthetic IRQ owned in-band by this domain (Dovetail's
    /// `irq_create_direct_mapping(synthetic_irq_domain)` and an in-band handler).
    ///
    /// # Errors
    /// [`Error::Refused`] (`Exhausted`); [`Error::BadReply`] if the number is not a
    /// synthetic IRQ; or what the kernel returns.
    pub fn alloc_synthetic(&self) -> Result<Irq, Error> {
        let [number, ..] = self.call(Request::AllocSynthetic, &[])?;
        u16::try_from(number)
            .ok()
            .map(Irq)
            .filter(|irq| irq.is_synthetic())
            .ok_or(Error::BadReply(number))
    }

    /// `irq_inject_pipeline`: raises synthetic IRQ `irq` through the whole pipeline, as
    /// hardware would. When it returns, an oob handler of `irq` has run; an in-band event
    /// has been delivered (taken by the next poll or wait) or logged (run at unstall).
    ///
    /// # Errors
    /// [`Error::Refused`] (`NotYours` for an IRQ this domain did not allocate); or what
    /// the kernel returns.
    pub fn inject(&self, irq: Irq) -> Result<(), Error> {
        self.call(Request::Inject, &[u64::from(irq.0)]).map(drop)
    }

    /// `irq_switch_oob(irq, true)`: moves `irq` to the oob stage, to the oob handler the
    /// irq-server registered as `handler`. Events already logged still replay here.
    ///
    /// # Errors
    /// [`Error::Refused`] (`NotYours`, `BadArgument` for an unknown handler, `Pipeline`
    /// if it is in that mode already); or what the kernel returns.
    pub fn switch_oob(&self, irq: Irq, handler: u16) -> Result<(), Error> {
        self.call(Request::SwitchOob, &[u64::from(irq.0), u64::from(handler)])
            .map(drop)
    }

    /// `irq_switch_oob(irq, false)`: moves `irq` back in-band, to this domain.
    ///
    /// # Errors
    /// As [`Domain::switch_oob`].
    pub fn switch_inband(&self, irq: Irq) -> Result<(), Error> {
        self.call(Request::SwitchInband, &[u64::from(irq.0)])
            .map(drop)
    }

    /// `irq_is_oob`: whether `irq` is handled out-of-band now (its current mode, not how
    /// it was first set up).
    ///
    /// # Errors
    /// [`Error::BadReply`] for an answer other than 0 or 1; what the server or the kernel
    /// returns.
    pub fn is_oob(&self, irq: Irq) -> Result<bool, Error> {
        match self.call(Request::IsOob, &[u64::from(irq.0)])? {
            [0, ..] => Ok(false),
            [1, ..] => Ok(true),
            [other, ..] => Err(Error::BadReply(other)),
        }
    }

    /// The statistics of line `irq`.
    ///
    /// # Errors
    /// [`Error::Refused`] (`BadArgument` for a line the pipeline does not track); or what
    /// the kernel returns.
    pub fn stats(&self, irq: Irq) -> Result<Stats, Error> {
        let [
            received,
            oob_handled,
            delivered,
            logged,
            replayed,
            coalesced,
        ] = self.call(Request::Stats, &[u64::from(irq.0)])?;
        let [masked_time, ..] = self.call(Request::Stats, &[u64::from(irq.0), 1])?;
        Ok(Stats {
            received,
            oob_handled,
            delivered,
            logged,
            replayed,
            coalesced,
            masked_time,
        })
    }

    /// `irq_work` set-up: the synthetic IRQ through which oob code queues in-band work
    /// for this domain. Its events carry no payload; on one, call
    /// [`Domain::irq_work_run`].
    ///
    /// # Errors
    /// What the server or the kernel returns.
    pub fn irq_work_setup(&self) -> Result<Irq, Error> {
        let [irq, ..] = self.call(Request::IrqWorkSetup, &[0])?;
        u16::try_from(irq)
            .map(Irq)
            .map_err(|_| Error::BadReply(irq))
    }

    /// Runs `on_item` for every irq_work item queued for this domain, in queueing order;
    /// returns how many ran. Call it (unstalled) when the irq_work IRQ's event arrives.
    ///
    /// # Errors
    /// What the server or the kernel returns; items already run stay run.
    pub fn irq_work_run(&self, on_item: &mut impl FnMut(u32)) -> Result<usize, Error> {
        let mut ran = 0;
        loop {
            let words = self.call(Request::IrqWorkRun, &[CPU as u64])?;
            let count = usize::try_from(words[0])
                .ok()
                .filter(|&n| n <= 5)
                .ok_or(Error::BadReply(words[0]))?;
            for &item in &words[1..=count] {
                on_item(item as u32);
            }
            ran += count;
            if count < 5 {
                return Ok(ran);
            }
        }
    }

    /// This domain's statistics: `(delivered at once, logged, replayed, syncs)`.
    ///
    /// # Errors
    /// What the server or the kernel returns.
    pub fn domain_stats(&self) -> Result<(u64, u64, u64, u64), Error> {
        let [delivered, logged, replayed, syncs, ..] = self.call(Request::DomainStats, &[0])?;
        Ok((delivered, logged, replayed, syncs))
    }

    /// The pipeline's diagnostics: `(re-entry attempts refused, interrupts with no owner,
    /// interrupts the kernel could not record)`.
    ///
    /// # Errors
    /// What the server or the kernel returns.
    pub fn diagnostics(&self) -> Result<(u64, u64, u64), Error> {
        let [reentry, spurious, overflowed, ..] = self.call(Request::Diagnostics, &[0])?;
        Ok((reentry, spurious, overflowed))
    }
}
