//! Declares the `loom` cfg so `RUSTFLAGS="--cfg loom"` builds without an `unexpected_cfgs`
//! warning (the workspace lint table cannot be extended per crate).
fn main() {
    println!("cargo::rustc-check-cfg=cfg(loom)");
}
