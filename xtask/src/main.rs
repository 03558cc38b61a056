//! `cargo xtask`: builds images, boots them under QEMU, runs every test, and benchmarks.
//!
//! The conventions it relies on are written down where they are defined: board files in
//! `images/boards/`, image manifests in `images/`, scenarios in `tests/scenarios/`.

mod bench;
mod boards;
mod image;
mod lint;
mod manifest;
mod mutants;
mod payload;
mod programs;
mod qemu;
mod scenarios;
mod system;
mod test;

use anyhow::Result;
use clap::{Parser, Subcommand};
use std::path::PathBuf;

#[derive(Parser)]
#[command(
    name = "cargo xtask",
    about = "Build, boot, test and benchmark the sluice microkernel"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Build a bootable image (kernel + payload) for a board.
    Build(Target),
    /// Build an image and boot it under QEMU (exits with the guest's status).
    Run {
        #[command(flatten)]
        target: Target,
        /// Wait for gdb-multiarch on localhost:1234 before the first instruction.
        #[arg(long)]
        gdb: bool,
        /// Stop QEMU after this many seconds (0: never).
        #[arg(long, default_value_t = 120)]
        timeout: u64,
        /// Guest time follows the host's clock even for an image that asks for
        /// deterministic time (`deterministic-time = true`: `-icount shift=0,sleep=off`).
        #[arg(long)]
        realtime: bool,
    },
    /// Run lints, host tests and every QEMU scenario on every board it supports.
    Test {
        /// Only scenarios whose name contains this.
        #[arg(long)]
        filter: Option<String>,
        /// Skip lints and host tests (QEMU scenarios only).
        #[arg(long)]
        scenarios_only: bool,
        /// Longer runs: more property-test cases (PROPTEST_CASES) and larger
        /// model-checking bounds (INVARIANTS_DEEP=1).
        #[arg(long)]
        deep: bool,
    },
    /// Mutation testing of the pure crates with cargo-mutants (installed if missing): how
    /// many mutants the tests catch. Results go to target/mutants/.
    Mutants {
        /// Only these crates (default: every pure crate).
        #[arg(long = "package", short = 'p')]
        packages: Vec<String>,
        /// Parallel mutant builds (cargo-mutants --jobs).
        #[arg(long, default_value_t = 1)]
        jobs: usize,
        /// Only the first pass (each crate's own tests): skip the model checks of
        /// tests/invariants against the survivors of pipeline and cspace (slow).
        #[arg(long)]
        own_tests_only: bool,
        /// Extra arguments passed to cargo-mutants as they are (after `--`).
        #[arg(last = true)]
        extra: Vec<String>,
    },
    /// Clippy (-D warnings) on every crate for its own target, and rustfmt --check.
    Lint,
    /// Boot the benchmark images under QEMU with deterministic time (-icount shift=0,sleep=off),
    /// print a table and write the figures as JSON.
    Bench {
        /// Board file name (images/boards/NAME.toml).
        #[arg(long, default_value = "virt-gicv3")]
        board: String,
        /// Where to write the JSON figures.
        #[arg(long, default_value = "target/bench/bench.json")]
        json: PathBuf,
    },
    /// Check image manifests (all of images/, or the one named) without building anything.
    ManifestCheck {
        /// Image manifest name (images/NAME.toml).
        name: Option<String>,
    },
}

#[derive(clap::Args)]
struct Target {
    /// Board file name (images/boards/NAME.toml).
    #[arg(long, default_value = "virt-gicv3")]
    board: String,
    /// Image manifest name (images/NAME.toml).
    #[arg(long, default_value = "default")]
    image: String,
}

fn workspace_root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("xtask lives in the workspace")
        .to_path_buf()
}

fn main() {
    let cli = Cli::parse();
    let result = match cli.command {
        Command::Build(target) => build(&target).map(|path| {
            println!("image: {}", path.display());
            0
        }),
        Command::Run {
            target,
            gdb,
            timeout,
            realtime,
        } => run(&target, gdb, timeout, realtime),
        Command::Test {
            filter,
            scenarios_only,
            deep,
        } => test::run(filter.as_deref(), scenarios_only, deep),
        Command::Mutants {
            packages,
            jobs,
            own_tests_only,
            extra,
        } => mutants::run(&packages, jobs, own_tests_only, &extra),
        Command::Lint => lint::run().map(|ok| if ok { 0 } else { 1 }),
        Command::Bench { board, json } => bench::run(&board, &json),
        Command::ManifestCheck { name } => {
            manifest::check_all(&workspace_root(), name.as_deref()).map(|ok| if ok { 0 } else { 1 })
        }
    };
    match result {
        Ok(code) => std::process::exit(code),
        Err(error) => {
            eprintln!("error: {error:#}");
            std::process::exit(2);
        }
    }
}

fn build(target: &Target) -> Result<PathBuf> {
    let root = workspace_root();
    let board = boards::load(&root, &target.board)?;
    let manifest = manifest::load(&root, &target.image)?;
    manifest.check_board(&board.name)?;
    let kernel = image::build_kernel(&root, &manifest.kernel.features)?;
    image::assemble(&root, &kernel, &manifest, &board, &manifest.kernel.cmdline)
}

fn run(target: &Target, gdb: bool, timeout: u64, realtime: bool) -> Result<i32> {
    let image = build(target)?;
    let board = boards::load(&workspace_root(), &target.board)?;
    qemu::ensure_installed()?;
    if gdb {
        let elf = image::kernel_elf_path(&workspace_root(), &[]);
        println!("QEMU waits for a debugger. In another terminal:");
        println!(
            "  gdb-multiarch {} -ex 'target remote localhost:1234'",
            elf.display()
        );
    }
    let manifest = manifest::load(&workspace_root(), &target.image)?;
    let options = qemu::Options {
        gdb,
        timeout: (timeout > 0).then(|| std::time::Duration::from_secs(timeout)),
        capture: false,
        icount: manifest.deterministic_time && !realtime,
        input: None,
    };
    println!(
        "booting image '{}' ({}) on {} ({}){}",
        manifest.name,
        manifest.description,
        board.name,
        board.description,
        if options.icount {
            ", deterministic time (-icount shift=0,sleep=off)"
        } else {
            ""
        }
    );
    let outcome = qemu::boot(&board, &image, &options)?;
    if outcome.timed_out {
        eprintln!("QEMU stopped after {timeout} s (use --timeout 0 to run without a limit)");
        return Ok(124);
    }
    Ok(outcome.status)
}
