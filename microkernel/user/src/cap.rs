//! Typed capabilities: [`Cap<T>`] names a slot of this task's capability space holding a
//! capability to a `T`, and has one method per kernel operation on a `T`.
//!
//! The type is a promise made by whoever created the `Cap` (normally
//! [`cap`](crate::cap()), which checks the kind the start info records), not something
//! the kernel relies on: the kernel checks the object type and the rights of the slot on
//! every call and returns [`Error::WrongObjectType`] or [`Error::InsufficientRights`]. A
//! wrongly typed `Cap` is therefore a source of errors, never of unsafety, which is why
//! [`Cap::from_raw`] and [`Cap::cast`] are safe.
//!
//! Every method returns `Result<_, `[`Error`]`>`; an error means the call changed nothing.

use crate::Mapping;
use core::{convert::Infallible, fmt, marker::PhantomData};

use kernel_abi::{
    Badge, Error, MessageInfo, ObjectType, Syscall,
    invocation::{FrameOp, IrqHandlerOp, SystemOp, ThreadOp, ThreadState},
};

use crate::{
    Message,
    sys::{self, TrapArgs, TrapOutput},
};

/// A capability to a `T` in slot [`Cap::slot`] of this task's capability space.
pub struct Cap<T> {
    slot: u32,
    kind: PhantomData<fn() -> T>,
}

impl<T> Cap<T> {
    /// A capability in `slot`, assumed to name a `T` (the kernel checks; see the module
    /// documentation). Prefer [`cap`](crate::cap()), which looks a capability up by name
    /// and checks its kind.
    #[must_use]
    pub const fn from_raw(slot: u32) -> Self {
        Self {
            slot,
            kind: PhantomData,
        }
    }

    /// The slot.
    #[must_use]
    pub const fn slot(&self) -> u32 {
        self.slot
    }

    /// The same slot, taken as a capability to a `U` (for a capability received by IPC,
    /// whose kind the protocol defines, and for tests of `WrongObjectType`).
    #[must_use]
    pub const fn cast<U>(&self) -> Cap<U> {
        Cap::from_raw(self.slot)
    }
}

impl<T> Clone for Cap<T> {
    fn clone(&self) -> Self {
        *self
    }
}

impl<T> Copy for Cap<T> {}

impl<T> PartialEq for Cap<T> {
    fn eq(&self, other: &Self) -> bool {
        self.slot == other.slot
    }
}

impl<T> Eq for Cap<T> {}

impl<T: CapType> fmt::Debug for Cap<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Cap<{}>({})", T::OBJECT_TYPE.name(), self.slot)
    }
}

mod sealed {
    pub trait Sealed {}
}

/// The marker types [`Cap`] is parameterised with; each names its [`ObjectType`].
pub trait CapType: sealed::Sealed {
    /// The kernel object type a `Cap<Self>` names.
    const OBJECT_TYPE: ObjectType;
}

macro_rules! cap_types {
    ($($(#[$doc:meta])* $name:ident,)+) => {
        $(
            $(#[$doc])*
            #[derive(Debug)]
            pub enum $name {}
            impl sealed::Sealed for $name {}
            impl CapType for $name {
                const OBJECT_TYPE: ObjectType = ObjectType::$name;
            }
        )+
    };
}

cap_types! {
    /// A synchronous IPC endpoint: `send`, `call`, `recv`, `reply_recv`.
    Endpoint,
    /// A notification word: `signal`, `wait`, `poll`.
    Notification,
    /// One interrupt line: `bind` to a notification, `ack`, `unbind`.
    IrqHandler,
    /// The right to create IRQ handler capabilities (no operation in the ABI yet).
    IrqControl,
    /// A thread of another task (a supervisor's): priority, suspend/resume, registers,
    /// restart, status.
    Thread,
    /// Shared memory: `map`, `unmap`, `size`.
    Frame,
    /// Control of the whole system: `power_off`.
    SystemControl,
}

/// A trap whose only argument is a slot.
fn trap_on(call: Syscall, slot: u32) -> TrapOutput {
    sys::syscall(
        call,
        TrapArgs {
            x0: u64::from(slot),
            ..TrapArgs::default()
        },
    )
}

/// [`trap_on`], with the status checked.
fn on_slot(call: Syscall, slot: u32) -> Result<TrapOutput, Error> {
    let out = trap_on(call, slot);
    out.result().map(|()| out)
}

/// `Syscall::Invoke` of operation `label` on `slot` with up to six argument words;
/// returns the result words.
fn invoke(slot: u32, label: u32, args: &[u64]) -> Result<[u64; 6], Error> {
    let mut words = [0; 6];
    words[..args.len()].copy_from_slice(args);
    // Lossless: at most six arguments.
    let info = MessageInfo::new(label, args.len() as u8);
    let out = sys::syscall(
        Syscall::Invoke,
        TrapArgs {
            x0: u64::from(slot),
            x1: info.to_raw(),
            words,
        },
    );
    out.result().map(|()| out.words)
}

/// A message trap on an endpoint (`Send`, `Call`, `ReplyRecv`) or the reply (`Reply`).
fn message_trap(call: Syscall, slot: u32, message: &Message) -> TrapOutput {
    let (info, words) = message.stage();
    sys::syscall(
        call,
        TrapArgs {
            x0: u64::from(slot),
            x1: info,
            words,
        },
    )
}

/// The message and badge a receiving trap returned.
fn received(out: &TrapOutput) -> Result<(Message, Badge), Error> {
    out.result()?;
    Ok((Message::received(out)?, Badge::new(out.x8)))
}

impl Cap<Endpoint> {
    /// `Syscall::Send` (needs WRITE; GRANT if `message` carries a capability): blocks
    /// until a receiver takes the message.
    ///
    /// # Errors
    /// What the kernel returns, e.g. `InsufficientRights`, `MessageTooLong`.
    pub fn send(&self, message: &Message) -> Result<(), Error> {
        message_trap(Syscall::Send, self.slot, message).result()
    }

    /// `Syscall::Call` (needs WRITE): sends `message` and waits for the reply, which is
    /// returned. The receiver gets a one-shot right to reply.
    ///
    /// # Errors
    /// What the kernel returns for the send or the reply.
    pub fn call(&self, message: &Message) -> Result<Message, Error> {
        let out = message_trap(Syscall::Call, self.slot, message);
        out.result()?;
        Message::received(&out)
    }

    /// `Syscall::Recv` (needs READ): waits for a message; returns it with the badge of
    /// the capability its sender used (0 if unbadged). A capability it carries lands in
    /// the IPC buffer's receive slot (see [`Message::cap_slot`]).
    ///
    /// # Errors
    /// What the kernel returns, e.g. `InsufficientRights`.
    pub fn recv(&self) -> Result<(Message, Badge), Error> {
        received(&trap_on(Syscall::Recv, self.slot))
    }

    /// `Syscall::ReplyRecv`: replies `reply` to the last `Call` received, then waits on
    /// this endpoint like [`Cap::<Endpoint>::recv`].
    ///
    /// # Errors
    /// What the kernel returns (`InvalidState` if no `Call` is waiting for a reply).
    pub fn reply_recv(&self, reply: &Message) -> Result<(Message, Badge), Error> {
        received(&message_trap(Syscall::ReplyRecv, self.slot, reply))
    }
}

/// `Syscall::Reply`: answers the last `Call` this thread received. Never blocks.
///
/// # Errors
/// What the kernel returns: `InvalidState` if no `Call` is waiting for a reply;
/// `InvalidArgument` for a reply that carries a capability (the kernel does not transfer
/// capabilities in replies yet).
pub fn reply(message: &Message) -> Result<(), Error> {
    let (info, words) = message.stage();
    sys::syscall(
        Syscall::Reply,
        TrapArgs {
            x0: 0,
            x1: info,
            words,
        },
    )
    .result()
}

impl Cap<Notification> {
    /// `Syscall::Signal` (needs WRITE): ORs this capability's badge (1 if unbadged) into
    /// the notification word and wakes a waiter.
    ///
    /// # Errors
    /// What the kernel returns, e.g. `InsufficientRights`, `WrongObjectType`.
    pub fn signal(&self) -> Result<(), Error> {
        on_slot(Syscall::Signal, self.slot).map(|_| ())
    }

    /// `Syscall::Wait` (needs READ): blocks until the word is non-zero, then returns it
    /// and clears it.
    ///
    /// # Errors
    /// What the kernel returns.
    pub fn wait(&self) -> Result<u64, Error> {
        on_slot(Syscall::Wait, self.slot).map(|out| out.x8)
    }

    /// `Syscall::Poll` (needs READ): returns the word and clears it, without blocking; 0
    /// if nothing was signalled (a kernel that reports that as `WouldBlock` is mapped to
    /// 0 as well).
    ///
    /// # Errors
    /// What the kernel returns.
    pub fn poll(&self) -> Result<u64, Error> {
        match on_slot(Syscall::Poll, self.slot) {
            Ok(out) => Ok(out.x8),
            Err(Error::WouldBlock) => Ok(0),
            Err(error) => Err(error),
        }
    }
}

impl Cap<IrqHandler> {
    /// `IrqHandlerOp::Bind`: each interrupt on the line signals `notification` (which
    /// needs WRITE) with its badge. The line is masked after each signal until [`ack`].
    ///
    /// [`ack`]: Cap::<IrqHandler>::ack
    ///
    /// # Errors
    /// `AlreadyInUse` if the line is bound, or what else the kernel returns.
    pub fn bind(&self, notification: &Cap<Notification>) -> Result<(), Error> {
        invoke(
            self.slot,
            IrqHandlerOp::Bind as u32,
            &[u64::from(notification.slot)],
        )
        .map(|_| ())
    }

    /// `IrqHandlerOp::Ack`: re-enables the line after its interrupt was handled.
    ///
    /// # Errors
    /// What the kernel returns (`WrongObjectType` on anything but an IRQ handler).
    pub fn ack(&self) -> Result<(), Error> {
        invoke(self.slot, IrqHandlerOp::Ack as u32, &[]).map(|_| ())
    }

    /// `IrqHandlerOp::Unbind`: undoes `bind` and masks the line.
    ///
    /// # Errors
    /// What the kernel returns.
    pub fn unbind(&self) -> Result<(), Error> {
        invoke(self.slot, IrqHandlerOp::Unbind as u32, &[]).map(|_| ())
    }
}

/// A thread's registers as `ThreadOp::ReadRegisters` returns them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Registers {
    /// Program counter.
    pub pc: u64,
    /// Stack pointer.
    pub sp: u64,
    /// Saved program status.
    pub spsr: u64,
    /// `x0`.
    pub x0: u64,
    /// `x1`.
    pub x1: u64,
    /// `x2`.
    pub x2: u64,
}

/// What `ThreadOp::Status` reports.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ThreadStatus {
    /// The state word (see [`ThreadStatus::state`]).
    pub state_word: u64,
    /// Restarts of the thread's task so far.
    pub restarts: u64,
    /// The task's index in the image (its fault badge is index + 1).
    pub task_index: u64,
}

impl ThreadStatus {
    /// The decoded state; `None` for a word this build does not know.
    #[must_use]
    pub const fn state(&self) -> Option<ThreadState> {
        ThreadState::from_word(self.state_word)
    }
}

impl Cap<Thread> {
    /// `ThreadOp::SetPriority`: no higher than the caller's own priority.
    ///
    /// # Errors
    /// What the kernel returns.
    pub fn set_priority(&self, priority: u8) -> Result<(), Error> {
        invoke(
            self.slot,
            ThreadOp::SetPriority as u32,
            &[u64::from(priority)],
        )
        .map(|_| ())
    }

    /// `ThreadOp::Suspend`: stops the thread; it keeps its state.
    ///
    /// # Errors
    /// What the kernel returns.
    pub fn suspend(&self) -> Result<(), Error> {
        invoke(self.slot, ThreadOp::Suspend as u32, &[]).map(|_| ())
    }

    /// `ThreadOp::Resume`: makes a suspended thread runnable again.
    ///
    /// # Errors
    /// `InvalidState` if it is not suspended, or what else the kernel returns.
    pub fn resume(&self) -> Result<(), Error> {
        invoke(self.slot, ThreadOp::Resume as u32, &[]).map(|_| ())
    }

    /// `ThreadOp::ReadRegisters`.
    ///
    /// # Errors
    /// What the kernel returns.
    pub fn read_registers(&self) -> Result<Registers, Error> {
        let [pc, sp, spsr, x0, x1, x2] = invoke(self.slot, ThreadOp::ReadRegisters as u32, &[])?;
        Ok(Registers {
            pc,
            sp,
            spsr,
            x0,
            x1,
            x2,
        })
    }

    /// `ThreadOp::WriteRegisters`: sets pc, sp and x0 of a suspended or faulted thread.
    ///
    /// # Errors
    /// `InvalidState` if the thread is running or blocked, or what else the kernel returns.
    pub fn write_registers(&self, pc: u64, sp: u64, x0: u64) -> Result<(), Error> {
        invoke(self.slot, ThreadOp::WriteRegisters as u32, &[pc, sp, x0]).map(|_| ())
    }

    /// `ThreadOp::Restart`: reloads the thread's task from the image (fresh memory,
    /// registers and capabilities) and starts it; for a faulted or suspended thread.
    ///
    /// # Errors
    /// What the kernel returns.
    pub fn restart(&self) -> Result<(), Error> {
        invoke(self.slot, ThreadOp::Restart as u32, &[]).map(|_| ())
    }

    /// `ThreadOp::Status`: state, restarts, task index.
    ///
    /// # Errors
    /// What the kernel returns.
    pub fn status(&self) -> Result<ThreadStatus, Error> {
        let [state_word, restarts, task_index, ..] =
            invoke(self.slot, ThreadOp::Status as u32, &[])?;
        Ok(ThreadStatus {
            state_word,
            restarts,
            task_index,
        })
    }
}

impl Cap<Frame> {
    /// `FrameOp::Map`: maps the frame at `vaddr` (page aligned, below
    /// [`USER_MAP_END`](kernel_abi::layout::USER_MAP_END)), writable if `writable` (needs
    /// WRITE). Reading or writing the mapped memory is the caller's `unsafe` business.
    ///
    /// # Errors
    /// `InvalidArgument` for a misaligned address, `InvalidAddress` outside the task area,
    /// or what else the kernel returns.
    pub fn map(&self, vaddr: u64, writable: bool) -> Result<(), Error> {
        invoke(
            self.slot,
            FrameOp::Map as u32,
            &[vaddr, u64::from(writable)],
        )
        .map(|_| ())
    }

    /// `FrameOp::Unmap`.
    ///
    /// # Errors
    /// What the kernel returns.
    pub fn unmap(&self) -> Result<(), Error> {
        invoke(self.slot, FrameOp::Unmap as u32, &[]).map(|_| ())
    }

    /// `FrameOp::Map` then a view of the mapped memory: [`Mapping`] reads and writes words
    /// inside it, bounds-checked, without `unsafe` in task code.
    ///
    /// # Errors
    /// As [`Cap::<Frame>::map`], and what `FrameOp::Size` returns.
    pub fn map_view(&self, vaddr: u64, writable: bool) -> Result<Mapping, Error> {
        let size = self.size()?;
        self.map(vaddr, writable)?;
        Ok(Mapping {
            frame: *self,
            base: vaddr,
            size,
            writable,
        })
    }

    /// `FrameOp::Size`: the frame's size in bytes.
    ///
    /// # Errors
    /// What the kernel returns.
    pub fn size(&self) -> Result<u64, Error> {
        invoke(self.slot, FrameOp::Size as u32, &[]).map(|words| words[0])
    }
}

impl Cap<SystemControl> {
    /// `SystemOp::PowerOff`: ends the system with exit `status` (QEMU's exit status).
    /// Returns only if the kernel refused.
    ///
    /// # Errors
    /// Why the kernel refused (a successful power-off does not return; should the kernel
    /// return success anyway, that is reported as `InvalidState`).
    pub fn power_off(&self, status: u64) -> Result<Infallible, Error> {
        invoke(self.slot, SystemOp::PowerOff as u32, &[status])?;
        Err(Error::InvalidState)
    }
}
