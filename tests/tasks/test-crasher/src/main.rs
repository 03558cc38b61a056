//! Fault test, the crasher (image `test-faults`): on each run it reads its restart count
//! from its start info and faults in a different way, until the fourth run reports that
//! it survived.
//!
//! | restarts | what it does | fault the supervisor logs |
//! |---|---|---|
//! | 0 | loads from the unmapped user address `0xdead000` | data abort, address `0xdead000` |
//! | 1 | executes `udf #0` | undefined instruction |
//! | 2 | traps with call number `0x7777`, which names no call | bad system call, address `0x7777` |
//! | 3 | prints `PASS: survived three faults and restarts`, signals `done` (badge 1) | - |
//!
//! Anything unexpected (a fault instruction that returns, more restarts than three)
//! prints a `FAIL:` line and signals `failed` (badge 2 on the same notification). Either
//! way it then blocks for good on `idle`, a notification nobody signals, so that it does
//! not return from `main` (which the runtime would report as a fault).
//!
//! The same program runs as `crasher-once`, which the supervisor does not restart: it
//! faults once (data abort) and stays stopped.
#![no_std]
#![no_main]
#![deny(unsafe_code)]

use sluice::{
    Notification, println,
    sys::{self, TrapArgs},
};

sluice::main!(main);

/// An address in the task area that nothing maps (between the program and the start info).
const UNMAPPED: u64 = 0x0dea_d000;
/// A system call number that names no call.
const BAD_CALL: u64 = 0x7777;

fn main() -> ! {
    let done = sluice::require_cap::<Notification>("done");
    let failed = sluice::require_cap::<Notification>("failed");
    let idle = sluice::require_cap::<Notification>("idle");
    let name = sluice::task_name();
    let restarts = sluice::restarts();
    let outcome = match restarts {
        0 => {
            println!("{name}: run 0: loading from unmapped address {UNMAPPED:#x}");
            load(UNMAPPED);
            Err("a load from an unmapped address did not fault")
        }
        1 => {
            println!("{name}: run 1: executing an undefined instruction");
            undefined_instruction();
            Err("an undefined instruction did not fault")
        }
        2 => {
            println!("{name}: run 2: trapping with unknown call number {BAD_CALL:#x}");
            let out = sys::trap(BAD_CALL, TrapArgs::default());
            println!("{name}: the bad call returned status {}", out.status);
            Err("an unknown system call number did not fault")
        }
        3 => Ok(()),
        _ => Err("restarted more than three times"),
    };
    let reported = match outcome {
        Ok(()) => {
            println!("PASS: survived three faults and restarts");
            done.signal()
        }
        Err(what) => {
            println!("FAIL: {name} (restart {restarts}): {what}");
            failed.signal()
        }
    };
    if let Err(error) = reported {
        println!("FAIL: {name}: signalling the checker: {}", error.name());
    }
    loop {
        let _ = idle.wait();
    }
}

/// Loads a word from `address` (to fault on purpose).
#[allow(unsafe_code)]
fn load(address: u64) {
    // SAFETY: a single `ldr` whose result is discarded: it reads at most 8 bytes and
    // writes nothing. At an unmapped address it faults and the kernel stops the task.
    unsafe {
        core::arch::asm!(
            "ldr {value}, [{address}]",
            address = in(reg) address,
            value = out(reg) _,
            options(nostack, readonly, preserves_flags),
        );
    }
}

/// Executes a permanently undefined instruction.
#[allow(unsafe_code)]
fn undefined_instruction() {
    // SAFETY: `udf` raises an undefined-instruction exception; the kernel stops the
    // task. Were it to return, no register or memory would have changed.
    unsafe { core::arch::asm!("udf #0", options(nomem, nostack, preserves_flags)) };
}
