//! Architecture support: the only place that touches system registers, translation tables
//! in memory, or assembly. Everything here offers a safe interface to the rest of the
//! kernel, and every `unsafe` block says why it holds.
#![allow(unsafe_code)]

mod aarch64;

pub use aarch64::*;
