//! Timers from the timer-server, the proxy tick device.
//!
//! - [`OobTimers`]: for a real-time task (an oob client of the oob stage). An expiry
//!   wakes the task straight from the oob stage: [`OobTimers::wait`] returns, and
//!   [`OobTimers::status`] reads the deadline that was reached, the expiry count and the
//!   overruns from the status page, without a call.
//! - [`InbandTimers`]: for an in-band domain. Each timer raises a synthetic IRQ the domain
//!   allocated (`irq_client::Domain::alloc_synthetic`); the expiry reaches the domain
//!   through the pipeline like any in-band IRQ: at once when unstalled, logged and
//!   replayed on unstall when stalled.
//!
//! Time is absolute, in ticks of the generic counter: [`now`] reads it at EL0, no call.
//!
//! # Capabilities
//!
//! | name | object | who |
//! |---|---|---|
//! | `timer` | the irq-server's endpoint, badged `CLIENT_BADGE_BASE + n` | oob client `n` |
//! | `timer-wake` | its wake notification (read) | oob client |
//! | `timer-status` | its status page (read) | oob client |
//! | `irq-server` | the irq-server's endpoint with the domain's badge | in-band domain |
#![no_std]
#![deny(unsafe_code)]
#![warn(missing_docs)]

use core::fmt;

use sluice::{Cap, Endpoint, Frame, LookupError, Mapping, Message, Notification, abi::layout};
pub use timer_protocol::{StatusSlot, TIMERS_PER_CLIENT, TimerError, TimerRequest};

/// The generic counter now (`CNTVCT_EL0`, readable at EL0).
#[must_use]
pub fn now() -> u64 {
    sluice::sys::counter()
}

/// Counter ticks per second.
#[must_use]
pub fn frequency() -> u64 {
    sluice::timer::frequency()
}

/// `ns` nanoseconds in counter ticks (rounded down; at least 1 for a nonzero `ns`).
#[must_use]
pub fn ticks_from_ns(ns: u64) -> u64 {
    let ticks = (u128::from(ns) * u128::from(frequency()) / 1_000_000_000) as u64;
    if ns > 0 { ticks.max(1) } else { 0 }
}

/// `ticks` counter ticks in nanoseconds.
#[must_use]
pub fn ns_from_ticks(ticks: u64) -> u64 {
    (u128::from(ticks) * 1_000_000_000 / u128::from(frequency().max(1))) as u64
}

/// Why a timer operation failed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Error {
    /// The timer-server refused (the reply's label).
    Refused(TimerError),
    /// A reply code the protocol does not define.
    BadReply(u32),
    /// The kernel refused the call or the wait.
    Kernel(sluice::Error),
    /// A capability the client needs is missing or of the wrong kind.
    Cap {
        /// Its name.
        name: &'static str,
        /// What the lookup found.
        error: LookupError,
    },
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Refused(error) => write!(f, "the timer-server refused: {}", error.name()),
            Self::BadReply(code) => write!(f, "the timer-server answered {code:#x}"),
            Self::Kernel(error) => write!(f, "the kernel refused: {}", error.name()),
            Self::Cap { name, error } => write!(f, "capability \"{name}\": {error}"),
        }
    }
}

fn lookup<T: sluice::CapType>(name: &'static str) -> Result<Cap<T>, Error> {
    sluice::cap::<T>(name).map_err(|error| Error::Cap { name, error })
}

fn call(server: &Cap<Endpoint>, request: TimerRequest, words: &[u64]) -> Result<[u64; 6], Error> {
    let message = Message::with_words(request as u32, words).map_err(Error::Kernel)?;
    let reply = server.call(&message).map_err(Error::Kernel)?;
    match reply.label() {
        0 => Ok(core::array::from_fn(|index| reply.word(index))),
        code => Err(TimerError::from_code(code).map_or(Error::BadReply(code), Error::Refused)),
    }
}

/// A timer's counts.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Status {
    /// Expiries since it was armed.
    pub expiries: u64,
    /// Periodic deadlines that passed unserved (counted, not delivered one by one).
    pub overruns: u64,
    /// The deadline of the last expiry.
    pub deadline: u64,
    /// The next deadline (0: not armed).
    pub next: u64,
}

/// The timer-server's own counters ([`TimerRequest::Stats`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct ServerStats {
    /// Timer interrupts taken.
    pub interrupts: u64,
    /// Expiries that woke oob clients.
    pub oob_expiries: u64,
    /// Expiries posted to in-band domains.
    pub inband_expiries: u64,
    /// Overruns of all timers.
    pub overruns: u64,
    /// The worst lateness of the server itself: ticks from a deadline to its handling.
    pub worst_lateness: u64,
    /// Comparator writes.
    pub programmed: u64,
}

/// The CPU's idle entries, as the kernel counts them ([`TimerRequest::IdleStats`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct IdleStats {
    /// Deep idle entries (PSCI `CPU_SUSPEND`).
    pub deep: u64,
    /// Shallow (`WFI`) entries on a board without a deep state.
    pub shallow: u64,
    /// Shallow entries because an armed oob timer vetoed deep idle.
    pub vetoed: u64,
    /// Whether the veto holds now.
    pub veto_now: bool,
}

fn idle_stats(server: &Cap<Endpoint>) -> Result<IdleStats, Error> {
    let w = call(server, TimerRequest::IdleStats, &[])?;
    Ok(IdleStats {
        deep: w[0],
        shallow: w[1],
        vetoed: w[2],
        veto_now: w[3] != 0,
    })
}

fn stats(server: &Cap<Endpoint>) -> Result<ServerStats, Error> {
    let w = call(server, TimerRequest::Stats, &[])?;
    Ok(ServerStats {
        interrupts: w[0],
        oob_expiries: w[1],
        inband_expiries: w[2],
        overruns: w[3],
        worst_lateness: w[4],
        programmed: w[5],
    })
}

/// Where [`OobTimers::connect`] maps the status page.
pub const STATUS_PAGE_VA: u64 = layout::USER_MAP_END - 0x2000;

/// The timers of an oob client (a real-time task).
#[derive(Debug)]
pub struct OobTimers {
    server: Cap<Endpoint>,
    wake: Cap<Notification>,
    status: Mapping,
}

impl OobTimers {
    /// Finds `timer`, `timer-wake` and `timer-status` and maps the status page at
    /// [`STATUS_PAGE_VA`].
    ///
    /// # Errors
    /// A missing capability, or the kernel's refusal to map the page.
    pub fn connect() -> Result<Self, Error> {
        let server = lookup::<Endpoint>("timer")?;
        let wake = lookup::<Notification>("timer-wake")?;
        let status = lookup::<Frame>("timer-status")?
            .map_view(STATUS_PAGE_VA, false)
            .map_err(Error::Kernel)?;
        Ok(Self {
            server,
            wake,
            status,
        })
    }

    /// Arms `timer` once for the absolute `deadline`.
    ///
    /// # Errors
    /// [`Error::Refused`] with `NoSuchTimer`, `BadDeadline` or `NotConnected`.
    pub fn arm_oneshot(&self, timer: u8, deadline: u64) -> Result<(), Error> {
        call(
            &self.server,
            TimerRequest::Arm,
            &[u64::from(timer), deadline, 0],
        )
        .map(drop)
    }

    /// Arms `timer` on the schedule `first + n * period` (no drift).
    ///
    /// # Errors
    /// As [`OobTimers::arm_oneshot`].
    pub fn arm_periodic(&self, timer: u8, first: u64, period: u64) -> Result<(), Error> {
        call(
            &self.server,
            TimerRequest::Arm,
            &[u64::from(timer), first, period.max(1)],
        )
        .map(drop)
    }

    /// Disarms `timer`; whether it was armed.
    ///
    /// # Errors
    /// `NoSuchTimer`, or the kernel's refusal.
    pub fn cancel(&self, timer: u8) -> Result<bool, Error> {
        call(&self.server, TimerRequest::Cancel, &[u64::from(timer)]).map(|w| w[0] != 0)
    }

    /// Blocks until one of this client's timers expires (or expired since the last wait).
    ///
    /// # Errors
    /// The kernel's refusal (a `timer-wake` capability without READ).
    pub fn wait(&self) -> Result<(), Error> {
        self.wake.wait().map(drop).map_err(Error::Kernel)
    }

    /// `timer`'s counts, from the status page (no call). Read after [`OobTimers::wait`]:
    /// the expiry count is written last, so it never runs ahead of the deadline read.
    #[must_use]
    pub fn status(&self, timer: u8) -> Status {
        let t = usize::from(timer);
        let read = |slot: StatusSlot| self.status.read(slot.word(t)).unwrap_or(0);
        let expiries = read(StatusSlot::Expiries);
        Status {
            expiries,
            overruns: read(StatusSlot::Overruns),
            deadline: read(StatusSlot::Deadline),
            next: read(StatusSlot::Next),
        }
    }

    /// The timer-server's counters.
    ///
    /// # Errors
    /// The kernel's refusal.
    pub fn server_stats(&self) -> Result<ServerStats, Error> {
        stats(&self.server)
    }

    /// The CPU's idle entries and the veto (`irq_cpuidle_control`).
    ///
    /// # Errors
    /// The kernel's or the timer-server's refusal.
    pub fn idle_stats(&self) -> Result<IdleStats, Error> {
        idle_stats(&self.server)
    }
}

/// The timers of an in-band domain, delivered through the pipeline.
#[derive(Debug)]
pub struct InbandTimers {
    server: Cap<Endpoint>,
}

impl InbandTimers {
    /// Finds `irq-server` (the domain's badged endpoint).
    ///
    /// # Errors
    /// A missing capability.
    pub fn connect() -> Result<Self, Error> {
        Ok(Self {
            server: lookup::<Endpoint>("irq-server")?,
        })
    }

    /// Arms `timer` to raise synthetic IRQ `irq` (owned in-band by this domain) at
    /// `first`, and with `period` > 0 every `period` after, drift-free.
    ///
    /// # Errors
    /// [`Error::Refused`] with `NoSuchTimer`, `NotYourIrq` or `BadDeadline`.
    pub fn arm(&self, timer: u8, irq: u16, first: u64, period: u64) -> Result<(), Error> {
        call(
            &self.server,
            TimerRequest::Arm,
            &[u64::from(timer), first, period, u64::from(irq)],
        )
        .map(drop)
    }

    /// Disarms `timer`; whether it was armed.
    ///
    /// # Errors
    /// `NoSuchTimer`, or the kernel's refusal.
    pub fn cancel(&self, timer: u8) -> Result<bool, Error> {
        call(&self.server, TimerRequest::Cancel, &[u64::from(timer)]).map(|w| w[0] != 0)
    }

    /// `timer`'s counts (a call).
    ///
    /// # Errors
    /// `NoSuchTimer`, or the kernel's refusal.
    pub fn status(&self, timer: u8) -> Result<Status, Error> {
        let w = call(&self.server, TimerRequest::Status, &[u64::from(timer)])?;
        Ok(Status {
            expiries: w[0],
            overruns: w[1],
            deadline: w[2],
            next: w[3],
        })
    }

    /// The timer-server's counters.
    ///
    /// # Errors
    /// The kernel's refusal.
    pub fn server_stats(&self) -> Result<ServerStats, Error> {
        stats(&self.server)
    }

    /// The CPU's idle entries and the veto (`irq_cpuidle_control`).
    ///
    /// # Errors
    /// The kernel's or the timer-server's refusal.
    pub fn idle_stats(&self) -> Result<IdleStats, Error> {
        idle_stats(&self.server)
    }
}
