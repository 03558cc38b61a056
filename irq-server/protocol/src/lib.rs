//! The protocol between in-band domains and the irq-server (the interrupt pipeline).
//!
//! Two channels:
//!
//! - **Requests**, by IPC `Call` on the irq-server's endpoint. The endpoint capability a
//!   domain holds is badged with its [`DomainId`] + 1 (set in the manifest), so the server
//!   knows who asks without trusting the message; the message label is a [`Request`],
//!   the words its arguments, and the reply's label is 0 or an [`Error`] code.
//! - **The domain page**, one shared frame per domain, mapped read-write by the domain
//!   and the irq-server: the domain's [`StallWord`] per CPU (its virtual interrupt flag,
//!   stalled and unstalled with plain memory accesses) and the [`EventRing`] through which
//!   the server hands over in-band events in arrival order. The server signals the
//!   domain's notification whenever it appends events.
//!
//! A domain unstalls with one store and one load ([`StallWord::unstall`]); only when that
//! says events were logged meanwhile does it call [`Request::Sync`], on return from which
//! the replayed events are in its ring, in arrival order, before any newer one.
#![no_std]
#![forbid(unsafe_code)]

pub use pipeline::stall_page::StallWord;
pub use pipeline::{DomainId, Irq};

use core::sync::atomic::{AtomicU64, Ordering};

/// Most CPUs a domain page describes.
pub const MAX_CPUS: usize = 4;
/// Most domains the irq-server serves.
pub const MAX_DOMAINS: usize = 8;
/// Events an [`EventRing`] holds; when it is full the server logs instead (the pipeline's
/// log is bounded by the line count and never drops), so no event is lost.
pub const EVENT_SLOTS: usize = 256;

/// Request labels from here on belong to the services linked into the oob stage (the
/// timer-server's requests, for one); the irq-server passes them on with the caller.
pub const SERVICE_LABEL_BASE: u32 = 0x100;
/// Badges from here on name clients of the oob stage's services that are not pipeline
/// domains (oob real-time tasks): client `badge - CLIENT_BADGE_BASE`. Badges
/// `1..=MAX_DOMAINS` name domains (`DomainId` + 1).
pub const CLIENT_BADGE_BASE: u64 = 0x100;
/// Most service clients that are not domains.
pub const MAX_CLIENTS: usize = 16;

kernel_abi::code_enum! {
    /// What a domain asks the irq-server (the message label). Words: `w0`, `w1`, ...
    pub enum Request: u32 decode from_code {
        /// Own interrupt line `w0` in-band, `w1` = 0 level, 1 edge: its events come to this
        /// domain. The line must be granted to the domain in the manifest.
        Attach = 1,
        /// Give line `w0` back.
        Detach = 2,
        /// Replay this domain's log on CPU `w0` into its event ring (after an unstall
        /// found events pending). Replies `w0` = events replayed.
        Sync = 3,
        /// The in-band handler of level line `w0` ran: unmask it.
        Ack = 4,
        /// Allocate a synthetic IRQ owned in-band by this domain. Replies `w0` = its number.
        AllocSynthetic = 5,
        /// Raise synthetic IRQ `w0` through the whole pipeline, as hardware would.
        Inject = 6,
        /// Move line `w0` to the oob stage, to the oob handler registered as `w1`.
        SwitchOob = 7,
        /// Move line `w0` back in-band, to this domain.
        SwitchInband = 8,
        /// Replies `w0` = 1 if line `w0` is handled out-of-band now, else 0.
        IsOob = 9,
        /// Replies the statistics of line `w0`: received, oob-handled, delivered, logged,
        /// replayed, coalesced (`w0`..`w5`); with `w1` = 1 instead the time the line
        /// spent masked waiting for its ack (system counter ticks) and the events nobody
        /// owned (`w0`, `w1`).
        Stats = 10,
        /// Set up this domain's irq_work IRQ (a synthetic IRQ owned in-band by it, through
        /// which oob code queues work for it). Replies `w0` = its number.
        IrqWorkSetup = 11,
        /// Take the irq_work items queued for this domain on CPU `w0`, in queueing order:
        /// replies `w0` = how many (at most 5) and `w1`..`w5` the items; call again while
        /// it returns 5.
        IrqWorkRun = 12,
        /// Replies this domain's statistics: events delivered at once, events logged,
        /// events replayed, syncs served (`w0`..`w3`).
        DomainStats = 13,
        /// Replies the pipeline's diagnostics: in-band operations attempted from oob
        /// context and refused (re-entry), interrupts with no owner, interrupts the kernel
        /// could not record (`w0`..`w2`).
        Diagnostics = 14,
        /// Start afresh (a restarted domain's first request; `Domain::connect` sends it):
        /// the server discards the events logged for this domain and its queued irq_work
        /// items, gives back every line it attached (oob or in-band) and frees every
        /// synthetic IRQ it allocated, its irq_work IRQ too. Refused with `Pipeline` while
        /// the domain is stalled (unstall first). Replies `w0` = events discarded.
        Reset = 15,
    }
}

kernel_abi::code_enum! {
    /// Why the irq-server refused a request (the reply label; 0 is success).
    pub enum Error: u32 decode from_code {
        /// Not a request the server knows.
        UnknownRequest = 1,
        /// The line is not granted to this domain, or does not exist.
        NotYours = 2,
        /// The line is already attached or in the requested mode.
        Busy = 3,
        /// An argument is out of range.
        BadArgument = 4,
        /// The pipeline refused (its error, e.g. a stale stall capability).
        Pipeline = 5,
        /// Out of synthetic IRQs or table space.
        Exhausted = 6,
    }
}

/// One in-band event handed to a domain: an IRQ and how many times it fired (more than
/// one only for coalesced edge events replayed from the log).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Event {
    /// The IRQ (hardware or synthetic).
    pub irq: u16,
    /// How many raises this event stands for.
    pub count: u32,
}

/// Events from the irq-server to one domain, in arrival order: single producer (the
/// server), single consumer (the domain). Counters only grow; slot `i % EVENT_SLOTS`.
#[derive(Debug)]
#[repr(C)]
pub struct EventRing {
    produced: AtomicU64,
    consumed: AtomicU64,
    /// `irq | count << 16` per slot.
    slots: [AtomicU64; EVENT_SLOTS],
}

impl EventRing {
    /// An empty ring.
    #[allow(clippy::declare_interior_mutable_const)]
    pub const EMPTY: EventRing = EventRing {
        produced: AtomicU64::new(0),
        consumed: AtomicU64::new(0),
        slots: [const { AtomicU64::new(0) }; EVENT_SLOTS],
    };

    /// Server: appends `event`; `false` if the ring is full (the caller keeps it logged).
    pub fn push(&self, event: Event) -> bool {
        let produced = self.produced.load(Ordering::Relaxed);
        if produced - self.consumed.load(Ordering::Acquire) >= EVENT_SLOTS as u64 {
            return false;
        }
        let word = u64::from(event.irq) | (u64::from(event.count) << 16);
        self.slots[(produced % EVENT_SLOTS as u64) as usize].store(word, Ordering::Relaxed);
        self.produced.store(produced + 1, Ordering::Release);
        true
    }

    /// Server: free slots.
    pub fn room(&self) -> usize {
        EVENT_SLOTS
            - (self.produced.load(Ordering::Relaxed) - self.consumed.load(Ordering::Acquire))
                as usize
    }

    /// Domain: takes the oldest event.
    pub fn pop(&self) -> Option<Event> {
        let consumed = self.consumed.load(Ordering::Relaxed);
        if consumed == self.produced.load(Ordering::Acquire) {
            return None;
        }
        let word = self.slots[(consumed % EVENT_SLOTS as u64) as usize].load(Ordering::Relaxed);
        self.consumed.store(consumed + 1, Ordering::Release);
        Some(Event {
            irq: word as u16,
            count: (word >> 16) as u32,
        })
    }
}

/// The page a domain shares with the irq-server.
#[derive(Debug)]
#[repr(C, align(4096))]
pub struct DomainPage {
    /// The domain's virtual interrupt flag and pending summary, per CPU.
    pub stall: [StallWord; MAX_CPUS],
    /// In-band events for the domain, in arrival order.
    pub events: EventRing,
}

const _: () = assert!(size_of::<DomainPage>() <= 4096);

impl DomainPage {
    /// A page with every CPU unstalled and no event.
    #[allow(clippy::declare_interior_mutable_const)]
    pub const EMPTY: DomainPage = DomainPage {
        stall: [const { StallWord::new() }; MAX_CPUS],
        events: EventRing::EMPTY,
    };
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ring_is_fifo_and_refuses_when_full() {
        let ring = EventRing::EMPTY;
        assert_eq!(ring.pop(), None);
        for i in 0..EVENT_SLOTS as u16 {
            assert!(ring.push(Event {
                irq: i,
                count: u32::from(i) + 1
            }));
        }
        assert!(
            !ring.push(Event { irq: 999, count: 1 }),
            "a full ring refuses"
        );
        assert_eq!(ring.room(), 0);
        for i in 0..EVENT_SLOTS as u16 {
            assert_eq!(
                ring.pop(),
                Some(Event {
                    irq: i,
                    count: u32::from(i) + 1
                })
            );
        }
        assert_eq!(ring.pop(), None);
        assert!(ring.push(Event { irq: 7, count: 3 }), "wraps around");
        assert_eq!(ring.pop(), Some(Event { irq: 7, count: 3 }));
    }

    #[test]
    fn codes_round_trip() {
        assert_eq!(Request::from_code(3), Some(Request::Sync));
        assert_eq!(Request::from_code(0), None);
        assert_eq!(Error::from_code(2).map(Error::name), Some("NotYours"));
    }

    #[test]
    fn room_counts_free_slots_as_the_ring_fills_and_drains() {
        let ring = EventRing::EMPTY;
        assert_eq!(ring.room(), EVENT_SLOTS);
        for i in 0..3 {
            assert!(ring.push(Event { irq: i, count: 1 }));
        }
        assert_eq!(ring.room(), EVENT_SLOTS - 3);
        ring.pop().unwrap();
        assert_eq!(ring.room(), EVENT_SLOTS - 2, "a pop frees a slot");
        while ring.push(Event { irq: 1, count: 1 }) {}
        assert_eq!(ring.room(), 0);
        ring.pop().unwrap();
        assert_eq!(ring.room(), 1);
    }

    #[test]
    fn every_irq_and_count_survives_the_slot_word() {
        let ring = EventRing::EMPTY;
        for event in [
            Event {
                irq: u16::MAX,
                count: u32::MAX,
            },
            Event { irq: 0, count: 0 },
            Event {
                irq: 0x8001,
                count: 0x1_0001,
            },
        ] {
            assert!(ring.push(event));
            assert_eq!(ring.pop(), Some(event));
        }
    }
}
