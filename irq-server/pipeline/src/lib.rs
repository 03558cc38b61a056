//! The interrupt pipeline's decisions and state: oob/in-band routing, stall, log, replay (pure logic).
#![no_std]
#![forbid(unsafe_code)]
