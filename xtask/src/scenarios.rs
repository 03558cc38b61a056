//! QEMU scenarios (`tests/scenarios/NAME.toml`): an image booted on each board it names,
//! judged by the exit status and the console — never by a person reading it.
//!
//! ```toml
//! description = "What this scenario proves"
//! image = "default"                  # manifest under images/
//! boards = ["virt-gicv3"]            # optional: defaults to every board of the image
//! cmdline = "ticks=200"              # optional: replaces the image's command line
//! kernel-features = ["selftests"]    # optional: added to the image's
//! expect-exit = 0
//! expect-output = ["rate ok", "image: default for {board}"]   # {board} = board name
//! forbid-output = ["warning:"]       # optional
//! timeout-seconds = 60               # optional
//! icount = true                      # optional: deterministic guest time
//! input = "hello\n"                  # optional: typed into the console UART ...
//! input-after = "ready"              # ... once the console shows this
//! [args]                             # optional: replaces tasks' argument strings
//! latmus = "period_us=1000 seconds=2"
//! ```

use crate::manifest::parse_toml;
use anyhow::{Context, Result};
use serde::Deserialize;
use std::path::Path;

/// One scenario file.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub struct Scenario {
    /// The file's stem.
    #[serde(skip)]
    pub name: String,
    /// What it proves.
    pub description: String,
    /// The image manifest to boot.
    pub image: String,
    /// Boards to run on (default: all of the image's).
    pub boards: Option<Vec<String>>,
    /// Replacement kernel command line.
    pub cmdline: Option<String>,
    /// Extra kernel features.
    #[serde(default)]
    pub kernel_features: Vec<String>,
    /// Expected QEMU exit status.
    pub expect_exit: i32,
    /// Strings the console must contain.
    #[serde(default)]
    pub expect_output: Vec<String>,
    /// Strings the console must not contain.
    #[serde(default)]
    pub forbid_output: Vec<String>,
    /// Time limit for one boot.
    #[serde(default = "default_timeout")]
    pub timeout_seconds: u64,
    /// Run with deterministic guest time (`-icount shift=0,sleep=off`).
    #[serde(default)]
    pub icount: bool,
    /// Text typed into the console UART once the console shows `input-after`.
    pub input: Option<String>,
    /// The prompt that `input` waits for.
    pub input_after: Option<String>,
    /// Task argument strings that replace the image's, by task name.
    #[serde(default)]
    pub args: std::collections::BTreeMap<String, String>,
}

fn default_timeout() -> u64 {
    60
}

impl Scenario {
    /// Judges one boot; `Err` says what was wrong.
    pub fn judge(&self, board: &str, outcome: &crate::qemu::Outcome) -> Result<(), String> {
        if outcome.timed_out {
            return Err(format!("timed out after {} s", self.timeout_seconds));
        }
        let mut problems = Vec::new();
        if outcome.status != self.expect_exit {
            problems.push(format!(
                "exit status {} (expected {})",
                outcome.status, self.expect_exit
            ));
        }
        for expected in &self.expect_output {
            let expected = expected.replace("{board}", board);
            if !outcome.output.contains(&expected) {
                problems.push(format!("console lacks \"{expected}\""));
            }
        }
        for forbidden in &self.forbid_output {
            if outcome.output.contains(forbidden.as_str()) {
                problems.push(format!("console contains \"{forbidden}\""));
            }
        }
        if problems.is_empty() {
            Ok(())
        } else {
            Err(problems.join("; "))
        }
    }
}

/// Loads every scenario, sorted by name.
pub fn load_all(root: &Path) -> Result<Vec<Scenario>> {
    let dir = root.join("tests/scenarios");
    let mut scenarios = Vec::new();
    for entry in std::fs::read_dir(&dir).with_context(|| format!("reading {}", dir.display()))? {
        let path = entry?.path();
        if path.extension().is_some_and(|e| e == "toml") {
            let mut scenario: Scenario = parse_toml(&path)?;
            scenario.name = path
                .file_stem()
                .unwrap_or_default()
                .to_string_lossy()
                .into_owned();
            scenarios.push(scenario);
        }
    }
    scenarios.sort_by(|a, b| a.name.cmp(&b.name));
    Ok(scenarios)
}
