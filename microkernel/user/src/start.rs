//! What the task learns at start: its name, its restarts, and its capabilities by name.
//!
//! The manifest gives each capability a name and the image builder assigns slots; task
//! code looks capabilities up by that name ([`cap`]) instead of hard-coding slot numbers,
//! and the lookup checks the kind the kernel recorded, so a manifest that grants the
//! wrong kind of object under a name fails at the lookup with a message naming both,
//! not later with a `WrongObjectType` from some call.

use core::fmt;

use kernel_abi::{
    ObjectType, StartCap, StartInfo,
    layout::{MAX_START_CAPS, name_str},
};

use crate::{Cap, CapType, sys};

/// The start info page (at [`layout::START_INFO`](kernel_abi::layout::START_INFO),
/// read-only).
///
/// # Panics
/// If the page's magic is wrong (the kernel did not provide a start info); the runtime
/// checks this before `main`, so in a task it does not panic later.
#[must_use]
pub fn start_info() -> &'static StartInfo {
    match sys::start_info_page() {
        Some(info) => info,
        None => panic!(
            "no start info at {:#x} (bad magic)",
            kernel_abi::layout::START_INFO
        ),
    }
}

/// The start info, or `None` if the page holds none (for code that must not panic).
#[must_use]
pub fn try_start_info() -> Option<&'static StartInfo> {
    sys::start_info_page()
}

/// This task's name from the manifest (`"?"` if there is no start info).
#[must_use]
pub fn task_name() -> &'static str {
    try_start_info().map_or("?", |info| name_str(&info.name))
}

/// This task's argument string from the manifest (`args`; empty if none).
#[must_use]
pub fn args() -> &'static str {
    try_start_info().map_or("", |info| {
        let len = info
            .args
            .iter()
            .position(|&b| b == 0)
            .unwrap_or(info.args.len());
        core::str::from_utf8(&info.args[..len]).unwrap_or("")
    })
}

/// The value of `key` in this task's argument string of space-separated `key=value`
/// pairs (`"period=1000 seconds=5"`), if present.
#[must_use]
pub fn arg(key: &str) -> Option<&'static str> {
    args()
        .split_ascii_whitespace()
        .find_map(|pair| pair.strip_prefix(key)?.strip_prefix('='))
}

/// `key` of [`arg`] as a number, `default` when absent; `Err` with the text when it is
/// present but not a decimal number (the task reports it rather than guessing).
pub fn arg_u64(key: &str, default: u64) -> Result<u64, &'static str> {
    match arg(key) {
        None => Ok(default),
        Some(text) => text.parse().map_err(|_| text),
    }
}

/// How many times this task has been restarted by its supervisor (0 on the first run).
#[must_use]
pub fn restarts() -> u64 {
    start_info().restarts
}

/// This task's index in the image (its fault badge is index + 1).
#[must_use]
pub fn task_index() -> u64 {
    start_info().task_index
}

/// The capabilities the manifest gave this task, in slot order.
#[must_use]
pub fn start_caps() -> &'static [StartCap] {
    let info = start_info();
    let count = usize::try_from(info.cap_count).map_or(MAX_START_CAPS, |n| n.min(MAX_START_CAPS));
    &info.caps[..count]
}

/// The first slot after every capability the manifest granted: slots from here on are
/// empty at start (as far as the task's capability space reaches), for receiving,
/// copying and minting capabilities.
#[must_use]
pub fn first_free_slot() -> u32 {
    start_caps()
        .iter()
        .map(|cap| cap.slot.saturating_add(1))
        .max()
        .unwrap_or(1)
}

/// The start info entry named `name`.
#[must_use]
pub fn find_start_cap(name: &str) -> Option<&'static StartCap> {
    start_caps().iter().find(|cap| name_str(&cap.name) == name)
}

/// Why [`cap`] found no capability.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LookupError {
    /// The manifest gave this task no capability of that name.
    NotFound,
    /// The capability names another kind of object.
    WrongKind {
        /// The kind asked for.
        expected: ObjectType,
        /// The kind code the start info records.
        found: u8,
    },
}

impl fmt::Display for LookupError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match *self {
            Self::NotFound => f.write_str("no capability of that name"),
            Self::WrongKind { expected, found } => match ObjectType::try_from(found) {
                Ok(kind) => write!(f, "it names a {kind}, not a {expected}"),
                Err(_) => write!(f, "it names object type code {found}, not a {expected}"),
            },
        }
    }
}

/// Looks up the capability the manifest named `name` and checks that it names a `T`.
///
/// # Errors
/// [`LookupError::NotFound`], or [`LookupError::WrongKind`] if the kind differs.
pub fn cap<T: CapType>(name: &str) -> Result<Cap<T>, LookupError> {
    let entry = find_start_cap(name).ok_or(LookupError::NotFound)?;
    if entry.kind != T::OBJECT_TYPE.code() {
        return Err(LookupError::WrongKind {
            expected: T::OBJECT_TYPE,
            found: entry.kind,
        });
    }
    Ok(Cap::from_raw(entry.slot))
}

/// [`cap`] for capabilities a task cannot do without: panics with a message naming the
/// task, the capability and what was wrong (the panic reaches the supervisor).
///
/// # Panics
/// If the lookup fails.
#[must_use]
pub fn require_cap<T: CapType>(name: &str) -> Cap<T> {
    cap(name).unwrap_or_else(|error| {
        panic!(
            "task {}: capability \"{name}\" ({}): {error}",
            task_name(),
            T::OBJECT_TYPE
        )
    })
}
