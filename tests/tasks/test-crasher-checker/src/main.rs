//! Fault test, the checker (image `test-faults`): waits for the crasher's report on the
//! `done` notification and ends the test, so the scenario proves the system kept running
//! through the faults.
//!
//! The crasher signals badge 1 when it survived its three faults and restarts, badge 2
//! on anything unexpected. One check: the word is exactly 1.
#![no_std]
#![no_main]
#![deny(unsafe_code)]

use sluice::{Notification, SystemControl, testing::Checks};

sluice::main!(main);

/// The crasher's "done" capability's badge.
const DONE: u64 = 1;

fn main() {
    let done = sluice::require_cap::<Notification>("done");
    let power = sluice::require_cap::<SystemControl>("power");
    let mut checks = Checks::new();
    checks.expect_eq(
        "the crasher reported success after its restarts",
        done.wait(),
        Ok(DONE),
    );
    checks.finish(&power);
}
