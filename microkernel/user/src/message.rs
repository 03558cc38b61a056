//! IPC messages: a label, up to [`MAX_MESSAGE_WORDS`] words, and at most one capability.
//!
//! The ABI splits a message between registers (words 0-5 in `x2`..`x7`) and the thread's
//! IPC buffer (words 6 and up, at the same index); [`Message`] hides the split: sending
//! writes the buffer part before the trap, receiving reads it after. A capability travels
//! by slot: the sender names it in `IpcBuffer::send_caps[0]` (with `MessageInfo::caps` =
//! 1, and GRANT on the endpoint), the receiver says where it may land with
//! [`IpcBufferAccess::set_receive_slot`] and learns whether it did from the received
//! message's `MessageInfo::caps`.

use core::fmt;

use kernel_abi::{Error, MAX_MESSAGE_WORDS, MessageInfo, REGISTER_WORDS};

use crate::{Cap, sys};

/// One IPC message; see the module documentation.
///
/// On a message to send, [`Message::cap_slot`] is the slot of the capability to transfer;
/// on a received one, the slot where the transferred capability landed.
#[derive(Clone)]
pub struct Message {
    label: u32,
    len: u8,
    cap: Option<u32>,
    words: [u64; MAX_MESSAGE_WORDS],
}

impl Message {
    /// An empty message with `label`.
    #[must_use]
    pub const fn new(label: u32) -> Self {
        Self {
            label,
            len: 0,
            cap: None,
            words: [0; MAX_MESSAGE_WORDS],
        }
    }

    /// A message with `label` and `words`.
    ///
    /// # Errors
    /// [`Error::MessageTooLong`] for more than [`MAX_MESSAGE_WORDS`] words.
    pub fn with_words(label: u32, words: &[u64]) -> Result<Self, Error> {
        let mut message = Self::new(label);
        message.set_words(words)?;
        Ok(message)
    }

    /// What the message means to its receiver.
    #[must_use]
    pub const fn label(&self) -> u32 {
        self.label
    }

    /// Sets the label.
    pub fn set_label(&mut self, label: u32) {
        self.label = label;
    }

    /// Number of words.
    #[must_use]
    pub const fn len(&self) -> usize {
        self.len as usize
    }

    /// `true` if the message has no words.
    #[must_use]
    pub const fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// The words.
    #[must_use]
    pub fn words(&self) -> &[u64] {
        &self.words[..self.len()]
    }

    /// Word `index`, or 0 beyond the message's length (what a server reads for an
    /// argument its client left out).
    #[must_use]
    pub fn word(&self, index: usize) -> u64 {
        self.words().get(index).copied().unwrap_or(0)
    }

    /// Replaces the words.
    ///
    /// # Errors
    /// [`Error::MessageTooLong`] for more than [`MAX_MESSAGE_WORDS`] words (the message is
    /// unchanged).
    pub fn set_words(&mut self, words: &[u64]) -> Result<(), Error> {
        if words.len() > MAX_MESSAGE_WORDS {
            return Err(Error::MessageTooLong);
        }
        self.words[..words.len()].copy_from_slice(words);
        // Lossless: at most MAX_MESSAGE_WORDS (64).
        self.len = words.len() as u8;
        Ok(())
    }

    /// Appends a word.
    ///
    /// # Errors
    /// [`Error::MessageTooLong`] if the message already has [`MAX_MESSAGE_WORDS`] words.
    pub fn push(&mut self, word: u64) -> Result<(), Error> {
        let index = self.len();
        if index == MAX_MESSAGE_WORDS {
            return Err(Error::MessageTooLong);
        }
        self.words[index] = word;
        self.len += 1;
        Ok(())
    }

    /// Makes the message carry `cap` (the endpoint capability it is sent through needs
    /// GRANT; the kernel does not transfer capabilities in replies yet).
    #[must_use]
    pub fn with_cap<T>(mut self, cap: &Cap<T>) -> Self {
        self.cap = Some(cap.slot());
        self
    }

    /// Sets or clears the capability the message carries.
    pub fn set_cap_slot(&mut self, slot: Option<u32>) {
        self.cap = slot;
    }

    /// The capability slot: to transfer (a message to send) or where the received
    /// capability landed (a received message; `None` if it carried none or the receive
    /// slot was not empty, in which case the kernel dropped it).
    #[must_use]
    pub const fn cap_slot(&self) -> Option<u32> {
        self.cap
    }

    /// The descriptor this message is sent with.
    #[must_use]
    pub const fn info(&self) -> MessageInfo {
        MessageInfo {
            label: self.label,
            length: self.len,
            caps: if self.cap.is_some() { 1 } else { 0 },
        }
    }

    /// Prepares a send: writes words 6 and up and the capability slot into the IPC
    /// buffer, and returns the register part (`x1`, `x2`..`x7`).
    pub(crate) fn stage(&self) -> (u64, [u64; REGISTER_WORDS]) {
        for index in REGISTER_WORDS..self.len() {
            sys::set_ipc_word(index, self.words[index]);
        }
        if let Some(slot) = self.cap {
            sys::set_ipc_send_cap(u64::from(slot));
        }
        let mut registers = [0; REGISTER_WORDS];
        registers.copy_from_slice(&self.words[..REGISTER_WORDS]);
        // Words past the length are not sent; zero them so nothing stale leaks.
        for word in registers.iter_mut().skip(self.len()) {
            *word = 0;
        }
        (self.info().to_raw(), registers)
    }

    /// Builds the message a trap returned: the registers, then the IPC buffer words.
    pub(crate) fn received(out: &sys::TrapOutput) -> Result<Self, Error> {
        let info = MessageInfo::from_raw(out.info)?;
        let mut message = Self::new(info.label);
        message.len = info.length;
        let len = message.len();
        let in_registers = len.min(REGISTER_WORDS);
        message.words[..in_registers].copy_from_slice(&out.words[..in_registers]);
        for index in REGISTER_WORDS..len {
            message.words[index] = sys::ipc_word(index);
        }
        if info.caps != 0 {
            message.cap = u32::try_from(sys::ipc_receive_slot()).ok();
        }
        Ok(message)
    }
}

impl fmt::Debug for Message {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Message")
            .field("label", &self.label)
            .field("words", &self.words())
            .field("cap", &self.cap)
            .finish()
    }
}

/// The thread's IPC buffer (at [`layout::IPC_BUFFER`](kernel_abi::layout::IPC_BUFFER)).
///
/// [`Message`] reads and writes the words itself; this is for the capability-transfer
/// fields and for code that talks to the buffer directly.
#[must_use]
pub const fn ipc_buffer() -> IpcBufferAccess {
    IpcBufferAccess { _private: () }
}

/// Access to the IPC buffer page, one field at a time (volatile: the kernel writes the
/// page during traps, so no Rust reference into it is ever handed out). Every handle
/// names the same page.
#[derive(Debug, Clone, Copy)]
pub struct IpcBufferAccess {
    _private: (),
}

impl IpcBufferAccess {
    /// Word `index` (only words from
    /// [`REGISTER_WORDS`] on travel here).
    ///
    /// # Panics
    /// If `index >= MAX_MESSAGE_WORDS`.
    #[must_use]
    pub fn word(&self, index: usize) -> u64 {
        sys::ipc_word(index)
    }

    /// Sets word `index`.
    ///
    /// # Panics
    /// If `index >= MAX_MESSAGE_WORDS`.
    pub fn set_word(&self, index: usize, value: u64) {
        sys::set_ipc_word(index, value);
    }

    /// `send_caps[0]`: the slot of the capability a message with `caps = 1` carries.
    #[must_use]
    pub fn send_cap(&self) -> u64 {
        sys::ipc_send_cap()
    }

    /// Sets `send_caps[0]`.
    pub fn set_send_cap(&self, slot: u64) {
        sys::set_ipc_send_cap(slot);
    }

    /// `receive_slot`: where the next received capability lands (`None`: accept none).
    #[must_use]
    pub fn receive_slot(&self) -> Option<u32> {
        u32::try_from(sys::ipc_receive_slot())
            .ok()
            .filter(|&slot| slot != 0)
    }

    /// Sets `receive_slot`; the slot must be empty when a capability arrives, or the
    /// kernel drops the capability. Stays set for later receives.
    pub fn set_receive_slot(&self, slot: Option<u32>) {
        sys::set_ipc_receive_slot(slot.map_or(0, u64::from));
    }
}
