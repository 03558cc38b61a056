//! Rights test (image `test-rights`): every operation is refused without the right it
//! needs, a derivation never amplifies rights, and a badge is set once.
//!
//! Capabilities (from the manifest): `ep-write` (endpoint, WRITE only), `note-read`
//! (notification, READ only), `note-rw` (the same notification, READ|WRITE, unbadged),
//! `note-badged` (the same notification, READ|WRITE, badge 5), `frame-ro` (a shared
//! frame, READ only), `power`. Checks, in order (14):
//! - 1: `Recv` on the write-only endpoint capability: `InsufficientRights`.
//! - 2: `Signal` on the read-only notification capability: `InsufficientRights`.
//! - 3: Minting a write-only capability from `note-rw` succeeds.
//! - 4: `Poll` on that write-only capability: `InsufficientRights`.
//! - 5: Minting READ|WRITE from the read-only capability: `InsufficientRights` (no silent
//!   masking).
//! - 6: Minting READ|WRITE from the minted write-only capability: `InsufficientRights`.
//! - 7: Minting a badge onto `note-badged`: `BadgeAlreadySet`.
//! - 8: A capability minted from `note-badged` without a badge keeps badge 5 (signal
//!   through it, `Poll` through `note-read` returns 5).
//! - 9: A copy of `note-badged` keeps badge 5 as well.
//! - 10: Minting from `note-badged` with no rights at all succeeds, and 11. `Signal`
//!   through it: `InsufficientRights`.
//! - 12: Mapping the read-only frame writable: `InsufficientRights`.
//! - 13: Mapping it read-only then unmapping it succeeds.
//! - 14: `Send` carrying a capability through an endpoint capability without GRANT:
//!   `InsufficientRights` (last: a kernel that wrongly accepted it would block here).
#![no_std]
#![no_main]
#![deny(unsafe_code)]

use sluice::{
    Badge, Endpoint, Error, Frame, Message, Notification, Rights, SystemControl, cap_copy,
    cap_mint, testing::Checks,
};

sluice::main!(main);

/// Where the frame is mapped (page aligned, free, in the task area).
const MAP_AT: u64 = 0x5000_0000;

fn main() {
    let ep_write = sluice::require_cap::<Endpoint>("ep-write");
    let note_read = sluice::require_cap::<Notification>("note-read");
    let note_rw = sluice::require_cap::<Notification>("note-rw");
    let note_badged = sluice::require_cap::<Notification>("note-badged");
    let frame_ro = sluice::require_cap::<Frame>("frame-ro");
    let power = sluice::require_cap::<SystemControl>("power");
    let mut checks = Checks::new();
    let free = sluice::first_free_slot();

    checks.expect_err(
        "recv on a write-only endpoint capability",
        ep_write.recv().map(|_| ()),
        Error::InsufficientRights,
    );
    checks.expect_err(
        "signal on a read-only notification capability",
        note_read.signal(),
        Error::InsufficientRights,
    );
    let write_only = cap_mint(&note_rw, free, Rights::WRITE, None);
    checks.expect_ok(
        "mint a write-only capability from a read-write one",
        write_only,
    );
    checks.expect_err(
        "poll on a write-only notification capability",
        write_only.and_then(|cap| cap.poll()),
        Error::InsufficientRights,
    );
    checks.expect_err(
        "mint read-write from a read-only capability",
        cap_mint(&note_read, free + 1, Rights::READ_WRITE, None),
        Error::InsufficientRights,
    );
    checks.expect_err(
        "mint read-write from a minted write-only capability",
        write_only.and_then(|cap| cap_mint(&cap, free + 1, Rights::READ_WRITE, None)),
        Error::InsufficientRights,
    );
    checks.expect_err(
        "mint a badge onto a badged capability",
        cap_mint(&note_badged, free + 1, Rights::WRITE, Some(Badge::new(9))),
        Error::BadgeAlreadySet,
    );
    let word = cap_mint(&note_badged, free + 1, Rights::WRITE, None)
        .and_then(|cap| cap.signal())
        .and_then(|()| note_read.poll());
    checks.expect_eq(
        "a capability minted from a badged one keeps its badge",
        word,
        Ok(5),
    );
    let word = cap_copy(&note_badged, free + 2)
        .and_then(|cap| cap.signal())
        .and_then(|()| note_read.poll());
    checks.expect_eq("a copy keeps the badge", word, Ok(5));
    let no_rights = cap_mint(&note_badged, free + 3, Rights::NONE, None);
    checks.expect_ok("mint a capability with no rights", no_rights);
    checks.expect_err(
        "signal through a capability with no rights",
        no_rights.and_then(|cap| cap.signal()),
        Error::InsufficientRights,
    );

    checks.expect_err(
        "map a read-only frame capability writable",
        frame_ro.map(MAP_AT, true),
        Error::InsufficientRights,
    );
    checks.expect_ok(
        "map a read-only frame capability read-only, then unmap it",
        frame_ro.map(MAP_AT, false).and_then(|()| frame_ro.unmap()),
    );

    let carrying = Message::new(1).with_cap(&note_read);
    checks.expect_err(
        "send a capability through an endpoint capability without GRANT",
        ep_write.send(&carrying),
        Error::InsufficientRights,
    );

    checks.finish(&power);
}
