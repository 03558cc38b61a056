//! System call decoding and the operations on capabilities.
//!
//! Every argument is checked before anything changes: a call that fails returns its
//! error code in x0 and leaves every object as it was. A call that must wait leaves x0
//! for whoever completes it (a receiver, a replier, a signal).

use super::{Kernel, ipc, objects::*, task};
use crate::arch::user_memory;
use crate::println;
use cspace::{Capability, SlotId};
use kernel_abi::{
    Badge, Error, FaultKind, MAX_DEBUG_WRITE, MessageInfo, ObjectType, Rights, Syscall,
    invocation::{FrameOp, IrqControlOp, IrqHandlerOp, SystemOp, ThreadOp, ThreadState},
};

/// Whether a call finished now (x0 = 0 is written) or completes later.
enum Completion {
    Now,
    Later,
}

type Outcome = Result<Completion, Error>;

/// Handles the system call `thread` trapped with.
pub fn handle(kernel: &mut Kernel, cpu: usize, thread: ThreadId) {
    let number = kernel.frames[thread].x[8];
    let Some(call) = Syscall::from_number(number) else {
        let pc = kernel.frames[thread].elr.wrapping_sub(4);
        kernel.fault(thread, FaultKind::BadSyscall, number, pc, 0);
        return;
    };
    let outcome = match call {
        Syscall::Send => send(kernel, thread, false),
        Syscall::Call => send(kernel, thread, true),
        Syscall::Recv => receive(kernel, thread),
        Syscall::Reply => reply(kernel, thread).map(|()| Completion::Now),
        Syscall::ReplyRecv => reply_receive(kernel, thread),
        Syscall::Signal => signal(kernel, thread),
        Syscall::Wait => wait(kernel, thread, true),
        Syscall::Poll => wait(kernel, thread, false),
        Syscall::Yield => {
            let priority = kernel.threads[thread].priority;
            let this = &mut kernel.cpus[cpu];
            let _ = this
                .run_queue
                .enqueue(sched::ThreadIndex(thread as u16), priority);
            this.current = None;
            Ok(Completion::Now)
        }
        Syscall::Invoke => invoke(kernel, thread),
        Syscall::CapCopy
        | Syscall::CapMint
        | Syscall::CapMove
        | Syscall::CapDelete
        | Syscall::CapRevoke => capability_space(kernel, thread, call),
        Syscall::DebugWrite => debug_write(kernel, thread),
        Syscall::Panic => {
            let frame = &kernel.frames[thread];
            let (address, pc) = (frame.x[0], frame.elr.wrapping_sub(4));
            kernel.fault(thread, FaultKind::Panic, address, pc, 0);
            Ok(Completion::Later)
        }
    };
    match outcome {
        Ok(Completion::Now) => kernel.frames[thread].x[0] = 0,
        Ok(Completion::Later) => {}
        Err(error) => kernel.frames[thread].x[0] = u64::from(error.code()),
    }
}

/// The argument registers x0-x5 of `thread`'s call. A copy, so that the kernel can be
/// borrowed mutably while they are read; copying the frame's whole register array instead
/// cost every invocation a 248-byte `memcpy` (about 150 instructions).
fn arguments(kernel: &Kernel, thread: ThreadId) -> [u64; 6] {
    let x = &kernel.frames[thread].x;
    [x[0], x[1], x[2], x[3], x[4], x[5]]
}

/// Resolves a task-local slot number.
fn slot(kernel: &Kernel, thread: ThreadId, local: u64) -> Result<SlotId, Error> {
    kernel.threads[thread]
        .cspace
        .ok_or(Error::InvalidSlot)?
        .resolve(local)
}

/// Looks up a capability of `kind` with `rights` in the caller's space.
fn capability(
    kernel: &Kernel,
    thread: ThreadId,
    local: u64,
    kind: ObjectType,
    rights: Rights,
) -> Result<Capability, Error> {
    kernel
        .caps
        .lookup_checked(slot(kernel, thread, local)?, kind, rights)
}

/// The capability of `kind` with `rights` named by the call's first argument (x0).
fn capability_in_x0(
    kernel: &Kernel,
    thread: ThreadId,
    kind: ObjectType,
    rights: Rights,
) -> Result<Capability, Error> {
    capability(kernel, thread, kernel.frames[thread].x[0], kind, rights)
}

fn send(kernel: &mut Kernel, thread: ThreadId, call: bool) -> Outcome {
    let (local, raw) = (kernel.frames[thread].x[0], kernel.frames[thread].x[1]);
    let info = MessageInfo::from_raw(raw)?;
    let cap = capability(kernel, thread, local, ObjectType::Endpoint, Rights::WRITE)?;
    let grant = cap.rights.contains(Rights::GRANT);
    if info.caps > 0 {
        if !grant {
            return Err(Error::InsufficientRights);
        }
        let sent = ipc::send_cap_slot(kernel, thread);
        kernel.caps.lookup(slot(kernel, thread, sent)?)?;
    }
    let badge = cap.badge.map_or(0, Badge::get);
    ipc::send(
        kernel,
        thread,
        cap.object.index as usize,
        Pending::Message {
            info,
            badge,
            call,
            grant,
        },
    );
    Ok(Completion::Later)
}

fn receive(kernel: &mut Kernel, thread: ThreadId) -> Outcome {
    let cap = capability_in_x0(kernel, thread, ObjectType::Endpoint, Rights::READ)?;
    drop_unanswered_call(kernel, thread);
    ipc::receive(kernel, thread, cap.object.index as usize);
    Ok(Completion::Later)
}

/// A server that receives again without replying abandons its caller: the caller's
/// call fails instead of waiting forever.
fn drop_unanswered_call(kernel: &mut Kernel, thread: ThreadId) {
    if let Some(caller) = kernel.threads[thread].reply_to.take()
        && kernel.threads[caller].state == State::AwaitingReply
    {
        kernel.fail_waiter(caller, Error::RevokedOrStale);
    }
}

fn reply_info(kernel: &Kernel, thread: ThreadId) -> Result<MessageInfo, Error> {
    let info = MessageInfo::from_raw(kernel.frames[thread].x[1])?;
    if info.caps > 0 {
        return Err(Error::InvalidArgument); // replies carry no capability
    }
    Ok(info)
}

fn reply(kernel: &mut Kernel, thread: ThreadId) -> Result<(), Error> {
    let info = reply_info(kernel, thread)?;
    let caller = kernel.threads[thread]
        .reply_to
        .take()
        .ok_or(Error::InvalidState)?;
    ipc::reply(kernel, thread, caller, info);
    Ok(())
}

fn reply_receive(kernel: &mut Kernel, thread: ThreadId) -> Outcome {
    let cap = capability_in_x0(kernel, thread, ObjectType::Endpoint, Rights::READ)?;
    let info = reply_info(kernel, thread)?;
    if let Some(caller) = kernel.threads[thread].reply_to.take() {
        ipc::reply(kernel, thread, caller, info);
    }
    ipc::receive(kernel, thread, cap.object.index as usize);
    Ok(Completion::Later)
}

fn signal(kernel: &mut Kernel, thread: ThreadId) -> Outcome {
    let cap = capability_in_x0(kernel, thread, ObjectType::Notification, Rights::WRITE)?;
    kernel.signal(cap.object.index as usize, cap.badge.map_or(1, Badge::get));
    Ok(Completion::Now)
}

fn wait(kernel: &mut Kernel, thread: ThreadId, block: bool) -> Outcome {
    let cap = capability_in_x0(kernel, thread, ObjectType::Notification, Rights::READ)?;
    let index = cap.object.index as usize;
    let word = core::mem::take(&mut kernel.notifications[index].word);
    if word != 0 || !block {
        kernel.frames[thread].x[8] = word;
        return Ok(Completion::Now);
    }
    let mut waiters = kernel.notifications[index].waiters;
    kernel.queue_push(&mut waiters, thread);
    kernel.notifications[index].waiters = waiters;
    kernel.threads[thread].state = State::Waiting {
        notification: index,
    };
    Ok(Completion::Later)
}

fn capability_space(kernel: &mut Kernel, thread: ThreadId, call: Syscall) -> Outcome {
    let x = arguments(kernel, thread);
    let source = slot(kernel, thread, x[0])?;
    match call {
        Syscall::CapCopy => kernel.caps.copy(source, slot(kernel, thread, x[2])?)?,
        Syscall::CapMove => kernel.caps.move_(source, slot(kernel, thread, x[2])?)?,
        Syscall::CapMint => {
            let destination = slot(kernel, thread, x[2])?;
            let rights = Rights::from_raw(x[3])?;
            let badge = (x[4] != 0).then_some(Badge::new(x[4]));
            kernel.caps.mint(source, destination, rights, badge)?;
        }
        Syscall::CapDelete => {
            kernel.caps.delete(source)?;
        }
        _ => {
            let deleted = kernel.caps.revoke(source, |_| {})?;
            kernel.frames[thread].x[2] = deleted as u64;
        }
    }
    Ok(Completion::Now)
}

fn debug_write(kernel: &mut Kernel, thread: ThreadId) -> Outcome {
    let (address, length) = (kernel.frames[thread].x[0], kernel.frames[thread].x[1]);
    if length > MAX_DEBUG_WRITE as u64 {
        return Err(Error::MessageTooLong);
    }
    let mut buffer = [0u8; MAX_DEBUG_WRITE];
    let bytes = &mut buffer[..length as usize];
    user_memory::copy_from_user(kernel.threads[thread].root, address, bytes)
        .map_err(|_| Error::InvalidAddress)?;
    match core::str::from_utf8(bytes) {
        Ok(text) => crate::print!("{text}"),
        Err(_) => crate::print!("{}", bytes.escape_ascii()),
    }
    Ok(Completion::Now)
}

fn invoke(kernel: &mut Kernel, thread: ThreadId) -> Outcome {
    let x = arguments(kernel, thread);
    let label = MessageInfo::from_raw(x[1])?.label;
    let cap = kernel.caps.lookup(slot(kernel, thread, x[0])?)?;
    let needs = |rights: Rights| {
        if cap.rights.contains(rights) {
            Ok(())
        } else {
            Err(Error::InsufficientRights)
        }
    };
    let index = cap.object.index as usize;
    match cap.object.kind {
        ObjectType::Thread => {
            let op = ThreadOp::from_label(label).ok_or(Error::InvalidSyscall)?;
            needs(
                if matches!(op, ThreadOp::Status | ThreadOp::ReadRegisters) {
                    Rights::READ
                } else {
                    Rights::WRITE
                },
            )?;
            thread_op(kernel, thread, index, op)
        }
        ObjectType::IrqHandler => {
            let op = IrqHandlerOp::from_label(label).ok_or(Error::InvalidSyscall)?;
            needs(Rights::WRITE)?;
            irq_op(kernel, thread, index, op)
        }
        ObjectType::Frame => {
            let op = FrameOp::from_label(label).ok_or(Error::InvalidSyscall)?;
            frame_op(kernel, thread, index, op, cap.rights)
        }
        ObjectType::IrqControl => {
            let op = IrqControlOp::from_label(label).ok_or(Error::InvalidSyscall)?;
            needs(Rights::WRITE)?;
            irq_control_op(kernel, thread, op)
        }
        ObjectType::SystemControl => {
            let SystemOp::PowerOff = SystemOp::from_label(label).ok_or(Error::InvalidSyscall)?;
            needs(Rights::WRITE)?;
            println!(
                "kernel: task {} powers the system off with status {}",
                kernel.threads[thread].name, x[2]
            );
            super::power_off(x[2])
        }
        // Endpoints and notifications have calls of their own, not invocations.
        _ => Err(Error::WrongObjectType),
    }
}

fn thread_op(kernel: &mut Kernel, caller: ThreadId, target: ThreadId, op: ThreadOp) -> Outcome {
    let x = arguments(kernel, caller);
    let state = kernel.threads[target].state;
    match op {
        ThreadOp::SetPriority => {
            let priority = u8::try_from(x[2]).map_err(|_| Error::InvalidArgument)?;
            if priority > kernel.threads[caller].priority {
                return Err(Error::InsufficientRights);
            }
            let this = &mut kernel.cpus[kernel.threads[target].cpu];
            let queued = state == State::Ready && this.current != Some(target);
            if queued {
                let _ = this.run_queue.remove(sched::ThreadIndex(target as u16));
                let _ = this
                    .run_queue
                    .enqueue(sched::ThreadIndex(target as u16), priority);
            }
            kernel.threads[target].priority = priority;
        }
        ThreadOp::Suspend => {
            if matches!(state, State::Inactive | State::Suspended | State::Faulted) {
                return Err(Error::InvalidState);
            }
            if state != State::Ready {
                // A blocked call ends with an error when the thread is resumed.
                kernel.frames[target].x[0] = u64::from(Error::InvalidState.code());
            } else if target == caller {
                kernel.frames[caller].x[0] = 0;
            }
            kernel.unlink(target);
            kernel.threads[target].state = State::Suspended;
            return Ok(if target == caller {
                Completion::Later
            } else {
                Completion::Now
            });
        }
        ThreadOp::Resume => {
            if !matches!(state, State::Suspended | State::Inactive) {
                return Err(Error::InvalidState);
            }
            kernel.make_ready(target);
        }
        ThreadOp::ReadRegisters => {
            if target == caller {
                return Err(Error::InvalidState);
            }
            let t = &kernel.frames[target];
            let values = [t.elr, t.sp_el0, t.spsr, t.x[0], t.x[1], t.x[2]];
            kernel.frames[caller].x[2..8].copy_from_slice(&values);
        }
        ThreadOp::WriteRegisters => {
            if !matches!(state, State::Suspended | State::Faulted | State::Inactive) {
                return Err(Error::InvalidState);
            }
            if x[2] >= kernel_abi::layout::USER_MAP_END || x[3] >= kernel_abi::layout::USER_MAP_END
            {
                return Err(Error::InvalidArgument);
            }
            let t = &mut kernel.frames[target];
            t.elr = x[2];
            t.sp_el0 = x[3];
            t.x[0] = x[4];
        }
        ThreadOp::Restart => {
            if target == caller {
                return Err(Error::InvalidState);
            }
            task::restart(kernel, target)?;
        }
        ThreadOp::BindNotification => {
            let notification =
                capability(kernel, caller, x[2], ObjectType::Notification, Rights::READ)?
                    .object
                    .index as usize;
            if kernel.threads[target].bound_notification.is_some()
                || kernel.notifications[notification].bound_thread.is_some()
            {
                return Err(Error::AlreadyInUse);
            }
            kernel.threads[target].bound_notification = Some(notification);
            kernel.notifications[notification].bound_thread = Some(target);
        }
        ThreadOp::Status => {
            let reported = match state {
                State::Ready => ThreadState::Ready,
                State::Suspended | State::Inactive => ThreadState::Suspended,
                State::Faulted => ThreadState::Faulted,
                _ => ThreadState::Blocked,
            };
            let frame = &mut kernel.frames[caller];
            frame.x[2] = reported as u64;
            frame.x[3] = kernel.threads[target].restarts;
            frame.x[4] = kernel.threads[target].task_index as u64;
        }
    }
    Ok(Completion::Now)
}

fn irq_op(kernel: &mut Kernel, caller: ThreadId, line: usize, op: IrqHandlerOp) -> Outcome {
    match op {
        IrqHandlerOp::Bind => {
            let notification = capability(
                kernel,
                caller,
                kernel.frames[caller].x[2],
                ObjectType::Notification,
                Rights::WRITE,
            )?;
            if kernel.irq_lines[line].bound.is_some() {
                return Err(Error::AlreadyInUse);
            }
            crate::irq::unmask(line as u32).map_err(|_| Error::NotSupported)?;
            kernel.irq_lines[line].bound = Some((
                notification.object.index as usize,
                notification.badge.map_or(1, Badge::get),
            ));
            kernel.irq_lines[line].masked = false;
        }
        IrqHandlerOp::Ack => {
            if kernel.irq_lines[line].bound.is_none() {
                return Err(Error::InvalidState);
            }
            if kernel.irq_lines[line].masked {
                kernel.irq_lines[line].masked = false;
                crate::irq::unmask(line as u32).map_err(|_| Error::NotSupported)?;
            }
        }
        IrqHandlerOp::Unbind => {
            if kernel.irq_lines[line].bound.take().is_none() {
                return Err(Error::InvalidState);
            }
            crate::irq::mask(line as u32);
        }
    }
    Ok(Completion::Now)
}

fn irq_control_op(kernel: &mut Kernel, caller: ThreadId, op: IrqControlOp) -> Outcome {
    let x = arguments(kernel, caller);
    let line = || -> Result<u32, Error> {
        let line = u32::try_from(x[2]).map_err(|_| Error::InvalidArgument)?;
        // The kernel's own slice timer is not the pipeline's to touch.
        if line >= crate::irq::lines() || line == kernel.slice_irq {
            return Err(Error::InvalidArgument);
        }
        Ok(line)
    };
    match op {
        IrqControlOp::Route => {
            let notification = capability(
                kernel,
                caller,
                x[2],
                ObjectType::Notification,
                Rights::WRITE,
            )?;
            let ring = capability(kernel, caller, x[3], ObjectType::Frame, Rights::READ)?;
            let cpu = usize::try_from(x[4])
                .ok()
                .filter(|&cpu| cpu < super::MAX_CPUS)
                .ok_or(Error::InvalidArgument)?;
            if kernel.routes[cpu].is_some() {
                return Err(Error::AlreadyInUse);
            }
            let shared = kernel.shared[ring.object.index as usize];
            if shared.device || shared.size < size_of::<kernel_abi::layout::IrqRing>() as u64 {
                return Err(Error::InvalidArgument);
            }
            user_memory::zero(shared.base, size_of::<kernel_abi::layout::IrqRing>() as u64);
            kernel.routes[cpu] = Some(Route {
                notification: notification.object.index as usize,
                badge: notification.badge.map_or(1, Badge::get),
                ring: shared.base,
            });
        }
        IrqControlOp::Unmask => crate::irq::unmask(line()?).map_err(|_| Error::NotSupported)?,
        IrqControlOp::Mask => crate::irq::mask(line()?),
        IrqControlOp::Configure => {
            let trigger = match x[3] {
                0 => crate::drivers::Trigger::Level,
                1 => crate::drivers::Trigger::Edge,
                _ => return Err(Error::InvalidArgument),
            };
            crate::irq::configure(line()?, trigger).map_err(|_| Error::NotSupported)?;
        }
        IrqControlOp::IdleControl => {
            let cpu = usize::try_from(x[3])
                .ok()
                .filter(|&cpu| cpu < super::MAX_CPUS)
                .ok_or(Error::InvalidArgument)?;
            let veto = match x[2] {
                0 => false,
                1 => true,
                _ => return Err(Error::InvalidArgument),
            };
            let per_cpu = &mut kernel.cpus[cpu];
            per_cpu.idle_veto = veto;
            let [deep, shallow, vetoed] = per_cpu.idle_entries;
            kernel.frames[caller].x[2..5].copy_from_slice(&[deep, shallow, vetoed]);
        }
    }
    Ok(Completion::Now)
}

fn frame_op(
    kernel: &mut Kernel,
    caller: ThreadId,
    shared: usize,
    op: FrameOp,
    rights: Rights,
) -> Outcome {
    let x = arguments(kernel, caller);
    match op {
        FrameOp::Map => {
            let writable = match x[3] {
                0 => false,
                1 => true,
                _ => return Err(Error::InvalidArgument),
            };
            let needed = if writable {
                Rights::READ | Rights::WRITE
            } else {
                Rights::READ
            };
            if !rights.contains(needed) {
                return Err(Error::InsufficientRights);
            }
            task::map_shared(kernel, caller, shared, x[2], writable)?;
        }
        FrameOp::Unmap => task::unmap_shared(kernel, caller, shared)?,
        FrameOp::Size => kernel.frames[caller].x[2] = kernel.shared[shared].size,
    }
    Ok(Completion::Now)
}
