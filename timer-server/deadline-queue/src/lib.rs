//! Absolute-deadline timer queue: one-shot and drift-free periodic timers (pure logic).
//!
//! # Why it looks like this
//!
//! The timer-server is the proxy tick device: it alone programs the hardware timer (the
//! EL1 physical timer) and multiplexes it among many clients. Its whole job is this queue:
//! after any change it programs [`DeadlineQueue::next_deadline`] into the comparator, and
//! when the timer fires it drains [`DeadlineQueue::expire`] and wakes the owners, oob
//! clients from the oob stage, in-band ones through the pipeline.
//!
//! - **Absolute deadlines in ticks.** Time is a `u64` count of the Arm generic counter
//!   (`CNTPCT`), the same unit the comparator takes, so nothing is converted or rounded on
//!   the hot path and nothing drifts through conversion.
//! - **A fixed table of timer slots** ([`TimerId`]), sized by the image (const generic `N`),
//!   no heap. A slot is [`open`](DeadlineQueue::open)ed for a client (its owner tag and
//!   [`Class`]) and then armed, re-armed and cancelled any number of times.
//! - **A binary min-heap of slot numbers with a position index per slot.** The earliest
//!   deadline is at the root (O(1) to read), arming and expiring are O(log n), and
//!   cancelling is O(log n) too: the slot knows where it sits in the heap, so nothing scans
//!   the table. The heap can never overflow: it has room for every slot.
//! - **A total order on expiries:** earlier deadline first; at the same deadline oob timers
//!   before in-band ones (the server serves oob first); then the one armed first. "Armed"
//!   counts every arm call and every automatic re-arm of a periodic timer.
//! - **Periodic timers do not drift.** The n-th deadline is exactly
//!   `first + n * period`, whatever the lateness with which earlier ones were served: the
//!   next deadline is computed from the schedule, never from the time of service. If
//!   service was so late that several periods went by, those skipped deadlines are not
//!   delivered one by one; they are counted as *overruns* in the one [`Expiry`] reported,
//!   and the timer is re-armed for the first deadline strictly after `now`. This is one
//!   division, never a loop over missed periods, so a very late server does bounded work.
//! - **No panics, no wrap-around.** Deadline arithmetic is checked. A periodic timer whose
//!   next deadline would not fit in a `u64` (about 9,000 years of a 62.5 MHz counter, so
//!   only reachable with absurd inputs) is not re-armed: its last expiry says so with
//!   `next: None` and the slot becomes idle. Nothing saturates into a deadline that is not
//!   on the timer's schedule.
#![no_std]
#![forbid(unsafe_code)]
#![warn(missing_docs)]

use core::fmt;
use core::iter::FusedIterator;
use core::num::NonZeroU64;

/// Largest table a queue can hold: timer slots are numbered with `u16`.
pub const MAX_TIMERS: usize = 1 << 16;

/// A timer slot: an index into the queue's fixed table.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct TimerId(pub u16);

impl TimerId {
    /// The index as a `usize`.
    pub const fn get(self) -> usize {
        self.0 as usize
    }
}

impl fmt::Display for TimerId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "timer {}", self.0)
    }
}

/// Which stage a timer's owner is woken from. At equal deadlines oob timers expire first.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Class {
    /// Out-of-band: the owner is woken directly from the oob stage.
    Oob,
    /// In-band: the expiry is delivered through the pipeline to the owner's domain.
    InBand,
}

/// Who a timer slot belongs to: set when the slot is opened, reported with each expiry.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Client {
    /// The owner tag, the client id the timer-server knows its client by (for example the
    /// badge of the endpoint capability the client calls through).
    pub owner: u32,
    /// The stage the owner is woken from.
    pub class: Class,
}

/// How an armed timer behaves when it expires.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Mode {
    /// Fires once, then the slot is idle.
    OneShot,
    /// Fires every `period` ticks on the schedule `first + n * period`.
    Periodic {
        /// Ticks between two deadlines, never zero.
        period: NonZeroU64,
    },
}

/// One timer expiry, as [`DeadlineQueue::expire`] reports it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Expiry {
    /// The slot that expired.
    pub id: TimerId,
    /// The owner tag of the slot.
    pub owner: u32,
    /// The stage the owner is woken from.
    pub class: Class,
    /// The deadline that was reached: the one the timer was armed for. Lateness is
    /// `now - deadline`.
    pub deadline: u64,
    /// For a periodic timer, how many further deadlines of its schedule had also passed by
    /// `now` and are not delivered separately: `deadline + k * period` for `k` in
    /// `1..=overruns`. Always 0 for a one-shot timer.
    pub overruns: u64,
    /// The deadline a periodic timer was re-armed for: the first one of its schedule
    /// strictly after `now`. `None` for a one-shot timer, and for a periodic timer whose
    /// next deadline would not fit in a `u64` (it stops; see the crate docs).
    pub next: Option<u64>,
}

/// What went wrong with a queue operation. Each variant names the slot concerned.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum TimerError {
    /// The slot number is not below the capacity of the queue.
    OutOfRange {
        /// The slot that was given.
        id: TimerId,
        /// The number of slots the queue has (`N`).
        capacity: usize,
    },
    /// The slot has not been opened for a client, so it cannot be armed or cancelled.
    NotOpen {
        /// The slot that was given.
        id: TimerId,
    },
    /// The slot is already open, for the client named; close it first.
    AlreadyOpen {
        /// The slot that was given.
        id: TimerId,
        /// The client it is open for.
        client: Client,
    },
    /// A periodic timer was armed with a period of zero ticks.
    ZeroPeriod {
        /// The slot that was given.
        id: TimerId,
    },
}

impl fmt::Display for TimerError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match *self {
            TimerError::OutOfRange { id, capacity } => {
                write!(
                    f,
                    "{id} is out of range: this queue has timers 0..{capacity}"
                )
            }
            TimerError::NotOpen { id } => write!(f, "{id} is not open for any client"),
            TimerError::AlreadyOpen { id, client } => write!(
                f,
                "{id} is already open for owner {} ({:?})",
                client.owner, client.class
            ),
            TimerError::ZeroPeriod { id } => {
                write!(
                    f,
                    "{id}: a periodic timer needs a period of at least one tick"
                )
            }
        }
    }
}

impl core::error::Error for TimerError {}

/// Heap order of an armed timer: deadline, then class (oob first), then arm order.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
struct Key {
    deadline: u64,
    class: Class,
    seq: u64,
}

#[derive(Clone, Copy, Debug)]
struct Slot {
    /// `None` while the slot is closed.
    client: Option<Client>,
    /// Meaningful only while armed.
    key: Key,
    /// Meaningful only while armed.
    mode: Mode,
    /// Where the slot sits in the heap; `Some` exactly while it is armed.
    pos: Option<u16>,
}

impl Slot {
    const CLOSED: Self = Self {
        client: None,
        key: Key {
            deadline: 0,
            class: Class::Oob,
            seq: 0,
        },
        mode: Mode::OneShot,
        pos: None,
    };
}

/// The timer-server's queue of absolute deadlines over `N` timer slots.
///
/// `N` must be at most [`MAX_TIMERS`]; a larger value fails to compile when
/// [`DeadlineQueue::new`] is used.
#[derive(Clone)]
pub struct DeadlineQueue<const N: usize> {
    slots: [Slot; N],
    /// Min-heap of armed slot numbers, ordered by their [`Key`]; `heap[..len]` is live.
    heap: [u16; N],
    len: usize,
    /// Arm counter, for the last tie-break. It is a `u64` incremented once per arm: it
    /// does not wrap in practice (and if it did, only the order among timers of equal
    /// deadline and class would be affected).
    seq: u64,
}

impl<const N: usize> DeadlineQueue<N> {
    /// A queue with every slot closed and nothing armed.
    pub const fn new() -> Self {
        const { assert!(N <= MAX_TIMERS, "timer slots are numbered with u16") };
        Self {
            slots: [Slot::CLOSED; N],
            heap: [0; N],
            len: 0,
            seq: 0,
        }
    }

    /// The number of slots (`N`).
    pub const fn capacity(&self) -> usize {
        N
    }

    /// The number of armed timers.
    pub const fn len(&self) -> usize {
        self.len
    }

    /// Whether no timer is armed.
    pub const fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// Opens slot `id` for `client`. The slot starts idle (not armed).
    ///
    /// # Errors
    ///
    /// [`TimerError::OutOfRange`], or [`TimerError::AlreadyOpen`] if the slot is open.
    pub fn open(&mut self, id: TimerId, client: Client) -> Result<(), TimerError> {
        let i = self.check_range(id)?;
        if let Some(client) = self.slots[i].client {
            return Err(TimerError::AlreadyOpen { id, client });
        }
        self.slots[i] = Slot {
            client: Some(client),
            ..Slot::CLOSED
        };
        Ok(())
    }

    /// Closes slot `id`, cancelling it first if it is armed. Returns the client it was open
    /// for.
    ///
    /// # Errors
    ///
    /// [`TimerError::OutOfRange`], or [`TimerError::NotOpen`] if the slot is closed.
    pub fn close(&mut self, id: TimerId) -> Result<Client, TimerError> {
        let i = self.check_open(id)?;
        self.disarm(i);
        let client = self.slots[i].client.take();
        client.ok_or(TimerError::NotOpen { id })
    }

    /// The client slot `id` is open for, or `None` if it is closed (or out of range).
    pub fn client(&self, id: TimerId) -> Option<Client> {
        self.slots.get(id.get()).and_then(|s| s.client)
    }

    /// Arms slot `id` to fire once at `deadline` (in ticks). A deadline already past fires
    /// at the next [`expire`](Self::expire). If the timer was armed, the new setting
    /// replaces the old one.
    ///
    /// # Errors
    ///
    /// [`TimerError::OutOfRange`], [`TimerError::NotOpen`].
    pub fn arm_oneshot(&mut self, id: TimerId, deadline: u64) -> Result<(), TimerError> {
        let i = self.check_open(id)?;
        self.arm(i, deadline, Mode::OneShot);
        Ok(())
    }

    /// Arms slot `id` to fire at `first_deadline` and then every `period` ticks after it,
    /// on the schedule `first_deadline + n * period`. A first deadline already past fires at
    /// the next [`expire`](Self::expire), with the periods that passed since counted as
    /// overruns. If the timer was armed, the new setting replaces the old one.
    ///
    /// # Errors
    ///
    /// [`TimerError::OutOfRange`], [`TimerError::NotOpen`], and
    /// [`TimerError::ZeroPeriod`] if `period` is 0. The timer is unchanged on error.
    pub fn arm_periodic(
        &mut self,
        id: TimerId,
        first_deadline: u64,
        period: u64,
    ) -> Result<(), TimerError> {
        let i = self.check_open(id)?;
        let period = NonZeroU64::new(period).ok_or(TimerError::ZeroPeriod { id })?;
        self.arm(i, first_deadline, Mode::Periodic { period });
        Ok(())
    }

    /// Disarms slot `id`: it will not fire until armed again. Returns whether it was armed
    /// (`false` is not an error: the timer may just have fired).
    ///
    /// # Errors
    ///
    /// [`TimerError::OutOfRange`], [`TimerError::NotOpen`].
    pub fn cancel(&mut self, id: TimerId) -> Result<bool, TimerError> {
        let i = self.check_open(id)?;
        Ok(self.disarm(i))
    }

    /// Whether slot `id` is armed.
    pub fn is_armed(&self, id: TimerId) -> bool {
        self.deadline_of(id).is_some()
    }

    /// The deadline slot `id` is armed for, or `None` if it is not armed.
    pub fn deadline_of(&self, id: TimerId) -> Option<u64> {
        let slot = self.slots.get(id.get())?;
        slot.pos.map(|_| slot.key.deadline)
    }

    /// The mode slot `id` is armed with, or `None` if it is not armed.
    pub fn mode_of(&self, id: TimerId) -> Option<Mode> {
        let slot = self.slots.get(id.get())?;
        slot.pos.map(|_| slot.mode)
    }

    /// The earliest deadline of all armed timers: what to program into the hardware timer.
    /// `None` when nothing is armed (the timer can be left off). O(1).
    pub fn next_deadline(&self) -> Option<u64> {
        self.heap[..self.len]
            .first()
            .map(|&i| self.slots[usize::from(i)].key.deadline)
    }

    /// Takes the first timer due at `now` (deadline `<= now`, in the order described in the
    /// crate docs), re-arms it if it is periodic, and reports it. `None` when nothing is
    /// due.
    pub fn pop_expired(&mut self, now: u64) -> Option<Expiry> {
        let top = usize::from(*self.heap[..self.len].first()?);
        let slot = self.slots[top];
        let deadline = slot.key.deadline;
        if deadline > now {
            return None;
        }
        // An armed slot is always open (close disarms first).
        let client = slot.client?;
        let (overruns, next) = match slot.mode {
            Mode::OneShot => (0, None),
            Mode::Periodic { period } => {
                let period = period.get();
                // deadline + overruns * period <= now < deadline + (overruns + 1) * period:
                // one division, whatever the lateness.
                let overruns = (now - deadline) / period;
                let next = overruns
                    .checked_add(1)
                    .and_then(|k| k.checked_mul(period))
                    .and_then(|step| deadline.checked_add(step));
                (overruns, next)
            }
        };
        match next {
            Some(next) => {
                // A later key than before: the slot can only move down from the root.
                self.slots[top].key = Key {
                    deadline: next,
                    class: slot.key.class,
                    seq: self.next_seq(),
                };
                self.sift_down(0);
            }
            None => self.remove_at(0),
        }
        Some(Expiry {
            id: TimerId(top as u16),
            owner: client.owner,
            class: client.class,
            deadline,
            overruns,
            next,
        })
    }

    /// Every timer due at `now`, in order, as an iterator that takes each from the queue as
    /// it goes (see [`pop_expired`](Self::pop_expired)). Periodic timers are re-armed for a
    /// deadline after `now`, so each timer appears at most once. Timers not taken because
    /// the iterator was dropped early stay queued, and `next_deadline() <= now` says so.
    pub fn expire(&mut self, now: u64) -> Expire<'_, N> {
        Expire { queue: self, now }
    }

    fn check_range(&self, id: TimerId) -> Result<usize, TimerError> {
        let i = id.get();
        if i < N {
            Ok(i)
        } else {
            Err(TimerError::OutOfRange { id, capacity: N })
        }
    }

    fn check_open(&self, id: TimerId) -> Result<usize, TimerError> {
        let i = self.check_range(id)?;
        match self.slots[i].client {
            Some(_) => Ok(i),
            None => Err(TimerError::NotOpen { id }),
        }
    }

    fn next_seq(&mut self) -> u64 {
        let seq = self.seq;
        self.seq = self.seq.wrapping_add(1);
        seq
    }

    /// Arms open slot `i`, replacing any previous setting.
    fn arm(&mut self, i: usize, deadline: u64, mode: Mode) {
        let class = match self.slots[i].client {
            Some(client) => client.class,
            None => return,
        };
        let seq = self.next_seq();
        self.slots[i].key = Key {
            deadline,
            class,
            seq,
        };
        self.slots[i].mode = mode;
        match self.slots[i].pos {
            Some(pos) => {
                let pos = usize::from(pos);
                self.sift_up(pos);
                self.sift_down(pos);
            }
            None => {
                // The heap has room for every slot and `i` is not in it, so `len < N`.
                let pos = self.len;
                self.heap[pos] = i as u16;
                self.slots[i].pos = Some(pos as u16);
                self.len += 1;
                self.sift_up(pos);
            }
        }
    }

    /// Disarms slot `i`; returns whether it was armed.
    fn disarm(&mut self, i: usize) -> bool {
        match self.slots[i].pos {
            Some(pos) => {
                self.remove_at(usize::from(pos));
                true
            }
            None => false,
        }
    }

    fn key_at(&self, pos: usize) -> Key {
        self.slots[usize::from(self.heap[pos])].key
    }

    /// Swaps two heap positions and keeps the position index in step.
    fn swap(&mut self, a: usize, b: usize) {
        self.heap.swap(a, b);
        self.slots[usize::from(self.heap[a])].pos = Some(a as u16);
        self.slots[usize::from(self.heap[b])].pos = Some(b as u16);
    }

    /// Removes the entry at heap position `pos`.
    fn remove_at(&mut self, pos: usize) {
        let last = self.len - 1;
        self.swap(pos, last);
        self.slots[usize::from(self.heap[last])].pos = None;
        self.len = last;
        if pos < last {
            // The entry moved into `pos` may belong above or below it.
            self.sift_up(pos);
            self.sift_down(pos);
        }
    }

    fn sift_up(&mut self, mut pos: usize) {
        while pos > 0 {
            let parent = (pos - 1) / 2;
            if self.key_at(pos) >= self.key_at(parent) {
                break;
            }
            self.swap(pos, parent);
            pos = parent;
        }
    }

    fn sift_down(&mut self, mut pos: usize) {
        loop {
            let left = 2 * pos + 1;
            if left >= self.len {
                break;
            }
            let right = left + 1;
            let child = if right < self.len && self.key_at(right) < self.key_at(left) {
                right
            } else {
                left
            };
            if self.key_at(pos) <= self.key_at(child) {
                break;
            }
            self.swap(pos, child);
            pos = child;
        }
    }
}

impl<const N: usize> Default for DeadlineQueue<N> {
    fn default() -> Self {
        Self::new()
    }
}

impl<const N: usize> fmt::Debug for DeadlineQueue<N> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("DeadlineQueue")
            .field("capacity", &N)
            .field("armed", &self.len)
            .field("next_deadline", &self.next_deadline())
            .finish_non_exhaustive()
    }
}

/// Iterator over the timers due at one instant; see [`DeadlineQueue::expire`].
#[derive(Debug)]
pub struct Expire<'a, const N: usize> {
    queue: &'a mut DeadlineQueue<N>,
    now: u64,
}

impl<const N: usize> Iterator for Expire<'_, N> {
    type Item = Expiry;

    fn next(&mut self) -> Option<Expiry> {
        self.queue.pop_expired(self.now)
    }

    fn size_hint(&self) -> (usize, Option<usize>) {
        (0, Some(self.queue.len))
    }
}

impl<const N: usize> FusedIterator for Expire<'_, N> {}

#[cfg(test)]
mod tests {
    use super::*;

    const OOB: Client = Client {
        owner: 1,
        class: Class::Oob,
    };
    const INBAND: Client = Client {
        owner: 2,
        class: Class::InBand,
    };

    fn queue<const N: usize>(clients: &[Client]) -> DeadlineQueue<N> {
        let mut q = DeadlineQueue::new();
        for (i, &c) in clients.iter().enumerate() {
            q.open(TimerId(i as u16), c).unwrap();
        }
        q
    }

    fn ids<const N: usize>(q: &mut DeadlineQueue<N>, now: u64) -> ([u16; 8], usize) {
        let mut out = [u16::MAX; 8];
        let mut n = 0;
        for e in q.expire(now) {
            out[n] = e.id.0;
            n += 1;
        }
        (out, n)
    }

    #[test]
    fn empty_queue() {
        let mut q = DeadlineQueue::<4>::new();
        assert_eq!(q.next_deadline(), None);
        assert_eq!(q.pop_expired(u64::MAX), None);
        assert!(q.is_empty());
    }

    #[test]
    fn fires_in_deadline_order() {
        let mut q = queue::<4>(&[OOB, OOB, OOB, OOB]);
        q.arm_oneshot(TimerId(0), 30).unwrap();
        q.arm_oneshot(TimerId(1), 10).unwrap();
        q.arm_oneshot(TimerId(2), 20).unwrap();
        q.arm_oneshot(TimerId(3), 40).unwrap();
        assert_eq!(q.next_deadline(), Some(10));
        assert_eq!(q.pop_expired(9), None);
        let (got, n) = ids(&mut q, 30);
        assert_eq!(&got[..n], &[1, 2, 0]);
        assert_eq!(q.next_deadline(), Some(40));
        assert_eq!(q.len(), 1);
    }

    #[test]
    fn ties_oob_first_then_arm_order() {
        let mut q = queue::<4>(&[INBAND, OOB, INBAND, OOB]);
        for i in 0..4 {
            q.arm_oneshot(TimerId(i), 5).unwrap();
        }
        let (got, n) = ids(&mut q, 5);
        assert_eq!(&got[..n], &[1, 3, 0, 2]);
    }

    #[test]
    fn oneshot_fires_exactly_once() {
        let mut q = queue::<1>(&[INBAND]);
        q.arm_oneshot(TimerId(0), 7).unwrap();
        let e = q.pop_expired(100).unwrap();
        assert_eq!(
            e,
            Expiry {
                id: TimerId(0),
                owner: 2,
                class: Class::InBand,
                deadline: 7,
                overruns: 0,
                next: None
            }
        );
        assert_eq!(q.pop_expired(u64::MAX), None);
        assert!(!q.is_armed(TimerId(0)));
    }

    #[test]
    fn cancel_and_rearm() {
        let mut q = queue::<3>(&[OOB, OOB, OOB]);
        q.arm_oneshot(TimerId(0), 10).unwrap();
        q.arm_oneshot(TimerId(1), 20).unwrap();
        q.arm_oneshot(TimerId(2), 30).unwrap();
        assert_eq!(q.cancel(TimerId(0)), Ok(true));
        assert_eq!(q.cancel(TimerId(0)), Ok(false));
        assert_eq!(q.next_deadline(), Some(20));
        // Re-arming replaces: timer 2 moves before timer 1.
        q.arm_oneshot(TimerId(2), 15).unwrap();
        assert_eq!(q.len(), 2);
        let (got, n) = ids(&mut q, 100);
        assert_eq!(&got[..n], &[2, 1]);
    }

    #[test]
    fn cancel_moves_a_smaller_entry_up() {
        // Armed in this order the heap array is exactly this list: the left subtree holds
        // large deadlines, the right one small ones. Cancelling slot 3 (deadline 60) moves
        // the last entry (deadline 4, from the right subtree) under 50: it must move up.
        const DEADLINES: [u64; 12] = [0, 50, 1, 60, 61, 2, 3, 70, 71, 72, 73, 4];
        let mut q = queue::<12>(&[OOB; 12]);
        for (i, d) in DEADLINES.into_iter().enumerate() {
            q.arm_oneshot(TimerId(i as u16), d).unwrap();
        }
        assert_eq!(q.cancel(TimerId(3)), Ok(true));
        let mut last = 0;
        let mut n = 0;
        for e in q.expire(u64::MAX) {
            assert!(e.deadline >= last, "{} after {}", e.deadline, last);
            last = e.deadline;
            n += 1;
        }
        assert_eq!(n, 11);
    }

    #[test]
    fn periodic_without_lateness() {
        let mut q = queue::<1>(&[OOB]);
        q.arm_periodic(TimerId(0), 100, 10).unwrap();
        for n in 0..5 {
            let now = 100 + n * 10;
            assert_eq!(q.pop_expired(now - 1), None);
            let e = q.pop_expired(now).unwrap();
            assert_eq!((e.deadline, e.overruns, e.next), (now, 0, Some(now + 10)));
            assert_eq!(q.pop_expired(now), None);
        }
    }

    #[test]
    fn periodic_late_service_does_not_drift() {
        let mut q = queue::<1>(&[OOB]);
        q.arm_periodic(TimerId(0), 100, 10).unwrap();
        // Served 3 ticks late: the next deadline stays on the grid.
        let e = q.pop_expired(103).unwrap();
        assert_eq!((e.deadline, e.overruns, e.next), (100, 0, Some(110)));
        // Served 35 ticks late: 110 fired, 120/130/140 skipped, next is 150.
        let e = q.pop_expired(145).unwrap();
        assert_eq!((e.deadline, e.overruns, e.next), (110, 3, Some(150)));
        // Exactly on a grid point: that point counts as passed, next is strictly after.
        let e = q.pop_expired(170).unwrap();
        assert_eq!((e.deadline, e.overruns, e.next), (150, 2, Some(180)));
    }

    #[test]
    fn huge_lateness_is_one_division() {
        let mut q = queue::<1>(&[OOB]);
        q.arm_periodic(TimerId(0), 0, 1).unwrap();
        let e = q.pop_expired(u64::MAX - 1).unwrap();
        assert_eq!(
            (e.deadline, e.overruns, e.next),
            (0, u64::MAX - 1, Some(u64::MAX))
        );
    }

    #[test]
    fn periodic_stops_instead_of_overflowing() {
        let mut q = queue::<2>(&[OOB, OOB]);
        q.arm_periodic(TimerId(0), u64::MAX - 5, 10).unwrap();
        q.arm_periodic(TimerId(1), 0, 1).unwrap();
        let e = q.pop_expired(u64::MAX).unwrap();
        assert_eq!(e.id, TimerId(1));
        assert_eq!((e.overruns, e.next), (u64::MAX, None));
        let e = q.pop_expired(u64::MAX).unwrap();
        assert_eq!(
            (e.id, e.deadline, e.overruns, e.next),
            (TimerId(0), u64::MAX - 5, 0, None)
        );
        assert!(q.is_empty());
        // The largest period: one more deadline fits, then none.
        q.arm_periodic(TimerId(0), 0, u64::MAX).unwrap();
        let e = q.pop_expired(1).unwrap();
        assert_eq!((e.overruns, e.next), (0, Some(u64::MAX)));
        let e = q.pop_expired(u64::MAX).unwrap();
        assert_eq!((e.deadline, e.overruns, e.next), (u64::MAX, 0, None));
        // A first deadline plus one period that overflows at once.
        q.arm_periodic(TimerId(0), 1, u64::MAX).unwrap();
        let e = q.pop_expired(1).unwrap();
        assert_eq!((e.overruns, e.next), (0, None));
    }

    #[test]
    fn errors_name_the_slot() {
        let mut q = DeadlineQueue::<2>::new();
        assert_eq!(
            q.arm_oneshot(TimerId(2), 0),
            Err(TimerError::OutOfRange {
                id: TimerId(2),
                capacity: 2
            })
        );
        assert_eq!(
            q.arm_oneshot(TimerId(0), 0),
            Err(TimerError::NotOpen { id: TimerId(0) })
        );
        assert_eq!(
            q.cancel(TimerId(1)),
            Err(TimerError::NotOpen { id: TimerId(1) })
        );
        q.open(TimerId(0), OOB).unwrap();
        assert_eq!(
            q.open(TimerId(0), INBAND),
            Err(TimerError::AlreadyOpen {
                id: TimerId(0),
                client: OOB
            })
        );
        assert_eq!(
            q.arm_periodic(TimerId(0), 5, 0),
            Err(TimerError::ZeroPeriod { id: TimerId(0) })
        );
        assert!(!q.is_armed(TimerId(0)));
        assert!(!q.is_armed(TimerId(9)));
    }

    #[test]
    fn close_cancels() {
        let mut q = queue::<2>(&[OOB, INBAND]);
        q.arm_oneshot(TimerId(0), 1).unwrap();
        q.arm_periodic(TimerId(1), 1, 1).unwrap();
        assert_eq!(q.close(TimerId(0)), Ok(OOB));
        assert_eq!(q.client(TimerId(0)), None);
        assert_eq!(q.len(), 1);
        let e = q.pop_expired(1).unwrap();
        assert_eq!(e.id, TimerId(1));
        // Reopened for someone else, the slot reports its new owner.
        q.open(TimerId(0), INBAND).unwrap();
        q.arm_oneshot(TimerId(0), 1).unwrap();
        assert_eq!(q.pop_expired(1).unwrap().owner, INBAND.owner);
    }

    #[test]
    fn mode_is_reported() {
        let mut q = queue::<1>(&[OOB]);
        assert_eq!(q.mode_of(TimerId(0)), None);
        q.arm_periodic(TimerId(0), 1, 3).unwrap();
        assert_eq!(
            q.mode_of(TimerId(0)),
            Some(Mode::Periodic {
                period: NonZeroU64::new(3).unwrap()
            })
        );
    }

    #[test]
    fn errors_and_ids_say_what_they_are() {
        extern crate std;
        use std::{format, string::ToString};
        assert_eq!(TimerId(5).to_string(), "timer 5");
        assert_eq!(
            TimerError::OutOfRange {
                id: TimerId(9),
                capacity: 4
            }
            .to_string(),
            "timer 9 is out of range: this queue has timers 0..4"
        );
        assert_eq!(
            TimerError::NotOpen { id: TimerId(1) }.to_string(),
            "timer 1 is not open for any client"
        );
        assert_eq!(
            TimerError::AlreadyOpen {
                id: TimerId(2),
                client: INBAND
            }
            .to_string(),
            "timer 2 is already open for owner 2 (InBand)"
        );
        assert_eq!(
            TimerError::ZeroPeriod { id: TimerId(3) }.to_string(),
            "timer 3: a periodic timer needs a period of at least one tick"
        );
        let mut q = queue::<4>(&[OOB, OOB]);
        assert_eq!(
            format!("{q:?}"),
            "DeadlineQueue { capacity: 4, armed: 0, next_deadline: None, .. }"
        );
        q.arm_oneshot(TimerId(1), 30).unwrap();
        q.arm_oneshot(TimerId(0), 20).unwrap();
        assert_eq!(
            format!("{q:?}"),
            "DeadlineQueue { capacity: 4, armed: 2, next_deadline: Some(20), .. }"
        );
    }

    #[test]
    fn capacity_emptiness_and_armed_state() {
        assert_eq!(DeadlineQueue::<0>::new().capacity(), 0);
        let mut q = queue::<3>(&[OOB, INBAND]);
        assert_eq!(q.capacity(), 3);
        assert!(q.is_empty());
        assert!(!q.is_armed(TimerId(0)));
        q.arm_periodic(TimerId(0), 10, 5).unwrap();
        assert!(!q.is_empty());
        assert!(q.is_armed(TimerId(0)));
        assert!(!q.is_armed(TimerId(1)), "open but not armed");
        assert!(!q.is_armed(TimerId(2)), "not open");
        // A periodic timer stays armed after it fires; a one-shot one does not.
        q.arm_oneshot(TimerId(1), 10).unwrap();
        assert_eq!(q.expire(10).count(), 2);
        assert!(q.is_armed(TimerId(0)));
        assert!(!q.is_armed(TimerId(1)));
        assert_eq!(q.cancel(TimerId(0)), Ok(true));
        assert!(!q.is_armed(TimerId(0)));
        assert!(q.is_empty());
    }

    #[test]
    fn expire_hints_at_most_the_armed_timers() {
        let mut q = queue::<4>(&[OOB, OOB, INBAND]);
        assert_eq!(q.expire(0).size_hint(), (0, Some(0)));
        q.arm_oneshot(TimerId(0), 10).unwrap();
        q.arm_oneshot(TimerId(1), 20).unwrap();
        q.arm_periodic(TimerId(2), 10, 100).unwrap();
        // Nothing may be due: the lower bound stays 0.
        assert_eq!(q.expire(0).size_hint(), (0, Some(3)));
        let mut due = q.expire(10);
        assert_eq!(due.size_hint(), (0, Some(3)));
        assert_eq!(due.next().map(|e| e.id), Some(TimerId(0)));
        assert_eq!(due.size_hint(), (0, Some(2)));
        // The periodic timer is re-armed: still counted.
        assert_eq!(due.next().map(|e| e.id), Some(TimerId(2)));
        assert_eq!(due.size_hint(), (0, Some(2)));
        assert_eq!(due.next(), None);
    }

    #[test]
    fn a_full_queue_rearms_and_removes_at_its_last_position() {
        // Every slot armed (the heap array is full), so the heap's bounds checks at
        // `len == N` are exercised: a periodic re-arm sifts the root down past the last
        // entry, and removing the last entry leaves nothing to sift.
        let mut q = queue::<4>(&[OOB; 4]);
        q.arm_periodic(TimerId(0), 10, 100).unwrap();
        for i in 1..4 {
            q.arm_oneshot(TimerId(i), 20 + u64::from(i)).unwrap();
        }
        let e = q.pop_expired(10).unwrap();
        assert_eq!((e.id, e.next), (TimerId(0), Some(110)));
        assert_eq!(q.len(), 4);
        assert_eq!(q.cancel(TimerId(3)), Ok(true));
        let (got, n) = ids(&mut q, 200);
        assert_eq!(&got[..n], &[1, 2, 0]);
    }
}
