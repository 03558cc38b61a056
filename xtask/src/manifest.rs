//! Image manifests (`images/NAME.toml`): what a bootable system contains.
//!
//! ```toml
//! description = "What this system shows"
//! boards = ["virt-gicv3", "virt-gicv2", "raspi3b"]
//! endpoints = ["pingpong", "faults"]          # kernel objects, declared by name
//! notifications = ["done"]
//! shared = [{ name = "buf", size = 4096 }]    # shared memory, bytes (a multiple of 4096)
//!
//! [kernel]
//! cmdline = "ticks=500"       # the kernel's command line
//! features = []               # kernel cargo features (test builds: "selftests")
//!
//! [[task]]
//! name = "supervisor"         # at most 23 bytes, unique
//! crate = "supervisor"        # a binary package of the workspace
//! priority = 250              # 0..=255, higher runs first
//! stack = 8192                # bytes, a multiple of 4096 (default 16384)
//! regions = [8192]            # private read-write memory, bytes (multiples of 4096)
//! fault-endpoint = "faults"   # where this task's faults go (badge: task index + 1)
//! start = true                # start at boot (default), or wait for a Resume
//! caps = [                    # slots 1, 2, ... in this order
//!   { name = "faults", endpoint = "faults", rights = ["read"] },
//!   { name = "client", thread = "client", restart = true },
//!   { name = "server", endpoint = "pingpong", rights = ["write", "grant"], badge = 7 },
//!   { name = "done", notification = "done", rights = ["write"] },
//!   { name = "buf", shared = "buf", rights = ["read", "write"] },
//!   { name = "uart", irq = 33 },           # the handler of IRQ 33 (controller numbering)
//!   { name = "irqctl", irq-control = true },
//!   { name = "power", system-control = true },
//! ]
//! ```
//!
//! A malformed manifest is refused before anything is built, with the file, the line and
//! the reason. This module reads the file and checks what concerns the file alone (boards,
//! kernel features, task crates); `system` checks the system it describes.

use crate::{programs, system};
use anyhow::{Context, Error, Result, anyhow, bail, ensure};
use serde::{Deserialize, de::DeserializeOwned};
use std::{
    ops::Range,
    path::{Path, PathBuf},
};
use toml::Spanned;

/// A parsed image manifest.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub struct Manifest {
    /// The file's stem; set after parsing.
    #[serde(skip)]
    pub name: String,
    /// The file; set after parsing.
    #[serde(skip)]
    pub path: PathBuf,
    /// The file's text, to turn spans into lines; set after parsing.
    #[serde(skip)]
    text: String,
    /// One line for humans.
    pub description: String,
    /// Boards this image is built for.
    pub boards: Vec<Spanned<String>>,
    /// Boot it in deterministic guest time (`-icount shift=0,sleep=off`) by default: for
    /// images that judge timing, so that what they print and check does not depend on the
    /// host's load (`cargo xtask run --realtime` overrides it).
    #[serde(default, rename = "deterministic-time")]
    pub deterministic_time: bool,
    /// Kernel configuration.
    #[serde(default)]
    pub kernel: KernelConfig,
    /// Endpoints, by name; their index is their position.
    #[serde(default)]
    pub endpoints: Vec<Spanned<String>>,
    /// Notifications, by name.
    #[serde(default)]
    pub notifications: Vec<Spanned<String>>,
    /// Shared memory objects.
    #[serde(default)]
    pub shared: Vec<Spanned<SharedEntry>>,
    /// The tasks (`[[task]]` tables), in index order.
    #[serde(default, rename = "task")]
    pub tasks: Vec<Spanned<TaskEntry>>,
}

/// The `[kernel]` table.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub struct KernelConfig {
    /// The kernel command line.
    #[serde(default)]
    pub cmdline: String,
    /// Kernel cargo features.
    #[serde(default)]
    pub features: Vec<String>,
}

/// One entry of `shared`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub struct SharedEntry {
    /// Name, for capabilities and logs.
    pub name: Spanned<String>,
    /// Bytes (a positive multiple of 4096).
    pub size: Spanned<i64>,
}

/// One `[[task]]` table.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub struct TaskEntry {
    /// Unique name (at most `NAME_LEN - 1` bytes).
    pub name: Spanned<String>,
    /// The workspace binary package that is the task's program.
    #[serde(rename = "crate")]
    pub crate_name: Spanned<String>,
    /// 0..=255, higher runs first.
    pub priority: Spanned<i64>,
    /// Stack bytes (default [`DEFAULT_STACK`]).
    pub stack: Option<Spanned<i64>>,
    /// Private read-write memory regions, bytes each.
    #[serde(default)]
    pub regions: Vec<Spanned<i64>>,
    /// The endpoint this task's faults are sent to.
    pub fault_endpoint: Option<Spanned<String>>,
    /// Start at boot (default), or wait for a `Resume`.
    #[serde(default = "start_default")]
    pub start: bool,
    /// May program the EL1 physical timer from EL0 (the timer-server, oob timer handlers).
    #[serde(default)]
    pub timer_access: bool,
    /// The program's argument string (`"key=value key=value"`), at most
    /// `ARGS_LEN - 1` bytes of ASCII; the task reads it from its start-info page.
    pub args: Option<Spanned<String>>,
    /// Capabilities, slot 1 first.
    #[serde(default)]
    pub caps: Vec<Spanned<CapEntry>>,
    /// On an in-band domain of the pipeline (a task with an `irq-server` capability): the
    /// interrupt lines it may attach, by role (`"timer"`, `"uart"`) or by number.
    #[serde(default)]
    pub irqs: Vec<Spanned<toml::Value>>,
}

/// A task's stack when the manifest gives none.
pub const DEFAULT_STACK: u64 = 16384;

fn start_default() -> bool {
    true
}

/// One entry of a task's `caps`: a name, exactly one object key, and its options.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub struct CapEntry {
    /// The name task code looks the capability up by.
    pub name: Spanned<String>,
    /// An endpoint, by name.
    pub endpoint: Option<Spanned<String>>,
    /// A notification, by name.
    pub notification: Option<Spanned<String>>,
    /// Another task's thread, by task name.
    pub thread: Option<Spanned<String>>,
    /// A shared memory object, by name.
    pub shared: Option<Spanned<String>>,
    /// The handler of one interrupt line (controller numbering).
    pub irq: Option<Spanned<i64>>,
    /// The right to create IRQ handlers (`true`).
    pub irq_control: Option<Spanned<bool>>,
    /// Control of the system (`true`).
    pub system_control: Option<Spanned<bool>>,
    /// The console UART's registers as a device frame (`true`): an oob driver's.
    pub console_uart: Option<Spanned<bool>>,
    /// Rights words (endpoint, notification and shared capabilities; default all).
    pub rights: Option<Spanned<Vec<Spanned<String>>>>,
    /// Badge (endpoint and notification capabilities; never 0).
    pub badge: Option<Spanned<i64>>,
    /// On a thread capability: the holder should restart the task when it faults.
    pub restart: Option<Spanned<bool>>,
}

/// Kernel features a manifest may ask for.
const KERNEL_FEATURES: &[&str] = &["selftests"];

impl Manifest {
    /// Board names as plain strings.
    pub fn board_names(&self) -> Vec<String> {
        self.boards.iter().map(|b| b.get_ref().clone()).collect()
    }

    /// Refuses a board the manifest does not list.
    pub fn check_board(&self, board: &str) -> Result<()> {
        if !self.board_names().iter().any(|b| b == board) {
            bail!(
                "image '{}' is not built for board '{board}' (it lists: {})",
                self.name,
                self.board_names().join(", ")
            );
        }
        Ok(())
    }

    /// `file:line:column` of a byte span of the manifest.
    pub fn place(&self, span: Range<usize>) -> String {
        let (line, column) = line_and_column(&self.text, span.start);
        format!("{}:{line}:{column}", self.path.display())
    }

    /// An error at a span of the manifest.
    pub fn error(&self, span: Range<usize>, reason: impl std::fmt::Display) -> Error {
        anyhow!("{}: {reason}", self.place(span))
    }

    /// Refuses a task crate that is not one of `binaries` (the workspace's binary packages
    /// that can be tasks).
    pub fn check_crates(&self, binaries: &[String]) -> Result<()> {
        for task in &self.tasks {
            let krate = &task.get_ref().crate_name;
            if !binaries.contains(krate.get_ref()) {
                return Err(self.error(
                    krate.span(),
                    format!(
                        "crate '{}' is not a binary package of the workspace (task crates: {})",
                        krate.get_ref(),
                        if binaries.is_empty() {
                            "none".to_string()
                        } else {
                            binaries.join(", ")
                        }
                    ),
                ));
            }
        }
        Ok(())
    }
}

/// Parses a TOML file into `T`, naming the file, line and column on error.
pub fn parse_toml<T: DeserializeOwned>(path: &Path) -> Result<T> {
    let text =
        std::fs::read_to_string(path).with_context(|| format!("reading {}", path.display()))?;
    parse_toml_text(path, &text)
}

fn parse_toml_text<T: DeserializeOwned>(path: &Path, text: &str) -> Result<T> {
    toml::from_str(text).map_err(|error| {
        let place = error
            .span()
            .map(|span| {
                let (line, column) = line_and_column(text, span.start);
                format!(":{line}:{column}")
            })
            .unwrap_or_default();
        anyhow!("{}{place}: {}", path.display(), error.message())
    })
}

/// 1-based line and column of a byte offset.
pub fn line_and_column(text: &str, offset: usize) -> (usize, usize) {
    let before = &text[..offset.min(text.len())];
    let line = before.matches('\n').count() + 1;
    let column = before.len() - before.rfind('\n').map_or(0, |i| i + 1) + 1;
    (line, column)
}

/// Loads and checks `images/NAME.toml`: the file, the system it describes, and that every
/// task crate is a binary package of the workspace (asked of `cargo metadata` only when
/// there are tasks).
impl Manifest {
    /// Replaces task `task`'s argument string (a scenario or a benchmark runs the image
    /// with other settings); `Err` if the image has no such task or the text is too long.
    pub fn set_task_args(&mut self, task: &str, args: &str) -> Result<()> {
        ensure!(
            args.is_ascii() && args.len() < kernel_abi::layout::ARGS_LEN,
            "args for task '{task}' must be ASCII of at most {} bytes",
            kernel_abi::layout::ARGS_LEN - 1
        );
        let entry = self
            .tasks
            .iter_mut()
            .find(|entry| entry.get_ref().name.get_ref() == task)
            .ok_or_else(|| anyhow!("image '{}' has no task '{task}'", self.name))?;
        entry.get_mut().args = Some(Spanned::new(0..0, args.to_string()));
        Ok(())
    }
}

pub fn load(root: &Path, name: &str) -> Result<Manifest> {
    let manifest = load_unlinked(root, name)?;
    if !manifest.tasks.is_empty() {
        manifest.check_crates(&programs::task_packages(root)?)?;
    }
    Ok(manifest)
}

/// Loads and checks `images/NAME.toml`, all but the task crates.
fn load_unlinked(root: &Path, name: &str) -> Result<Manifest> {
    let path = root.join("images").join(format!("{name}.toml"));
    if !path.exists() {
        bail!(
            "no image manifest '{name}' ({} does not exist)",
            path.display()
        );
    }
    let text =
        std::fs::read_to_string(&path).with_context(|| format!("reading {}", path.display()))?;
    let mut manifest: Manifest = parse_toml_text(&path, &text)?;
    manifest.name = name.to_string();
    manifest.path = path;
    manifest.text = text;
    let known = crate::boards::names(root)?;
    if manifest.boards.is_empty() {
        bail!("{}: `boards` lists no board", manifest.path.display());
    }
    for (i, board) in manifest.boards.iter().enumerate() {
        if !known.contains(board.get_ref()) {
            return Err(manifest.error(
                board.span(),
                format!(
                    "unknown board '{}' (known: {})",
                    board.get_ref(),
                    known.join(", ")
                ),
            ));
        }
        if manifest.boards[..i]
            .iter()
            .any(|b| b.get_ref() == board.get_ref())
        {
            return Err(manifest.error(
                board.span(),
                format!("board '{}' listed twice", board.get_ref()),
            ));
        }
    }
    for feature in &manifest.kernel.features {
        if !KERNEL_FEATURES.contains(&feature.as_str()) {
            bail!(
                "{}: unknown kernel feature '{feature}' (known: {})",
                manifest.path.display(),
                KERNEL_FEATURES.join(", ")
            );
        }
    }
    system::plan(&manifest)?;
    Ok(manifest)
}

/// Names of all image manifests, sorted.
pub fn names(root: &Path) -> Result<Vec<String>> {
    let dir = root.join("images");
    let mut names = Vec::new();
    for entry in std::fs::read_dir(&dir).with_context(|| format!("reading {}", dir.display()))? {
        let path = entry?.path();
        if path.is_file() && path.extension().is_some_and(|e| e == "toml") {
            names.push(
                path.file_stem()
                    .unwrap_or_default()
                    .to_string_lossy()
                    .into_owned(),
            );
        }
    }
    names.sort();
    Ok(names)
}

/// `cargo xtask manifest-check`: checks the named manifest, or every one under `images/`,
/// printing OK or the error for each; `Ok(false)` if any was refused.
pub fn check_all(root: &Path, name: Option<&str>) -> Result<bool> {
    let names = match name {
        Some(name) => vec![name.to_string()],
        None => names(root)?,
    };
    let mut ok = true;
    for name in names {
        match load(root, &name) {
            Ok(manifest) => println!(
                "manifest {name}: OK ({} task(s), boards: {})",
                manifest.tasks.len(),
                manifest.board_names().join(", ")
            ),
            Err(error) => {
                println!("manifest {name}: {error:#}");
                ok = false;
            }
        }
    }
    Ok(ok)
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    #[test]
    fn line_and_column_are_one_based() {
        let text = "a = 1\nboards = [\"x\"]\n";
        assert_eq!(line_and_column(text, 0), (1, 1));
        assert_eq!(line_and_column(text, text.find("\"x\"").unwrap()), (2, 11));
    }

    pub(crate) fn write_tree(manifest: &str) -> tempdir::Dir {
        let dir = tempdir::Dir::new();
        std::fs::create_dir_all(dir.0.join("images/boards")).unwrap();
        std::fs::write(
            dir.0.join("images/boards/virt-gicv3.toml"),
            "description = \"v\"\nqemu = []\ndevice-tree = true\n",
        )
        .unwrap();
        std::fs::write(dir.0.join("images/test.toml"), manifest).unwrap();
        dir
    }

    /// Loads a manifest written with [`write_tree`], taking `binaries` as the workspace's
    /// task packages.
    pub(crate) fn load_with(dir: &tempdir::Dir, binaries: &[&str]) -> Result<Manifest> {
        let manifest = load_unlinked(&dir.0, "test")?;
        let binaries: Vec<String> = binaries.iter().map(|b| b.to_string()).collect();
        manifest.check_crates(&binaries)?;
        Ok(manifest)
    }

    #[test]
    fn refuses_unknown_board_with_its_line() {
        let dir = write_tree("description = \"t\"\nboards = [\"virt-gicv3\",\n  \"nosuch\"]\n");
        let error = load(&dir.0, "test").unwrap_err().to_string();
        assert!(
            error.contains("test.toml:3:3: unknown board 'nosuch'"),
            "{error}"
        );
    }

    #[test]
    fn refuses_duplicates_unknown_keys_and_bad_types() {
        let dir = write_tree("description = \"t\"\nboards = [\"virt-gicv3\", \"virt-gicv3\"]\n");
        let error = load(&dir.0, "test").unwrap_err().to_string();
        assert!(
            error.contains("test.toml:2:25: board 'virt-gicv3' listed twice"),
            "{error}"
        );
        let dir = write_tree("description = \"t\"\nboards = [\"virt-gicv3\"]\nprioritty = 3\n");
        let error = load(&dir.0, "test").unwrap_err().to_string();
        assert!(
            error.contains("test.toml:3:1") && error.contains("prioritty"),
            "{error}"
        );
        let dir = write_tree("description = \"t\"\nboards = \"virt-gicv3\"\n");
        assert!(
            load(&dir.0, "test")
                .unwrap_err()
                .to_string()
                .contains("test.toml:2:")
        );
    }

    #[test]
    fn accepts_a_good_manifest() {
        let dir = write_tree(
            "description = \"t\"\nboards = [\"virt-gicv3\"]\n[kernel]\ncmdline = \"ticks=5\"\n",
        );
        let manifest = load(&dir.0, "test").unwrap();
        assert_eq!(manifest.kernel.cmdline, "ticks=5");
        assert!(manifest.check_board("virt-gicv3").is_ok());
        assert!(manifest.check_board("raspi3b").is_err());
        assert!(manifest.tasks.is_empty());
    }

    #[test]
    fn refuses_a_crate_that_is_not_a_workspace_binary() {
        let dir = write_tree(
            "description = \"t\"\nboards = [\"virt-gicv3\"]\n\n[[task]]\nname = \"a\"\n\
             crate = \"nosuch\"\npriority = 1\n",
        );
        let error = load_with(&dir, &["ping", "pong"]).unwrap_err().to_string();
        assert!(
            error.contains(
                "test.toml:6:9: crate 'nosuch' is not a binary package of the workspace \
                 (task crates: ping, pong)"
            ),
            "{error}"
        );
        assert!(load_with(&dir, &["nosuch"]).is_ok());
    }

    #[test]
    fn checks_every_manifest_of_a_tree() {
        let dir = write_tree("description = \"t\"\nboards = [\"virt-gicv3\"]\n");
        std::fs::write(
            dir.0.join("images/bad.toml"),
            "description = \"t\"\nboards = [\"nosuch\"]\n",
        )
        .unwrap();
        assert_eq!(names(&dir.0).unwrap(), ["bad", "test"]);
        assert!(check_all(&dir.0, Some("test")).unwrap());
        assert!(!check_all(&dir.0, None).unwrap());
        assert!(!check_all(&dir.0, Some("missing")).unwrap());
    }

    /// A temporary directory removed on drop (no extra dependency for a few tests).
    pub(crate) mod tempdir {
        use std::path::PathBuf;
        pub struct Dir(pub PathBuf);
        impl Dir {
            pub fn new() -> Self {
                use std::sync::atomic::{AtomicU32, Ordering};
                static NEXT: AtomicU32 = AtomicU32::new(0);
                let path = std::env::temp_dir().join(format!(
                    "xtask-test-{}-{}",
                    std::process::id(),
                    NEXT.fetch_add(1, Ordering::Relaxed)
                ));
                std::fs::create_dir_all(&path).unwrap();
                Self(path)
            }
        }
        impl Drop for Dir {
            fn drop(&mut self) {
                let _ = std::fs::remove_dir_all(&self.0);
            }
        }
    }
}
