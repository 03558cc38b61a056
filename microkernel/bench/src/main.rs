//! Kernel benchmarks (image `bench`, run by `cargo xtask bench`).
//!
//! One program, four tasks in four address spaces; each task's role comes from its name:
//! - `driver` runs the measurements and prints `BENCH <key> <value>` lines;
//! - `server` (higher priority) and `server-same` (the driver's priority) answer calls;
//! - `waiter` (higher priority) waits on a notification and stamps the time it woke.
//!
//! Times are read from the PMU cycle counter, which under QEMU's
//! `-icount shift=0,sleep=off` advances exactly once per guest instruction (one guest
//! nanosecond), so each figure is a deterministic instruction count. The hot loops use
//! register-only messages through the raw trap, as a real fast-path client would.
#![no_std]
#![no_main]
#![deny(unsafe_code)]

use kernel_abi::{MessageInfo, Syscall};
use sluice::{
    Cap, Endpoint, Frame, Notification, SystemControl, println, require_cap,
    sys::{TrapArgs, cycles, syscall},
};

sluice::main!(main);

/// Round trips or wake-ups per figure.
const ROUNDS: u64 = 10_000;
/// Where the driver and the waiter share the wake-up stamp.
const STAMP_VA: u64 = kernel_abi::layout::SHARED_MAP_BASE;

fn main() {
    match sluice::task_name() {
        "driver" => drive(),
        "waiter" => wait_and_stamp(),
        _ => serve(),
    }
}

fn call(endpoint: Cap<Endpoint>) {
    let args = TrapArgs {
        x0: u64::from(endpoint.slot()),
        x1: MessageInfo::new(1, 1).to_raw(),
        words: [7, 0, 0, 0, 0, 0],
    };
    let out = syscall(Syscall::Call, args);
    if out.status != 0 {
        sluice::sys::panic_trap(b"benchmark call failed");
    }
}

/// Average instructions per round trip, in tenths.
fn round_trips(endpoint: Cap<Endpoint>) -> u64 {
    for _ in 0..100 {
        call(endpoint); // warm up: first-touch page walks, branch state
    }
    let start = cycles();
    for _ in 0..ROUNDS {
        call(endpoint);
    }
    (cycles() - start) * 10 / ROUNDS
}

fn report(key: &str, tenths: u64) {
    println!("BENCH {key} {}.{}", tenths / 10, tenths % 10);
}

fn drive() {
    let power = require_cap::<SystemControl>("power");
    report("ipc_call_reply_ns", round_trips(require_cap("server")));
    report(
        "ipc_call_reply_same_prio_ns",
        round_trips(require_cap("server-same")),
    );

    let wake = require_cap::<Notification>("wake");
    let Ok(stamp) = require_cap::<Frame>("stamp").map_view(STAMP_VA, false) else {
        sluice::sys::panic_trap(b"cannot map the stamp page");
    };
    let mut total = 0;
    for round in 0..ROUNDS + 100 {
        let start = cycles();
        if wake.signal().is_err() {
            sluice::sys::panic_trap(b"signal failed");
        }
        // The waiter outranks us: it has run and stamped before `signal` returns here.
        let woke = stamp.read(0).unwrap_or(0);
        if round >= 100 {
            total += woke.wrapping_sub(start);
        }
    }
    report("notification_signal_to_wake_ns", total * 10 / ROUNDS);
    println!("BENCH done");
    let _ = power.power_off(0);
}

fn wait_and_stamp() -> ! {
    let wake = require_cap::<Notification>("wake");
    let Ok(stamp) = require_cap::<Frame>("stamp").map_view(STAMP_VA, true) else {
        sluice::sys::panic_trap(b"cannot map the stamp page");
    };
    loop {
        let _ = wake.wait();
        let _ = stamp.write(0, cycles());
    }
}

fn serve() -> ! {
    let endpoint = require_cap::<Endpoint>("requests");
    let slot = u64::from(endpoint.slot());
    let mut out = syscall(
        Syscall::Recv,
        TrapArgs {
            x0: slot,
            ..TrapArgs::default()
        },
    );
    loop {
        let reply = TrapArgs {
            x0: slot,
            x1: MessageInfo::new(0, 1).to_raw(),
            words: [out.words[0], 0, 0, 0, 0, 0],
        };
        out = syscall(Syscall::ReplyRecv, reply);
    }
}
