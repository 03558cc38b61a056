//! IPC test, server side (see `test-ipc-client` for the checks and `images/test-ipc.toml`).
//!
//! Runs at a higher priority than its client, in its own address space, and serves one
//! endpoint (capability `requests`, READ) with a `ReplyRecv` loop. The protocol:
//!
//! | label | sent with | reply |
//! |---|---|---|
//! | `ECHO` | `Call` | the same label and words |
//! | `BADGE` | `Call` | `w0` = the badge the message arrived with |
//! | `SIGNAL_CAP` | `Call`, carrying a notification capability | signals it, deletes it; `w0` = status of the signal (0 or an error code), `w1` = 1 if a capability arrived |
//! | `STORE` | `Send` (no reply) | none; keeps `w0` |
//! | `FETCH` | `Call` | `w0` = the word last stored |
//!
//! Problems are printed as `FAIL: server: ...` lines, which the scenario forbids.
#![no_std]
#![no_main]
#![deny(unsafe_code)]

use sluice::{Cap, Endpoint, Message, Notification, cap_delete, ipc_buffer, println};

sluice::main!(main);

const ECHO: u32 = 0x100;
const BADGE: u32 = 0x101;
const SIGNAL_CAP: u32 = 0x102;
const STORE: u32 = 0x103;
const FETCH: u32 = 0x104;
/// Reply label for a request the server does not know.
const UNKNOWN: u32 = 0xbad;

fn main() -> ! {
    let requests = sluice::require_cap::<Endpoint>("requests");
    // Transferred capabilities land in the first slot the manifest left empty.
    let receive_slot = sluice::first_free_slot();
    ipc_buffer().set_receive_slot(Some(receive_slot));

    let mut stored = 0;
    let mut reply: Option<Message> = None;
    let mut errors = 0;
    loop {
        let received = match reply.take() {
            Some(reply) => requests.reply_recv(&reply),
            None => requests.recv(),
        };
        let (request, badge) = match received {
            Ok(received) => {
                errors = 0;
                received
            }
            Err(error) => {
                println!("FAIL: server: receiving: {}", error.name());
                errors += 1;
                assert!(errors < 3, "the server cannot receive");
                continue;
            }
        };
        reply = match request.label() {
            ECHO => Message::with_words(ECHO, request.words()).ok(),
            BADGE => Message::with_words(BADGE, &[badge.get()]).ok(),
            SIGNAL_CAP => Message::with_words(SIGNAL_CAP, &signal_transferred(&request)).ok(),
            STORE => {
                stored = request.word(0);
                // Sent, not called: nobody waits for a reply.
                None
            }
            FETCH => Message::with_words(FETCH, &[stored]).ok(),
            other => {
                println!("FAIL: server: unknown request label {other:#x}");
                Some(Message::new(UNKNOWN))
            }
        };
    }
}

/// Signals the notification capability `request` carried and deletes it (so the receive
/// slot is empty for the next one); returns the reply words.
fn signal_transferred(request: &Message) -> [u64; 2] {
    let Some(slot) = request.cap_slot() else {
        println!("FAIL: server: the SIGNAL_CAP request carried no capability");
        return [0, 0];
    };
    let notification = Cap::<Notification>::from_raw(slot);
    let status = match notification.signal() {
        Ok(()) => 0,
        Err(error) => u64::from(error.code()),
    };
    if let Err(error) = cap_delete(notification) {
        println!(
            "FAIL: server: deleting the received capability: {}",
            error.name()
        );
    }
    [status, 1]
}
