//! Property tests: the deadline queue against a plain reference model.
//!
//! The model keeps a `Vec` of timers and scans it linearly for the next one to fire. It
//! describes a periodic timer by its schedule (`first`, `period`, index `k` of the next
//! deadline) and computes deadlines as `first + k * period` in `u128`, so it shares no
//! arithmetic with the queue, which steps from the current deadline in checked `u64`.
//! Random sequences of open/close/arm/cancel/expire run on both and must agree at every
//! step, including the errors. Extra checks state the rules on their own: a cancelled
//! timer never fires, a one-shot fires once, nothing fires early, and a long-running
//! periodic timer stays on its schedule with exact overrun counts whatever the lateness.

use deadline_queue::{Class, Client, DeadlineQueue, Expiry, TimerError, TimerId};
use proptest::prelude::*;

/// Slots in the model test; ids up to `SLOTS + 1` are generated to hit `OutOfRange`.
const SLOTS: usize = 8;

/// Slots for the heap-shape test: at least 12 so that removing an entry can pull up one
/// from a different subtree of the heap.
const BIG: usize = 40;

#[derive(Clone, Copy, Debug)]
struct Armed {
    first: u64,
    /// `None` for a one-shot timer.
    period: Option<u64>,
    /// Index of the next deadline in the schedule.
    k: u128,
    seq: u64,
}

impl Armed {
    fn deadline(&self) -> u128 {
        u128::from(self.first) + self.k * u128::from(self.period.unwrap_or(0))
    }
}

#[derive(Clone, Copy, Debug, Default)]
struct Timer {
    client: Option<Client>,
    armed: Option<Armed>,
}

struct Model {
    timers: Vec<Timer>,
    seq: u64,
}

impl Model {
    fn new(slots: usize) -> Self {
        Self {
            timers: vec![Timer::default(); slots],
            seq: 0,
        }
    }

    fn slot(&mut self, id: u16) -> Result<&mut Timer, TimerError> {
        let capacity = self.timers.len();
        self.timers
            .get_mut(usize::from(id))
            .ok_or(TimerError::OutOfRange {
                id: TimerId(id),
                capacity,
            })
    }

    fn open_slot(&mut self, id: u16) -> Result<&mut Timer, TimerError> {
        let t = self.slot(id)?;
        if t.client.is_none() {
            return Err(TimerError::NotOpen { id: TimerId(id) });
        }
        Ok(t)
    }

    fn open(&mut self, id: u16, client: Client) -> Result<(), TimerError> {
        let t = self.slot(id)?;
        if let Some(client) = t.client {
            return Err(TimerError::AlreadyOpen {
                id: TimerId(id),
                client,
            });
        }
        *t = Timer {
            client: Some(client),
            armed: None,
        };
        Ok(())
    }

    fn close(&mut self, id: u16) -> Result<Client, TimerError> {
        let t = self.open_slot(id)?;
        let client = t.client.take().unwrap();
        t.armed = None;
        Ok(client)
    }

    fn arm(&mut self, id: u16, first: u64, period: Option<u64>) -> Result<(), TimerError> {
        self.open_slot(id)?;
        if period == Some(0) {
            return Err(TimerError::ZeroPeriod { id: TimerId(id) });
        }
        let seq = self.seq;
        self.seq += 1;
        self.open_slot(id)?.armed = Some(Armed {
            first,
            period,
            k: 0,
            seq,
        });
        Ok(())
    }

    fn cancel(&mut self, id: u16) -> Result<bool, TimerError> {
        Ok(self.open_slot(id)?.armed.take().is_some())
    }

    fn deadline_of(&self, id: usize) -> Option<u64> {
        self.timers[id].armed.map(|a| a.deadline() as u64)
    }

    fn next_deadline(&self) -> Option<u64> {
        (0..self.timers.len())
            .filter_map(|i| self.deadline_of(i))
            .min()
    }

    fn pop_expired(&mut self, now: u64) -> Option<Expiry> {
        let (i, a, client) = self
            .timers
            .iter()
            .enumerate()
            .filter_map(|(i, t)| Some((i, t.armed?, t.client?)))
            .filter(|(_, a, _)| a.deadline() <= u128::from(now))
            .min_by_key(|(_, a, c)| (a.deadline(), c.class == Class::InBand, a.seq))?;
        let deadline = a.deadline() as u64;
        let (overruns, next) = match a.period {
            None => {
                self.timers[i].armed = None;
                (0, None)
            }
            Some(p) => {
                // Index of the last deadline of the schedule at or before `now`.
                let last = (u128::from(now) - u128::from(a.first)) / u128::from(p);
                let overruns = (last - a.k) as u64;
                let k = last + 1;
                let next = u128::from(a.first) + k * u128::from(p);
                if next > u128::from(u64::MAX) {
                    self.timers[i].armed = None;
                    (overruns, None)
                } else {
                    let seq = self.seq;
                    self.seq += 1;
                    self.timers[i].armed = Some(Armed { k, seq, ..a });
                    (overruns, Some(next as u64))
                }
            }
        };
        Some(Expiry {
            id: TimerId(i as u16),
            owner: client.owner,
            class: client.class,
            deadline,
            overruns,
            next,
        })
    }
}

#[derive(Clone, Debug)]
enum Op {
    Open(u16, u32, Class),
    Close(u16),
    /// Deadline relative to now (negative: already past).
    ArmOneshot(u16, i64),
    ArmPeriodic(u16, i64, u64),
    Cancel(u16),
    /// Move time forward and expire everything due.
    Advance(u64),
    /// Expire at most this many of the timers due now (an iterator dropped early).
    ExpireSome(usize),
}

fn class() -> impl Strategy<Value = Class> {
    prop_oneof![Just(Class::Oob), Just(Class::InBand)]
}

fn offset() -> impl Strategy<Value = i64> {
    prop_oneof![
        4 => -20i64..60,
        1 => prop::sample::select(vec![0i64, i64::MIN, i64::MAX]),
    ]
}

fn period() -> impl Strategy<Value = u64> {
    prop_oneof![
        6 => 1u64..25,
        1 => Just(0u64),
        1 => prop::sample::select(vec![u64::MAX / 3, u64::MAX - 1, u64::MAX]),
    ]
}

fn op() -> impl Strategy<Value = Op> {
    let id = 0..(SLOTS as u16 + 2);
    prop_oneof![
        1 => (id.clone(), 0u32..4, class()).prop_map(|(i, o, c)| Op::Open(i, o, c)),
        1 => id.clone().prop_map(Op::Close),
        3 => (id.clone(), offset()).prop_map(|(i, d)| Op::ArmOneshot(i, d)),
        3 => (id.clone(), offset(), period()).prop_map(|(i, d, p)| Op::ArmPeriodic(i, d, p)),
        2 => id.prop_map(Op::Cancel),
        4 => prop_oneof![8 => 0u64..15, 2 => 0u64..200, 1 => Just(u64::MAX / 2)]
            .prop_map(Op::Advance),
        1 => (0usize..3).prop_map(Op::ExpireSome),
    ]
}

fn at(now: u64, offset: i64) -> u64 {
    now.saturating_add_signed(offset)
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
    #![proptest_config(ProptestConfig::with_cases(cases_from_env(768)))]

    #[test]
    fn queue_matches_model(
        start in prop::sample::select(vec![0u64, 1_000_000, u64::MAX - 300]),
        initial in prop::collection::vec(prop::option::weighted(0.8, (0u32..4, class())), SLOTS),
        ops in prop::collection::vec(op(), 1..100),
    ) {
        let mut q = DeadlineQueue::<SLOTS>::new();
        let mut m = Model::new(SLOTS);
        // Most slots start open, so that most arms succeed and the heap fills up.
        for (i, client) in initial.into_iter().enumerate() {
            if let Some((owner, class)) = client {
                let c = Client { owner, class };
                prop_assert_eq!(q.open(TimerId(i as u16), c), m.open(i as u16, c));
            }
        }
        let mut now = start;
        // Timers cancelled or closed and not re-armed since: they must never fire.
        let mut dead = [false; SLOTS + 2];
        for op in ops {
            let mut fired = Vec::new();
            match op {
                Op::Open(i, owner, class) => {
                    let c = Client { owner, class };
                    prop_assert_eq!(q.open(TimerId(i), c), m.open(i, c));
                }
                Op::Close(i) => {
                    prop_assert_eq!(q.close(TimerId(i)), m.close(i));
                    dead[usize::from(i)] = true;
                }
                Op::ArmOneshot(i, d) => {
                    let r = q.arm_oneshot(TimerId(i), at(now, d));
                    prop_assert_eq!(r, m.arm(i, at(now, d), None));
                    if r.is_ok() {
                        dead[usize::from(i)] = false;
                    }
                }
                Op::ArmPeriodic(i, d, p) => {
                    let r = q.arm_periodic(TimerId(i), at(now, d), p);
                    prop_assert_eq!(r, m.arm(i, at(now, d), Some(p)));
                    if r.is_ok() {
                        dead[usize::from(i)] = false;
                    }
                }
                Op::Cancel(i) => {
                    let r = q.cancel(TimerId(i));
                    prop_assert_eq!(r, m.cancel(i));
                    if r.is_ok() {
                        dead[usize::from(i)] = true;
                    }
                }
                Op::Advance(dt) => {
                    now = now.saturating_add(dt);
                    fired.extend(q.expire(now));
                    let mut want = Vec::new();
                    while let Some(e) = m.pop_expired(now) {
                        want.push(e);
                    }
                    prop_assert_eq!(&fired, &want);
                }
                Op::ExpireSome(n) => {
                    fired.extend(q.expire(now).take(n));
                    let want: Vec<_> = (0..n).map_while(|_| m.pop_expired(now)).collect();
                    prop_assert_eq!(&fired, &want);
                }
            }
            for e in &fired {
                prop_assert!(e.deadline <= now, "{:?} fired early at {}", e, now);
                prop_assert!(!dead[e.id.get()], "{:?} fired after cancel/close", e);
                prop_assert!(e.next.is_none_or(|n| n > now));
                if e.next.is_none() {
                    // A one-shot (or a finished periodic) fires once: it is now idle.
                    prop_assert!(!q.is_armed(e.id));
                }
            }
            prop_assert_eq!(q.next_deadline(), m.next_deadline());
            prop_assert_eq!(q.len(), (0..SLOTS).filter(|&i| m.deadline_of(i).is_some()).count());
            for i in 0..SLOTS {
                prop_assert_eq!(q.deadline_of(TimerId(i as u16)), m.deadline_of(i), "slot {}", i);
                prop_assert_eq!(q.client(TimerId(i as u16)), m.timers[i].client);
            }
        }
    }

    /// One periodic timer over a long run, served with random lateness (often less than a
    /// period, sometimes many periods): every expiry is on the schedule
    /// `first + n * period`, overruns count exactly the skipped deadlines, and the next
    /// deadline is the first one after `now`.
    #[test]
    fn periodic_never_drifts(
        first in 0u64..1 << 40,
        period in prop_oneof![1u64..4, 4u64..1_000_000],
        lateness in prop::collection::vec(
            prop_oneof![8 => 0.0f64..1.0, 2 => 0.0f64..5.0, 1 => 0.0f64..1000.0], 300..1000),
    ) {
        let mut q = DeadlineQueue::<1>::new();
        let id = TimerId(0);
        q.open(id, Client { owner: 7, class: Class::Oob }).unwrap();
        q.arm_periodic(id, first, period).unwrap();
        // Deadlines of the schedule accounted for so far (fired or counted as overrun).
        let mut n: u64 = 0;
        for late in lateness {
            let deadline = q.next_deadline().unwrap();
            prop_assert_eq!(deadline, first + n * period);
            // Nothing fires a tick early.
            if let Some(before) = deadline.checked_sub(1) {
                prop_assert_eq!(q.pop_expired(before), None);
            }
            let now = deadline + (late * period as f64) as u64;
            let e = q.pop_expired(now).unwrap();
            prop_assert_eq!(e.deadline, first + n * period);
            prop_assert_eq!(e.overruns, (now - first) / period - n);
            n += 1 + e.overruns;
            prop_assert_eq!(e.next, Some(first + n * period));
            prop_assert!(first + n * period > now);
            prop_assert!(first + (n - 1) * period <= now);
            prop_assert_eq!(q.pop_expired(now), None);
        }
    }

    /// Many periodic timers with different periods, all served at the same random instants:
    /// over the run each one accounts for exactly the deadlines of its schedule that passed.
    #[test]
    fn overruns_account_for_every_deadline(
        timers in prop::collection::vec((0u64..100, 1u64..50), 1..SLOTS),
        steps in prop::collection::vec(0u64..300, 1..100),
    ) {
        let mut q = DeadlineQueue::<SLOTS>::new();
        for (i, &(first, period)) in timers.iter().enumerate() {
            let id = TimerId(i as u16);
            q.open(id, Client { owner: i as u32, class: Class::InBand }).unwrap();
            q.arm_periodic(id, first, period).unwrap();
        }
        let mut counted = vec![0u64; timers.len()];
        let mut now = 0;
        for dt in steps {
            now += dt;
            for e in q.expire(now) {
                counted[e.id.get()] += 1 + e.overruns;
            }
        }
        for (i, &(first, period)) in timers.iter().enumerate() {
            let due = if now >= first { (now - first) / period + 1 } else { 0 };
            prop_assert_eq!(counted[i], due, "timer {}", i);
        }
    }

    /// Heap bookkeeping under cancellation anywhere: a table large enough that a removal
    /// deep in one subtree can pull in an entry from the other (which must then move up),
    /// random deadlines with many ties, random cancels and re-arms, then a full drain that
    /// must come out in the model's order.
    #[test]
    fn cancel_anywhere_keeps_order(
        timers in prop::collection::vec((0u64..40, class(), any::<bool>()), BIG),
        churn in prop::collection::vec((0..BIG as u16, prop::option::of(0u64..40)), 0..80),
    ) {
        let mut q = DeadlineQueue::<BIG>::new();
        let mut m = Model::new(BIG);
        for (i, &(deadline, class, periodic)) in timers.iter().enumerate() {
            let id = i as u16;
            let c = Client { owner: id.into(), class };
            prop_assert_eq!(q.open(TimerId(id), c), m.open(id, c));
            let period = periodic.then_some(7);
            let r = match period {
                Some(p) => q.arm_periodic(TimerId(id), deadline, p),
                None => q.arm_oneshot(TimerId(id), deadline),
            };
            prop_assert_eq!(r, m.arm(id, deadline, period));
        }
        for (id, rearm) in churn {
            match rearm {
                Some(d) => {
                    prop_assert_eq!(q.arm_oneshot(TimerId(id), d), m.arm(id, d, None));
                }
                None => prop_assert_eq!(q.cancel(TimerId(id)), m.cancel(id)),
            }
            prop_assert_eq!(q.next_deadline(), m.next_deadline());
        }
        for now in [10, 20, 45, 100] {
            let got: Vec<_> = q.expire(now).collect();
            let want: Vec<_> = std::iter::from_fn(|| m.pop_expired(now)).collect();
            prop_assert_eq!(got, want);
        }
    }
}
