//! `layout::name_str`, the one function of the layout module (its file holds the layout
//! definitions, so its test lives here).

use kernel_abi::layout::{NAME_LEN, name_str};

fn padded(text: &[u8]) -> [u8; NAME_LEN] {
    let mut name = [0; NAME_LEN];
    name[..text.len()].copy_from_slice(text);
    name
}

#[test]
fn name_str_trims_at_the_first_nul() {
    assert_eq!(name_str(&padded(b"irq-server")), "irq-server");
    assert_eq!(name_str(&padded(b"")), "");
    // Bytes after the first NUL are not part of the name.
    assert_eq!(name_str(&padded(b"ab\0cd")), "ab");
}

#[test]
fn name_str_takes_a_full_name_and_refuses_bad_utf8() {
    let full = [b'x'; NAME_LEN];
    assert_eq!(name_str(&full), "x".repeat(NAME_LEN));
    assert_eq!(name_str(&padded(b"ok\xff")), "");
}
