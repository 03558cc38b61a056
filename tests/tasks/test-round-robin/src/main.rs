//! Round-robin test (image `test-round-robin`): two tasks of the same priority that never
//! yield, block or make a system call in their loops must still take turns, because the
//! kernel's slice timer preempts a thread whose time slice is over when a peer of its
//! priority is ready.
//!
//! Both tasks run this program; each counts in its own word of a shared page (`spinner-a`
//! word 0, `spinner-b` word 1) and watches the other's. `spinner-a` passes once it has
//! seen the other's counter move in three separate turns (each turn of the other task is
//! a stretch during which `spinner-a` itself did not run); without time slicing the first
//! task to run would spin alone forever, and the scenario's time limit would fail it.
#![no_std]
#![no_main]
#![deny(unsafe_code)]

use sluice::{Frame, SystemControl, println, require_cap, testing::Checks};

sluice::main!(main);

const SHARED_VA: u64 = sluice::abi::layout::SHARED_MAP_BASE;
/// Turns of the other task `spinner-a` must observe.
const TURNS: u64 = 3;

fn main() {
    let Ok(shared) = require_cap::<Frame>("counters").map_view(SHARED_VA, true) else {
        sluice::sys::panic_trap(b"cannot map the counters");
    };
    let (mine, theirs) = if sluice::task_name() == "spinner-a" {
        (0, 1)
    } else {
        (1, 0)
    };
    let mut count = 0u64;
    let mut last_seen = 0u64;
    let mut turns_seen = 0u64;
    loop {
        count += 1;
        let _ = shared.write(mine, count);
        let other = shared.read(theirs).unwrap_or(0);
        if other != last_seen {
            // The other task ran since we last looked: we were preempted for a turn.
            turns_seen += 1;
            last_seen = other;
            if mine == 0 && turns_seen == TURNS {
                break;
            }
        }
    }
    let power = require_cap::<SystemControl>("power");
    let mut checks = Checks::new();
    println!("spinner-a: counted {count}, the other task reached {last_seen}");
    checks.expect_eq(
        "the equal-priority peer got three turns without anyone yielding",
        turns_seen,
        TURNS,
    );
    checks.finish(&power);
}
