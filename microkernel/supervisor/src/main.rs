//! The supervisor: receives the kernel's fault messages, logs them, and restarts the
//! tasks the manifest marks for restart.
//!
//! After Hubris' supervisor ("jefe"), it only *receives*: it never sends to, calls, or
//! waits on a task it supervises, so no supervised task can block it. It does not even
//! reply, since a fault message needs no answer: the faulted thread stays stopped until
//! the supervisor restarts it (`ThreadOp::Restart`) or forever.
//!
//! What it is given (by name, through its start info):
//! - `faults`: an endpoint capability with READ, the endpoint named as `fault-endpoint`
//!   by the tasks it supervises. A fault message has label `FAULT_LABEL`, words
//!   `w0` = `FaultKind`, `w1` = address (FAR, or the bad call number), `w2` = pc,
//!   `w3` = ESR, and the badge of the faulted task (task index + 1).
//! - one thread capability per supervised task, named like the task, with
//!   `START_CAP_RESTART` in its flags if the task is to be restarted.
//!
//! Mapping a badge to a thread capability: the order of the thread capabilities says
//! nothing about task indices, so at start the supervisor asks the kernel for each
//! thread's index (`ThreadOp::Status`, word 2) and keeps a table; a fault with badge `b`
//! belongs to the thread whose index is `b - 1`. An index the kernel did not report at
//! start is asked for again when a fault arrives; a fault no table entry matches is
//! logged with its badge and otherwise ignored.
//!
//! Each fault is logged on one line:
//! `supervisor: task <name> faulted: <kind> at pc 0x.. address 0x.. (restart <n>)`, where
//! `n` is the number of restarts the task had had when it faulted. A task marked for
//! restart is restarted at once the first three times, then after a back-off that
//! doubles with every further fault (capped). There is no timer service yet, so the
//! back-off is counted in `Yield`s: they let threads of the supervisor's own priority run,
//! and make the cost of a crash loop visible, but do not wait for a time; the timer
//! server will replace them with a sleep. An unmarked task is logged as staying stopped.
#![no_std]
#![no_main]
#![deny(unsafe_code)]

use core::fmt;

use sluice::{
    Badge, Cap, Endpoint, FaultKind, Message, ObjectType, Thread,
    abi::{
        FAULT_LABEL,
        layout::{MAX_START_CAPS, START_CAP_RESTART, name_str},
    },
    println, yield_now,
};

sluice::main!(main);

/// Faults after which restarts are delayed.
const FREE_RESTARTS: u64 = 3;
/// Longest back-off, as a power of two of yields.
const MAX_BACKOFF_SHIFT: u64 = 10;

/// One supervised task.
struct Supervised {
    /// The task's name (the thread capability's name in the manifest).
    name: &'static str,
    /// Its thread.
    thread: Cap<Thread>,
    /// Restart it when it faults.
    restart: bool,
    /// Its index in the image, as the kernel reported it (`None`: not known yet).
    index: Option<u64>,
    /// Faults seen so far.
    faults: u64,
}

impl Supervised {
    /// Asks the kernel for the task's index if it is not known yet.
    fn learn_index(&mut self) {
        if self.index.is_none() {
            match self.thread.status() {
                Ok(status) => self.index = Some(status.task_index),
                Err(error) => println!(
                    "supervisor: status of task {} refused: {}",
                    self.name,
                    error.name()
                ),
            }
        }
    }
}

/// A fault kind for the log, including codes this build does not know.
struct Kind(u64);

impl fmt::Display for Kind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match FaultKind::from_word(self.0) {
            Some(kind) => f.write_str(kind.name()),
            None => write!(f, "unknown fault kind {}", self.0),
        }
    }
}

fn main() -> ! {
    let faults = sluice::require_cap::<Endpoint>("faults");
    let mut tasks: [Option<Supervised>; MAX_START_CAPS] = [const { None }; MAX_START_CAPS];
    let mut count = 0;
    for entry in sluice::start_caps() {
        if entry.kind != ObjectType::Thread.code() || count == tasks.len() {
            continue;
        }
        let mut task = Supervised {
            name: name_str(&entry.name),
            thread: Cap::from_raw(entry.slot),
            restart: entry.flags & START_CAP_RESTART != 0,
            index: None,
            faults: 0,
        };
        task.learn_index();
        tasks[count] = Some(task);
        count += 1;
    }
    println!("supervisor: watching {count} tasks");
    let tasks = &mut tasks[..count];

    loop {
        let (message, badge) = match faults.recv() {
            Ok(received) => received,
            // Without its endpoint the supervisor is of no use: report to the kernel.
            Err(error) => panic!("receiving on \"faults\": {}", error.name()),
        };
        if message.label() == FAULT_LABEL {
            handle_fault(tasks, badge, &message);
        } else {
            println!(
                "supervisor: ignoring a message with label {:#x} and badge {} (not a fault)",
                message.label(),
                badge.get()
            );
        }
    }
}

/// Finds the task a fault badge names: the one whose index is `badge - 1`.
fn find_task(tasks: &mut [Option<Supervised>], badge: Badge) -> Option<&mut Supervised> {
    let index = badge.get().checked_sub(1)?;
    for task in tasks.iter_mut().flatten() {
        task.learn_index();
    }
    tasks
        .iter_mut()
        .flatten()
        .find(|task| task.index == Some(index))
}

fn handle_fault(tasks: &mut [Option<Supervised>], badge: Badge, message: &Message) {
    let kind = Kind(message.word(0));
    let (address, pc) = (message.word(1), message.word(2));
    let Some(task) = find_task(tasks, badge) else {
        println!(
            "supervisor: a task with badge {} (not supervised here) faulted: {kind} at pc {pc:#x} address {address:#x}",
            badge.get()
        );
        return;
    };
    task.faults += 1;
    let restarts = task
        .thread
        .status()
        .map_or(task.faults - 1, |status| status.restarts);
    println!(
        "supervisor: task {} faulted: {kind} at pc {pc:#x} address {address:#x} (restart {restarts})",
        task.name
    );
    if !task.restart {
        println!(
            "supervisor: task {} stays stopped (not marked for restart)",
            task.name
        );
        return;
    }
    if task.faults > FREE_RESTARTS {
        let shift = (task.faults - FREE_RESTARTS).min(MAX_BACKOFF_SHIFT);
        for _ in 0..1u64 << shift {
            yield_now();
        }
    }
    if let Err(error) = task.thread.restart() {
        println!(
            "supervisor: restarting task {} refused: {}",
            task.name,
            error.name()
        );
    }
}
