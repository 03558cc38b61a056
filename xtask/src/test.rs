//! `cargo xtask test`: lints, the manifest check, every host test (unit tests, property
//! tests, the model checks of `tests/invariants`), the loom test of the stall page, and
//! every QEMU scenario on every board it supports, then one summary line
//! `N passed, N failed`.
//!
//! `--deep` runs the same with more: `PROPTEST_CASES` for every property test and
//! `INVARIANTS_DEEP=1` for larger model-checking bounds (see `tests/INVARIANTS.md`).

use crate::{boards, image, lint, manifest, qemu, scenarios, workspace_root};
use anyhow::{Context, Result};
use std::{
    collections::BTreeMap,
    io::BufRead,
    process::{Command, Stdio},
    time::{Duration, Instant},
};

/// Property-test cases per test with `--deep` (the tests' own defaults are 256 to 768).
const DEEP_PROPTEST_CASES: &str = "4096";

#[derive(Default)]
struct Tally {
    passed: u64,
    failed: u64,
    failures: Vec<String>,
}

impl Tally {
    fn record(&mut self, name: &str, ok: bool) {
        if ok {
            self.passed += 1;
        } else {
            self.failed += 1;
            self.failures.push(name.to_string());
        }
    }
}

/// Runs everything; returns the process exit code.
pub fn run(filter: Option<&str>, scenarios_only: bool, deep: bool) -> Result<i32> {
    let mut tally = Tally::default();
    if !scenarios_only {
        let lint_ok = lint::run()?;
        tally.record("lint", lint_ok);
        println!("manifest-check: every image manifest");
        let manifests_ok = manifest::check_all(&workspace_root(), None)?;
        tally.record("manifest-check", manifests_ok);
        host_tests(&mut tally, deep)?;
        loom_tests(&mut tally)?;
    }
    qemu::ensure_installed()?;
    run_scenarios(filter, &mut tally)?;
    println!();
    if !tally.failures.is_empty() {
        println!("failed: {}", tally.failures.join(", "));
    }
    println!(
        "xtask test: {} passed, {} failed",
        tally.passed, tally.failed
    );
    Ok(if tally.failed == 0 { 0 } else { 1 })
}

/// `cargo test` over the host crates (the workspace's default members, `tests/invariants`
/// included); each libtest test counts once in the summary.
fn host_tests(tally: &mut Tally, deep: bool) -> Result<()> {
    let mut command = image::cargo();
    command
        .current_dir(workspace_root())
        .args(["test", "--quiet"]);
    if deep {
        println!(
            "host tests: cargo test (deep: PROPTEST_CASES={DEEP_PROPTEST_CASES}, INVARIANTS_DEEP=1)"
        );
        command
            .env("PROPTEST_CASES", DEEP_PROPTEST_CASES)
            .env("INVARIANTS_DEEP", "1");
    } else {
        println!("host tests: cargo test");
        command.env_remove("INVARIANTS_DEEP");
    }
    libtest(command, "host tests", tally)
}

/// The loom test of the stall page protocol (`irq-server/pipeline/tests/loom_stall_page.rs`):
/// built with `--cfg loom` in its own target directory (`target/loom`, so it does not
/// rebuild the host tests' dependencies), optimized, since loom explores every
/// interleaving. LTO is off for this build only: it would only slow the build down.
fn loom_tests(tally: &mut Tally) -> Result<()> {
    println!("loom: cargo test -p pipeline --test loom_stall_page --release (--cfg loom)");
    let mut command = image::cargo();
    command
        .current_dir(workspace_root())
        .args([
            "test",
            "--quiet",
            "--release",
            "-p",
            "pipeline",
            "--test",
            "loom_stall_page",
        ])
        .env("RUSTFLAGS", "--cfg loom")
        .env("CARGO_TARGET_DIR", workspace_root().join("target/loom"))
        .env("CARGO_PROFILE_RELEASE_LTO", "false")
        .env("CARGO_PROFILE_RELEASE_CODEGEN_UNITS", "16");
    libtest(command, "loom", tally)
}

/// Runs a `cargo test` command, echoing its output, and adds each libtest test to the
/// tally; a run that fails without a failed test (a build error) counts as one failure.
fn libtest(mut command: Command, what: &str, tally: &mut Tally) -> Result<()> {
    let start = Instant::now();
    let mut child = command
        .stdout(Stdio::piped())
        .spawn()
        .with_context(|| format!("running cargo test ({what})"))?;
    let stdout = child.stdout.take().context("cargo test stdout")?;
    let (mut passed, mut failed) = (0, 0);
    for line in std::io::BufReader::new(stdout).lines() {
        let line = line?;
        println!("{line}");
        if let Some(rest) = line.strip_prefix("test result: ") {
            let count = |word: &str| -> u64 {
                rest.split(';')
                    .find_map(|part| {
                        part.trim().strip_suffix(word).map(|n| {
                            n.trim()
                                .trim_start_matches("ok. ")
                                .trim_start_matches("FAILED. ")
                        })
                    })
                    .and_then(|n| n.trim().parse().ok())
                    .unwrap_or(0)
            };
            passed += count(" passed");
            failed += count(" failed");
        }
    }
    let status = child.wait()?;
    println!(
        "{what}: {passed} passed, {failed} failed in {:.0} s",
        start.elapsed().as_secs_f64()
    );
    tally.passed += passed;
    tally.failed += failed;
    if !status.success() && failed == 0 {
        tally.record(&format!("{what} (cargo test did not complete)"), false);
    }
    if failed > 0 {
        tally.failures.push(format!("{failed} {what} test(s)"));
    }
    Ok(())
}

fn run_scenarios(filter: Option<&str>, tally: &mut Tally) -> Result<()> {
    let root = workspace_root();
    let all = scenarios::load_all(&root)?;
    let selected: Vec<_> = all
        .iter()
        .filter(|s| filter.is_none_or(|f| s.name.contains(f)))
        .collect();
    // Build each kernel variant once.
    let mut kernels = BTreeMap::new();
    for scenario in &selected {
        let manifest = manifest::load(&root, &scenario.image)
            .with_context(|| format!("scenario {}", scenario.name))?;
        let mut features = manifest.kernel.features.clone();
        features.extend(scenario.kernel_features.iter().cloned());
        features.sort();
        features.dedup();
        if let std::collections::btree_map::Entry::Vacant(entry) = kernels.entry(features) {
            let elf = image::build_kernel(&root, entry.key())?;
            entry.insert(elf);
        }
    }
    for scenario in selected {
        let mut manifest = manifest::load(&root, &scenario.image)?;
        for (task, args) in &scenario.args {
            manifest
                .set_task_args(task, args)
                .with_context(|| format!("scenario {}", scenario.name))?;
        }
        let mut features = manifest.kernel.features.clone();
        features.extend(scenario.kernel_features.iter().cloned());
        features.sort();
        features.dedup();
        let elf = &kernels[&features];
        let board_names = scenario
            .boards
            .clone()
            .unwrap_or_else(|| manifest.board_names());
        let cmdline = scenario
            .cmdline
            .as_deref()
            .unwrap_or(&manifest.kernel.cmdline);
        for board_name in board_names {
            let name = format!("{} on {board_name}", scenario.name);
            let board = boards::load(&root, &board_name)
                .with_context(|| format!("scenario {}", scenario.name))?;
            let image = image::assemble(&root, elf, &manifest, &board, cmdline)?;
            let options = qemu::Options {
                timeout: Some(Duration::from_secs(scenario.timeout_seconds)),
                capture: true,
                icount: scenario.icount,
                input: scenario
                    .input
                    .clone()
                    .map(|text| (scenario.input_after.clone().unwrap_or_default(), text)),
                ..Default::default()
            };
            let outcome = qemu::boot(&board, &image, &options)?;
            match scenario.judge(&board_name, &outcome) {
                Ok(()) => {
                    println!(
                        "scenario {name} ... ok ({:.1} s)",
                        outcome.elapsed.as_secs_f64()
                    );
                    tally.record(&name, true);
                }
                Err(why) => {
                    println!("scenario {name} ... FAILED: {why}");
                    println!("  (the scenario checks that {})", scenario.description);
                    println!(
                        "---- console of {name} ----\n{}---- end of console ----",
                        outcome.output
                    );
                    tally.record(&name, false);
                }
            }
        }
    }
    Ok(())
}
