//! `cargo xtask mutants`: mutation testing of the pure crates with `cargo-mutants`, to
//! show that their tests can fail: every mutant (a deliberate small bug: a condition
//! negated, an operator swapped, a function body replaced) should make some test fail.
//!
//! For each crate, one pass of its own tests (unit, property and edge tests) against every
//! mutant; for `pipeline` and `cspace`, a second pass runs the mutants that survived the
//! first against the model checks of `tests/invariants` (`--iterate`: the caught ones are
//! not re-run). The model checks take a minute or more per mutant, too slow for every
//! mutant; the first pass catches most. `--own-tests-only` skips the second pass.
//!
//! Results: `target/mutants/CRATE/mutants.out/` (cargo-mutants' own files: `caught.txt`,
//! `missed.txt`, `outcomes.json`, logs), and a table with the kill rate: caught (or timed
//! out) over viable mutants (unviable mutants, which do not build, say nothing about the
//! tests). The latest result is recorded in `tests/INVARIANTS.md`.

use crate::{image::cargo, workspace_root};
use anyhow::{Context, Result, bail};
use std::{
    collections::BTreeSet,
    path::Path,
    process::Command,
    time::{Duration, Instant},
};

/// The pure crates (package names), most important first.
pub const PURE_CRATES: &[&str] = &[
    "pipeline",
    "cspace",
    "sched",
    "deadline-queue",
    "paging",
    "irq-protocol",
    "kernel-abi",
];

/// Crates whose survivors meet the model checks too.
const MODEL_CHECKED: &[&str] = &["pipeline", "cspace"];

/// What a pass runs: the crate's own tests, or the model checks of `tests/invariants`.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Tests {
    Own,
    Invariants,
}

/// The kill rate the issue asks for.
const GOAL_PERCENT: f64 = 90.0;

/// Installs cargo-mutants with `cargo install --locked` unless `cargo mutants` works.
fn ensure_installed() -> Result<()> {
    let found = cargo()
        .args(["mutants", "--version"])
        .output()
        .is_ok_and(|o| o.status.success());
    if found {
        return Ok(());
    }
    println!("mutants: cargo-mutants is missing; cargo install --locked cargo-mutants");
    let status = cargo()
        .args(["install", "--locked", "cargo-mutants"])
        .status()
        .context("running cargo install")?;
    if !status.success() {
        bail!("cargo install --locked cargo-mutants failed");
    }
    Ok(())
}

/// One pass of cargo-mutants over `package`, running `tests`.
fn pass(
    root: &Path,
    package: &str,
    tests: Tests,
    out: &Path,
    jobs: usize,
    extra: &[String],
) -> Result<()> {
    std::fs::create_dir_all(out).with_context(|| format!("creating {}", out.display()))?;
    let mut command: Command = cargo();
    command.current_dir(root).args([
        "mutants",
        "--package",
        package,
        "--jobs",
        &jobs.to_string(),
        "--no-shuffle",
        "--colors",
        "never",
        // Unit and integration tests; no doc tests (they build slowly and test nothing
        // the others do not).
        "--cargo-test-arg=--tests",
        // A loaded machine runs a healthy test slower than the baseline did.
        "--minimum-test-timeout",
        "60",
    ]);
    let what = match tests {
        Tests::Own => format!("{package}'s own tests, every mutant"),
        Tests::Invariants => "the model checks of tests/invariants, survivors".to_string(),
    };
    if tests != Tests::Own {
        // The model checks take about a minute, more on a loaded machine; cargo-mutants
        // would set the time limit from the crate's own (seconds-long) tests and call a
        // healthy run a timeout.
        command.args([
            "--test-package",
            "invariants",
            "--iterate",
            "--timeout",
            "600",
        ]);
    }
    command.arg("--output").arg(out).args(extra);
    // The model checks run with their CI bounds whatever the caller's environment says.
    command
        .env_remove("INVARIANTS_DEEP")
        .env_remove("INVARIANTS_PIPELINE_BOUNDS")
        .env_remove("INVARIANTS_CSPACE_BOUNDS")
        .env_remove("PROPTEST_CASES");
    println!("mutants: {package}: {what}");
    // cargo-mutants exits non-zero when a mutant is missed; the files say what happened.
    let status = command.status().context("running cargo mutants")?;
    if !out.join("mutants.out/outcomes.json").exists() {
        bail!("cargo mutants for {package} did not run ({status})");
    }
    Ok(())
}

/// The mutants named in one of cargo-mutants' list files.
fn listed(dir: &Path, file: &str) -> BTreeSet<String> {
    std::fs::read_to_string(dir.join(file))
        .map(|text| {
            text.lines()
                .filter(|l| !l.trim().is_empty())
                .map(str::to_string)
                .collect()
        })
        .unwrap_or_default()
}

/// The outcome of both passes over one crate.
struct Summary {
    package: String,
    caught: usize,
    timeout: usize,
    missed: BTreeSet<String>,
    unviable: usize,
}

impl Summary {
    fn read(package: &str, out: &Path) -> Summary {
        let now = out.join("mutants.out");
        let old = out.join("mutants.out.old");
        // With --iterate, the mutants caught before are in previously_caught.txt, and the
        // unviable ones stay in the old directory (they were not re-run).
        let mut caught = listed(&now, "caught.txt");
        caught.extend(listed(&now, "previously_caught.txt"));
        let mut unviable = listed(&now, "unviable.txt");
        if now.join("previously_caught.txt").exists() {
            unviable.extend(listed(&old, "unviable.txt"));
        }
        let timeout = listed(&now, "timeout.txt");
        let missed = listed(&now, "missed.txt");
        Summary {
            package: package.to_string(),
            caught: caught.len(),
            timeout: timeout.len(),
            missed,
            unviable: unviable.len(),
        }
    }

    fn viable(&self) -> usize {
        self.caught + self.timeout + self.missed.len()
    }

    fn killed(&self) -> usize {
        self.caught + self.timeout
    }
}

fn percent(killed: usize, viable: usize) -> f64 {
    if viable == 0 {
        100.0
    } else {
        100.0 * killed as f64 / viable as f64
    }
}

/// Runs cargo-mutants over `packages` (default: every pure crate); returns the exit code:
/// 0 when the kill rate meets the goal, 1 otherwise. With `own_tests_only`, no second pass
/// against the model checks.
pub fn run(
    packages: &[String],
    jobs: usize,
    own_tests_only: bool,
    extra: &[String],
) -> Result<i32> {
    ensure_installed()?;
    let root = workspace_root();
    let selected: Vec<String> = if packages.is_empty() {
        PURE_CRATES.iter().map(|p| p.to_string()).collect()
    } else {
        packages.to_vec()
    };
    let start = Instant::now();
    let mut summaries = Vec::new();
    for package in &selected {
        let out = root.join("target/mutants").join(package);
        pass(&root, package, Tests::Own, &out, jobs, extra)?;
        let first = Summary::read(package, &out);
        if !own_tests_only && !first.missed.is_empty() && MODEL_CHECKED.contains(&package.as_str())
        {
            pass(&root, package, Tests::Invariants, &out, jobs, extra)?;
        }
        summaries.push(Summary::read(package, &out));
    }
    let elapsed = Duration::from_secs(start.elapsed().as_secs());
    println!();
    println!(
        "{:<16} {:>7} {:>7} {:>7} {:>7} {:>8} {:>9}",
        "crate", "viable", "caught", "timeout", "missed", "unviable", "kill rate"
    );
    let (mut killed, mut viable) = (0, 0);
    for s in &summaries {
        println!(
            "{:<16} {:>7} {:>7} {:>7} {:>7} {:>8} {:>8.1}%",
            s.package,
            s.viable(),
            s.caught,
            s.timeout,
            s.missed.len(),
            s.unviable,
            percent(s.killed(), s.viable())
        );
        killed += s.killed();
        viable += s.viable();
    }
    let rate = percent(killed, viable);
    println!(
        "{:<16} {viable:>7} {:>33} {rate:>8.1}%   ({} min)",
        "total",
        "",
        elapsed.as_secs() / 60
    );
    for s in &summaries {
        for mutant in &s.missed {
            println!("missed: {}: {mutant}", s.package);
        }
    }
    println!(
        "mutants: kill rate {rate:.1}% (goal {GOAL_PERCENT}%); details in target/mutants/CRATE/mutants.out/"
    );
    Ok(if rate >= GOAL_PERCENT { 0 } else { 1 })
}
