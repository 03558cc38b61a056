//! Hands the task linker script (`task.ld`) to the task crates.
//!
//! A build script's link arguments only apply to its own package, so the script travels
//! through the `links` mechanism instead: sluice declares `links = "sluice"` and prints
//! `linker-script` metadata, which cargo passes to the build script of every crate that
//! depends on sluice directly as `DEP_SLUICE_LINKER_SCRIPT`. A task's build script then
//! prints `cargo:rustc-link-arg-bins=-T$DEP_SLUICE_LINKER_SCRIPT`.
fn main() {
    let dir = std::env::var("CARGO_MANIFEST_DIR").expect("cargo sets CARGO_MANIFEST_DIR");
    println!("cargo::metadata=linker-script={dir}/task.ld");
    println!("cargo::rerun-if-changed=task.ld");
    println!("cargo::rerun-if-changed=build.rs");
}
