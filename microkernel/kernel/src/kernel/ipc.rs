//! Message transfer between threads: endpoints (send, call, receive, reply), fault
//! messages, and capability transfer.
//!
//! Words 0-5 travel in the threads' saved registers (x2..x7); words 6.. are copied
//! between the two IPC buffers through the linear map. A blocked sender keeps its message
//! in its registers and buffer until a receiver takes it.

use super::{Kernel, objects::*};
use crate::arch::user_memory;
use core::mem::offset_of;
use kernel_abi::{FAULT_LABEL, IpcBuffer, MessageInfo, REGISTER_WORDS};

const SEND_CAP: u64 = offset_of!(IpcBuffer, send_caps) as u64;
const RECEIVE_SLOT: u64 = offset_of!(IpcBuffer, receive_slot) as u64;

/// The capability slot a thread's IPC buffer names for sending.
pub fn send_cap_slot(kernel: &Kernel, thread: ThreadId) -> u64 {
    user_memory::read_word(kernel.threads[thread].ipc_buffer + SEND_CAP)
}

/// `thread` sends `pending` on `endpoint`: handed to a waiting receiver, or queued.
pub fn send(kernel: &mut Kernel, thread: ThreadId, endpoint: usize, pending: Pending) {
    let mut queue = kernel.endpoints[endpoint].queue;
    if kernel.endpoints[endpoint].waiting == EndpointQueue::Receivers
        && let Some(receiver) = kernel.queue_pop(&mut queue)
    {
        kernel.endpoints[endpoint].queue = queue;
        if queue.head.is_none() {
            kernel.endpoints[endpoint].waiting = EndpointQueue::Idle;
        }
        kernel.threads[receiver].state = State::Ready; // off the endpoint
        deliver(kernel, thread, receiver, pending);
        return;
    }
    kernel.queue_push(&mut queue, thread);
    kernel.endpoints[endpoint].queue = queue;
    kernel.endpoints[endpoint].waiting = EndpointQueue::Senders;
    kernel.threads[thread].pending = Some(pending);
    kernel.threads[thread].state = State::Sending { endpoint };
}

/// Appends `line` to the routed-interrupt ring at physical `ring` (see `layout::IrqRing`).
pub fn push_routed(ring: u64, line: u32) {
    use kernel_abi::layout::{IRQ_RING_SLOTS, IrqRing};
    let produced = user_memory::read_word(ring + offset_of!(IrqRing, produced) as u64);
    let consumed = user_memory::read_word(ring + offset_of!(IrqRing, consumed) as u64);
    if produced.wrapping_sub(consumed) >= IRQ_RING_SLOTS as u64 {
        let at = ring + offset_of!(IrqRing, overflowed) as u64;
        user_memory::write_word(at, user_memory::read_word(at) + 1);
        return;
    }
    let slot = ring + offset_of!(IrqRing, lines) as u64 + (produced % IRQ_RING_SLOTS as u64) * 2;
    user_memory::write_u16(slot, line as u16);
    // The line is written before the count that publishes it (the server reads the count
    // first; both run on this CPU, and the kernel is not interrupted, but keep the order
    // for a server on another CPU).
    core::sync::atomic::fence(core::sync::atomic::Ordering::Release);
    user_memory::write_word(ring + offset_of!(IrqRing, produced) as u64, produced + 1);
}

/// `thread` receives on `endpoint`: takes a waiting sender's message, or waits.
pub fn receive(kernel: &mut Kernel, thread: ThreadId, endpoint: usize) {
    // A signalled bound notification ends the receive first (interrupts before requests).
    if let Some(notification) = kernel.threads[thread].bound_notification
        && kernel.notifications[notification].word != 0
    {
        let word = core::mem::take(&mut kernel.notifications[notification].word);
        let frame = &mut kernel.frames[thread];
        frame.x[0] = 0;
        frame.x[1] = MessageInfo::new(kernel_abi::invocation::NOTIFICATION_LABEL, 0).to_raw();
        frame.x[8] = word;
        kernel.make_ready(thread);
        return;
    }
    let mut queue = kernel.endpoints[endpoint].queue;
    if kernel.endpoints[endpoint].waiting == EndpointQueue::Senders
        && let Some(sender) = kernel.queue_pop(&mut queue)
    {
        kernel.endpoints[endpoint].queue = queue;
        if queue.head.is_none() {
            kernel.endpoints[endpoint].waiting = EndpointQueue::Idle;
        }
        let pending = kernel.threads[sender].pending.take();
        if let Some(pending) = pending {
            deliver(kernel, sender, thread, pending);
        }
        return;
    }
    kernel.queue_push(&mut queue, thread);
    kernel.endpoints[endpoint].queue = queue;
    kernel.endpoints[endpoint].waiting = EndpointQueue::Receivers;
    kernel.threads[thread].state = State::Receiving { endpoint };
}

/// Reports `fault` of `thread` on its fault endpoint.
pub fn send_fault(kernel: &mut Kernel, thread: ThreadId, endpoint: usize, fault: Fault) {
    send(kernel, thread, endpoint, Pending::Fault(fault));
    if !matches!(kernel.threads[thread].state, State::Sending { .. }) {
        kernel.threads[thread].state = State::Faulted;
    }
}

/// Copies message words 0-5 (x2..x7) between two threads' frames, word by word (a
/// six-word copy does not need a `memmove` call).
pub fn copy_register_words(kernel: &mut Kernel, from: ThreadId, to: ThreadId) {
    let source = &kernel.frames[from].x;
    let words = [
        source[2], source[3], source[4], source[5], source[6], source[7],
    ];
    let target = &mut kernel.frames[to].x;
    (
        target[2], target[3], target[4], target[5], target[6], target[7],
    ) = (words[0], words[1], words[2], words[3], words[4], words[5]);
}

/// Copies words `REGISTER_WORDS..length` from one IPC buffer to another.
fn copy_buffer_words(kernel: &Kernel, from: ThreadId, to: ThreadId, length: u8) {
    if usize::from(length) > REGISTER_WORDS {
        let offset = (REGISTER_WORDS * 8) as u64;
        let bytes = (usize::from(length) - REGISTER_WORDS) as u64 * 8;
        user_memory::copy_physical(
            kernel.threads[from].ipc_buffer + offset,
            kernel.threads[to].ipc_buffer + offset,
            bytes,
        );
    }
}

/// Hands `pending` from `sender` to `receiver` (both off any queue) and wakes them.
fn deliver(kernel: &mut Kernel, sender: ThreadId, receiver: ThreadId, pending: Pending) {
    match pending {
        Pending::Message {
            info,
            badge,
            call,
            grant,
        } => {
            copy_register_words(kernel, sender, receiver);
            copy_buffer_words(kernel, sender, receiver, info.length);
            let received = if info.caps > 0 && grant {
                transfer_cap(kernel, sender, receiver)
            } else {
                0
            };
            let frame = &mut kernel.frames[receiver];
            frame.x[0] = 0;
            frame.x[1] = MessageInfo {
                caps: received as u8,
                ..info
            }
            .to_raw();
            frame.x[8] = badge;
            if call {
                kernel.threads[sender].state = State::AwaitingReply;
                kernel.threads[receiver].reply_to = Some(sender);
            } else {
                kernel.frames[sender].x[0] = 0;
                kernel.make_ready(sender);
            }
        }
        Pending::Fault(fault) => {
            let frame = &mut kernel.frames[receiver];
            frame.x[0] = 0;
            frame.x[1] = MessageInfo::new(FAULT_LABEL, 4).to_raw();
            frame.x[2] = fault.kind as u64;
            frame.x[3] = fault.address;
            frame.x[4] = fault.pc;
            frame.x[5] = fault.esr;
            frame.x[8] = fault.badge;
            kernel.threads[sender].state = State::Faulted;
        }
    }
    kernel.make_ready(receiver);
}

/// Copies the capability the sender names into the receiver's receive slot; returns the
/// number transferred (a missing, occupied or invalid receive slot drops it).
fn transfer_cap(kernel: &mut Kernel, sender: ThreadId, receiver: ThreadId) -> u64 {
    let (Some(from_space), Some(to_space)) = (
        kernel.threads[sender].cspace,
        kernel.threads[receiver].cspace,
    ) else {
        return 0;
    };
    let receive_slot = user_memory::read_word(kernel.threads[receiver].ipc_buffer + RECEIVE_SLOT);
    if receive_slot == 0 {
        return 0;
    }
    let (Ok(from), Ok(to)) = (
        from_space.resolve(send_cap_slot(kernel, sender)),
        to_space.resolve(receive_slot),
    ) else {
        return 0;
    };
    u64::from(kernel.caps.copy(from, to).is_ok())
}

/// `replier` answers the `Call` of `caller` with the message in its registers.
pub fn reply(kernel: &mut Kernel, replier: ThreadId, caller: ThreadId, info: MessageInfo) {
    if kernel.threads[caller].state != State::AwaitingReply {
        return; // suspended or restarted meanwhile: the reply has no one to go to
    }
    copy_register_words(kernel, replier, caller);
    copy_buffer_words(kernel, replier, caller, info.length);
    let frame = &mut kernel.frames[caller];
    frame.x[0] = 0;
    frame.x[1] = info.to_raw();
    frame.x[8] = 0;
    kernel.make_ready(caller);
}
