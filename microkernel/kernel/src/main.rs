//! The sluice microkernel.
//!
//! A small, static capability kernel for aarch64 whose interrupt pipeline (after Linux
//! Dovetail) runs as a privileged user-level service. The kernel keeps only mechanisms:
//! address spaces, threads, capabilities, IPC, IRQ routing and fault delivery.
//!
//! Boot: `arch` takes the hand-off from the loader (device tree in x0, EL2 or EL1), builds
//! the early tables and enters `kernel_main` in the upper half with the MMU and caches on.
//! `kernel_main` learns the board from the device tree (or the image's board file), brings
//! up the console and interrupt controller, and runs what the command line asks for.
//!
//! `unsafe` is confined to `arch` and `drivers`; everything else is safe code.
#![no_std]
#![no_main]
#![deny(unsafe_code)]

mod arch;
mod board;
mod cmdline;
mod console;
mod drivers;
mod fault;
mod irq;
mod kernel;
mod memory;
#[cfg(feature = "selftests")]
mod selftest;
mod tick_check;

use boot_info::{BoardDescription, BootInfo, Power};
use cmdline::CommandLine;
use paging::{Attributes, PAGE_SIZE};

/// How the system ends; QEMU reports it as its exit status.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[repr(u32)]
pub enum ExitCode {
    /// Everything asked for ran and passed.
    Success = 0,
    /// A check the kernel ran failed.
    CheckFailed = 1,
    /// The kernel panicked.
    Panic = 2,
    /// The kernel took an exception it cannot handle.
    KernelFault = 3,
    /// The board could not be brought up far enough to print.
    NoConsole = 4,
}

static POWER: spin::Once<Power> = spin::Once::new();

/// How the board powers off and suspends CPUs (PSCI and its conduit, or none).
pub fn power() -> Power {
    POWER.get().copied().unwrap_or(Power::None)
}

/// Stops the system with `code`.
pub fn shutdown(code: ExitCode) -> ! {
    if code != ExitCode::Success {
        println!("system halted: exit status {}", code as u32);
    } else {
        println!("system halted: exit status 0");
    }
    arch::power::exit(code, POWER.get().copied().unwrap_or(Power::None))
}

/// Options this kernel understands on its command line.
const OPTIONS: &[&str] = &["ticks", "hz", "selftest"];

/// The kernel after early boot: upper half, MMU on, on the boot stack, IRQs masked.
fn kernel_main(dtb_pa: u64, phys_base: u64, entry_el: u64) -> ! {
    arch::exception::install_vectors();
    arch::mmu::drop_identity_map();

    let payload = boot_info::decode(arch::mmu::payload());
    let image_board = payload
        .as_ref()
        .ok()
        .and_then(|info| info.description.clone());
    let (board, source, bootargs) = match board::discover(dtb_pa, image_board) {
        Ok(found) => found,
        Err(error) => {
            // No UART without a board description; semihosting is the only voice left.
            arch::power::semihosting_print("sluice: cannot describe the board: ");
            let mut buffer = [0u8; 96];
            arch::power::semihosting_print(format_into(&mut buffer, format_args!("{error}\n")));
            arch::power::exit(ExitCode::NoConsole, Power::None);
        }
    };
    POWER.call_once(|| board.power);
    match drivers::pl011::Console::new(board.uart.base, board.uart.clock_hz) {
        Ok(console) => console::install(console),
        Err(error) => {
            arch::power::semihosting_print(error);
            shutdown(ExitCode::NoConsole);
        }
    }
    let info = payload.as_ref().ok();
    let cmdline = CommandLine::new(match (info, bootargs) {
        (Some(info), _) if !info.cmdline.is_empty() => info.cmdline,
        (_, Some(args)) => args,
        _ => "",
    });

    banner(&board, source, info, phys_base, entry_el);
    if let Err(error) = &payload {
        println!("note: image payload not used: {error}");
    }
    map_ram(&board);

    match drivers::IrqChip::probe(board.interrupt_controller, board.cpus as usize) {
        Ok(chip) => irq::init(chip),
        Err(error) => {
            println!("error: interrupt controller: {error}");
            shutdown(ExitCode::CheckFailed);
        }
    }
    if let Some((name, lines)) = irq::describe() {
        println!(
            "interrupt controller: {name}, {lines} lines; timer: EL1 physical, IRQ {}, counter {} Hz",
            board.timer_irq,
            arch::timer::frequency()
        );
    }
    for word in cmdline.unknown(OPTIONS) {
        println!("warning: ignoring unknown command-line word '{word}'");
    }
    if let Some(system) = info.and_then(|info| info.system.as_ref()) {
        let (_, image_end) = arch::mmu::image_physical_range();
        let device_tree = match source {
            board::Source::DeviceTree(pa, size) => (pa, pa + size),
            board::Source::Image => (0, 0),
        };
        let ram_end = board.ram.base + board.ram.size;
        let allocator = memory::FrameAllocator::new(image_end, ram_end, &[device_tree]);
        kernel::start(system, arch::mmu::payload(), allocator, &board);
    }
    shutdown(run(&board, cmdline))
}

/// Does what the command line asks for.
fn run(board: &BoardDescription<'_>, cmdline: CommandLine<'_>) -> ExitCode {
    if let Some(name) = cmdline.get("selftest") {
        #[cfg(feature = "selftests")]
        if selftest::run(name) {
            return ExitCode::CheckFailed; // a scenario that returns did not do what it should
        }
        println!("error: no selftest '{name}' in this build (test builds have: fault, panic)");
        return ExitCode::CheckFailed;
    }
    let (ticks, hz) = match (
        cmdline.number("ticks", 250, 0..=1_000_000),
        cmdline.number("hz", 1000, 1..=100_000),
    ) {
        (Ok(ticks), Ok(hz)) => (ticks, hz),
        (Err(bad), _) | (_, Err(bad)) => {
            println!(
                "error: command line: {}={} is not {}",
                bad.key, bad.value, bad.expected
            );
            return ExitCode::CheckFailed;
        }
    };
    if ticks == 0 {
        println!("timer: check skipped (ticks=0)");
        return ExitCode::Success;
    }
    timer_check(board.timer_irq, hz, ticks)
}

/// Runs the boot timer check and judges its rate (±10 %).
fn timer_check(timer_irq: u32, hz: u64, ticks: u64) -> ExitCode {
    println!("timer: taking {ticks} interrupts at {hz} Hz");
    let report = match tick_check::run(timer_irq, hz, ticks) {
        Ok(report) => report,
        Err(error) => {
            println!("error: cannot attach the timer interrupt: {error:?}");
            return ExitCode::CheckFailed;
        }
    };
    let frequency = arch::timer::frequency();
    let expected = hz * 1000;
    let within = report.measured_mhz.abs_diff(expected) <= expected / 10;
    println!(
        "timer: {} interrupts in {} us: {}.{:03} Hz measured, {} Hz programmed: {}",
        report.ticks,
        report.elapsed * 1_000_000 / frequency,
        report.measured_mhz / 1000,
        report.measured_mhz % 1000,
        hz,
        if within {
            "rate ok"
        } else {
            "RATE OUT OF TOLERANCE (10%)"
        }
    );
    println!(
        "timer: worst lateness {} ns; spurious interrupts {}",
        report.worst_lateness * 1_000_000_000 / frequency,
        irq::spurious_count()
    );
    if within {
        ExitCode::Success
    } else {
        ExitCode::CheckFailed
    }
}

fn banner(
    board: &BoardDescription<'_>,
    source: board::Source,
    info: Option<&BootInfo<'_>>,
    phys_base: u64,
    entry_el: u64,
) {
    println!();
    let entered = if entry_el == 2 {
        "entered at EL2, running at EL1"
    } else {
        "entered at EL1"
    };
    println!(
        "sluice microkernel {} (aarch64, {entered}, MMU on, W^X)",
        env!("CARGO_PKG_VERSION")
    );
    match source {
        board::Source::DeviceTree(pa, _) => {
            println!("board: {} (device tree at {pa:#x})", board.model)
        }
        board::Source::Image => {
            println!("board: {} (board description from the image)", board.model)
        }
    }
    if let Some(info) = info {
        println!(
            "image: {} for {}; command line: '{}'",
            info.image, info.board, info.cmdline
        );
    }
    println!(
        "cpus: {}; RAM {:#x}..{:#x} ({} MiB); kernel loaded at {phys_base:#x}, image {} KiB",
        board.cpus,
        board.ram.base,
        board.ram.base + board.ram.size,
        board.ram.size >> 20,
        arch::mmu::image_size() >> 10
    );
    println!("console: PL011 at {:#x}", board.uart.base);
}

/// Adds RAM to the linear map, except the kernel image (which keeps its W^X mapping only).
fn map_ram(board: &BoardDescription<'_>) {
    let (image_start, image_end) = arch::mmu::image_physical_range();
    let image_end = image_end.next_multiple_of(PAGE_SIZE);
    let (ram_start, ram_end) = (board.ram.base, board.ram.base + board.ram.size);
    for (start, end) in [
        (ram_start, image_start.min(ram_end)),
        (image_end.max(ram_start), ram_end),
    ] {
        if end <= start {
            continue;
        }
        if let Err(error) = arch::mmu::map_physical(start, end - start, Attributes::KERNEL_DATA) {
            println!("warning: RAM {start:#x}..{end:#x} not mapped: {error:?}");
        }
    }
}

/// Formats into a stack buffer (for the pre-console error path); truncates.
fn format_into<'b>(buffer: &'b mut [u8], args: core::fmt::Arguments<'_>) -> &'b str {
    struct Cursor<'c>(&'c mut [u8], usize);
    impl core::fmt::Write for Cursor<'_> {
        fn write_str(&mut self, s: &str) -> core::fmt::Result {
            let n = s.len().min(self.0.len() - self.1);
            self.0[self.1..self.1 + n].copy_from_slice(&s.as_bytes()[..n]);
            self.1 += n;
            Ok(())
        }
    }
    let mut cursor = Cursor(buffer, 0);
    let _ = core::fmt::write(&mut cursor, args);
    let len = cursor.1;
    core::str::from_utf8(&buffer[..len]).unwrap_or("(unprintable)")
}

#[panic_handler]
fn panic(info: &core::panic::PanicInfo<'_>) -> ! {
    arch::cpu::disable_irqs();
    match info.location() {
        Some(location) => println!(
            "kernel panic at {}:{}: {}",
            location.file(),
            location.line(),
            info.message()
        ),
        None => println!("kernel panic: {}", info.message()),
    }
    if !console::is_installed() {
        arch::power::semihosting_print("sluice: kernel panic before the console was up\n");
    }
    shutdown(ExitCode::Panic)
}
