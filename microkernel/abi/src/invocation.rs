//! Operations invoked on capabilities with [`Syscall::Invoke`](crate::Syscall): the label
//! of the [`MessageInfo`](crate::MessageInfo) names the operation, message words carry its
//! arguments (`w0` = x2, `w1` = x3, ...), and results come back in the message words.
//!
//! An operation on a capability of the wrong object type returns
//! [`Error::WrongObjectType`](crate::Error), one the capability's rights do not allow
//! [`Error::InsufficientRights`](crate::Error): the error names what was wrong.

crate::code_enum! {
    /// Operations on a thread capability (a supervisor's control of a task).
    pub enum ThreadOp: u32 decode from_label {
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
        /// Binds the notification in slot `w0` (needs READ) to the thread: a `Recv` of the
        /// thread then also returns when the notification is signalled, with the label
        /// [`NOTIFICATION_LABEL`](crate::invocation::NOTIFICATION_LABEL), no words, and the
        /// notification word (cleared) as the badge. One server thread can so wait for
        /// requests and interrupts at once. `AlreadyInUse` if either side is bound.
        BindNotification = 8,
    }
}

crate::code_enum! {
    /// Operations on an IRQ handler capability.
    pub enum IrqHandlerOp: u32 decode from_label {
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

crate::code_enum! {
    /// Operations on the IRQ control capability: the interrupt pipeline's access to every
    /// line of the interrupt controller.
    pub enum IrqControlOp: u32 decode from_label {
        /// Route every hardware interrupt of CPU `w2` to the caller: the kernel
        /// acknowledges it, masks its line, appends the line number to the
        /// [`IrqRing`](crate::layout::IrqRing) in the shared frame of slot `w1`, and signals
        /// the notification of slot `w0` (needs WRITE). When the caller waits in `Recv`
        /// with that notification bound and clear (so its ring is drained), the kernel
        /// instead hands the line over in the wake-up message itself: one word, `w0` =
        /// the line, and nothing in the ring. Lines stay masked until `Unmask`,
        /// so a line is in the ring at most once and the ring never overflows. The
        /// kernel's own slice timer is never routed. `AlreadyInUse` if routed already.
        Route = 1,
        /// Unmask line `w0` (after its event was handled, or acked by its owner).
        Unmask = 2,
        /// Mask line `w0`.
        Mask = 3,
        /// Configure line `w0`: `w1` = 0 level-triggered, 1 edge-triggered (the line
        /// stays masked; `Unmask` enables it).
        Configure = 4,
        /// `irq_cpuidle_control`: with `w0` = 1, CPU `w1` may not enter a deep idle state
        /// (one that may stop or delay the timer: PSCI `CPU_SUSPEND`), only `WFI`, from
        /// which the timer wakes it at once; `w0` = 0 lifts the veto. The oob stage sets it
        /// while an oob timer is armed. Replies the CPU's idle entries so far: `w0` deep,
        /// `w1` shallow (`WFI`), `w2` shallow because of the veto.
        IdleControl = 5,
    }
}

/// Label of the message a `Recv` returns when the thread's bound notification was
/// signalled (see `ThreadOp::BindNotification`).
pub const NOTIFICATION_LABEL: u32 = 0xb0b0;

crate::code_enum! {
    /// Operations on a frame capability.
    pub enum FrameOp: u32 decode from_label {
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

crate::code_enum! {
    /// Operations on the system control capability.
    pub enum SystemOp: u32 decode from_label {
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn thread_state_words_decode_to_their_state_and_nothing_else_does() {
        let states = [
            (1, ThreadState::Ready),
            (2, ThreadState::Blocked),
            (3, ThreadState::Suspended),
            (4, ThreadState::Faulted),
        ];
        for (word, state) in states {
            assert_eq!(state as u64, word);
            assert_eq!(ThreadState::from_word(word), Some(state));
        }
        for word in [0, 5, u64::MAX] {
            assert_eq!(ThreadState::from_word(word), None, "word {word}");
        }
    }
}
