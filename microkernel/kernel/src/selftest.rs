//! Scenarios only test builds carry (`--features selftests`), chosen with `selftest=NAME` on
//! the command line. Each one ends the system with the status its test expects.

use crate::arch;

/// Runs the named scenario; returns `false` if there is no such scenario.
pub fn run(name: &str) -> bool {
    match name {
        "fault" => {
            crate::println!("selftest: reading unmapped kernel address {:#x}", UNMAPPED);
            let value = arch::read_unmapped_for_test(UNMAPPED);
            crate::println!("selftest: the read returned {value:#x} instead of faulting");
            true
        }
        "panic" => panic!("selftest: deliberate kernel panic"),
        _ => false,
    }
}

/// An upper-half address nothing maps (between the linear map and the kernel image).
const UNMAPPED: u64 = 0xffff_dead_0000_0000;
