//! Notification test (image `test-notify`): badges are OR-ed into the word, `Wait`
//! returns and clears it, `Poll` never blocks, an unbadged capability signals 1, and
//! revoking the original deletes the minted capabilities.
//!
//! The task holds one unbadged read-write capability (`note`) and mints write-only
//! capabilities with badges 1, 2 and 4 from it. Checks, in order (12):
//! - 1: `Poll` on the fresh notification returns 0.
//! - 2-4: Minting write-only capabilities with badges 1, 2, 4 succeeds.
//! - 5: Signalling through each of them succeeds.
//! - 6: One `Wait` returns 7 (1 | 2 | 4).
//! - 7: `Poll` right after returns 0 (the `Wait` cleared the word).
//! - 8: A signal through the unbadged capability delivers 1.
//! - 9: Signalling badge 2 twice delivers 2 (OR, not a count).
//! - 10: `Poll` returns a pending word (4) and clears it (the next `Poll` returns 0).
//! - 11: `CapRevoke` on `note` deletes exactly the three minted capabilities.
//! - 12: A revoked capability's slot is empty (`Signal` returns `EmptySlot`).
#![no_std]
#![no_main]
#![deny(unsafe_code)]

use sluice::{
    Badge, Cap, Error, Notification, Rights, SystemControl, cap_mint, cap_revoke, testing::Checks,
};

sluice::main!(main);

fn main() {
    let note = sluice::require_cap::<Notification>("note");
    let power = sluice::require_cap::<SystemControl>("power");
    let mut checks = Checks::new();

    checks.expect_eq("poll on a fresh notification returns 0", note.poll(), Ok(0));

    let first = sluice::first_free_slot();
    let mut badged = [Cap::<Notification>::from_raw(0); 3];
    for (i, badge) in [1u64, 2, 4].into_iter().enumerate() {
        // Lossless: i < 3.
        let slot = first + i as u32;
        let minted = cap_mint(&note, slot, Rights::WRITE, Some(Badge::new(badge)));
        checks.expect_ok(
            format_args!("mint a write-only capability with badge {badge}"),
            minted,
        );
        badged[i] = Cap::from_raw(slot);
    }
    let signalled = badged.iter().try_for_each(Cap::<Notification>::signal);
    checks.expect_ok(
        "signal through the capabilities badged 1, 2 and 4",
        signalled,
    );
    let word = signalled.and_then(|()| note.wait());
    checks.expect_eq("one wait returns the OR of the badges", word, Ok(7));
    checks.expect_eq(
        "poll after the wait returns 0 (wait cleared the word)",
        note.poll(),
        Ok(0),
    );

    let word = note.signal().and_then(|()| note.wait());
    checks.expect_eq("an unbadged capability signals 1", word, Ok(1));

    let word = badged[1]
        .signal()
        .and_then(|()| badged[1].signal())
        .and_then(|()| note.wait());
    checks.expect_eq(
        "a badge signalled twice is delivered once (OR)",
        word,
        Ok(2),
    );

    let words = badged[2]
        .signal()
        .and_then(|()| Ok((note.poll()?, note.poll()?)));
    checks.expect_eq(
        "poll returns the pending word and clears it",
        words,
        Ok((4, 0)),
    );

    checks.expect_eq(
        "revoke deletes the three minted capabilities",
        cap_revoke(&note),
        Ok(3),
    );
    checks.expect_err(
        "a revoked capability's slot is empty",
        badged[0].signal(),
        Error::EmptySlot,
    );

    checks.finish(&power);
}
