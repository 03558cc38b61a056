//! The fast paths: `Call` to a waiting server and `ReplyRecv` back to a waiting client,
//! for register-only messages, and `Signal` to a waiter, each switching straight to the
//! thread that runs next.
//!
//! This is the round trip every client-server interaction pays twice, so it skips what
//! the general path does for the general case: no run-queue insertion or removal (the
//! partner runs next, the caller blocks), no IPC buffer copy, no capability transfer.
//! Each function checks every precondition before it changes anything and returns the
//! thread to run, or `None` to fall back to the general path, which has the same
//! semantics.

use super::{Kernel, ipc, objects::*};
use crate::arch::exception::TrapFrame;
use kernel_abi::{ObjectType, Rights, Syscall, layout};

/// Tries the fast path for the system call `thread` made; `Some(frame)` of the thread to
/// run next if it was taken.
pub fn attempt(kernel: &mut Kernel, cpu: usize, thread: ThreadId) -> Option<*mut TrapFrame> {
    // A thread the interrupt fast path preempted on this CPU is not in its run queue
    // yet, and these paths read that queue: the general path settles it first. (Only the
    // irq-server's calls meet this, once after each interrupt it was switched to.) A
    // thread preempted on another CPU is in no endpoint or notification queue, so these
    // paths cannot meet it; this CPU's own slot is the one to test, next to `current`.
    if kernel.cpus[cpu].preempted.is_some() {
        return None;
    }
    let next = match kernel.frames[thread].x[8] {
        n if n == Syscall::Call as u64 => call(kernel, cpu, thread),
        n if n == Syscall::ReplyRecv as u64 => reply_receive(kernel, cpu, thread),
        n if n == Syscall::Signal as u64 => return signal(kernel, cpu, thread),
        _ => None,
    }?;
    Some(kernel.switch_to(cpu, next))
}

/// A message-info word for a register-only message: length <= 6, no capability, and no
/// reserved bit set (the label, bits 32-63, is free).
fn register_only(raw: u64) -> bool {
    raw & 0xffff_ffff <= layout::FAST_MESSAGE_WORDS
}

/// Resolves an endpoint capability with `rights`; `None` sends the call to the general
/// path (which reports the precise error).
fn endpoint(kernel: &Kernel, thread: ThreadId, local: u64, rights: Rights) -> Option<(usize, u64)> {
    let slot = kernel.threads[thread].cspace?.resolve(local).ok()?;
    let cap = kernel
        .caps
        .lookup_checked(slot, ObjectType::Endpoint, rights)
        .ok()?;
    Some((cap.object.index as usize, cap.badge.map_or(0, |b| b.get())))
}

/// `Call` to an endpoint where a server of at least the caller's priority waits.
fn call(kernel: &mut Kernel, cpu: usize, caller: ThreadId) -> Option<ThreadId> {
    let (local, info) = (kernel.frames[caller].x[0], kernel.frames[caller].x[1]);
    if !register_only(info) {
        return None;
    }
    let (index, badge) = endpoint(kernel, caller, local, Rights::WRITE)?;
    let endpoint = &kernel.endpoints[index];
    let server = endpoint
        .queue
        .head
        .filter(|_| endpoint.waiting == EndpointQueue::Receivers)?;
    // The server must outrank or equal the caller (which outranks everything ready), and
    // at equal priority have no ready peer: then a time slice must start (general path).
    let (server_priority, caller_priority) = (
        kernel.threads[server].priority,
        kernel.threads[caller].priority,
    );
    if server_priority < caller_priority {
        return None;
    }
    if server_priority == caller_priority
        && kernel.cpus[cpu].run_queue.has_ready_at(server_priority)
    {
        return None;
    }
    let mut queue = kernel.endpoints[index].queue;
    kernel.queue_pop(&mut queue);
    kernel.endpoints[index].queue = queue;
    if queue.head.is_none() {
        kernel.endpoints[index].waiting = EndpointQueue::Idle;
    }
    ipc::copy_register_words(kernel, caller, server);
    let frame = &mut kernel.frames[server];
    (frame.x[0], frame.x[1], frame.x[8]) = (0, info, badge);
    kernel.threads[server].state = State::Ready;
    kernel.threads[server].reply_to = Some(caller);
    kernel.threads[caller].state = State::AwaitingReply;
    Some(server)
}

/// `ReplyRecv` answering a waiting caller that outranks every ready thread (a ready peer
/// at its priority goes first: the caller joins the back of its level, general path), then waiting
/// on an endpoint where no sender is queued.
fn reply_receive(kernel: &mut Kernel, cpu: usize, server: ThreadId) -> Option<ThreadId> {
    let (local, info) = (kernel.frames[server].x[0], kernel.frames[server].x[1]);
    if !register_only(info) {
        return None;
    }
    let (index, _) = endpoint(kernel, server, local, Rights::READ)?;
    let caller = kernel.threads[server].reply_to?;
    if let Some(notification) = kernel.threads[server].bound_notification
        && kernel.notifications[notification].word != 0
    {
        return None; // a pending signal ends the receive at once (general path)
    }
    if kernel.threads[caller].state != State::AwaitingReply
        || kernel.endpoints[index].waiting == EndpointQueue::Senders
    {
        return None;
    }
    if kernel.cpus[cpu]
        .run_queue
        .highest_priority()
        .is_some_and(|p| p >= kernel.threads[caller].priority)
    {
        return None;
    }
    kernel.threads[server].reply_to = None;
    ipc::copy_register_words(kernel, server, caller);
    let frame = &mut kernel.frames[caller];
    (frame.x[0], frame.x[1], frame.x[8]) = (0, info, 0);
    kernel.threads[caller].state = State::Ready;
    let mut queue = kernel.endpoints[index].queue;
    kernel.queue_push(&mut queue, server);
    kernel.endpoints[index].queue = queue;
    kernel.endpoints[index].waiting = EndpointQueue::Receivers;
    kernel.threads[server].state = State::Receiving { endpoint: index };
    Some(caller)
}

/// `Signal` to a notification with a waiter, and no bound thread receiving (the general
/// path gives the signal to that one first). If the first waiter outranks the signaller
/// it runs at once and the signaller goes to the front of its run-queue level (it was
/// preempted); otherwise see [`wake_lower`].
fn signal(kernel: &mut Kernel, cpu: usize, signaller: ThreadId) -> Option<*mut TrapFrame> {
    let local = kernel.frames[signaller].x[0];
    let slot = kernel.threads[signaller].cspace?.resolve(local).ok()?;
    let cap = kernel
        .caps
        .lookup_checked(slot, ObjectType::Notification, Rights::WRITE)
        .ok()?;
    let index = cap.object.index as usize;
    let badge = cap.badge.map_or(1, |b| b.get());
    let notification = &kernel.notifications[index];
    let waiter = notification.waiters.head?;
    if let Some(bound) = notification.bound_thread
        && matches!(kernel.threads[bound].state, State::Receiving { .. })
    {
        return None;
    }
    let priority = kernel.threads[signaller].priority;
    if kernel.threads[waiter].priority <= priority {
        return wake_lower(kernel, cpu, signaller, waiter, index, badge);
    }
    kernel.cpus[cpu]
        .run_queue
        .enqueue_front(sched::ThreadIndex(signaller as u16), priority)
        .ok()?;
    deliver(kernel, signaller, waiter, index, badge);
    Some(kernel.switch_to(cpu, waiter))
}

/// The signal's waiter does not outrank the signaller: the waiter joins the back of its
/// run-queue level and the signaller runs on, as the general path's `make_ready` and
/// `dispatch` would have it. This is the oob stage waking a real-time task below it (the
/// timer-server's wake-up of every periodic oob task), so it is on the latency path.
///
/// The signaller is the current thread and stays so: its frame is returned as it is, with
/// no switch. Out of line, and the last call on its way out of the kernel, so that
/// nothing needs keeping across it: inlined, or followed by the switch, its registers
/// were spilled in the entry of every system call (the IPC round trip paid 5 to 17
/// instructions for it).
#[inline(never)]
fn wake_lower(
    kernel: &mut Kernel,
    cpu: usize,
    signaller: ThreadId,
    waiter: ThreadId,
    index: usize,
    badge: u64,
) -> Option<*mut TrapFrame> {
    // Another CPU's waiter would need that CPU told (general path).
    if kernel.threads[waiter].cpu != cpu {
        return None;
    }
    let priority = kernel.threads[waiter].priority;
    kernel.cpus[cpu]
        .run_queue
        .enqueue(sched::ThreadIndex(waiter as u16), priority)
        .ok()?;
    deliver(kernel, signaller, waiter, index, badge);
    Some(&raw mut kernel.frames[signaller])
}

/// The signal itself, once the waiter's place in the run queue is settled: `waiter`, the
/// head of notification `index`'s queue, takes the word with `badge`; the signaller's
/// call succeeds.
#[inline(always)]
fn deliver(kernel: &mut Kernel, signaller: ThreadId, waiter: ThreadId, index: usize, badge: u64) {
    let mut waiters = kernel.notifications[index].waiters;
    kernel.queue_pop(&mut waiters);
    kernel.notifications[index].waiters = waiters;
    let word = core::mem::take(&mut kernel.notifications[index].word) | badge;
    let frame = &mut kernel.frames[waiter];
    (frame.x[0], frame.x[8]) = (0, word);
    kernel.frames[signaller].x[0] = 0;
    kernel.threads[waiter].state = State::Ready;
}
