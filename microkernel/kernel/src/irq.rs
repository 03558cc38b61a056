//! Interrupt routing inside the kernel.
//!
//! The kernel acknowledges every interrupt at the controller and hands it to whoever the
//! line is attached to. Today the only attachments are kernel-internal (the boot timer
//! check); with the kernel core every line is routed to the irq-server instead.

use crate::drivers::{IrqChip, Trigger};
use core::sync::atomic::{AtomicU64, Ordering};

/// A kernel-internal interrupt handler.
pub type Handler = fn(irq: u32);

const MAX_ATTACHED: usize = 8;

struct Router {
    chip: IrqChip,
    attached: [Option<(u32, Handler)>; MAX_ATTACHED],
    /// Lines whose interrupt was left active (GIC split EOI) instead of masked: held
    /// off until `unmask` deactivates them.
    held: [u64; 16],
}

impl Router {
    fn set_held(&mut self, line: u32, held: bool) -> bool {
        let (word, bit) = ((line / 64) as usize % 16, 1u64 << (line % 64));
        let was = self.held[word] & bit != 0;
        if held {
            self.held[word] |= bit
        } else {
            self.held[word] &= !bit
        }
        was
    }

    /// Ends an interrupt the kernel handled itself: drop and, on a GIC, deactivate.
    fn finish(&mut self, line: u32) {
        self.chip.end_of_interrupt(line);
        self.chip.deactivate(line);
    }
}

static ROUTER: spin::Mutex<Option<Router>> = spin::Mutex::new(None);
static SPURIOUS: AtomicU64 = AtomicU64::new(0);

/// Why an attach failed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum AttachError {
    /// `init` has not run.
    NoController,
    /// The line is out of the controller's range.
    NoSuchLine,
    /// The line already has a handler.
    Busy,
    /// No free attachment slot.
    Full,
    /// The controller refused.
    Controller(&'static str),
}

/// Takes ownership of the interrupt controller.
pub fn init(chip: IrqChip) {
    *ROUTER.lock() = Some(Router {
        chip,
        attached: [None; MAX_ATTACHED],
        held: [0; 16],
    });
}

/// Attaches `handler` to `irq` and unmasks the line.
pub fn attach(irq: u32, trigger: Trigger, handler: Handler) -> Result<(), AttachError> {
    let mut guard = ROUTER.lock();
    let router = guard.as_mut().ok_or(AttachError::NoController)?;
    if irq >= router.chip.lines() {
        return Err(AttachError::NoSuchLine);
    }
    if router
        .attached
        .iter()
        .flatten()
        .any(|(line, _)| *line == irq)
    {
        return Err(AttachError::Busy);
    }
    let slot = router
        .attached
        .iter_mut()
        .find(|s| s.is_none())
        .ok_or(AttachError::Full)?;
    router
        .chip
        .enable(irq, trigger)
        .map_err(AttachError::Controller)?;
    *slot = Some((irq, handler));
    Ok(())
}

/// Masks `irq` and removes its handler.
pub fn detach(irq: u32) {
    if let Some(router) = ROUTER.lock().as_mut() {
        let _ = router.chip.disable(irq);
        for slot in &mut router.attached {
            if slot.is_some_and(|(line, _)| line == irq) {
                *slot = None;
            }
        }
    }
}

/// Handles every pending interrupt. Called from the IRQ vector with IRQs masked.
pub fn handle_pending() {
    loop {
        // Acknowledge under the lock, run the handler without it (a handler may attach or
        // detach lines), then end the interrupt.
        let (irq, handler) = {
            let mut guard = ROUTER.lock();
            let Some(router) = guard.as_mut() else { return };
            let Some(irq) = router.chip.acknowledge() else {
                return;
            };
            let handler = router
                .attached
                .iter()
                .flatten()
                .find(|(line, _)| *line == irq)
                .map(|(_, h)| *h);
            if handler.is_none() {
                // Nobody owns the line: mask it so it cannot storm, and count it.
                let _ = router.chip.disable(irq);
                router.finish(irq);
                SPURIOUS.fetch_add(1, Ordering::Relaxed);
                continue;
            }
            (irq, handler)
        };
        if let Some(handler) = handler {
            handler(irq);
        }
        if let Some(router) = ROUTER.lock().as_mut() {
            router.finish(irq);
        }
    }
}

/// Interrupts that arrived on a line nobody owned (each such line is masked).
pub fn spurious_count() -> u64 {
    SPURIOUS.load(Ordering::Relaxed)
}

/// Name and line count of the controller, for the banner.
pub fn describe() -> Option<(&'static str, u32)> {
    ROUTER
        .lock()
        .as_ref()
        .map(|r| (r.chip.name(), r.chip.lines()))
}

/// Takes the highest-priority pending interrupt for routing, under one lock, and holds
/// its line off until its owner calls [`unmask`]: on a GIC the interrupt is left active
/// (split priority drop and deactivation: no distributor access on this path), on the
/// BCM2836 the line is masked. `own`, the kernel's slice timer, is finished at once.
pub fn take(own: u32) -> Option<u32> {
    let mut guard = ROUTER.lock();
    let router = guard.as_mut()?;
    let line = router.chip.acknowledge()?;
    if line == own {
        router.finish(line);
    } else if router.chip.holds_active() {
        router.chip.end_of_interrupt(line);
        router.set_held(line, true);
    } else {
        let _ = router.chip.disable(line);
    }
    Some(line)
}

/// Masks a line (and releases an interrupt held active on it: masked, it cannot fire).
pub fn mask(irq: u32) {
    if let Some(router) = ROUTER.lock().as_mut() {
        let _ = router.chip.disable(irq);
        if router.set_held(irq, false) {
            router.chip.deactivate(irq);
        }
    }
}

/// Unmasks a line: deactivates an interrupt held active on it and enables it
/// (level-triggered: the device's state decides whether it fires again).
pub fn unmask(irq: u32) -> Result<(), &'static str> {
    match ROUTER.lock().as_mut() {
        Some(router) if irq < router.chip.lines() => {
            if router.set_held(irq, false) {
                router.chip.deactivate(irq);
            }
            router.chip.enable(irq, Trigger::Level)
        }
        _ => Err("no such interrupt line"),
    }
}

/// Sets a line's trigger and leaves it masked.
pub fn configure(irq: u32, trigger: Trigger) -> Result<(), &'static str> {
    match ROUTER.lock().as_mut() {
        Some(router) if irq < router.chip.lines() => {
            router.chip.enable(irq, trigger)?;
            router.chip.disable(irq)
        }
        _ => Err("no such interrupt line"),
    }
}

/// Counts an interrupt on a line nobody owns (the caller masked it).
pub fn count_spurious() {
    SPURIOUS.fetch_add(1, Ordering::Relaxed);
}

/// Number of lines of the controller (0 before `init`).
pub fn lines() -> u32 {
    ROUTER.lock().as_ref().map_or(0, |r| r.chip.lines())
}
