//! Operations invoked on capabilities with [`Syscall::Invoke`](crate::Syscall): the label
//! of the [`MessageInfo`](crate::MessageInfo) names the operation, message words carry its
//! arguments (`w0` = x2, `w1` = x3, ...), and results come back in the message words.
//!
//! An operation on a capability of the wrong object type returns
//! [`Error::WrongObjectType`](crate::Error), one the capability's rights do not allow
//! [`Error::InsufficientRights`](crate::Error): the error names what was wrong.

macro_rules! labels {
    ($(#[$outer:meta])* $enum:ident { $( $(#[$attr:meta])* $name:ident = $code:literal, )+ }) => {
        $(#[$outer])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
        #[repr(u32)]
        pub enum $enum {
            $( $(#[$attr])* $name = $code, )+
        }

        impl $enum {
            /// Decodes a label; `None` when it names no operation of this object.
            #[must_use]
            pub const fn from_label(label: u32) -> Option<Self> {
                match label {
                    $($code => Some(Self::$name),)+
                    _ => None,
                }
            }
        }
    };
}

labels! {
    /// Operations on a thread capability (a supervisor's control of a task).
    ThreadOp {
        /// `w0` = new priority; it may not exceed the caller's own priority.
        SetPriority = 1,
        /// Stop the thread (it keeps its state).
        Suspend = 2,
        /// Make a suspended thread runnable again.
        Resume = 3,
        /// Returns `w0` = pc, `w1` = sp, `w2` = spsr, `w3`..`w5` = x0..x2.
        ReadRegisters = 4,
        /// `w0` = pc, `w1` = sp, `w2` = x0: sets them (the thread must be suspended or faulted).
        WriteRegisters = 5,
        /// Reload the thread's task from the image (fresh memory, registers, capabilities
        /// as in the manifest) and start it. Allowed on a faulted or suspended thread.
        Restart = 6,
        /// Returns `w0` = the thread's state ([`ThreadState`]), `w1` = restarts so far,
        /// `w2` = the task's index in the image (fault badges are index + 1, so a
        /// supervisor maps a fault message to the thread capability with this).
        Status = 7,
    }
}

labels! {
    /// Operations on an IRQ handler capability.
    IrqHandlerOp {
        /// `w0` = slot of a notification capability (needs WRITE): each interrupt on the
        /// line signals it with that capability's badge (1 if unbadged). Fails with
        /// `AlreadyInUse` if the line is bound.
        Bind = 1,
        /// Re-enable the line after its interrupt was handled (the kernel masks a line
        /// when it signals, so a level-triggered device cannot storm).
        Ack = 2,
        /// Undo `Bind` and mask the line.
        Unbind = 3,
    }
}

labels! {
    /// Operations on a frame capability.
    FrameOp {
        /// Map the frame into the caller's address space at `w0`: page aligned
        /// (else `InvalidArgument`), inside `layout::SHARED_MAP_BASE..USER_MAP_END`
        /// (else `InvalidAddress`); `w1` = 1 for writable (needs WRITE), 0 for
        /// read-only (needs READ). Mapping it twice is `AlreadyInUse`.
        Map = 1,
        /// Unmap the frame from the caller's address space.
        Unmap = 2,
        /// Returns `w0` = size in bytes.
        Size = 3,
    }
}

labels! {
    /// Operations on the system control capability.
    SystemOp {
        /// Power the system off with exit status `w0` (reported by QEMU).
        PowerOff = 1,
    }
}

/// The state of a thread as `ThreadOp::Status` reports it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[repr(u64)]
pub enum ThreadState {
    /// Runnable or running.
    Ready = 1,
    /// Blocked in IPC or on a notification.
    Blocked = 2,
    /// Stopped by `Suspend`.
    Suspended = 3,
    /// Stopped by a fault, waiting for its supervisor.
    Faulted = 4,
}

impl ThreadState {
    /// Decodes a state word.
    #[must_use]
    pub const fn from_word(word: u64) -> Option<Self> {
        match word {
            1 => Some(Self::Ready),
            2 => Some(Self::Blocked),
            3 => Some(Self::Suspended),
            4 => Some(Self::Faulted),
            _ => None,
        }
    }
}
