//! Running QEMU: installing it where we can, booting an image with a timeout, and
//! collecting the console and the exit status.

use crate::boards::Board;
use anyhow::{Context, Result, bail};
use std::{
    io::{Read, Write},
    path::Path,
    process::{Command, Stdio},
    time::Duration,
};
use wait_timeout::ChildExt;

const QEMU: &str = "qemu-system-aarch64";

/// Makes sure QEMU is there: installs it with apt-get when running as root, otherwise
/// stops with the command to run.
pub fn ensure_installed() -> Result<()> {
    if Command::new(QEMU)
        .arg("--version")
        .stdout(Stdio::null())
        .status()
        .is_ok_and(|s| s.success())
    {
        return Ok(());
    }
    let is_root = Command::new("id")
        .arg("-u")
        .output()
        .is_ok_and(|o| o.stdout.starts_with(b"0\n"));
    let has_apt = Command::new("apt-get")
        .arg("--version")
        .stdout(Stdio::null())
        .status()
        .is_ok();
    if is_root && has_apt {
        eprintln!("{QEMU} is missing: installing qemu-system-arm with apt-get");
        let ok = |c: &mut Command| {
            c.env("DEBIAN_FRONTEND", "noninteractive")
                .status()
                .is_ok_and(|s| s.success())
        };
        if ok(Command::new("apt-get").args(["update", "-q"]))
            && ok(Command::new("apt-get").args(["install", "-y", "-q", "qemu-system-arm"]))
        {
            return Ok(());
        }
    }
    bail!("{QEMU} is not installed; install it with:\n    sudo apt-get install -y qemu-system-arm")
}

/// How to boot.
#[derive(Debug, Default)]
pub struct Options {
    /// Halt at reset and wait for gdb on localhost:1234.
    pub gdb: bool,
    /// Kill QEMU after this long.
    pub timeout: Option<Duration>,
    /// Capture the console instead of passing it through.
    pub capture: bool,
    /// Deterministic guest time: `-icount shift=0,sleep=off` (one instruction = 1 ns).
    pub icount: bool,
    /// Typed into the console UART once the console shows the first text (needs
    /// `capture`): what a person at the serial line would type when prompted.
    pub input: Option<(String, String)>,
}

/// How a boot ended.
#[derive(Debug)]
pub struct Outcome {
    /// QEMU's exit status (the guest's semihosting status, 0 after PSCI SYSTEM_OFF).
    pub status: i32,
    /// Whether the timeout stopped it.
    pub timed_out: bool,
    /// The console output, when captured.
    pub output: String,
    /// Wall-clock time.
    pub elapsed: Duration,
}

/// The full QEMU command line for `image` on `board`.
pub fn command(board: &Board, image: &Path, extra: &[&str]) -> Command {
    let mut command = Command::new(QEMU);
    command
        .args(&board.qemu)
        .args([
            "-display",
            "none",
            "-monitor",
            "none",
            "-serial",
            "stdio",
            "-nic",
            "none",
            "-no-reboot",
        ])
        .args(["-semihosting-config", "enable=on,target=native"])
        .arg("-kernel")
        .arg(image)
        .args(extra);
    command
}

/// Boots `image` on `board`.
pub fn boot(board: &Board, image: &Path, options: &Options) -> Result<Outcome> {
    let mut extra = Vec::new();
    if options.gdb {
        extra.extend(["-s", "-S"]);
    }
    if options.icount {
        extra.extend(["-icount", "shift=0,sleep=off"]);
    }
    let mut command = command(board, image, &extra);
    if options.capture {
        command
            .stdin(if options.input.is_some() {
                Stdio::piped()
            } else {
                Stdio::null()
            })
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
    }
    let started = std::time::Instant::now();
    let mut child = command
        .spawn()
        .with_context(|| format!("starting {QEMU}"))?;
    // Drain the pipes on threads so a chatty guest cannot block on a full pipe. The
    // console's reader types the input when the prompt appears.
    let mut typist = child.stdin.take().zip(options.input.clone());
    let readers: Vec<_> = [
        child
            .stdout
            .take()
            .map(|p| Box::new(p) as Box<dyn Read + Send>),
        child
            .stderr
            .take()
            .map(|p| Box::new(p) as Box<dyn Read + Send>),
    ]
    .into_iter()
    .flatten()
    .map(|mut pipe| {
        let mut typist = typist.take();
        std::thread::spawn(move || {
            let mut bytes = Vec::new();
            let mut chunk = [0u8; 4096];
            while let Ok(n) = pipe.read(&mut chunk) {
                if n == 0 {
                    break;
                }
                bytes.extend_from_slice(&chunk[..n]);
                // Typed once; QEMU's stdin stays open until the guest ends (QEMU stops
                // reading a serial line whose input has closed).
                if let Some((stdin, (prompt, text))) = &mut typist
                    && !text.is_empty()
                    && String::from_utf8_lossy(&bytes).contains(prompt.as_str())
                {
                    let _ = stdin.write_all(text.as_bytes());
                    let _ = stdin.flush();
                    text.clear();
                }
            }
            bytes
        })
    })
    .collect();
    let (status, timed_out) = match options.timeout {
        Some(limit) => match child.wait_timeout(limit)? {
            Some(status) => (status, false),
            None => {
                let _ = child.kill();
                (child.wait()?, true)
            }
        },
        None => (child.wait()?, false),
    };
    let mut output = String::new();
    for reader in readers {
        output.push_str(&String::from_utf8_lossy(&reader.join().unwrap_or_default()));
    }
    std::io::stdout().flush()?;
    Ok(Outcome {
        status: status.code().unwrap_or(-1),
        timed_out,
        output,
        elapsed: started.elapsed(),
    })
}
