//! The protocol between timer clients and the timer-server, the proxy tick device.
//!
//! The timer-server is a service of the oob stage (it runs in the irq-server's program,
//! at the top priority), so its requests travel on the irq-server's endpoint, with labels
//! from [`irq_protocol::SERVICE_LABEL_BASE`] on. The badge of the caller's capability says
//! who it is:
//!
//! - an **in-band domain** (badge = domain id + 1) owns timers whose expiries travel
//!   through the pipeline: each is bound to a synthetic IRQ the domain allocated, posted
//!   to the domain at expiry, so it is delivered at once when the domain is unstalled and
//!   logged (and coalesced, with a count) while it is stalled, like any in-band IRQ;
//! - an **oob client** (badge = [`irq_protocol::CLIENT_BADGE_BASE`] + n), a real-time
//!   task, owns timers whose expiries wake it straight from the oob stage: the server
//!   writes the expiry into the client's [status page](StatusSlot) and signals its wake
//!   notification, so the wake-up never waits for in-band work.
//!
//! Every client has [`TIMERS_PER_CLIENT`] timers, numbered from 0; time is absolute, in
//! ticks of the Arm generic counter, which every task reads itself (`CNTVCT_EL0`), so
//! reading the clock needs no call.
#![no_std]
#![forbid(unsafe_code)]

/// Timers each client owns (numbered `0..TIMERS_PER_CLIENT`).
pub const TIMERS_PER_CLIENT: usize = 4;

/// Words of the status page per timer (see [`StatusSlot`]).
pub const STATUS_WORDS: usize = 4;

kernel_abi::code_enum! {
    /// What a client asks the timer-server (the message label). Words: `w0`, `w1`, ...
    pub enum TimerRequest: u32 decode from_code {
        /// Arm timer `w0` for the absolute deadline `w1` (counter ticks); with `w2` > 0 it
        /// is periodic with that period, deadline `n` being exactly `w1 + n * w2`, however
        /// late earlier ones were served. An in-band caller names in `w3` the synthetic IRQ
        /// (allocated by it, owned by it in-band) that each expiry raises. Re-arming
        /// replaces the old setting and clears the timer's counts.
        Arm = 0x100,
        /// Disarm timer `w0`. Replies `w0` = 1 if it was armed.
        Cancel = 0x101,
        /// Replies timer `w0`'s counts: expiries, overruns (periodic deadlines that passed
        /// while an earlier expiry was not yet served, reported instead of delivered one by
        /// one), the last deadline reached, the next deadline (0 = not armed).
        Status = 0x102,
        /// Replies the timer-server's counters: timer interrupts, expiries to oob clients,
        /// expiries to in-band domains, overruns, the worst lateness of the server itself
        /// (ticks from a deadline to the start of its expiry handling), comparator writes.
        Stats = 0x103,
        /// Replies the CPU's idle entries: deep, shallow (`WFI`), shallow because the
        /// timer-server vetoed deep idle while an oob timer was armed
        /// (`irq_cpuidle_control`), and `w3` = 1 if the veto holds now.
        IdleStats = 0x104,
    }
}

/// The label range of [`TimerRequest`].
pub const LABELS: core::ops::Range<u32> = 0x100..0x110;

kernel_abi::code_enum! {
    /// Why the timer-server refused a request (the reply label; 0 is success).
    pub enum TimerError: u32 decode from_code {
        /// Not a request the timer-server knows.
        UnknownRequest = 1,
        /// The caller is neither a domain nor an oob client of this image.
        NotAClient = 2,
        /// The timer number is not below [`TIMERS_PER_CLIENT`].
        NoSuchTimer = 3,
        /// An in-band caller named an IRQ it does not own in-band.
        NotYourIrq = 4,
        /// A deadline of 0, or a periodic schedule whose next deadline does not fit.
        BadDeadline = 5,
        /// An oob client whose wake notification or status page is missing from the
        /// image (the manifest gives the irq-server `timer-wakeN` and `timer-statusN`).
        NotConnected = 6,
    }
}

/// Where timer `timer`'s words start in an oob client's status page.
#[must_use]
pub const fn status_base(timer: usize) -> usize {
    timer * STATUS_WORDS
}

/// The words of one timer in an oob client's status page, written by the server before it
/// signals the client (the signal orders them before the client's wait returns).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum StatusSlot {
    /// Expiries delivered since the timer was armed.
    Expiries = 0,
    /// The deadline of the last expiry: lateness is wake time minus this.
    Deadline = 1,
    /// Overruns since the timer was armed.
    Overruns = 2,
    /// The next deadline, 0 if the timer is not armed.
    Next = 3,
}

impl StatusSlot {
    /// The word index of this field for `timer`.
    #[must_use]
    pub const fn word(self, timer: usize) -> usize {
        status_base(timer) + self as usize
    }
}

const _: () = assert!(TIMERS_PER_CLIENT * STATUS_WORDS * 8 <= 4096);
const _: () = assert!(LABELS.start >= irq_protocol::SERVICE_LABEL_BASE);
