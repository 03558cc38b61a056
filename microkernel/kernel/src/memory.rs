//! Physical memory for tasks: a frame allocator over the RAM the kernel image, the boot
//! hand-off and the device tree do not use.
//!
//! There is no kernel heap and nothing is ever freed: tasks, their page tables and shared
//! memory are allocated once at boot from what the image describes (a restarted task gets
//! its own frames back, refilled). So the allocator is a bump pointer over at most a few
//! free ranges, and running out is an error the image builder could have predicted.

use paging::PAGE_SIZE;

/// Most disjoint free ranges (RAM split around the image and the device tree).
const MAX_RANGES: usize = 4;

/// A bump allocator over free physical ranges.
#[derive(Debug)]
pub struct FrameAllocator {
    ranges: [(u64, u64); MAX_RANGES],
    count: usize,
    current: usize,
    allocated: u64,
}

impl FrameAllocator {
    /// An allocator with no memory.
    pub const fn empty() -> Self {
        Self {
            ranges: [(0, 0); MAX_RANGES],
            count: 0,
            current: 0,
            allocated: 0,
        }
    }

    /// An allocator over `[start, end)` minus the `reserved` ranges (page-rounded).
    pub fn new(start: u64, end: u64, reserved: &[(u64, u64)]) -> Self {
        let mut this = Self::empty();
        let mut pieces = [(start.next_multiple_of(PAGE_SIZE), end & !(PAGE_SIZE - 1)); MAX_RANGES];
        let mut count = 1;
        for &(r_start, r_end) in reserved {
            let (r_start, r_end) = (
                r_start & !(PAGE_SIZE - 1),
                r_end.next_multiple_of(PAGE_SIZE),
            );
            let mut next = [(0, 0); MAX_RANGES];
            let mut next_count = 0;
            for &(s, e) in &pieces[..count] {
                for piece in [(s, e.min(r_start)), (s.max(r_end), e)] {
                    if piece.1 > piece.0 && next_count < MAX_RANGES {
                        next[next_count] = piece;
                        next_count += 1;
                    }
                }
            }
            pieces = next;
            count = next_count;
        }
        this.ranges = pieces;
        this.count = count;
        this
    }

    /// Allocates `pages` physically contiguous pages; `None` when no range has room.
    pub fn allocate(&mut self, pages: u64) -> Option<u64> {
        let bytes = pages.checked_mul(PAGE_SIZE)?;
        while self.current < self.count {
            let (start, end) = self.ranges[self.current];
            if end - start >= bytes {
                self.ranges[self.current].0 = start + bytes;
                self.allocated += bytes;
                return Some(start);
            }
            self.current += 1;
        }
        None
    }

    /// Bytes handed out so far.
    pub fn allocated(&self) -> u64 {
        self.allocated
    }

    /// Bytes still free.
    pub fn free(&self) -> u64 {
        self.ranges[self.current.min(self.count)..self.count]
            .iter()
            .map(|(s, e)| e - s)
            .sum()
    }
}
