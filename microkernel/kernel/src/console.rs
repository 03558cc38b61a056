//! The kernel console: `print!`/`println!` over the board's UART, once it is known.

use crate::drivers::pl011::Console;
use core::fmt::{self, Write};

static CONSOLE: spin::Mutex<Option<Console>> = spin::Mutex::new(None);

/// Installs the console; output before this is dropped.
pub fn install(console: Console) {
    *CONSOLE.lock() = Some(console);
}

/// Whether output currently goes anywhere.
pub fn is_installed() -> bool {
    CONSOLE.lock().is_some()
}

#[doc(hidden)]
pub fn print(args: fmt::Arguments<'_>) {
    if let Some(console) = CONSOLE.lock().as_mut() {
        // The UART cannot fail a write.
        let _ = console.write_fmt(args);
    }
}

/// Prints to the kernel console.
#[macro_export]
macro_rules! print {
    ($($arg:tt)*) => { $crate::console::print(format_args!($($arg)*)) };
}

/// Prints a line to the kernel console.
#[macro_export]
macro_rules! println {
    () => { $crate::print!("\n") };
    ($($arg:tt)*) => { $crate::console::print(format_args!("{}\n", format_args!($($arg)*))) };
}
