//! Links the task with sluice's task linker script (`microkernel/user/task.ld`), which
//! sluice hands over through cargo's `links` mechanism as `DEP_SLUICE_LINKER_SCRIPT`.
fn main() {
    let script = std::env::var("DEP_SLUICE_LINKER_SCRIPT")
        .expect("sluice (links = \"sluice\") passes its linker script to its dependents");
    println!("cargo::rustc-link-arg-bins=-T{script}");
    println!("cargo::rerun-if-env-changed=DEP_SLUICE_LINKER_SCRIPT");
}
