//! The irq-server: Dovetail's two-stage interrupt pipeline as a user-level service.
//!
//! The kernel routes every hardware interrupt of the CPU to this task (`IrqControl::Route`):
//! it masks the line, records its number in a ring shared with us, and signals our bound
//! notification. We run at the top priority, so we take each interrupt at once and ask
//! the pure `pipeline` crate what it means:
//!
//! - an **oob** line runs its out-of-band handler here and now (handlers are functions of
//!   the components linked into this program: the *oob stage*), whatever any in-band
//!   domain is doing (invariant 1), and the line is unmasked;
//! - an **in-band** line goes to the domain that owns it: appended to the event ring of
//!   its domain page and its notification signalled if the domain is unstalled, else
//!   logged in the pipeline's bounded log and replayed, in arrival order, when the domain
//!   unstalls and asks us to `Sync` (invariants 2, 3, 4). A level-triggered line stays
//!   masked until its domain acks it, so a stalled domain cannot cause a storm.
//!
//! Domains stall and unstall by writing their stall word in the domain page (no system
//! call); we mirror it into the pipeline's state before every decision for that domain.
//! Requests (attach, sync, ack, synthetic IRQs, oob switching, statistics) arrive on our
//! endpoint, badged with the domain id + 1, so a domain can act only as itself
//! (invariant 6).
#![no_std]
#![deny(unsafe_code)]

mod control;
mod server;

pub use pipeline::Error as PipelineError;
pub use server::{Caller, Line, OobContext, OobHandler, ServeFn, Service, Stage, run, run_stage};
