//! Bad-argument test (image `test-bad-args`): every malformed call returns the error that
//! names what was wrong, and the task carries on.
//!
//! Capabilities (from the manifest): `ep` (endpoint, WRITE; nobody receives on it),
//! `note` (notification, READ|WRITE), `buf` (a 4 KiB shared frame, READ|WRITE), `self`
//! (this task's own thread), `power`. Slot 0 is always empty. Checks, in order (27):
//!
//! | # | call | expected |
//! |---|---|---|
//! | 1 | `Signal` on slot `u32::MAX` | `InvalidSlot` |
//! | 2 | `CapCopy` to slot `u32::MAX` | `InvalidSlot` |
//! | 3 | `Signal` on slot 0 | `EmptySlot` |
//! | 4 | `CapDelete` of slot 0 | `EmptySlot` |
//! | 5 | `Signal` on the endpoint | `WrongObjectType` |
//! | 6 | `Poll` on the endpoint | `WrongObjectType` |
//! | 7 | IRQ `Ack` on the notification | `WrongObjectType` |
//! | 8 | `Invoke` (`FrameOp::Size`) with MessageInfo bit 7 set | `InvalidArgument` |
//! | 9 | `Invoke` (`FrameOp::Size`) with MessageInfo bit 20 set | `InvalidArgument` |
//! | 10 | `Invoke` (`FrameOp::Size`) with two capabilities in the MessageInfo | `InvalidArgument` |
//! | 11 | `Invoke` on the frame with label `0x99` | `InvalidSyscall` |
//! | 12 | `DebugWrite` from `0xffff_0000_0000_0000` | `InvalidAddress` |
//! | 13 | `DebugWrite` from the unmapped `0xdead000` | `InvalidAddress` |
//! | 14 | `DebugWrite` of `MAX_DEBUG_WRITE + 1` bytes | `MessageTooLong` |
//! | 15 | `Reply` with no caller waiting | `InvalidState` |
//! | 16 | `FrameOp::Map` at `0x5000_0008` | `InvalidArgument` |
//! | 17 | `FrameOp::Map` at `USER_MAP_END` | `InvalidAddress` |
//! | 18 | `FrameOp::Map` at `0xffff_0000_0000_0000` | `InvalidAddress` |
//! | 19 | `FrameOp::Map` at `0x5000_0000`, `Size`, `Unmap` (control) | success, 4096 |
//! | 20 | `CapCopy` into the occupied slot of `ep` | `SlotOccupied` |
//! | 21 | `CapMint` with rights bit 7 | `InvalidArgument` |
//! | 22 | `CapMint` with a badge from the thread capability | `InvalidArgument` |
//! | 23 | `CapMint` with a badge from the frame capability | `InvalidArgument` |
//! | 24 | `ThreadOp::Resume` on this (running) thread | `InvalidState` |
//! | 25 | `ThreadOp::Status` on this thread (control) | Ready, this task's index |
//! | 26 | `Send` with MessageInfo bit 7 set | `InvalidArgument` |
//! | 27 | `Send` with length 65 | `MessageTooLong` |
//!
//! The two `Send`s come last: nobody receives on `ep`, so a kernel that wrongly accepted
//! them would block the task there (and the scenario would time out).
#![no_std]
#![no_main]
#![deny(unsafe_code)]

use sluice::{
    Badge, Cap, Endpoint, Error, Frame, IrqHandler, Message, Notification, Rights, SystemControl,
    Thread,
    abi::{
        MAX_DEBUG_WRITE, MessageInfo, Syscall,
        invocation::{FrameOp, ThreadState},
        layout::USER_MAP_END,
    },
    cap_copy, cap_delete, cap_mint,
    sys::{self, TrapArgs},
    testing::Checks,
};

sluice::main!(main);

/// A kernel address (upper half).
const KERNEL_ADDRESS: u64 = 0xffff_0000_0000_0000;
/// An address in the task area that nothing maps.
const UNMAPPED: u64 = 0x0dea_d000;
/// A free, page-aligned address in the task area.
const MAP_AT: u64 = 0x5000_0000;

fn main() {
    let ep = sluice::require_cap::<Endpoint>("ep");
    let note = sluice::require_cap::<Notification>("note");
    let buf = sluice::require_cap::<Frame>("buf");
    let this = sluice::require_cap::<Thread>("self");
    let power = sluice::require_cap::<SystemControl>("power");
    let mut checks = Checks::new();
    let free = sluice::first_free_slot();
    let empty = Cap::<Notification>::from_raw(0);

    checks.expect_err(
        "signal on a slot out of range",
        Cap::<Notification>::from_raw(u32::MAX).signal(),
        Error::InvalidSlot,
    );
    checks.expect_err(
        "copy to a slot out of range",
        cap_copy(&note, u32::MAX),
        Error::InvalidSlot,
    );
    checks.expect_err("signal on an empty slot", empty.signal(), Error::EmptySlot);
    checks.expect_err("delete an empty slot", cap_delete(empty), Error::EmptySlot);
    checks.expect_err(
        "signal on an endpoint",
        ep.cast::<Notification>().signal(),
        Error::WrongObjectType,
    );
    checks.expect_err(
        "poll on an endpoint",
        ep.cast::<Notification>().poll(),
        Error::WrongObjectType,
    );
    checks.expect_err(
        "IRQ ack on a notification",
        note.cast::<IrqHandler>().ack(),
        Error::WrongObjectType,
    );

    let size_info = MessageInfo::new(FrameOp::Size as u32, 0).to_raw();
    for (what, info) in [
        ("invoke with MessageInfo bit 7 set", size_info | 1 << 7),
        ("invoke with MessageInfo bit 20 set", size_info | 1 << 20),
        (
            "invoke with two capabilities in the MessageInfo",
            size_info | 2 << 8,
        ),
    ] {
        checks.expect_err(what, raw_invoke(buf.slot(), info), Error::InvalidArgument);
    }
    checks.expect_err(
        "invoke with an unknown label",
        raw_invoke(buf.slot(), MessageInfo::new(0x99, 0).to_raw()),
        Error::InvalidSyscall,
    );

    checks.expect_err(
        "debug write from a kernel address",
        raw_debug_write(KERNEL_ADDRESS, 8),
        Error::InvalidAddress,
    );
    checks.expect_err(
        "debug write from an unmapped user address",
        raw_debug_write(UNMAPPED, 8),
        Error::InvalidAddress,
    );
    let long = [b'.'; MAX_DEBUG_WRITE + 1];
    checks.expect_err(
        "debug write longer than MAX_DEBUG_WRITE",
        sys::debug_write_once(&long),
        Error::MessageTooLong,
    );
    checks.expect_err(
        "reply with no caller waiting",
        sluice::reply(&Message::new(0)),
        Error::InvalidState,
    );

    checks.expect_err(
        "map a frame at a misaligned address",
        buf.map(MAP_AT + 8, true),
        Error::InvalidArgument,
    );
    checks.expect_err(
        "map a frame at the end of the task area",
        buf.map(USER_MAP_END, true),
        Error::InvalidAddress,
    );
    checks.expect_err(
        "map a frame at a kernel address",
        buf.map(KERNEL_ADDRESS, true),
        Error::InvalidAddress,
    );
    let size = buf.map(MAP_AT, true).and_then(|()| {
        let size = buf.size();
        buf.unmap().and(size)
    });
    checks.expect_eq("map, size and unmap a frame (control)", size, Ok(4096));

    checks.expect_err(
        "copy into an occupied slot",
        cap_copy(&note, ep.slot()),
        Error::SlotOccupied,
    );
    checks.expect_err(
        "mint with an unknown rights bit",
        cap_mint(&note, free, Rights::from_bits_retain(0x80), None),
        Error::InvalidArgument,
    );
    checks.expect_err(
        "mint a badge onto a thread capability",
        cap_mint(&this, free, Rights::NONE, Some(Badge::new(3))),
        Error::InvalidArgument,
    );
    checks.expect_err(
        "mint a badge onto a frame capability",
        cap_mint(&buf, free, Rights::READ, Some(Badge::new(3))),
        Error::InvalidArgument,
    );
    checks.expect_err(
        "resume a thread that is not suspended",
        this.resume(),
        Error::InvalidState,
    );
    checks.expect_eq(
        "status of this thread (control)",
        this.status().map(|s| (s.state(), s.task_index)),
        Ok((Some(ThreadState::Ready), sluice::task_index())),
    );

    checks.expect_err(
        "send with MessageInfo bit 7 set",
        raw_send(ep.slot(), 1 << 7),
        Error::InvalidArgument,
    );
    checks.expect_err(
        "send with length 65",
        raw_send(ep.slot(), 65),
        Error::MessageTooLong,
    );

    checks.finish(&power);
}

/// `Invoke` on `slot` with a raw MessageInfo word and no arguments.
fn raw_invoke(slot: u32, info: u64) -> Result<(), Error> {
    sys::syscall(
        Syscall::Invoke,
        TrapArgs {
            x0: u64::from(slot),
            x1: info,
            ..TrapArgs::default()
        },
    )
    .result()
}

/// `DebugWrite` of `len` bytes at `address`.
fn raw_debug_write(address: u64, len: u64) -> Result<(), Error> {
    sys::syscall(
        Syscall::DebugWrite,
        TrapArgs {
            x0: address,
            x1: len,
            ..TrapArgs::default()
        },
    )
    .result()
}

/// `Send` on `slot` with a raw MessageInfo word.
fn raw_send(slot: u32, info: u64) -> Result<(), Error> {
    sys::syscall(
        Syscall::Send,
        TrapArgs {
            x0: u64::from(slot),
            x1: info,
            ..TrapArgs::default()
        },
    )
    .result()
}
