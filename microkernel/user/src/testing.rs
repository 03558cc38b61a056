//! A tiny harness for test tasks: one console line per check, a summary, and the exit
//! status through the system control capability.
//!
//! QEMU scenarios judge a test by the exit status and console text, never by a person
//! reading it, so the lines have a fixed shape: `PASS: <what>`, `FAIL: <what>: <detail>`,
//! and finally `RESULT: <n> passed, <m> failed`. The task that ends a test calls
//! [`Checks::finish`], which powers the system off with status 0 if every check passed
//! and 1 otherwise.

use core::{convert::Infallible, fmt};

use kernel_abi::Error;

use crate::{Cap, SystemControl, println};

/// Counts checks and prints one line per check; see the module documentation.
#[derive(Debug, Default)]
pub struct Checks {
    passed: u32,
    failed: u32,
}

impl Checks {
    /// No checks yet.
    #[must_use]
    pub const fn new() -> Self {
        Self {
            passed: 0,
            failed: 0,
        }
    }

    /// Records a passed check.
    pub fn pass(&mut self, what: impl fmt::Display) {
        self.passed += 1;
        println!("PASS: {what}");
    }

    /// Records a failed check and why.
    pub fn fail(&mut self, what: impl fmt::Display, detail: fmt::Arguments<'_>) {
        self.failed += 1;
        println!("FAIL: {what}: {detail}");
    }

    /// Passes if `ok`, else fails with `detail`. Returns `ok`.
    pub fn check(&mut self, what: impl fmt::Display, ok: bool, detail: fmt::Arguments<'_>) -> bool {
        if ok {
            self.pass(what);
        } else {
            self.fail(what, detail);
        }
        ok
    }

    /// Passes if `got == want`. Returns whether it passed.
    pub fn expect_eq<T: PartialEq + fmt::Debug>(
        &mut self,
        what: impl fmt::Display,
        got: T,
        want: T,
    ) -> bool {
        let ok = got == want;
        self.check(what, ok, format_args!("got {got:?}, expected {want:?}"))
    }

    /// Passes if `result` is `Ok`, and returns the value.
    pub fn expect_ok<T>(&mut self, what: impl fmt::Display, result: Result<T, Error>) -> Option<T> {
        match result {
            Ok(value) => {
                self.pass(what);
                Some(value)
            }
            Err(error) => {
                self.fail(what, format_args!("{}", error.name()));
                None
            }
        }
    }

    /// Passes if `result` is exactly `Err(want)`.
    pub fn expect_err<T: fmt::Debug>(
        &mut self,
        what: impl fmt::Display,
        result: Result<T, Error>,
        want: Error,
    ) -> bool {
        match result {
            Err(error) if error == want => {
                self.pass(what);
                true
            }
            Err(error) => {
                self.fail(
                    what,
                    format_args!("got {}, expected {}", error.name(), want.name()),
                );
                false
            }
            Ok(value) => {
                self.fail(
                    what,
                    format_args!("succeeded ({value:?}), expected {}", want.name()),
                );
                false
            }
        }
    }

    /// Checks passed so far.
    #[must_use]
    pub const fn passed(&self) -> u32 {
        self.passed
    }

    /// Checks failed so far.
    #[must_use]
    pub const fn failed(&self) -> u32 {
        self.failed
    }

    /// Prints `RESULT: <n> passed, <m> failed` and powers the system off with 0 if
    /// nothing failed, 1 otherwise.
    ///
    /// # Panics
    /// If the kernel refuses to power off (the panic reaches the supervisor, and the
    /// console shows why).
    pub fn finish(self, power: &Cap<SystemControl>) -> ! {
        println!("RESULT: {} passed, {} failed", self.passed, self.failed);
        let status = u64::from(self.failed != 0);
        let Err(error): Result<Infallible, Error> = power.power_off(status);
        panic!("power off with status {status} refused: {}", error.name())
    }
}
