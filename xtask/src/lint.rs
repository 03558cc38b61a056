//! `cargo xtask lint`: rustfmt, and clippy with `-D warnings` on every crate for the target
//! it runs on (host crates for the host, the kernel and the task programs for bare metal,
//! and the pure `no_std` crates for bare metal too, so a stray `std` dependency cannot
//! slip in).

use crate::image::{KERNEL_TARGET, cargo};
use anyhow::{Context, Result};

/// The pure logic crates, built for the host (tests) and for the bare-metal target.
pub const NO_STD_CRATES: &[&str] = &[
    "kernel-abi",
    "boot-info",
    "cspace",
    "paging",
    "sched",
    "pipeline",
    "irq-protocol",
    "deadline-queue",
    "timer-protocol",
    "latency-stats",
];

/// The task-side libraries (they link sluice), linted with the task programs.
const TASK_LIBRARIES: &[&str] = &[
    "sluice",
    "irq-server",
    "irq-client",
    "timer-server",
    "timer-client",
];

fn step(description: &str, args: &[&str]) -> Result<bool> {
    println!("lint: {description}");
    let status = cargo()
        .current_dir(crate::workspace_root())
        .args(args)
        .status()
        .with_context(|| format!("running cargo {}", args.join(" ")))?;
    if !status.success() {
        println!("lint: FAILED: cargo {}", args.join(" "));
    }
    Ok(status.success())
}

/// Runs every lint; `Ok(false)` if any failed.
pub fn run() -> Result<bool> {
    let mut ok = step("rustfmt", &["fmt", "--all", "--", "--check"])?;
    ok &= step(
        "clippy, host crates",
        &["clippy", "--quiet", "--all-targets", "--", "-D", "warnings"],
    )?;
    let mut bare_metal = vec!["clippy", "--quiet", "--target", "aarch64-unknown-none"];
    for name in NO_STD_CRATES {
        bare_metal.extend(["-p", name]);
    }
    bare_metal.extend(["--", "-D", "warnings"]);
    ok &= step(
        "clippy, no_std crates for aarch64-unknown-none",
        &bare_metal,
    )?;
    for features in ["", "selftests"] {
        let mut args = vec![
            "clippy",
            "--quiet",
            "-p",
            "kernel",
            "--target",
            KERNEL_TARGET,
        ];
        if !features.is_empty() {
            args.extend(["--features", features]);
        }
        args.extend(["--", "-D", "warnings"]);
        ok &= step(
            &format!("clippy, kernel for {KERNEL_TARGET} [{features}]"),
            &args,
        )?;
    }
    // Task programs and the library they share, for the target they run on.
    let tasks = crate::programs::task_packages(&crate::workspace_root())?;
    let mut args = vec!["clippy", "--quiet", "--target", KERNEL_TARGET];
    for library in TASK_LIBRARIES {
        args.extend(["-p", library]);
    }
    for task in &tasks {
        args.extend(["-p", task.as_str()]);
    }
    args.extend(["--", "-D", "warnings"]);
    let what = format!(
        "clippy, {} task programs and their libraries for {KERNEL_TARGET}",
        tasks.len()
    );
    ok &= step(&what, &args)?;
    Ok(ok)
}
