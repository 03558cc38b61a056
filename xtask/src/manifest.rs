//! Image manifests (`images/NAME.toml`): what a bootable system contains.
//!
//! ```toml
//! description = "What this system shows"
//! boards = ["virt-gicv3", "virt-gicv2", "raspi3b"]
//!
//! [kernel]
//! cmdline = "ticks=500"       # the kernel's command line
//! features = []               # kernel cargo features (test builds: "selftests")
//! ```
//!
//! A malformed manifest is refused before anything is built, with the file, the line and
//! the reason.

use anyhow::{Context, Result, anyhow, bail};
use serde::{Deserialize, de::DeserializeOwned};
use std::path::Path;
use toml::Spanned;

/// A parsed image manifest.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub struct Manifest {
    /// The file's stem; set after parsing.
    #[serde(skip)]
    pub name: String,
    /// One line for humans.
    pub description: String,
    /// Boards this image is built for.
    pub boards: Vec<Spanned<String>>,
    /// Kernel configuration.
    #[serde(default)]
    pub kernel: KernelConfig,
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
}

/// Parses a TOML file into `T`, naming the file, line and column on error.
pub fn parse_toml<T: DeserializeOwned>(path: &Path) -> Result<T> {
    let text =
        std::fs::read_to_string(path).with_context(|| format!("reading {}", path.display()))?;
    toml::from_str(&text).map_err(|error| {
        let place = error
            .span()
            .map(|span| {
                let (line, column) = line_and_column(&text, span.start);
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

/// Loads and checks `images/NAME.toml`.
pub fn load(root: &Path, name: &str) -> Result<Manifest> {
    let path = root.join("images").join(format!("{name}.toml"));
    if !path.exists() {
        bail!(
            "no image manifest '{name}' ({} does not exist)",
            path.display()
        );
    }
    let mut manifest: Manifest = parse_toml(&path)?;
    manifest.name = name.to_string();
    let text = std::fs::read_to_string(&path)?;
    let known = crate::boards::names(root)?;
    let at = |offset: usize| {
        let (line, column) = line_and_column(&text, offset);
        format!("{}:{line}:{column}", path.display())
    };
    if manifest.boards.is_empty() {
        bail!("{}: `boards` lists no board", path.display());
    }
    for (i, board) in manifest.boards.iter().enumerate() {
        if !known.contains(board.get_ref()) {
            bail!(
                "{}: unknown board '{}' (known: {})",
                at(board.span().start),
                board.get_ref(),
                known.join(", ")
            );
        }
        if manifest.boards[..i]
            .iter()
            .any(|b| b.get_ref() == board.get_ref())
        {
            bail!(
                "{}: board '{}' listed twice",
                at(board.span().start),
                board.get_ref()
            );
        }
    }
    for feature in &manifest.kernel.features {
        if !KERNEL_FEATURES.contains(&feature.as_str()) {
            bail!(
                "{}: unknown kernel feature '{feature}' (known: {})",
                path.display(),
                KERNEL_FEATURES.join(", ")
            );
        }
    }
    Ok(manifest)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn line_and_column_are_one_based() {
        let text = "a = 1\nboards = [\"x\"]\n";
        assert_eq!(line_and_column(text, 0), (1, 1));
        assert_eq!(line_and_column(text, text.find("\"x\"").unwrap()), (2, 11));
    }

    fn write_tree(manifest: &str) -> tempdir::Dir {
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
        assert!(
            load(&dir.0, "test")
                .unwrap_err()
                .to_string()
                .contains("listed twice")
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
    }

    /// A temporary directory removed on drop (no extra dependency for four tests).
    mod tempdir {
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
