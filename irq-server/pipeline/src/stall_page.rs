//! The stall page: how an in-band domain stalls and unstalls itself with plain memory
//! accesses, and how the irq-server learns about it, without a system call on the fast
//! path (optimistic interrupt protection, Stodolsky et al., reference 002's footnote 1).
//!
//! Each domain shares one page with the irq-server holding one [`StallWord`] per CPU: the
//! domain's virtual interrupt flag on that CPU (`stalled`, written only by the domain)
//! and the pending summary of its in-band log on that CPU (`pending`, written only by the
//! irq-server, under the lock that protects the [`Pipeline`](crate::Pipeline)).
//!
//! # Protocol
//!
//! Domain (in-band, on CPU `c`, with its own `StallWord` for `c`):
//!
//! - stall (`local_irq_disable`): `stalled.store(1)` — one store; a compiler fence keeps
//!   the critical section after it.
//! - unstall (`local_irq_enable`): `stalled.store(0); fence(SeqCst); pending.load()` — one
//!   store and one load; only if the load returns 1 does the domain enter the kernel and
//!   ask the irq-server to `sync`.
//!
//! irq-server, on an event for the domain on CPU `c`:
//!
//! - the server thread of CPU `c` runs only while the domain's thread on `c` is
//!   preempted, so it reads `stalled` with no race: unstalled with an empty log → deliver
//!   at once; otherwise log.
//! - after logging (also from another CPU, e.g. `post_inband` or irq_work aimed at `c`):
//!   `pending.store(1); fence(SeqCst); stalled.load()` — if the domain turns out to be
//!   unstalled, it may have missed `pending`, so the server replays itself: it kicks the
//!   server thread of CPU `c` (an IPI), which, with the domain preempted, checks
//!   `stalled` again and replays the log only if the domain is still unstalled.
//! - whoever drains the log (the domain's `sync` or the server's own replay, both under
//!   the pipeline lock) stores `pending = 0` while holding the lock. Replay is
//!   idempotent: the second of the two finds the log empty and does nothing.
//!
//! # Why no event is lost (Dekker)
//!
//! The domain does `S: stalled = 0; F1; L: read pending`, the server does
//! `W: pending = 1; F2; R: read stalled`, with `F1`, `F2` sequentially consistent fences.
//! The fences are totally ordered. If `F1` comes first, `R` reads `S` or a later store
//! (the domain unstalled, or re-stalled later, in which case its next unstall repeats the
//! argument): the server replays. If `F2` comes first, `L` reads `W` or later: the domain
//! syncs. So it cannot happen that the domain misses `pending` *and* the server sees the
//! domain stalled as of before `S`: the event is replayed at the latest at the next
//! unstall.
//!
//! # Why nothing is delivered while stalled (invariant 2)
//!
//! Delivery and replay are done only by the server thread of the domain's own CPU, and
//! only after reading `stalled == 0` while the domain is preempted (it cannot change the
//! flag meanwhile); or by the domain's own `sync`, which it calls from unstalled code.
//! A remote server never delivers; it only logs and kicks.
//!
//! The test `tests/loom_stall_page.rs` (run with
//! `RUSTFLAGS="--cfg loom" cargo test -p pipeline --test loom_stall_page --release`)
//! checks both properties over all interleavings with loom.
//!
//! The `Pipeline` keeps its own copy of each flag (`stall`/`unstall` through the
//! capability). The irq-server mirrors the word into it when it handles an event or a
//! `sync` for that domain on that CPU, so the pipeline decides on the value the domain
//! wrote.

use core::sync::atomic::{Ordering, compiler_fence};

#[cfg(not(loom))]
use core::sync::atomic::{AtomicU32, fence};
#[cfg(loom)]
use loom::sync::atomic::{AtomicU32, fence};

/// One domain's virtual interrupt flag and pending summary on one CPU, as laid out in
/// the page shared between the domain and the irq-server (one cache line each, so the
/// CPUs do not share lines).
#[derive(Debug)]
#[repr(C, align(64))]
pub struct StallWord {
    /// 1 while the domain is stalled on this CPU. Written by the domain only.
    stalled: AtomicU32,
    /// 1 while the domain's in-band log on this CPU is not empty. Written by the
    /// irq-server only, under its lock.
    pending: AtomicU32,
}

/// What the irq-server must do after logging an event (see [`StallWord::log_posted`]).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[must_use = "the server must replay when the domain unstalled meanwhile"]
pub enum AfterLog {
    /// The domain is stalled: its next unstall sees `pending` and syncs.
    DomainWillSync,
    /// The domain is (or became) unstalled and may have missed `pending`: the server of
    /// the domain's CPU must replay the log itself (kick it if this is another CPU).
    ReplayNow,
}

#[cfg(not(loom))]
impl Default for StallWord {
    fn default() -> Self {
        Self::new()
    }
}

impl StallWord {
    /// Unstalled, nothing pending.
    #[cfg(not(loom))]
    pub const fn new() -> Self {
        Self {
            stalled: AtomicU32::new(0),
            pending: AtomicU32::new(0),
        }
    }

    /// Unstalled, nothing pending (loom's atomics have no `const` constructor).
    #[cfg(loom)]
    pub fn new() -> Self {
        Self {
            stalled: AtomicU32::new(0),
            pending: AtomicU32::new(0),
        }
    }

    // ----- in-band side: the domain, on its own CPU -------------------------------------

    /// Stalls the domain on this CPU: one store.
    pub fn stall(&self) {
        // Relaxed is enough: the only reader that acts on "stalled" is the server thread
        // of this same CPU, which runs while this thread is preempted and so sees its
        // stores in program order. The compiler fence keeps the critical section's
        // accesses after the store.
        self.stalled.store(1, Ordering::Relaxed);
        compiler_fence(Ordering::SeqCst);
    }

    /// `local_irq_save`: stalls and returns whether the domain was already stalled (the
    /// domain is the only writer, so a load and a store need no read-modify-write).
    pub fn test_and_stall(&self) -> bool {
        let was = self.stalled.load(Ordering::Relaxed) != 0;
        self.stall();
        was
    }

    /// Unstalls the domain on this CPU: one store, a fence and one load. Returns `true`
    /// when events were logged meanwhile and the domain must ask the irq-server to sync.
    pub fn unstall(&self) -> bool {
        self.stalled.store(0, Ordering::Release);
        fence(Ordering::SeqCst);
        self.pending.load(Ordering::Relaxed) != 0
    }

    /// Whether the domain is stalled on this CPU (exact for the domain itself and for the
    /// server thread of the same CPU; a hint for anyone else).
    pub fn is_stalled(&self) -> bool {
        self.stalled.load(Ordering::Relaxed) != 0
    }

    // ----- oob side: the irq-server, holding its lock ------------------------------------

    /// The server logged an event for this domain and CPU: publishes `pending`, then
    /// re-checks the flag (the Dekker step).
    pub fn log_posted(&self) -> AfterLog {
        self.pending.store(1, Ordering::Relaxed);
        fence(Ordering::SeqCst);
        if self.stalled.load(Ordering::Relaxed) == 0 {
            AfterLog::ReplayNow
        } else {
            AfterLog::DomainWillSync
        }
    }

    /// The server drained the log for this domain and CPU (sync or its own replay).
    pub fn log_drained(&self) {
        self.pending.store(0, Ordering::Relaxed);
    }

    /// Whether the pending summary says something is logged.
    pub fn has_pending(&self) -> bool {
        self.pending.load(Ordering::Relaxed) != 0
    }
}

#[cfg(all(test, not(loom)))]
mod tests {
    use super::*;

    #[test]
    fn unstall_reports_pending_only_when_logged() {
        let w = StallWord::new();
        assert!(!w.test_and_stall());
        assert!(w.test_and_stall());
        assert!(w.is_stalled());
        assert_eq!(w.log_posted(), AfterLog::DomainWillSync);
        assert!(w.unstall());
        w.log_drained();
        w.stall();
        assert!(!w.unstall());
        assert_eq!(w.log_posted(), AfterLog::ReplayNow);
        assert!(w.has_pending());
    }

    #[test]
    fn one_word_per_cache_line() {
        assert_eq!(core::mem::size_of::<StallWord>(), 64);
        assert_eq!(core::mem::align_of::<StallWord>(), 64);
    }
}
