//! Per-CPU fixed-priority run queue: O(1) over 256 levels, round robin among equals (pure logic).
//!
//! # Why it looks like this
//!
//! The kernel schedules by fixed priority, preemptively, one run queue per CPU (see the
//! "Scheduler" line of the design). Choosing the next thread must take the same time
//! whatever the number of ready threads and whatever their priorities, because that choice
//! sits on the path from an interrupt to the oob stage and its cost is part of every
//! latency we measure. So:
//!
//! - **No heap, no allocation.** Threads live in the kernel's fixed thread table and are
//!   named here by their index in it ([`ThreadIndex`]). The queue keeps, per thread, a
//!   `next`/`prev` link and the level it is queued at: an *intrusive* doubly linked FIFO
//!   per priority level, stored in arrays sized by the table (`THREADS`). Enqueue, remove
//!   and rotate are O(1) pointer updates.
//! - **A two-level bitmap** over the 256 levels: four `u64` words, one bit per level, and a
//!   summary byte with one bit per non-empty word. The highest ready level is found with two
//!   `leading_zeros` (one `clz` instruction each on aarch64), never by looping over levels.
//! - **FIFO within a level, round robin among equals.** A thread made ready joins the tail
//!   of its level ([`RunQueue::enqueue`]); a preempted thread goes back to the head
//!   ([`RunQueue::enqueue_front`]) so it keeps its turn; a yield or the end of a time slice
//!   moves the head of a level to its tail ([`RunQueue::rotate`]).
//! - **Strictly higher priority preempts, equal does not** ([`should_preempt`]): an equal
//!   thread waits for the running one to yield or to use up its slice.
//! - **Errors are values.** A bad index or a double enqueue is a kernel bug or a forged
//!   request; it is reported as a [`SchedError`] naming the thread, never a panic.
//!
//! The queue does not care whether the running thread stays queued (at the head of its
//! level, as in L4-style kernels) or is taken out while it runs: both work. With the
//! first, the kernel calls [`RunQueue::rotate`] on yield; with the second it
//! [`RunQueue::enqueue`]s the yielding thread and [`RunQueue::enqueue_front`]s a preempted
//! one.
#![no_std]
#![forbid(unsafe_code)]
#![warn(missing_docs)]

use core::fmt;

/// Number of priority levels: priorities are `u8`, 0 lowest, 255 highest.
pub const LEVELS: usize = 256;

/// Largest thread table a run queue can index: thread indices are `u16`.
pub const MAX_THREADS: usize = 1 << 16;

/// A thread, named by its index in the kernel's fixed thread table.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct ThreadIndex(pub u16);

impl ThreadIndex {
    /// The index as a `usize`, for indexing the thread table.
    pub const fn get(self) -> usize {
        self.0 as usize
    }
}

impl fmt::Display for ThreadIndex {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "thread {}", self.0)
    }
}

/// What went wrong with a run-queue operation. Each variant names the thread concerned.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SchedError {
    /// The index is not below the size of the thread table this queue was built for.
    OutOfRange {
        /// The index that was given.
        thread: ThreadIndex,
        /// The number of threads the queue can hold (`THREADS`).
        capacity: usize,
    },
    /// The thread is already in the queue; a thread is queued at most once.
    AlreadyQueued {
        /// The thread that was given.
        thread: ThreadIndex,
        /// The level it is queued at.
        priority: u8,
    },
    /// The thread is not in the queue, so it cannot be removed.
    NotQueued {
        /// The thread that was given.
        thread: ThreadIndex,
    },
}

impl fmt::Display for SchedError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match *self {
            SchedError::OutOfRange { thread, capacity } => write!(
                f,
                "{thread} is out of range: this run queue holds threads 0..{capacity}"
            ),
            SchedError::AlreadyQueued { thread, priority } => {
                write!(f, "{thread} is already queued at priority {priority}")
            }
            SchedError::NotQueued { thread } => write!(f, "{thread} is not queued"),
        }
    }
}

impl core::error::Error for SchedError {}

/// The two-level bitmap of non-empty levels: one bit per level in four words, and one
/// summary bit per non-empty word. Finding the highest set level is two `leading_zeros`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct LevelBitmap {
    words: [u64; LEVELS / 64],
    /// Bit `w` is set iff `words[w] != 0`.
    summary: u8,
}

impl LevelBitmap {
    const EMPTY: Self = Self {
        words: [0; LEVELS / 64],
        summary: 0,
    };

    fn set(&mut self, prio: u8) {
        let w = usize::from(prio >> 6);
        self.words[w] |= 1 << (prio & 63);
        self.summary |= 1 << w;
    }

    fn clear(&mut self, prio: u8) {
        let w = usize::from(prio >> 6);
        self.words[w] &= !(1 << (prio & 63));
        if self.words[w] == 0 {
            self.summary &= !(1 << w);
        }
    }

    fn highest(&self) -> Option<u8> {
        if self.summary == 0 {
            return None;
        }
        // `summary` is non-zero, so `leading_zeros` is at most 7 and `w` at most 3 (only
        // the low four bits are ever set); `words[w]` is non-zero by the invariant.
        let w = 7 - self.summary.leading_zeros();
        let bit = 63 - self.words[w as usize].leading_zeros();
        // w <= 3 and bit <= 63, so the level fits in a u8.
        Some(((w << 6) | bit) as u8)
    }
}

/// The run queue of one CPU, for a thread table of `THREADS` entries.
///
/// Holds each thread at most once, at one priority level. All operations are O(1) and
/// allocate nothing; the memory is fixed when the queue is built: 10 bytes per thread plus
/// about 2 KiB for the level heads and tails.
///
/// `THREADS` must be at most [`MAX_THREADS`]; a larger value fails to compile when
/// [`RunQueue::new`] is used.
#[derive(Clone)]
pub struct RunQueue<const THREADS: usize> {
    /// Next thread towards the tail of the same level.
    next: [Option<u16>; THREADS],
    /// Previous thread towards the head of the same level.
    prev: [Option<u16>; THREADS],
    /// The level a thread is queued at; `None` when it is not queued.
    level: [Option<u8>; THREADS],
    /// First thread of each level (the one that runs next at that level).
    head: [Option<u16>; LEVELS],
    /// Last thread of each level.
    tail: [Option<u16>; LEVELS],
    /// Which levels are non-empty.
    bitmap: LevelBitmap,
    /// Number of queued threads.
    len: usize,
}

impl<const THREADS: usize> RunQueue<THREADS> {
    /// An empty run queue.
    pub const fn new() -> Self {
        const {
            assert!(
                THREADS <= MAX_THREADS,
                "a run queue indexes threads with u16"
            )
        };
        Self {
            next: [None; THREADS],
            prev: [None; THREADS],
            level: [None; THREADS],
            head: [None; LEVELS],
            tail: [None; LEVELS],
            bitmap: LevelBitmap::EMPTY,
            len: 0,
        }
    }

    /// The size of the thread table this queue indexes (`THREADS`).
    pub const fn capacity(&self) -> usize {
        THREADS
    }

    /// Number of threads in the queue, all levels together.
    pub const fn len(&self) -> usize {
        self.len
    }

    /// Whether no thread is queued.
    pub const fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// Whether `t` is queued. An out-of-range index is simply not queued.
    pub fn is_queued(&self, t: ThreadIndex) -> bool {
        self.priority_of(t).is_some()
    }

    /// The level `t` is queued at, or `None` when it is not queued (or out of range).
    pub fn priority_of(&self, t: ThreadIndex) -> Option<u8> {
        self.level.get(t.get()).copied().flatten()
    }

    /// Makes `t` ready at priority `prio`, at the tail of that level: it runs after every
    /// thread already ready at the same priority.
    ///
    /// # Errors
    ///
    /// [`SchedError::OutOfRange`] if `t` is not below `THREADS`,
    /// [`SchedError::AlreadyQueued`] if `t` is already queued (at any level). The queue is
    /// unchanged on error.
    pub fn enqueue(&mut self, t: ThreadIndex, prio: u8) -> Result<(), SchedError> {
        let i = self.check_not_queued(t)?;
        self.push_back(i, prio);
        Ok(())
    }

    /// Makes `t` ready at priority `prio`, at the head of that level: it runs before every
    /// thread already ready at the same priority. This is for a thread that was preempted
    /// by a higher one: it keeps its turn among its equals.
    ///
    /// # Errors
    ///
    /// As [`RunQueue::enqueue`].
    pub fn enqueue_front(&mut self, t: ThreadIndex, prio: u8) -> Result<(), SchedError> {
        let i = self.check_not_queued(t)?;
        self.push_front(i, prio);
        Ok(())
    }

    /// Takes `t` out of the queue (it blocked, was suspended, or is being re-prioritised)
    /// and returns the level it was queued at.
    ///
    /// # Errors
    ///
    /// [`SchedError::OutOfRange`] if `t` is not below `THREADS`,
    /// [`SchedError::NotQueued`] if it is not queued.
    pub fn remove(&mut self, t: ThreadIndex) -> Result<u8, SchedError> {
        let i = self.check_range(t)?;
        let prio = self.level[i].ok_or(SchedError::NotQueued { thread: t })?;
        self.unlink(i, prio);
        Ok(prio)
    }

    /// The thread that should run next and its priority: the head of the highest non-empty
    /// level. `None` when the queue is empty (the CPU idles). O(1), leaves it queued.
    pub fn highest(&self) -> Option<(ThreadIndex, u8)> {
        let prio = self.bitmap.highest()?;
        let head = self.head[usize::from(prio)]?;
        Some((ThreadIndex(head), prio))
    }

    /// The highest non-empty priority level, or `None` when the queue is empty.
    pub fn highest_priority(&self) -> Option<u8> {
        self.bitmap.highest()
    }

    /// Takes the thread that should run next out of the queue and returns it with its
    /// priority; `None` when the queue is empty.
    pub fn pop_highest(&mut self) -> Option<(ThreadIndex, u8)> {
        let (t, prio) = self.highest()?;
        self.unlink(t.get(), prio);
        Some((t, prio))
    }

    /// Round robin at level `prio`: moves the head of that level to its tail, for a yield or
    /// the end of a time slice. Returns the new head (the thread whose turn it now is), or
    /// `None` if the level is empty. A level with one thread is left as it is.
    pub fn rotate(&mut self, prio: u8) -> Option<ThreadIndex> {
        let p = usize::from(prio);
        let head = self.head[p]?;
        if self.tail[p] != Some(head) {
            let i = usize::from(head);
            self.unlink(i, prio);
            self.push_back(i, prio);
        }
        self.head[p].map(ThreadIndex)
    }

    /// Whether any thread is queued at level `prio` (O(1): one load).
    #[must_use]
    pub fn has_ready_at(&self, prio: u8) -> bool {
        self.head[usize::from(prio)].is_some()
    }

    /// The threads queued at level `prio`, from head (next to run) to tail.
    pub fn level(&self, prio: u8) -> Level<'_, THREADS> {
        Level {
            queue: self,
            cursor: self.head[usize::from(prio)],
        }
    }

    fn check_range(&self, t: ThreadIndex) -> Result<usize, SchedError> {
        let i = t.get();
        if i < THREADS {
            Ok(i)
        } else {
            Err(SchedError::OutOfRange {
                thread: t,
                capacity: THREADS,
            })
        }
    }

    fn check_not_queued(&self, t: ThreadIndex) -> Result<usize, SchedError> {
        let i = self.check_range(t)?;
        match self.level[i] {
            Some(priority) => Err(SchedError::AlreadyQueued {
                thread: t,
                priority,
            }),
            None => Ok(i),
        }
    }

    /// Links unqueued thread `i` at the tail of level `prio`.
    fn push_back(&mut self, i: usize, prio: u8) {
        let p = usize::from(prio);
        // `i < THREADS <= MAX_THREADS`, so it fits in a u16.
        let link = Some(i as u16);
        self.next[i] = None;
        self.prev[i] = self.tail[p];
        match self.tail[p] {
            Some(last) => self.next[usize::from(last)] = link,
            None => {
                self.head[p] = link;
                self.bitmap.set(prio);
            }
        }
        self.tail[p] = link;
        self.level[i] = Some(prio);
        self.len += 1;
    }

    /// Links unqueued thread `i` at the head of level `prio`.
    fn push_front(&mut self, i: usize, prio: u8) {
        let p = usize::from(prio);
        let link = Some(i as u16);
        self.prev[i] = None;
        self.next[i] = self.head[p];
        match self.head[p] {
            Some(first) => self.prev[usize::from(first)] = link,
            None => {
                self.tail[p] = link;
                self.bitmap.set(prio);
            }
        }
        self.head[p] = link;
        self.level[i] = Some(prio);
        self.len += 1;
    }

    /// Unlinks thread `i`, which is queued at level `prio`.
    fn unlink(&mut self, i: usize, prio: u8) {
        let p = usize::from(prio);
        let (prev, next) = (self.prev[i], self.next[i]);
        match prev {
            Some(before) => self.next[usize::from(before)] = next,
            None => self.head[p] = next,
        }
        match next {
            Some(after) => self.prev[usize::from(after)] = prev,
            None => self.tail[p] = prev,
        }
        if self.head[p].is_none() {
            self.bitmap.clear(prio);
        }
        self.next[i] = None;
        self.prev[i] = None;
        self.level[i] = None;
        self.len -= 1;
    }
}

impl<const THREADS: usize> Default for RunQueue<THREADS> {
    fn default() -> Self {
        Self::new()
    }
}

impl<const THREADS: usize> fmt::Debug for RunQueue<THREADS> {
    /// Lists the non-empty levels, highest first, each from head to tail.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        struct Levels<'a, const N: usize>(&'a RunQueue<N>);
        impl<const N: usize> fmt::Debug for Levels<'_, N> {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                let mut map = f.debug_map();
                for prio in (0..=u8::MAX).rev() {
                    if self.0.head[usize::from(prio)].is_some() {
                        map.entry(&prio, &LevelList(self.0.level(prio)));
                    }
                }
                map.finish()
            }
        }
        struct LevelList<'a, const N: usize>(Level<'a, N>);
        impl<const N: usize> fmt::Debug for LevelList<'_, N> {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.debug_list().entries(self.0.clone().map(|t| t.0)).finish()
            }
        }
        f.debug_struct("RunQueue")
            .field("capacity", &THREADS)
            .field("len", &self.len)
            .field("levels", &Levels(self))
            .finish()
    }
}

/// Iterator over the threads of one level, head first; see [`RunQueue::level`].
#[derive(Clone, Debug)]
pub struct Level<'a, const THREADS: usize> {
    queue: &'a RunQueue<THREADS>,
    cursor: Option<u16>,
}

impl<const THREADS: usize> Iterator for Level<'_, THREADS> {
    type Item = ThreadIndex;

    fn next(&mut self) -> Option<ThreadIndex> {
        let i = self.cursor?;
        self.cursor = self.queue.next[usize::from(i)];
        Some(ThreadIndex(i))
    }
}

/// The preemption decision: whether a thread running at `current_prio` must give the CPU
/// to the best thread in `queue`.
///
/// Only a *strictly* higher priority preempts. A ready thread of equal priority waits until
/// the running one yields or ends its time slice (then the kernel calls
/// [`RunQueue::rotate`] or re-enqueues it at the tail). An empty queue never preempts. When
/// the CPU is idle there is no current thread: take [`RunQueue::highest`] directly.
pub fn should_preempt<const THREADS: usize>(current_prio: u8, queue: &RunQueue<THREADS>) -> bool {
    queue
        .highest_priority()
        .is_some_and(|best| best > current_prio)
}

#[cfg(test)]
mod tests {
    use super::*;

    const T: fn(u16) -> ThreadIndex = ThreadIndex;

    #[test]
    fn bitmap_finds_highest_in_every_word() {
        let mut b = LevelBitmap::EMPTY;
        assert_eq!(b.highest(), None);
        for prio in 0..=u8::MAX {
            b.set(prio);
            assert_eq!(b.highest(), Some(prio));
        }
        for prio in (0..=u8::MAX).rev() {
            assert_eq!(b.highest(), Some(prio));
            b.clear(prio);
        }
        assert_eq!(b, LevelBitmap::EMPTY);
    }

    #[test]
    fn bitmap_summary_tracks_words() {
        let mut b = LevelBitmap::EMPTY;
        b.set(3);
        b.set(200);
        b.set(64);
        assert_eq!(b.summary, 0b1011);
        assert_eq!(b.highest(), Some(200));
        b.clear(200);
        assert_eq!(b.summary, 0b0011);
        assert_eq!(b.highest(), Some(64));
        b.clear(64);
        assert_eq!(b.highest(), Some(3));
    }

    #[test]
    fn empty_queue() {
        let mut q = RunQueue::<4>::new();
        assert!(q.is_empty());
        assert_eq!(q.highest(), None);
        assert_eq!(q.pop_highest(), None);
        assert_eq!(q.rotate(7), None);
        assert!(!should_preempt(0, &q));
    }

    #[test]
    fn highest_priority_wins_then_fifo() {
        let mut q = RunQueue::<8>::new();
        q.enqueue(T(0), 10).unwrap();
        q.enqueue(T(1), 200).unwrap();
        q.enqueue(T(2), 200).unwrap();
        q.enqueue(T(3), 0).unwrap();
        q.enqueue(T(4), 255).unwrap();
        assert_eq!(q.len(), 5);
        assert_eq!(q.pop_highest(), Some((T(4), 255)));
        assert_eq!(q.pop_highest(), Some((T(1), 200)));
        assert_eq!(q.pop_highest(), Some((T(2), 200)));
        assert_eq!(q.pop_highest(), Some((T(0), 10)));
        assert_eq!(q.pop_highest(), Some((T(3), 0)));
        assert_eq!(q.pop_highest(), None);
    }

    #[test]
    fn enqueue_front_keeps_the_turn() {
        let mut q = RunQueue::<4>::new();
        q.enqueue(T(1), 5).unwrap();
        q.enqueue(T(2), 5).unwrap();
        q.enqueue_front(T(0), 5).unwrap();
        assert!(q.level(5).eq([T(0), T(1), T(2)]));
        // enqueue_front on an empty level works too.
        q.enqueue_front(T(3), 9).unwrap();
        assert_eq!(q.highest(), Some((T(3), 9)));
    }

    #[test]
    fn rotate_is_round_robin() {
        let mut q = RunQueue::<4>::new();
        for i in 0..3 {
            q.enqueue(T(i), 1).unwrap();
        }
        assert_eq!(q.rotate(1), Some(T(1)));
        assert_eq!(q.rotate(1), Some(T(2)));
        assert_eq!(q.rotate(1), Some(T(0)));
        assert!(q.level(1).eq([T(0), T(1), T(2)]));
        // A single thread stays where it is; other levels are untouched.
        q.enqueue(T(3), 2).unwrap();
        assert_eq!(q.rotate(2), Some(T(3)));
        assert_eq!(q.highest(), Some((T(3), 2)));
        assert_eq!(q.len(), 4);
    }

    #[test]
    fn remove_from_head_middle_tail() {
        let mut q = RunQueue::<5>::new();
        for i in 0..5 {
            q.enqueue(T(i), 42).unwrap();
        }
        assert_eq!(q.remove(T(2)), Ok(42));
        assert_eq!(q.remove(T(0)), Ok(42));
        assert_eq!(q.remove(T(4)), Ok(42));
        assert!(q.level(42).eq([T(1), T(3)]));
        assert_eq!(q.remove(T(1)), Ok(42));
        assert_eq!(q.remove(T(3)), Ok(42));
        assert_eq!(q.highest(), None);
        assert!(q.is_empty());
    }

    #[test]
    fn errors_name_the_thread() {
        let mut q = RunQueue::<2>::new();
        assert_eq!(
            q.enqueue(T(2), 0),
            Err(SchedError::OutOfRange {
                thread: T(2),
                capacity: 2
            })
        );
        assert_eq!(
            q.enqueue_front(T(u16::MAX), 0),
            Err(SchedError::OutOfRange {
                thread: T(u16::MAX),
                capacity: 2
            })
        );
        assert_eq!(
            q.remove(T(9)),
            Err(SchedError::OutOfRange {
                thread: T(9),
                capacity: 2
            })
        );
        assert_eq!(q.remove(T(1)), Err(SchedError::NotQueued { thread: T(1) }));
        q.enqueue(T(1), 7).unwrap();
        assert_eq!(
            q.enqueue(T(1), 8),
            Err(SchedError::AlreadyQueued {
                thread: T(1),
                priority: 7
            })
        );
        assert_eq!(
            q.enqueue_front(T(1), 7),
            Err(SchedError::AlreadyQueued {
                thread: T(1),
                priority: 7
            })
        );
        // Failed calls changed nothing.
        assert_eq!(q.len(), 1);
        assert_eq!(q.highest(), Some((T(1), 7)));
        assert!(!q.is_queued(T(2)));
        assert_eq!(q.priority_of(T(1)), Some(7));
    }

    #[test]
    fn preemption_is_strictly_higher() {
        let mut q = RunQueue::<2>::new();
        q.enqueue(T(0), 100).unwrap();
        assert!(should_preempt(99, &q));
        assert!(!should_preempt(100, &q));
        assert!(!should_preempt(101, &q));
        q.enqueue(T(1), 255).unwrap();
        assert!(!should_preempt(255, &q));
        assert!(should_preempt(254, &q));
    }

    #[test]
    fn zero_sized_table_refuses_everything() {
        let mut q = RunQueue::<0>::new();
        assert!(q.enqueue(T(0), 0).is_err());
        assert_eq!(q.highest(), None);
    }

    #[test]
    fn errors_and_indices_say_what_they_are() {
        extern crate std;
        use std::string::ToString;
        assert_eq!(T(7).to_string(), "thread 7");
        assert_eq!(
            SchedError::OutOfRange {
                thread: T(9),
                capacity: 4
            }
            .to_string(),
            "thread 9 is out of range: this run queue holds threads 0..4"
        );
        assert_eq!(
            SchedError::AlreadyQueued {
                thread: T(1),
                priority: 200
            }
            .to_string(),
            "thread 1 is already queued at priority 200"
        );
        assert_eq!(
            SchedError::NotQueued { thread: T(3) }.to_string(),
            "thread 3 is not queued"
        );
    }

    #[test]
    fn capacity_and_queued_follow_the_table() {
        assert_eq!(RunQueue::<0>::new().capacity(), 0);
        assert_eq!(RunQueue::<5>::new().capacity(), 5);
        let mut q = RunQueue::<3>::new();
        assert!(!q.is_queued(T(0)));
        q.enqueue(T(0), 4).unwrap();
        q.enqueue_front(T(2), 4).unwrap();
        assert!(q.is_queued(T(0)) && q.is_queued(T(2)));
        assert!(!q.is_queued(T(1)), "never queued");
        assert!(!q.is_queued(T(3)), "out of range");
        assert_eq!(q.pop_highest(), Some((T(2), 4)));
        assert!(!q.is_queued(T(2)), "popped");
        q.remove(T(0)).unwrap();
        assert!(!q.is_queued(T(0)), "removed");
    }
}
