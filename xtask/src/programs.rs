//! Task programs: which workspace packages can be tasks, building them, and reading their
//! ELF files into what the payload carries.
//!
//! A task crate is a binary package of the workspace, built for the kernel's target
//! (`aarch64-unknown-none-softfloat`) in release mode into `target/tasks`; it links itself
//! (its `build.rs` passes its linker script) at `layout::PROGRAM_BASE`. Its ELF must be a
//! static aarch64 executable whose load segments are page aligned, never writable and
//! executable at once, and lie within `[PROGRAM_BASE, START_INFO)`.

use crate::{
    image::{KERNEL_TARGET, cargo},
    system::{PAGE, Plan},
};
use anyhow::{Context, Result, bail, ensure};
use boot_info::{SEGMENT_EXECUTE, SEGMENT_READ, SEGMENT_WRITE};
use kernel_abi::layout;
use object::{Architecture, Object, ObjectKind, ObjectSegment, SegmentFlags, elf};
use serde::Deserialize;
use std::{
    collections::BTreeMap,
    path::{Path, PathBuf},
};

/// The target tasks are built for: like the kernel, no FP/SIMD registers.
pub const TASK_TARGET: &str = KERNEL_TARGET;

/// Binary packages of the workspace that are not tasks.
const NOT_TASKS: &[&str] = &["kernel", "xtask"];

/// A task program as the payload carries it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Program {
    /// Entry point.
    pub entry: u64,
    /// Load segments, by address.
    pub segments: Vec<ProgramSegment>,
}

/// One load segment of a [`Program`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProgramSegment {
    /// Virtual address (page aligned).
    pub vaddr: u64,
    /// Bytes in memory (at least `data.len()`; the rest is zero).
    pub mem_size: u64,
    /// `boot_info::SEGMENT_*` bits.
    pub flags: u8,
    /// Bytes from the file.
    pub data: Vec<u8>,
}

#[derive(Deserialize)]
struct Metadata {
    packages: Vec<Package>,
}

#[derive(Deserialize)]
struct Package {
    name: String,
    targets: Vec<Target>,
}

#[derive(Deserialize)]
struct Target {
    name: String,
    kind: Vec<String>,
}

/// The workspace packages that can be tasks: those with a binary of their own name, other
/// than the kernel and xtask (from `cargo metadata`), sorted.
pub fn task_packages(root: &Path) -> Result<Vec<String>> {
    let output = cargo()
        .current_dir(root)
        .args(["metadata", "--format-version", "1", "--no-deps"])
        .output()
        .context("running cargo metadata")?;
    ensure!(
        output.status.success(),
        "cargo metadata failed: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    let metadata: Metadata =
        serde_json::from_slice(&output.stdout).context("reading cargo metadata's output")?;
    let mut names: Vec<String> = metadata
        .packages
        .into_iter()
        .filter(|package| {
            !NOT_TASKS.contains(&package.name.as_str())
                && package.targets.iter().any(|target| {
                    target.name == package.name && target.kind.iter().any(|k| k == "bin")
                })
        })
        .map(|package| package.name)
        .collect();
    names.sort();
    Ok(names)
}

/// Where a task crate's ELF is built.
pub fn elf_path(root: &Path, crate_name: &str) -> PathBuf {
    root.join("target/tasks")
        .join(TASK_TARGET)
        .join("release")
        .join(crate_name)
}

/// Builds a task crate; returns its ELF.
pub fn build(root: &Path, crate_name: &str) -> Result<PathBuf> {
    let status = cargo()
        .current_dir(root)
        .args([
            "build",
            "--quiet",
            "--release",
            "-p",
            crate_name,
            "--target",
            TASK_TARGET,
        ])
        .arg("--target-dir")
        .arg(root.join("target/tasks"))
        .status()
        .with_context(|| format!("running cargo build for task crate '{crate_name}'"))?;
    ensure!(
        status.success(),
        "building task crate '{crate_name}' failed"
    );
    Ok(elf_path(root, crate_name))
}

/// Builds every distinct crate of `plan` once and reads its program, by crate name.
pub fn build_all(root: &Path, plan: &Plan<'_>) -> Result<BTreeMap<String, Program>> {
    let mut programs = BTreeMap::new();
    for task in &plan.tasks {
        if programs.contains_key(task.crate_name) {
            continue;
        }
        let context = || {
            format!(
                "{}: task '{}' (crate '{}')",
                task.place, task.record.name, task.crate_name
            )
        };
        let elf = build(root, task.crate_name).with_context(context)?;
        let bytes = std::fs::read(&elf)
            .with_context(|| format!("reading {}", elf.display()))
            .with_context(context)?;
        let program = read(&bytes)
            .with_context(|| format!("{} is not a loadable task program", elf.display()))
            .with_context(context)?;
        programs.insert(task.crate_name.to_string(), program);
    }
    Ok(programs)
}

/// Reads a task ELF: its entry point and load segments, checked.
pub fn read(bytes: &[u8]) -> Result<Program> {
    let file = object::File::parse(bytes).context("not an ELF file")?;
    ensure!(
        file.format() == object::BinaryFormat::Elf
            && file.architecture() == Architecture::Aarch64
            && file.is_64()
            && file.is_little_endian(),
        "not a 64-bit little-endian aarch64 ELF file"
    );
    ensure!(
        file.kind() == ObjectKind::Executable,
        "not a static executable (ELF type {:?}; tasks are linked at a fixed address, not as PIE)",
        file.kind()
    );
    let mut segments = Vec::new();
    for segment in file.segments() {
        let (vaddr, mem_size) = (segment.address(), segment.size());
        let data = segment.data().context("reading a load segment")?;
        if mem_size == 0 {
            continue;
        }
        let at = format!("load segment at {vaddr:#x} ({mem_size:#x} bytes)");
        let SegmentFlags::Elf { p_flags } = segment.flags() else {
            bail!("{at}: no ELF flags");
        };
        let mut flags = 0;
        for (elf_flag, flag) in [
            (elf::PF_R, SEGMENT_READ),
            (elf::PF_W, SEGMENT_WRITE),
            (elf::PF_X, SEGMENT_EXECUTE),
        ] {
            if p_flags & elf_flag != 0 {
                flags |= flag;
            }
        }
        ensure!(
            flags & (SEGMENT_WRITE | SEGMENT_EXECUTE) != SEGMENT_WRITE | SEGMENT_EXECUTE,
            "{at}: writable and executable (the kernel maps W^X)"
        );
        ensure!(
            vaddr.is_multiple_of(PAGE),
            "{at}: address not page aligned (align load segments to {PAGE} in the linker script)"
        );
        ensure!(
            data.len() as u64 <= mem_size,
            "{at}: more file bytes than memory bytes"
        );
        ensure!(
            vaddr >= layout::PROGRAM_BASE
                && vaddr
                    .checked_add(mem_size)
                    .is_some_and(|end| end <= layout::START_INFO),
            "{at}: outside the program area {:#x}..{:#x}",
            layout::PROGRAM_BASE,
            layout::START_INFO
        );
        segments.push(ProgramSegment {
            vaddr,
            mem_size,
            flags,
            data: data.to_vec(),
        });
    }
    ensure!(!segments.is_empty(), "no load segments");
    segments.sort_by_key(|s| s.vaddr);
    for pair in segments.windows(2) {
        let end = (pair[0].vaddr + pair[0].mem_size).next_multiple_of(PAGE);
        ensure!(
            end <= pair[1].vaddr,
            "load segments at {:#x} and {:#x} share a page",
            pair[0].vaddr,
            pair[1].vaddr
        );
    }
    let entry = file.entry();
    ensure!(
        segments
            .iter()
            .any(|s| s.flags & SEGMENT_EXECUTE != 0
                && (s.vaddr..s.vaddr + s.mem_size).contains(&entry)),
        "entry point {entry:#x} is not in an executable load segment"
    );
    Ok(Program { entry, segments })
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    /// A minimal static aarch64 ELF: `(vaddr, mem_size, p_flags, data)` per load segment.
    pub(crate) fn fake_elf(entry: u64, segments: &[(u64, u64, u32, &[u8])]) -> Vec<u8> {
        const EHDR: usize = 64;
        const PHDR: usize = 56;
        let mut out = vec![0u8; EHDR + PHDR * segments.len()];
        out[..4].copy_from_slice(b"\x7fELF");
        out[4] = 2; // 64-bit
        out[5] = 1; // little endian
        out[6] = 1; // version
        out[16..18].copy_from_slice(&elf::ET_EXEC.to_le_bytes());
        out[18..20].copy_from_slice(&elf::EM_AARCH64.to_le_bytes());
        out[20..24].copy_from_slice(&1u32.to_le_bytes());
        out[24..32].copy_from_slice(&entry.to_le_bytes());
        out[32..40].copy_from_slice(&(EHDR as u64).to_le_bytes()); // e_phoff
        out[52..54].copy_from_slice(&(EHDR as u16).to_le_bytes());
        out[54..56].copy_from_slice(&(PHDR as u16).to_le_bytes());
        out[56..58].copy_from_slice(&(segments.len() as u16).to_le_bytes());
        out[58..60].copy_from_slice(&64u16.to_le_bytes()); // e_shentsize
        for (i, &(vaddr, mem_size, flags, data)) in segments.iter().enumerate() {
            let offset = out.len() as u64;
            out.extend_from_slice(data);
            let ph = &mut out[EHDR + i * PHDR..EHDR + (i + 1) * PHDR];
            ph[0..4].copy_from_slice(&elf::PT_LOAD.to_le_bytes());
            ph[4..8].copy_from_slice(&flags.to_le_bytes());
            ph[8..16].copy_from_slice(&offset.to_le_bytes());
            ph[16..24].copy_from_slice(&vaddr.to_le_bytes());
            ph[24..32].copy_from_slice(&vaddr.to_le_bytes());
            ph[32..40].copy_from_slice(&(data.len() as u64).to_le_bytes());
            ph[40..48].copy_from_slice(&mem_size.to_le_bytes());
            ph[48..56].copy_from_slice(&PAGE.to_le_bytes());
        }
        out
    }

    const RX: u32 = elf::PF_R | elf::PF_X;
    const RW: u32 = elf::PF_R | elf::PF_W;
    const BASE: u64 = layout::PROGRAM_BASE;

    #[test]
    fn reads_entry_and_segments() {
        let elf = fake_elf(
            BASE + 0x10,
            &[
                (BASE + 0x1000, 0x3000, RW, b"data"),
                (BASE, 0x800, RX, b"text"),
            ],
        );
        let program = read(&elf).unwrap();
        assert_eq!(program.entry, BASE + 0x10);
        assert_eq!(
            program.segments,
            [
                ProgramSegment {
                    vaddr: BASE,
                    mem_size: 0x800,
                    flags: SEGMENT_READ | SEGMENT_EXECUTE,
                    data: b"text".to_vec(),
                },
                ProgramSegment {
                    vaddr: BASE + 0x1000,
                    mem_size: 0x3000,
                    flags: SEGMENT_READ | SEGMENT_WRITE,
                    data: b"data".to_vec(),
                },
            ]
        );
    }

    fn refusal(entry: u64, segments: &[(u64, u64, u32, &[u8])]) -> String {
        format!("{:#}", read(&fake_elf(entry, segments)).unwrap_err())
    }

    #[test]
    fn refuses_writable_and_executable_segments() {
        let error = refusal(BASE, &[(BASE, 0x1000, RX | elf::PF_W, b"x")]);
        assert!(
            error.contains("load segment at 0x400000 (0x1000 bytes): writable and executable"),
            "{error}"
        );
    }

    #[test]
    fn refuses_unaligned_segments() {
        let error = refusal(BASE + 0x10, &[(BASE + 0x10, 0x100, RX, b"x")]);
        assert!(
            error.contains("load segment at 0x400010 (0x100 bytes): address not page aligned"),
            "{error}"
        );
    }

    #[test]
    fn refuses_segments_outside_the_program_area() {
        let error = refusal(0x1000, &[(0x1000, 0x1000, RX, b"x")]);
        assert!(
            error.contains("load segment at 0x1000 (0x1000 bytes): outside the program area"),
            "{error}"
        );
        let end = layout::START_INFO;
        let error = refusal(end - 0x1000, &[(end - 0x1000, 0x2000, RX, b"x")]);
        assert!(error.contains("outside the program area"), "{error}");
    }

    #[test]
    fn refuses_bad_entry_overlap_and_non_elf() {
        let error = refusal(BASE + 0x1000, &[(BASE, 0x1000, RX, b"x")]);
        assert!(
            error.contains("entry point 0x401000 is not in an executable load segment"),
            "{error}"
        );
        let error = refusal(
            BASE,
            &[(BASE, 0x1800, RX, b"x"), (BASE + 0x1000, 0x1000, RW, b"y")],
        );
        assert!(
            error.contains("load segments at 0x400000 and 0x401000 share a page"),
            "{error}"
        );
        assert!(format!("{:#}", read(b"not an elf").unwrap_err()).contains("not an ELF file"));
        let mut pie = fake_elf(BASE, &[(BASE, 0x1000, RX, b"x")]);
        pie[16..18].copy_from_slice(&elf::ET_DYN.to_le_bytes());
        assert!(format!("{:#}", read(&pie).unwrap_err()).contains("not a static executable"));
    }
}
