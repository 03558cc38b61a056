//! Fault messages: what a supervisor receives on a task's fault endpoint.
//!
//! When a thread faults, the kernel stops it and sends, on the fault endpoint named in
//! the manifest, a message with label [`FAULT_LABEL`] and words:
//! `w0` = [`FaultKind`], `w1` = faulting address (FAR, or the bad call number), `w2` = pc,
//! `w3` = ESR. The badge identifies the task (the manifest gives each supervised task its
//! own). The thread stays stopped until its supervisor restarts it.

/// Label of a fault message.
pub const FAULT_LABEL: u32 = 0xfa17;

/// What went wrong.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[repr(u64)]
pub enum FaultKind {
    /// A load or store to an address the task may not access.
    DataAbort = 1,
    /// An instruction fetch from an address the task may not execute.
    InstructionAbort = 2,
    /// An undefined or not-allowed instruction.
    UndefinedInstruction = 3,
    /// A misaligned PC, SP or (where checked) data access.
    Alignment = 4,
    /// A system call number that names no call.
    BadSyscall = 5,
    /// The task panicked (`Syscall::Panic`).
    Panic = 6,
    /// Any other exception (breakpoint, trapped FP access, ...).
    Other = 7,
}

impl FaultKind {
    /// Decodes a fault word.
    #[must_use]
    pub const fn from_word(word: u64) -> Option<Self> {
        match word {
            1 => Some(Self::DataAbort),
            2 => Some(Self::InstructionAbort),
            3 => Some(Self::UndefinedInstruction),
            4 => Some(Self::Alignment),
            5 => Some(Self::BadSyscall),
            6 => Some(Self::Panic),
            7 => Some(Self::Other),
            _ => None,
        }
    }

    /// A short name for logs.
    #[must_use]
    pub const fn name(self) -> &'static str {
        match self {
            Self::DataAbort => "data abort",
            Self::InstructionAbort => "instruction abort",
            Self::UndefinedInstruction => "undefined instruction",
            Self::Alignment => "alignment fault",
            Self::BadSyscall => "bad system call",
            Self::Panic => "panic",
            Self::Other => "other exception",
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const KINDS: [(u64, FaultKind, &str); 7] = [
        (1, FaultKind::DataAbort, "data abort"),
        (2, FaultKind::InstructionAbort, "instruction abort"),
        (3, FaultKind::UndefinedInstruction, "undefined instruction"),
        (4, FaultKind::Alignment, "alignment fault"),
        (5, FaultKind::BadSyscall, "bad system call"),
        (6, FaultKind::Panic, "panic"),
        (7, FaultKind::Other, "other exception"),
    ];

    #[test]
    fn fault_words_decode_to_their_kind_and_nothing_else_does() {
        for (word, kind, _) in KINDS {
            assert_eq!(kind as u64, word);
            assert_eq!(FaultKind::from_word(word), Some(kind));
        }
        for word in [0, 8, 0xfa17, u64::MAX] {
            assert_eq!(FaultKind::from_word(word), None, "word {word}");
        }
    }

    #[test]
    fn each_kind_has_its_log_name() {
        for (_, kind, name) in KINDS {
            assert_eq!(kind.name(), name);
        }
    }
}
