//! The in-band log of one CPU: for every domain, the events that could not be delivered
//! yet, in arrival order, bounded, with no event lost.
//!
//! # Layout
//!
//! Events are kept per *line slot* (see [`Pipeline`](crate::Pipeline): every attached IRQ
//! has one), not per IRQ number, and per CPU, not per domain × CPU:
//!
//! - `owner[line]`: the domain whose log holds an entry for that line on this CPU, or
//!   none. This is the "pending bitmap"; a line is pending in at most one domain's log
//!   per CPU.
//! - `count[line]`: the hit count of that pending entry (events merged into it).
//! - `next[line]`: the link to the following entry of the same domain; each domain's log
//!   is a FIFO threaded through these links (`head`, `tail`, `len` per domain).
//!
//! Since a line appears at most once per CPU, the FIFOs of all domains together hold at
//! most `LINES` entries and can never overflow: there is no "log full" case to handle and
//! no event is ever dropped. Every operation is O(1). The size is
//! `7 * LINES + 6 * DOMAINS` bytes per CPU, independent of the IRQ number space.
//!
//! # Coalescing rule
//!
//! An event of a line that is already pending in the domain's log on this CPU does not
//! add a second entry: it increments that entry's count (the pipeline counts it as
//! `coalesced`). Replay drains the log in the order of each entry's *first* arrival,
//! every entry once, with its count. The count saturates at `u32::MAX` (the statistics
//! stay exact; only the count handed to the domain stops growing).

use crate::types::DomainId;

/// Index of a line slot (see [`Pipeline`](crate::Pipeline)).
pub type LineIndex = u16;

/// Marks "no line" in links and queue ends.
const NIL: u16 = u16::MAX;
/// Marks "no domain" in `owner`.
const NO_DOMAIN: u8 = u8::MAX;

/// The head, tail and length of one domain's FIFO.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
struct Queue {
    head: u16,
    tail: u16,
    len: u16,
}

impl Queue {
    const EMPTY: Queue = Queue {
        head: NIL,
        tail: NIL,
        len: 0,
    };
}

/// Result of logging one event.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Logged {
    /// A new entry was appended at the tail of the domain's log (count 1).
    First,
    /// The line was already pending in the domain's log; its count is now `count`.
    Coalesced {
        /// The entry's hit count after this event.
        count: u32,
    },
}

/// Why an event could not be logged. The pipeline makes both impossible by construction;
/// the log still refuses instead of panicking or corrupting itself.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum LogError {
    /// The domain or line index is out of range for this log.
    OutOfRange,
    /// The line is pending in another domain's log on this CPU.
    HeldBy(DomainId),
}

/// One CPU's in-band log for all domains (see the module documentation).
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct InbandLog<const DOMAINS: usize, const LINES: usize> {
    owner: [u8; LINES],
    next: [u16; LINES],
    count: [u32; LINES],
    queues: [Queue; DOMAINS],
}

impl<const DOMAINS: usize, const LINES: usize> Default for InbandLog<DOMAINS, LINES> {
    fn default() -> Self {
        Self::new()
    }
}

impl<const DOMAINS: usize, const LINES: usize> InbandLog<DOMAINS, LINES> {
    const CAPACITY_OK: () = assert!(
        DOMAINS < NO_DOMAIN as usize && LINES < NIL as usize,
        "InbandLog: DOMAINS must be < 255 and LINES < 65535"
    );

    /// An empty log.
    pub const fn new() -> Self {
        let () = Self::CAPACITY_OK;
        Self {
            owner: [NO_DOMAIN; LINES],
            next: [NIL; LINES],
            count: [0; LINES],
            queues: [Queue::EMPTY; DOMAINS],
        }
    }

    /// Logs one event of `line` for `domain`: appends a new entry, or coalesces into the
    /// pending one.
    pub fn push(&mut self, domain: DomainId, line: LineIndex) -> Result<Logged, LogError> {
        let d = usize::from(domain.0);
        let l = usize::from(line);
        if d >= DOMAINS || l >= LINES {
            return Err(LogError::OutOfRange);
        }
        let owner = self.owner[l];
        if owner == domain.0 {
            self.count[l] = self.count[l].saturating_add(1);
            return Ok(Logged::Coalesced {
                count: self.count[l],
            });
        }
        if owner != NO_DOMAIN {
            return Err(LogError::HeldBy(DomainId(owner)));
        }
        self.owner[l] = domain.0;
        self.count[l] = 1;
        self.next[l] = NIL;
        let q = &mut self.queues[d];
        if q.tail == NIL {
            q.head = line;
        } else {
            self.next[usize::from(q.tail)] = line;
        }
        q.tail = line;
        q.len += 1;
        Ok(Logged::First)
    }

    /// Takes the oldest entry of `domain`'s log: its line and count.
    pub fn pop(&mut self, domain: DomainId) -> Option<(LineIndex, u32)> {
        let q = self.queues.get_mut(usize::from(domain.0))?;
        if q.head == NIL {
            return None;
        }
        let line = q.head;
        let l = usize::from(line);
        q.head = self.next[l];
        if q.head == NIL {
            q.tail = NIL;
        }
        q.len -= 1;
        let count = self.count[l];
        self.owner[l] = NO_DOMAIN;
        self.next[l] = NIL;
        self.count[l] = 0;
        Some((line, count))
    }

    /// Number of entries in `domain`'s log (0 for an unknown domain).
    pub fn len(&self, domain: DomainId) -> usize {
        self.queues
            .get(usize::from(domain.0))
            .map_or(0, |q| usize::from(q.len))
    }

    /// Whether `domain`'s log is empty.
    pub fn is_empty(&self, domain: DomainId) -> bool {
        self.len(domain) == 0
    }

    /// The domain whose log holds an entry for `line`, if any.
    pub fn holder(&self, line: LineIndex) -> Option<DomainId> {
        match self.owner.get(usize::from(line)) {
            Some(&o) if o != NO_DOMAIN => Some(DomainId(o)),
            _ => None,
        }
    }

    /// The entries of `domain`'s log, oldest first, without removing them.
    pub fn iter(&self, domain: DomainId) -> LogIter<'_, DOMAINS, LINES> {
        let cursor = self
            .queues
            .get(usize::from(domain.0))
            .map_or(NIL, |q| q.head);
        LogIter { log: self, cursor }
    }
}

/// Iterator over one domain's log entries `(line, count)`, oldest first.
#[derive(Debug)]
pub struct LogIter<'a, const DOMAINS: usize, const LINES: usize> {
    log: &'a InbandLog<DOMAINS, LINES>,
    cursor: u16,
}

impl<const DOMAINS: usize, const LINES: usize> Iterator for LogIter<'_, DOMAINS, LINES> {
    type Item = (LineIndex, u32);

    fn next(&mut self) -> Option<Self::Item> {
        if self.cursor == NIL {
            return None;
        }
        let l = usize::from(self.cursor);
        let item = (self.cursor, self.log.count[l]);
        self.cursor = self.log.next[l];
        Some(item)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const A: DomainId = DomainId(0);
    const B: DomainId = DomainId(1);

    #[test]
    fn fifo_order_of_first_arrival_with_counts() {
        let mut log = InbandLog::<2, 8>::new();
        assert_eq!(log.push(A, 3), Ok(Logged::First));
        assert_eq!(log.push(A, 1), Ok(Logged::First));
        assert_eq!(log.push(A, 3), Ok(Logged::Coalesced { count: 2 }));
        assert_eq!(log.push(B, 2), Ok(Logged::First));
        assert_eq!(log.push(A, 5), Ok(Logged::First));
        assert_eq!(log.len(A), 3);
        assert_eq!(log.holder(3), Some(A));
        assert_eq!(log.holder(2), Some(B));
        assert_eq!(log.holder(0), None);
        let peek: [(u16, u32); 3] = {
            let mut it = log.iter(A);
            [it.next().unwrap(), it.next().unwrap(), it.next().unwrap()]
        };
        assert_eq!(peek, [(3, 2), (1, 1), (5, 1)]);
        assert_eq!(log.pop(A), Some((3, 2)));
        assert_eq!(log.pop(A), Some((1, 1)));
        // A line drained can be logged again, behind what is still there.
        assert_eq!(log.push(A, 3), Ok(Logged::First));
        assert_eq!(log.pop(A), Some((5, 1)));
        assert_eq!(log.pop(A), Some((3, 1)));
        assert_eq!(log.pop(A), None);
        assert!(log.is_empty(A));
        assert_eq!(log.pop(B), Some((2, 1)));
        assert_eq!(log.pop(B), None);
    }

    #[test]
    fn a_line_is_pending_in_one_domain_only() {
        let mut log = InbandLog::<2, 4>::new();
        assert_eq!(log.push(A, 0), Ok(Logged::First));
        assert_eq!(log.push(B, 0), Err(LogError::HeldBy(A)));
        assert_eq!(log.len(B), 0);
    }

    #[test]
    fn bad_indices_are_refused_not_panicking() {
        let mut log = InbandLog::<2, 4>::new();
        assert_eq!(log.push(DomainId(2), 0), Err(LogError::OutOfRange));
        assert_eq!(log.push(A, 4), Err(LogError::OutOfRange));
        assert_eq!(log.pop(DomainId(9)), None);
        assert_eq!(log.len(DomainId(9)), 0);
        assert_eq!(log.holder(100), None);
        assert_eq!(log.iter(DomainId(9)).next(), None);
    }

    #[test]
    fn full_log_never_overflows() {
        let mut log = InbandLog::<1, 16>::new();
        for round in 0..3u32 {
            for l in 0..16u16 {
                let r = log.push(A, l).unwrap();
                if round == 0 {
                    assert_eq!(r, Logged::First);
                } else {
                    assert_eq!(r, Logged::Coalesced { count: round + 1 });
                }
            }
        }
        for l in 0..16u16 {
            assert_eq!(log.pop(A), Some((l, 3)));
        }
    }
}
