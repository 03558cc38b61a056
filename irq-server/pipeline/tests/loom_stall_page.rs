//! Loom model of the stall page protocol (`pipeline::stall_page`): no event is lost and
//! nothing is delivered while the domain is stalled, over every interleaving.
//!
//! Run with:
//! `RUSTFLAGS="--cfg loom" cargo test -p pipeline --test loom_stall_page --release`
//!
//! Actors, as in the irq-server:
//! - thread `domain`: the in-band domain on CPU `c`, stalling and unstalling with the real
//!   `StallWord` code. The server thread of CPU `c` runs only while the domain is
//!   preempted, i.e. at the domain's instruction boundaries: it is modelled inline, at a
//!   `boundary()` between every two steps, where it takes a pending kick (IPI) and a
//!   local hardware event.
//! - thread `remote`: the server thread of another CPU, posting events into the domain's
//!   log on `c` (`post_inband`, irq_work) and kicking `c` when the Dekker re-check says
//!   the domain may have missed them.
//!
//! The log is a `Mutex<Vec>` standing for the pipeline under the irq-server's lock.
#![cfg(loom)]

use loom::sync::atomic::{AtomicBool, Ordering};
use loom::sync::{Arc, Mutex};
use loom::thread;
use pipeline::stall_page::{AfterLog, StallWord};

struct Cpu {
    word: StallWord,
    log: Mutex<Vec<u32>>,
    kick: AtomicBool,
    delivered: Mutex<Vec<u32>>,
}

impl Cpu {
    fn new() -> Self {
        Cpu {
            word: StallWord::new(),
            log: Mutex::new(Vec::new()),
            kick: AtomicBool::new(false),
            delivered: Mutex::new(Vec::new()),
        }
    }

    /// Drains the log and hands every entry to the domain: the domain's own `sync`, or the
    /// replay by the server of the domain's CPU. Both only run on the domain's CPU.
    fn replay(&self) {
        let mut log = self.log.lock().unwrap();
        self.word.log_drained();
        let mut delivered = self.delivered.lock().unwrap();
        for event in log.drain(..) {
            assert!(
                !self.word.is_stalled(),
                "invariant 2: event {event} delivered while the domain is stalled"
            );
            delivered.push(event);
        }
    }

    /// The domain's own unstall: one store, a fence, one load; sync only if told to.
    fn unstall(&self) {
        if self.word.unstall() {
            self.replay();
        }
    }

    /// The server of the domain's CPU preempts the domain between two instructions: it
    /// takes a kick, and replays only if the domain is unstalled (it cannot change its
    /// flag meanwhile: it is preempted).
    fn boundary(&self) {
        // `compare_exchange(true, false)`, not `swap(false)`: same meaning, but loom 0.7
        // lets a concurrent plain store vanish around a `swap` (tokio-rs/loom#254, a false
        // alarm that C11 forbids), while it models this single CAS correctly.
        let kicked = self
            .kick
            .compare_exchange(true, false, Ordering::Acquire, Ordering::Relaxed)
            .is_ok();
        if kicked && !self.word.is_stalled() {
            self.replay();
        }
    }

    /// A hardware event on the domain's CPU, handled by that CPU's server (the domain is
    /// preempted): deliver at once if unstalled with an empty log, otherwise log; if the
    /// re-check finds the domain unstalled, replay now.
    fn local_event(&self, event: u32) {
        let mut log = self.log.lock().unwrap();
        if !self.word.is_stalled() && log.is_empty() {
            self.delivered.lock().unwrap().push(event);
            return;
        }
        log.push(event);
        let after = self.word.log_posted();
        drop(log);
        if after == AfterLog::ReplayNow {
            self.replay();
        }
    }

    /// An event posted from another CPU: log, publish `pending`, re-check, kick if the
    /// domain may have missed it. A remote server never delivers.
    fn remote_post(&self, event: u32) {
        let after = {
            let mut log = self.log.lock().unwrap();
            log.push(event);
            self.word.log_posted()
        };
        if after == AfterLog::ReplayNow {
            self.kick.store(true, Ordering::Release);
        }
    }
}

fn check(cpu: &Cpu, expected: &[u32], orders: &[(u32, u32)]) {
    let delivered = cpu.delivered.lock().unwrap().clone();
    assert!(
        cpu.log.lock().unwrap().is_empty(),
        "invariant 3: event left in the log: {delivered:?}"
    );
    let mut sorted = delivered.clone();
    sorted.sort_unstable();
    assert_eq!(
        sorted, expected,
        "invariant 3: lost or duplicated event: {delivered:?}"
    );
    for &(a, b) in orders {
        let pa = delivered.iter().position(|&e| e == a);
        let pb = delivered.iter().position(|&e| e == b);
        assert!(
            pa < pb,
            "invariant 4: {b} delivered before {a}: {delivered:?}"
        );
    }
}

/// Two stall/unstall cycles on the domain's CPU against two remote posts.
#[test]
fn remote_posts_are_never_lost_nor_delivered_while_stalled() {
    loom::model(|| {
        let cpu = Arc::new(Cpu::new());
        let domain = {
            let cpu = cpu.clone();
            thread::spawn(move || {
                cpu.word.stall();
                cpu.boundary();
                cpu.unstall();
                cpu.boundary();
                cpu.word.stall();
                cpu.boundary();
                cpu.unstall();
                cpu.boundary();
            })
        };
        let remote = {
            let cpu = cpu.clone();
            thread::spawn(move || {
                cpu.remote_post(1);
                cpu.remote_post(2);
            })
        };
        domain.join().unwrap();
        remote.join().unwrap();
        // The domain runs on, unstalled: its next boundary takes any kick still pending.
        cpu.boundary();
        check(&cpu, &[1, 2], &[(1, 2)]);
    });
}

/// Local hardware events while stalled and after unstall, racing a remote post.
#[test]
fn local_and_remote_events_replay_once_in_order() {
    loom::model(|| {
        let cpu = Arc::new(Cpu::new());
        let domain = {
            let cpu = cpu.clone();
            thread::spawn(move || {
                cpu.word.stall();
                cpu.boundary();
                cpu.local_event(10); // logged: the domain is stalled
                cpu.boundary();
                cpu.unstall();
                cpu.boundary();
                cpu.local_event(11); // delivered, or behind whatever is logged
                cpu.boundary();
            })
        };
        let remote = {
            let cpu = cpu.clone();
            thread::spawn(move || cpu.remote_post(1))
        };
        domain.join().unwrap();
        remote.join().unwrap();
        cpu.boundary();
        check(&cpu, &[1, 10, 11], &[(10, 11)]);
    });
}
