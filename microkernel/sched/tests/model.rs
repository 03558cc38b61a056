//! Property tests: the run queue against a plain reference model.
//!
//! The model is the obvious implementation nobody would put in a kernel: one `VecDeque`
//! per level, a linear scan from 255 down for the highest. Random operation sequences run
//! on both; after every step the results, `highest()`, the order of every level, the
//! length and the level of every thread must agree. That covers "highest() is right",
//! "FIFO within a level", "nothing lost or duplicated" and the error cases. A second
//! property checks round-robin fairness directly.

use std::collections::VecDeque;

use proptest::prelude::*;
use sched::{RunQueue, SchedError, ThreadIndex, should_preempt};

/// Thread table size for the model test. Indices up to `THREADS + 1` are generated so that
/// the out-of-range path is exercised too.
const THREADS: usize = 12;

#[derive(Clone, Debug)]
enum Op {
    Enqueue(u16, u8),
    EnqueueFront(u16, u8),
    Remove(u16),
    Pop,
    Rotate(u8),
}

struct Model {
    levels: Vec<VecDeque<u16>>,
}

impl Model {
    fn new() -> Self {
        Self {
            levels: vec![VecDeque::new(); 256],
        }
    }

    fn level_of(&self, t: u16) -> Option<u8> {
        self.levels
            .iter()
            .position(|l| l.contains(&t))
            .map(|p| p as u8)
    }

    fn check(&self, t: u16) -> Result<(), SchedError> {
        if usize::from(t) >= THREADS {
            return Err(SchedError::OutOfRange {
                thread: ThreadIndex(t),
                capacity: THREADS,
            });
        }
        Ok(())
    }

    fn enqueue(&mut self, t: u16, prio: u8, front: bool) -> Result<(), SchedError> {
        self.check(t)?;
        if let Some(priority) = self.level_of(t) {
            return Err(SchedError::AlreadyQueued {
                thread: ThreadIndex(t),
                priority,
            });
        }
        let level = &mut self.levels[usize::from(prio)];
        if front {
            level.push_front(t);
        } else {
            level.push_back(t);
        }
        Ok(())
    }

    fn remove(&mut self, t: u16) -> Result<u8, SchedError> {
        self.check(t)?;
        let prio = self.level_of(t).ok_or(SchedError::NotQueued {
            thread: ThreadIndex(t),
        })?;
        self.levels[usize::from(prio)].retain(|&x| x != t);
        Ok(prio)
    }

    fn highest(&self) -> Option<(ThreadIndex, u8)> {
        (0..=255u8).rev().find_map(|p| {
            self.levels[usize::from(p)]
                .front()
                .map(|&t| (ThreadIndex(t), p))
        })
    }

    fn pop(&mut self) -> Option<(ThreadIndex, u8)> {
        let (t, p) = self.highest()?;
        self.levels[usize::from(p)].pop_front();
        Some((t, p))
    }

    fn rotate(&mut self, prio: u8) -> Option<ThreadIndex> {
        let level = &mut self.levels[usize::from(prio)];
        let head = level.pop_front()?;
        level.push_back(head);
        level.front().map(|&t| ThreadIndex(t))
    }

    fn len(&self) -> usize {
        self.levels.iter().map(VecDeque::len).sum()
    }
}

/// Priorities: mostly a few levels (so threads share levels and straddle the bitmap's word
/// boundaries), sometimes any level.
fn prio() -> impl Strategy<Value = u8> {
    prop_oneof![
        3 => prop::sample::select(vec![0u8, 1, 63, 64, 127, 128, 191, 192, 255]),
        1 => any::<u8>(),
    ]
}

fn op() -> impl Strategy<Value = Op> {
    let thread = 0..(THREADS as u16 + 2);
    prop_oneof![
        4 => (thread.clone(), prio()).prop_map(|(t, p)| Op::Enqueue(t, p)),
        2 => (thread.clone(), prio()).prop_map(|(t, p)| Op::EnqueueFront(t, p)),
        2 => thread.prop_map(Op::Remove),
        2 => Just(Op::Pop),
        3 => prio().prop_map(Op::Rotate),
    ]
}

fn assert_same(q: &RunQueue<THREADS>, m: &Model) -> Result<(), TestCaseError> {
    prop_assert_eq!(q.highest(), m.highest());
    prop_assert_eq!(q.len(), m.len());
    prop_assert_eq!(q.is_empty(), m.len() == 0);
    let mut level_of = [None; THREADS + 2];
    for p in 0..=255u8 {
        let want = &m.levels[usize::from(p)];
        prop_assert!(
            q.level(p).map(|t| t.0).eq(want.iter().copied()),
            "order of level {}",
            p
        );
        prop_assert_eq!(q.has_ready_at(p), !want.is_empty(), "has_ready_at({})", p);
        for &t in want {
            level_of[usize::from(t)] = Some(p);
        }
    }
    for (t, &want) in level_of.iter().enumerate() {
        prop_assert_eq!(q.priority_of(ThreadIndex(t as u16)), want, "level of {}", t);
    }
    Ok(())
}

/// `PROPTEST_CASES` when set (`cargo xtask test --deep`), else `default`: an explicit
/// `cases` in a config would otherwise override the environment.
fn cases_from_env(default: u32) -> u32 {
    std::env::var("PROPTEST_CASES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(cases_from_env(512)))]

    #[test]
    fn run_queue_matches_model(ops in prop::collection::vec(op(), 1..120)) {
        let mut q = RunQueue::<THREADS>::new();
        let mut m = Model::new();
        for op in ops {
            match op {
                Op::Enqueue(t, p) => {
                    prop_assert_eq!(q.enqueue(ThreadIndex(t), p), m.enqueue(t, p, false));
                }
                Op::EnqueueFront(t, p) => {
                    prop_assert_eq!(q.enqueue_front(ThreadIndex(t), p), m.enqueue(t, p, true));
                }
                Op::Remove(t) => prop_assert_eq!(q.remove(ThreadIndex(t)), m.remove(t)),
                Op::Pop => prop_assert_eq!(q.pop_highest(), m.pop()),
                Op::Rotate(p) => prop_assert_eq!(q.rotate(p), m.rotate(p)),
            }
            assert_same(&q, &m)?;
        }
        // Draining gives every queued thread back exactly once, best first.
        let mut seen = [false; THREADS];
        let mut last = u8::MAX;
        while let Some((t, p)) = q.pop_highest() {
            prop_assert!(!seen[t.get()], "{:?} popped twice", t);
            seen[t.get()] = true;
            prop_assert!(p <= last);
            last = p;
            prop_assert_eq!(Some((t, p)), m.pop());
        }
        prop_assert_eq!(m.len(), 0);
    }

    /// The preemption rule: strictly higher preempts, whatever the queue holds.
    #[test]
    fn preempts_only_when_strictly_higher(
        current in any::<u8>(),
        ready in prop::collection::vec((0..THREADS as u16, any::<u8>()), 0..THREADS),
    ) {
        let mut q = RunQueue::<THREADS>::new();
        for (t, p) in ready {
            let _ = q.enqueue(ThreadIndex(t), p);
        }
        let best = q.highest().map(|(_, p)| p);
        prop_assert_eq!(should_preempt(current, &q), best.is_some_and(|b| b > current));
    }

    /// Round robin is fair: with `n` threads at one level, any `n` consecutive rotations of
    /// that level hand the turn to each of them exactly once, whatever happens at the other
    /// levels in between.
    #[test]
    fn round_robin_is_fair(
        n in 1usize..8,
        level in prio(),
        noise in prop::collection::vec((any::<bool>(), 8u16..THREADS as u16, prio()), 0..60),
        rotations in 1usize..60,
    ) {
        let mut q = RunQueue::<THREADS>::new();
        for t in 0..n as u16 {
            q.enqueue(ThreadIndex(t), level).unwrap();
        }
        let mut turns = Vec::new();
        let mut noise = noise.into_iter().cycle();
        for _ in 0..rotations {
            // Some unrelated activity on other levels (threads 8.. never sit at `level`).
            if let Some((add, t, p)) = noise.next() {
                let p = if p == level { level.wrapping_add(1) } else { p };
                if add {
                    let _ = q.enqueue(ThreadIndex(t), p);
                } else {
                    let _ = q.remove(ThreadIndex(t));
                }
                q.rotate(p);
            }
            turns.push(q.rotate(level).unwrap());
        }
        for window in turns.windows(n) {
            let mut got: Vec<u16> = window.iter().map(|t| t.0).collect();
            got.sort_unstable();
            prop_assert_eq!(got, (0..n as u16).collect::<Vec<_>>());
        }
        prop_assert_eq!(q.level(level).count(), n);
    }
}

#[test]
fn debug_lists_levels_highest_first() {
    let mut q = RunQueue::<4>::new();
    q.enqueue(ThreadIndex(2), 3).unwrap();
    q.enqueue(ThreadIndex(0), 3).unwrap();
    q.enqueue(ThreadIndex(1), 200).unwrap();
    assert_eq!(
        format!("{q:?}"),
        "RunQueue { capacity: 4, len: 3, levels: {200: [1], 3: [2, 0]} }"
    );
}
