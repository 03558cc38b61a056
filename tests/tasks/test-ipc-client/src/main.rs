//! IPC test, client side: drives `test-ipc-server` through a badged endpoint capability
//! and ends the test (image `test-ipc`).
//!
//! Checks, in order (13):
//! - 1-3: `Call` with label and six words, all in registers: the echo has the label, the
//!   length 6 and the words.
//! - 4-6: `Call` with 64 words, 58 of them through the IPC buffer (whose words 0-5 hold
//!   junk, which the kernel must not read): label, length 64 and every word come back.
//! - 7: The server received the badge of the client's capability (7, from the manifest).
//! - 8-9: `Send` (no reply) returns, and the server got its word (fetched by a `Call`).
//! - 10: The client mints a write-only capability with badge `0x5a` to its notification.
//! - 11-12: A `Call` carrying that capability (the endpoint capability has GRANT): the
//!   capability arrived in the server's receive slot and the server's `Signal` on it
//!   succeeded.
//! - 13: The client's `Wait` on the notification returns the minted badge `0x5a`.
#![no_std]
#![no_main]
#![deny(unsafe_code)]

use sluice::{
    Badge, Endpoint, Error, Message, Notification, Rights, SystemControl, cap_mint, ipc_buffer,
    testing::Checks,
};

sluice::main!(main);

const ECHO: u32 = 0x100;
const BADGE: u32 = 0x101;
const SIGNAL_CAP: u32 = 0x102;
const STORE: u32 = 0x103;
const FETCH: u32 = 0x104;

/// The badge the manifest gives the client's endpoint capability.
const CLIENT_BADGE: u64 = 7;
/// The badge of the notification capability sent to the server.
const NOTE_BADGE: u64 = 0x5a;

fn main() {
    let server = sluice::require_cap::<Endpoint>("server");
    let note = sluice::require_cap::<Notification>("note");
    let power = sluice::require_cap::<SystemControl>("power");
    let mut checks = Checks::new();

    let short: [u64; 6] = core::array::from_fn(|i| 0x1111_0000_0000_0000 | i as u64);
    let reply = Message::with_words(ECHO, &short).and_then(|m| server.call(&m));
    check_echo(
        &mut checks,
        "call with 6 words in registers",
        &reply,
        &short,
    );

    let long: [u64; 64] =
        core::array::from_fn(|i| 0x6400_0000_0000_0000 | (i as u64) << 8 | i as u64);
    for index in 0..6 {
        ipc_buffer().set_word(index, 0xdead_beef);
    }
    let reply = Message::with_words(ECHO, &long).and_then(|m| server.call(&m));
    check_echo(
        &mut checks,
        "call with 64 words through the IPC buffer",
        &reply,
        &long,
    );

    let reply = server.call(&Message::new(BADGE));
    checks.expect_eq(
        "the server received the client's badge",
        reply.map(|r| r.word(0)),
        Ok(CLIENT_BADGE),
    );

    let sent = Message::with_words(STORE, &[0x5e17]).and_then(|m| server.send(&m));
    checks.expect_ok("send without a reply returns", sent);
    let reply = server.call(&Message::new(FETCH));
    checks.expect_eq(
        "the server received the sent word",
        reply.map(|r| r.word(0)),
        Ok(0x5e17),
    );

    let slot = sluice::first_free_slot();
    let minted = cap_mint(&note, slot, Rights::WRITE, Some(Badge::new(NOTE_BADGE)));
    let minted = checks.expect_ok("mint a badged write-only notification capability", minted);
    let reply = match minted {
        Some(minted) => server.call(&Message::new(SIGNAL_CAP).with_cap(&minted)),
        None => Err(Error::EmptySlot),
    };
    let reply_words = reply.map(|r| [r.word(0), r.word(1)]);
    checks.expect_eq(
        "a capability sent with a call arrives in the server's receive slot",
        reply_words.map(|w| w[1]),
        Ok(1),
    );
    checks.expect_eq(
        "the server signals the transferred capability (status 0)",
        reply_words.map(|w| w[0]),
        Ok(0),
    );
    // Only wait if the signal went out; otherwise the wait would block for ever.
    let word = match reply_words {
        Ok([0, 1]) => note.wait(),
        _ => Ok(0),
    };
    checks.expect_eq(
        "wait returns the badge of the transferred capability",
        word,
        Ok(NOTE_BADGE),
    );

    checks.finish(&power);
}

/// Three checks on an echo: label, length, words.
fn check_echo(checks: &mut Checks, what: &str, reply: &Result<Message, Error>, sent: &[u64]) {
    let (label, len, words) = match reply {
        Ok(reply) => (
            Ok(reply.label()),
            Ok(reply.len()),
            Ok(reply.words() == sent),
        ),
        Err(error) => (Err(*error), Err(*error), Err(*error)),
    };
    checks.expect_eq(format_args!("{what}: reply label"), label, Ok(ECHO));
    checks.expect_eq(format_args!("{what}: reply length"), len, Ok(sent.len()));
    checks.expect_eq(format_args!("{what}: reply words"), words, Ok(true));
}
