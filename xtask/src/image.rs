//! Building the kernel and assembling bootable images.
//!
//! An image is an arm64 Linux `Image` (so QEMU's loader passes the device tree in x0 and
//! honours `text_offset`): the kernel's memory image from `__kernel_start` to
//! `__kernel_end` (text, data, and the zeroed bss and boot stack), then the payload
//! (`boot-info`, laid out by `payload`: the boot info, the task records and the task
//! programs), with the header's `image_size` patched to cover both. No objcopy: the ELF's
//! load segments are laid out here, which also checks that they fit.

use crate::{boards::Board, manifest::Manifest, payload, programs, system};
use anyhow::{Context, Result, ensure};
use object::{Object, ObjectSegment, ObjectSymbol};
use std::{
    collections::BTreeMap,
    path::{Path, PathBuf},
    process::Command,
};

/// The kernel's target: no FP/SIMD registers touched by accident.
pub const KERNEL_TARGET: &str = "aarch64-unknown-none-softfloat";

fn variant(features: &[String]) -> String {
    if features.is_empty() {
        "plain".to_string()
    } else {
        features.join("+")
    }
}

/// Where the kernel ELF of a feature set is built.
pub fn kernel_elf_path(root: &Path, features: &[String]) -> PathBuf {
    root.join("target/kernel")
        .join(variant(features))
        .join(KERNEL_TARGET)
        .join("release/kernel")
}

/// The cargo that runs us (so the pinned toolchain is used throughout).
pub fn cargo() -> Command {
    Command::new(std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into()))
}

/// Builds the kernel with `features` (each feature set in its own target directory, so
/// switching between them does not rebuild).
pub fn build_kernel(root: &Path, features: &[String]) -> Result<PathBuf> {
    let target_dir = root.join("target/kernel").join(variant(features));
    let mut command = cargo();
    command
        .current_dir(root)
        .args([
            "build",
            "--quiet",
            "--release",
            "-p",
            "kernel",
            "--target",
            KERNEL_TARGET,
        ])
        .arg("--target-dir")
        .arg(&target_dir);
    if !features.is_empty() {
        command.args(["--features", &features.join(",")]);
    }
    let status = command
        .status()
        .context("running cargo build for the kernel")?;
    ensure!(status.success(), "building the kernel failed");
    Ok(kernel_elf_path(root, features))
}

/// Lays out the kernel ELF as a flat memory image starting at `__kernel_start`.
pub fn flatten(elf_bytes: &[u8]) -> Result<Vec<u8>> {
    let elf = object::File::parse(elf_bytes).context("the kernel is not a valid ELF file")?;
    let symbol = |name: &str| -> Result<u64> {
        elf.symbols()
            .find(|s| s.name() == Ok(name))
            .map(|s| s.address())
            .with_context(|| format!("the kernel has no symbol {name}"))
    };
    let (start, end) = (symbol("__kernel_start")?, symbol("__kernel_end")?);
    ensure!(
        end > start && (end - start).is_multiple_of(4096),
        "bad kernel extent {start:#x}..{end:#x}"
    );
    let mut image = vec![0u8; (end - start) as usize];
    for segment in elf.segments() {
        let data = segment.data().context("reading a kernel segment")?;
        if data.is_empty() {
            continue;
        }
        let address = segment.address();
        ensure!(
            address >= start && address + data.len() as u64 <= end,
            "kernel segment at {address:#x} lies outside {start:#x}..{end:#x}"
        );
        let offset = (address - start) as usize;
        image[offset..offset + data.len()].copy_from_slice(data);
    }
    ensure!(
        &image[56..60] == b"ARM\x64",
        "the kernel does not start with an arm64 Image header"
    );
    Ok(image)
}

/// Appends the payload and patches `image_size`.
pub fn append_payload(mut image: Vec<u8>, payload: &[u8]) -> Vec<u8> {
    image.extend_from_slice(payload);
    let size = image.len() as u64;
    let at = boot_info::IMAGE_SIZE_OFFSET;
    image[at..at + 8].copy_from_slice(&size.to_le_bytes());
    image
}

/// Builds `target/images/IMAGE-BOARD.img` from a kernel ELF: resolves the manifest's
/// system, builds and reads its task programs, and lays out the payload.
pub fn assemble(
    root: &Path,
    elf: &Path,
    manifest: &Manifest,
    board: &Board,
    cmdline: &str,
) -> Result<PathBuf> {
    let bytes = std::fs::read(elf).with_context(|| format!("reading {}", elf.display()))?;
    let plan = system::plan(manifest)?;
    let programs = match &plan {
        Some(plan) => programs::build_all(root, plan)?,
        None => BTreeMap::new(),
    };
    let info = boot_info::BootInfo {
        image: &manifest.name,
        board: &board.name,
        cmdline,
        description: board.kernel_description(),
        system: None,
    };
    let payload = payload::build(info, plan, &programs)?;
    let image = append_payload(flatten(&bytes)?, &payload);
    let dir = root.join("target/images");
    std::fs::create_dir_all(&dir)?;
    let path = dir.join(format!("{}-{}.img", manifest.name, board.name));
    std::fs::write(&path, image).with_context(|| format!("writing {}", path.display()))?;
    Ok(path)
}
