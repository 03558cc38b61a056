//! The console: `print!`/`println!` through `Syscall::DebugWrite`.
//!
//! Tasks have no UART of their own; the kernel console is shared by every task and the
//! kernel, and one `DebugWrite` is written without being interleaved with others. So each
//! `print!` is formatted into a buffer on the stack of one trap's size
//! ([`MAX_DEBUG_WRITE`] bytes) and written when it is done: a line up to that length is
//! one write, and the test harness, which reads the console line by line, never sees two
//! tasks' lines mixed. A longer text is written in pieces, cut after its last complete
//! line where there is one.

use core::fmt;

use kernel_abi::{Error, MAX_DEBUG_WRITE};

use crate::sys;

/// Writes `bytes` to the kernel console, in as many `DebugWrite` traps of at most
/// [`MAX_DEBUG_WRITE`] bytes as it takes.
///
/// # Errors
/// The first error the kernel returns; the rest is not written.
pub fn debug_write(bytes: &[u8]) -> Result<(), Error> {
    for chunk in bytes.chunks(MAX_DEBUG_WRITE) {
        sys::debug_write_once(chunk)?;
    }
    Ok(())
}

/// A console writer that buffers on the stack and writes when dropped (or full); see the
/// module documentation. `print!` and `println!` use one per call.
#[derive(Debug)]
pub struct Console {
    buf: [u8; MAX_DEBUG_WRITE],
    len: usize,
}

impl Console {
    /// An empty buffer.
    #[must_use]
    pub const fn new() -> Self {
        Self {
            buf: [0; MAX_DEBUG_WRITE],
            len: 0,
        }
    }

    /// Writes what is buffered.
    pub fn flush(&mut self) {
        // Console output has nowhere to report a failure to.
        let _ = sys::debug_write_once(&self.buf[..self.len]);
        self.len = 0;
    }

    /// Makes room when the buffer is full: writes up to the last complete line if there
    /// is one (keeping the partial line for later), else everything.
    fn make_room(&mut self) {
        match self.buf[..self.len].iter().rposition(|&b| b == b'\n') {
            Some(newline) => {
                let _ = sys::debug_write_once(&self.buf[..=newline]);
                self.buf.copy_within(newline + 1..self.len, 0);
                self.len -= newline + 1;
            }
            None => self.flush(),
        }
    }
}

impl Default for Console {
    fn default() -> Self {
        Self::new()
    }
}

impl fmt::Write for Console {
    fn write_str(&mut self, mut s: &str) -> fmt::Result {
        while !s.is_empty() {
            if self.len == self.buf.len() {
                self.make_room();
            }
            let n = s.len().min(self.buf.len() - self.len);
            self.buf[self.len..self.len + n].copy_from_slice(&s.as_bytes()[..n]);
            self.len += n;
            s = &s[n..];
        }
        Ok(())
    }
}

impl Drop for Console {
    fn drop(&mut self) {
        if self.len > 0 {
            self.flush();
        }
    }
}

#[doc(hidden)]
pub fn _print(args: fmt::Arguments<'_>, newline: bool) {
    use fmt::Write as _;
    let mut console = Console::new();
    let _ = console.write_fmt(args);
    if newline {
        let _ = console.write_str("\n");
    }
}

/// Prints to the kernel console (one `DebugWrite` per call up to
/// [`MAX_DEBUG_WRITE`] bytes).
#[macro_export]
macro_rules! print {
    ($($arg:tt)*) => { $crate::console::_print(::core::format_args!($($arg)*), false) };
}

/// Prints a line to the kernel console (one `DebugWrite` per line up to
/// [`MAX_DEBUG_WRITE`] bytes).
#[macro_export]
macro_rules! println {
    () => { $crate::console::_print(::core::format_args!(""), true) };
    ($($arg:tt)*) => { $crate::console::_print(::core::format_args!($($arg)*), true) };
}
