//! `hectic`: in-band stress load, in the style of EVL's hectic, to run under `latmus`.
//!
//! One program, a role per task name, all in-band (below the oob stage and the real-time
//! tasks), all for `seconds=N` (default 5) and then idle:
//!
//! - `hectic-ping` / `hectic-pong`: IPC ping-pong across two address spaces, alternating
//!   register-only messages (the kernel's fast path) and 48-word messages through the IPC
//!   buffer (the slow path, with copies), so the kernel is entered all the time;
//! - `hectic-mem`: memory traffic over a private region larger than the caches and the
//!   TLBs reach (a write per cache line, then a read per page), so every other task comes
//!   back to cold caches and TLBs;
//! - `hectic-domain`: an in-band domain of the pipeline that stalls and unstalls in
//!   storms while synthetic IRQs flood it (injected while stalled: logged and coalesced;
//!   while unstalled: delivered), and that runs a periodic in-band timer (`timer_us`,
//!   default 250) through the timer-server. It accounts for every event: the injections
//!   it made and the timer expiries the timer-server reports must equal the events its
//!   handlers ran (raises counted), exactly.
//!
//! Each prints one summary line at the end; `hectic-domain` fails the run (a panic report
//! to the supervisor, the system runs on) if an event went missing.
#![no_std]
#![no_main]
#![deny(unsafe_code)]

mod domain;

use core::sync::atomic::{AtomicU64, Ordering};
use sluice::{Endpoint, Message, println, require_cap, sys::counter};

sluice::main!(main);

/// Whether the load's time is up.
#[derive(Debug)]
pub struct Deadline(u64);

impl Deadline {
    /// `seconds=N` from the task's arguments (default 5).
    pub fn from_args() -> Self {
        let seconds = sluice::arg_u64("seconds", 5).unwrap_or(5);
        Deadline(counter() + seconds * sluice::timer::frequency())
    }

    /// Time is up.
    pub fn passed(&self) -> bool {
        counter() >= self.0
    }
}

fn main() -> ! {
    match sluice::task_name() {
        "hectic-ping" => ping(),
        "hectic-pong" => pong(),
        "hectic-mem" => memory(),
        _ => domain::run(),
    }
}

/// Reports the load done (the `done` notification, badged per task, tells whoever waits
/// for the load, the latmus reporter) and blocks for good: returning would end the task
/// as a fault.
pub fn idle() -> ! {
    if let Ok(done) = sluice::cap::<sluice::Notification>("done") {
        let _ = done.signal();
    }
    let idle = require_cap::<sluice::Notification>("idle");
    loop {
        let _ = idle.wait();
    }
}

fn ping() -> ! {
    let server = require_cap::<Endpoint>("pong");
    let deadline = Deadline::from_args();
    let (mut round_trips, mut errors) = (0u64, 0u64);
    let long = [0x5a5a_u64; 48];
    while !deadline.passed() {
        for _ in 0..64 {
            let words: &[u64] = if round_trips % 4 == 3 {
                &long
            } else {
                &long[..4]
            };
            let ok = Message::with_words(1, words)
                .and_then(|message| server.call(&message))
                .is_ok_and(|reply| reply.word(0) == words[0] + 1);
            round_trips += 1;
            errors += u64::from(!ok);
        }
    }
    println!("hectic-ping: {round_trips} IPC round trips, {errors} failed");
    idle()
}

fn pong() -> ! {
    let endpoint = require_cap::<Endpoint>("pong");
    let Ok((mut message, _)) = endpoint.recv() else {
        println!("hectic-pong: cannot receive");
        idle()
    };
    let mut echo = [0u64; 40];
    loop {
        // Short calls get a register-only reply, long ones a 40-word one.
        echo.fill(message.word(0) + 1);
        let len = if message.words().len() > 6 {
            echo.len()
        } else {
            1
        };
        let Ok(reply) = Message::with_words(0, &echo[..len]) else {
            idle()
        };
        match endpoint.reply_recv(&reply) {
            Ok((next, _)) => message = next,
            Err(_) => idle(),
        }
    }
}

/// The memory `hectic-mem` sweeps: larger than the L2 caches of the boards' cores
/// (Cortex-A72 1 MiB, A53 512 KiB) and than their TLBs reach (a few hundred 4 KiB
/// pages). Atomics with relaxed order compile to plain loads and stores, and need no
/// `unsafe`.
static SWEEP: [AtomicU64; SWEEP_WORDS] = [const { AtomicU64::new(0) }; SWEEP_WORDS];
const SWEEP_WORDS: usize = (2 << 20) / 8;

fn memory() -> ! {
    const LINE_WORDS: usize = 64 / 8;
    const PAGE_WORDS: usize = 4096 / 8;
    let deadline = Deadline::from_args();
    let (mut passes, mut checksum) = (0u64, 0u64);
    while !deadline.passed() {
        // A write per cache line: evicts every cache level in turn.
        for index in (0..SWEEP_WORDS).step_by(LINE_WORDS) {
            SWEEP[index].store(passes ^ index as u64, Ordering::Relaxed);
        }
        // A read per page: one TLB miss each, walking tables the writes evicted.
        for index in (0..SWEEP_WORDS).step_by(PAGE_WORDS) {
            checksum = checksum.wrapping_add(SWEEP[index].load(Ordering::Relaxed));
        }
        passes += 1;
    }
    println!(
        "hectic-mem: {passes} passes over {} KiB (checksum {checksum:#x})",
        SWEEP_WORDS * 8 / 1024
    );
    idle()
}
