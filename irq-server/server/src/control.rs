//! The kernel operations the irq-server uses that `sluice` does not wrap (yet): routing,
//! masking and unmasking lines, binding our notification to our thread.

use kernel_abi::{
    Error, MessageInfo, Syscall,
    invocation::{IrqControlOp, ThreadOp},
};
use sluice::{
    Cap, Frame, IrqControl, Notification, Thread,
    sys::{TrapArgs, syscall},
};

fn invoke(slot: u32, label: u32, words: [u64; 6]) -> Result<[u64; 6], Error> {
    let args = TrapArgs {
        x0: u64::from(slot),
        x1: MessageInfo::new(label, 6).to_raw(),
        words,
    };
    let out = syscall(Syscall::Invoke, args);
    sluice::sys::decode_status(out.status).map(|()| out.words)
}

/// `IrqControl::Route`: every hardware interrupt of `cpu` comes to `notification`, its
/// line number in the ring of `ring`.
pub fn route(
    control: Cap<IrqControl>,
    notification: Cap<Notification>,
    ring: Cap<Frame>,
    cpu: u64,
) -> Result<(), Error> {
    let words = [
        u64::from(notification.slot()),
        u64::from(ring.slot()),
        cpu,
        0,
        0,
        0,
    ];
    invoke(control.slot(), IrqControlOp::Route as u32, words).map(drop)
}

/// `IrqControl::Unmask`.
pub fn unmask(control: Cap<IrqControl>, line: u16) -> Result<(), Error> {
    invoke(
        control.slot(),
        IrqControlOp::Unmask as u32,
        [u64::from(line), 0, 0, 0, 0, 0],
    )
    .map(drop)
}

/// `IrqControl::Mask`.
pub fn mask(control: Cap<IrqControl>, line: u16) -> Result<(), Error> {
    invoke(
        control.slot(),
        IrqControlOp::Mask as u32,
        [u64::from(line), 0, 0, 0, 0, 0],
    )
    .map(drop)
}

/// `IrqControl::Configure`: `edge` or level.
pub fn configure(control: Cap<IrqControl>, line: u16, edge: bool) -> Result<(), Error> {
    invoke(
        control.slot(),
        IrqControlOp::Configure as u32,
        [u64::from(line), u64::from(edge), 0, 0, 0, 0],
    )
    .map(drop)
}

/// `ThreadOp::BindNotification`: our `Recv` also returns for `notification`.
pub fn bind(thread: Cap<Thread>, notification: Cap<Notification>) -> Result<(), Error> {
    invoke(
        thread.slot(),
        ThreadOp::BindNotification as u32,
        [u64::from(notification.slot()), 0, 0, 0, 0, 0],
    )
    .map(drop)
}

/// `IrqControl::IdleControl`: vetoes (or allows) deep idle on `cpu`; returns the CPU's
/// idle entries so far (deep, shallow, shallow by the veto).
pub fn idle_control(control: Cap<IrqControl>, cpu: u64, veto: bool) -> Result<[u64; 3], Error> {
    let words = [u64::from(veto), cpu, 0, 0, 0, 0];
    invoke(control.slot(), IrqControlOp::IdleControl as u32, words).map(|w| [w[0], w[1], w[2]])
}
