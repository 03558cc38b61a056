//! Oob context tracking and grace periods for oob handlers (reference 003, "Using RCU to
//! Protect Dynamic NMI Handlers").
//!
//! The irq-server runs an oob handler *outside* its lock, so while CPU 1 runs handler `h`
//! for an IRQ, CPU 0 may switch that IRQ to another handler or release it. The handler's
//! data may only be freed once no CPU can still be running it. As in NMI-RCU, a dispatch
//! is a read-side critical section, and a CPU that is not inside one is quiescent:
//!
//! - every CPU has an oob nesting depth (`enter`/`leave`, nesting allowed) and a
//!   sequence number that advances each time the depth returns to 0 (a quiescent point);
//! - retiring a handler snapshots, for every CPU inside a dispatch at that moment, its
//!   sequence number, into a [`RetiredHandler`] token;
//! - the token can be reclaimed once each of those CPUs is at depth 0 or has advanced its
//!   sequence number since. A CPU that was not inside a dispatch at the retire cannot have
//!   read the old handler after it: reads happen under the irq-server's lock, and
//!   [`Pipeline::receive`](crate::Pipeline::receive) enters oob context in the same step
//!   as it reads the handler, so there is no window between the read and the entry.
//!
//! Reclaim is O(CPUS) and never blocks: the caller keeps the token and tries again later
//! (for instance from its next in-band housekeeping pass), the analogue of
//! `call_rcu` rather than `synchronize_rcu`, which would have an in-band server wait on the
//! oob stage. Sequence numbers are `u32`; a wrap can only make reclaim wait longer, never
//! make it early (a CPU counts as passed only if it is at depth 0 or its number differs).
//!
//! The same depth is the pipeline's "in oob context" flag for the re-entry guard
//! (invariant 5).

use crate::error::Error;
use crate::types::{CpuId, HandlerId};

/// Per-CPU oob nesting depth and quiescent-point sequence numbers.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct GracePeriods<const CPUS: usize> {
    depth: [u32; CPUS],
    seq: [u32; CPUS],
}

/// An oob handler that was replaced or removed and may still be running on some CPU.
///
/// Only the pipeline creates tokens; it is neither `Clone` nor `Copy`, so a handler is
/// reclaimed once. Dropping a token leaks the handler (safe, never early).
#[derive(Debug, PartialEq, Eq)]
#[must_use = "a retired handler must be reclaimed once its grace period has elapsed"]
pub struct RetiredHandler<const CPUS: usize> {
    handler: HandlerId,
    /// Bit `c` set: CPU `c` was inside a dispatch at retire time.
    waiting: u64,
    /// Sequence number of each waiting CPU at retire time.
    snapshot: [u32; CPUS],
}

impl<const CPUS: usize> RetiredHandler<CPUS> {
    /// The handler this token stands for.
    pub fn handler(&self) -> HandlerId {
        self.handler
    }
}

impl<const CPUS: usize> Default for GracePeriods<CPUS> {
    fn default() -> Self {
        Self::new()
    }
}

impl<const CPUS: usize> GracePeriods<CPUS> {
    const CAPACITY_OK: () = assert!(
        CPUS >= 1 && CPUS <= 64,
        "GracePeriods: CPUS must be in 1..=64"
    );

    /// All CPUs quiescent (in-band context).
    pub const fn new() -> Self {
        let () = Self::CAPACITY_OK;
        Self {
            depth: [0; CPUS],
            seq: [0; CPUS],
        }
    }

    fn ix(cpu: CpuId) -> Result<usize, Error> {
        let c = usize::from(cpu.0);
        if c < CPUS {
            Ok(c)
        } else {
            Err(Error::NoSuchCpu(cpu))
        }
    }

    /// Enters oob context on `cpu` (nesting allowed).
    pub fn enter(&mut self, cpu: CpuId) -> Result<(), Error> {
        let c = Self::ix(cpu)?;
        self.depth[c] = self.depth[c]
            .checked_add(1)
            .ok_or(Error::OobNestingOverflow(cpu))?;
        Ok(())
    }

    /// Leaves one level of oob context on `cpu`; at depth 0 the CPU passes a quiescent
    /// point.
    pub fn leave(&mut self, cpu: CpuId) -> Result<(), Error> {
        let c = Self::ix(cpu)?;
        if self.depth[c] == 0 {
            return Err(Error::NotInOob(cpu));
        }
        self.depth[c] -= 1;
        if self.depth[c] == 0 {
            self.seq[c] = self.seq[c].wrapping_add(1);
        }
        Ok(())
    }

    /// Whether `cpu` is in oob context (false for an unknown CPU).
    pub fn in_oob(&self, cpu: CpuId) -> bool {
        self.depth.get(usize::from(cpu.0)).is_some_and(|&d| d > 0)
    }

    /// Oob nesting depth of `cpu` (0 for an unknown CPU).
    pub fn depth(&self, cpu: CpuId) -> u32 {
        self.depth.get(usize::from(cpu.0)).copied().unwrap_or(0)
    }

    /// Starts the grace period of `handler`, which no new dispatch can see any more.
    pub fn retire(&self, handler: HandlerId) -> RetiredHandler<CPUS> {
        let mut waiting = 0u64;
        for c in 0..CPUS {
            if self.depth[c] > 0 {
                waiting |= 1 << c;
            }
        }
        RetiredHandler {
            handler,
            waiting,
            snapshot: self.seq,
        }
    }

    /// Whether every CPU that was inside a dispatch when `token` was retired has passed a
    /// quiescent point since.
    pub fn grace_period_elapsed(&self, token: &RetiredHandler<CPUS>) -> bool {
        (0..CPUS).all(|c| {
            token.waiting & (1 << c) == 0 || self.depth[c] == 0 || self.seq[c] != token.snapshot[c]
        })
    }

    /// Releases the handler if its grace period has elapsed; gives the token back
    /// otherwise.
    pub fn reclaim(&self, token: RetiredHandler<CPUS>) -> Result<HandlerId, RetiredHandler<CPUS>> {
        if self.grace_period_elapsed(&token) {
            Ok(token.handler)
        } else {
            Err(token)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const H: HandlerId = HandlerId(7);

    #[test]
    fn quiescent_cpus_do_not_delay_reclaim() {
        let g = GracePeriods::<2>::new();
        assert_eq!(g.reclaim(g.retire(H)), Ok(H));
    }

    #[test]
    fn waits_for_every_cpu_inside_a_dispatch() {
        let mut g = GracePeriods::<3>::new();
        g.enter(CpuId(1)).unwrap();
        g.enter(CpuId(2)).unwrap();
        g.enter(CpuId(2)).unwrap(); // nested
        let t = g.retire(H);
        let t = g.reclaim(t).unwrap_err();
        g.leave(CpuId(1)).unwrap();
        let t = g.reclaim(t).unwrap_err();
        g.leave(CpuId(2)).unwrap(); // still nested: not quiescent
        let t = g.reclaim(t).unwrap_err();
        g.leave(CpuId(2)).unwrap();
        assert_eq!(g.reclaim(t), Ok(H));
    }

    #[test]
    fn a_new_dispatch_after_a_quiescent_point_does_not_block() {
        let mut g = GracePeriods::<1>::new();
        g.enter(CpuId(0)).unwrap();
        let t = g.retire(H);
        g.leave(CpuId(0)).unwrap();
        g.enter(CpuId(0)).unwrap(); // a later dispatch cannot see the retired handler
        assert_eq!(g.reclaim(t), Ok(H));
    }

    #[test]
    fn misuse_is_an_error() {
        let mut g = GracePeriods::<1>::new();
        assert_eq!(g.leave(CpuId(0)), Err(Error::NotInOob(CpuId(0))));
        assert_eq!(g.enter(CpuId(1)), Err(Error::NoSuchCpu(CpuId(1))));
        assert!(!g.in_oob(CpuId(5)));
    }
}
