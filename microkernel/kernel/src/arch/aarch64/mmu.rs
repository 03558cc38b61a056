//! The kernel's translation tables and the kernel address space layout.
//!
//! Upper half (TTBR1), 48-bit:
//! - `PHYSMAP_BASE + pa`: the linear map. RAM (outside the kernel image) read-write and
//!   never executable, device registers as Device-nGnRE, added as the kernel discovers them.
//! - `0xFFFF_FFFF_8008_0000`: the kernel image, mapped by early boot.
//!
//! The lower half (TTBR0) belongs to tasks; during boot it holds the identity map of the
//! kernel text, which `drop_identity_map` removes.

use aarch64_cpu::{
    asm::barrier,
    registers::{ID_AA64MMFR0_EL1, MAIR_EL1, Readable, TCR_EL1, TTBR0_EL1, TTBR1_EL1, Writeable},
};
use core::cell::UnsafeCell;
use paging::{Attributes, MapError, PAGE_SIZE, Table, TableMemory};

/// Base of the linear map of physical memory.
pub const PHYSMAP_BASE: u64 = 0xffff_0000_0000_0000;

/// Tables available to the kernel's own mappings (kernel image, identity, linear map).
const POOL_TABLES: usize = 64;

/// Memory shared between early boot (MMU off) and the kernel (MMU on).
///
/// Plain cells rather than atomics: early boot runs with the MMU off, where exclusive
/// accesses are not guaranteed to work, and everything here is written by one CPU before
/// any other runs, then only under `KERNEL_TABLES`' lock.
struct BootShared<T>(UnsafeCell<T>);

// SAFETY: written only by the boot CPU before secondaries exist, afterwards read-only or
// accessed under the `KERNEL_TABLES` lock (see each use).
unsafe impl<T> Sync for BootShared<T> {}

impl<T: Copy> BootShared<T> {
    const fn new(value: T) -> Self {
        Self(UnsafeCell::new(value))
    }
    fn get(&self) -> T {
        // SAFETY: see the `Sync` impl: no write can run concurrently.
        unsafe { *self.0.get() }
    }
    fn set(&self, value: T) {
        // SAFETY: see the `Sync` impl: callers are the boot CPU or hold the tables lock.
        unsafe { *self.0.get() = value }
    }
}

#[repr(C, align(4096))]
struct Pool([Table; POOL_TABLES]);

static POOL: BootShared<Pool> =
    BootShared(UnsafeCell::new(Pool([const { Table::EMPTY }; POOL_TABLES])));
static POOL_USED: BootShared<usize> = BootShared::new(0);
static KERNEL_ROOT: BootShared<u64> = BootShared::new(0);
static VIRT_MINUS_PHYS: BootShared<u64> = BootShared::new(0);
static PHYS_BASE: BootShared<u64> = BootShared::new(0);
static IMAGE_SIZE: BootShared<u64> = BootShared::new(0);

/// The pool of kernel translation tables, seen through an address offset: 0 with the MMU
/// off, the kernel image's virtual-minus-physical offset with it on.
pub(super) struct TablePool {
    virt_minus_phys: u64,
}

impl TablePool {
    /// The pool as seen with the MMU off.
    pub(super) fn physical() -> Self {
        Self { virt_minus_phys: 0 }
    }

    pub(super) fn allocate_root(&mut self) -> Result<u64, MapError> {
        self.allocate().ok_or(MapError::OutOfTables)
    }
}

impl TableMemory for TablePool {
    fn allocate(&mut self) -> Option<u64> {
        let used = POOL_USED.get();
        if used == POOL_TABLES {
            return None;
        }
        POOL_USED.set(used + 1);
        let table = POOL.0.get().cast::<Table>().wrapping_add(used);
        // Tables start zeroed (.bss) and are never freed, so a fresh one is empty.
        Some((table as u64).wrapping_sub(self.virt_minus_phys))
    }

    fn table(&mut self, pa: u64) -> &mut Table {
        let table = pa.wrapping_add(self.virt_minus_phys) as *mut Table;
        // SAFETY: every table address in the kernel's tables came from `allocate`, so it
        // points into `POOL`, which is mapped (or, MMU off, directly addressed); the pool is
        // only used by the boot CPU or under the `KERNEL_TABLES` lock, and the returned
        // borrow ends before the next call, so no two references alias.
        unsafe { &mut *table }
    }
}

/// Reads `image_size` from the arm64 Image header at the start of the kernel.
pub(super) fn image_size_from_header(image_start: u64) -> u64 {
    // SAFETY: the header is the first 64 bytes of the image being executed, and the field is
    // 8-byte aligned (safe even as a Device-memory access with the MMU off).
    unsafe {
        core::ptr::read_volatile((image_start + boot_info::IMAGE_SIZE_OFFSET as u64) as *const u64)
    }
}

pub(super) fn record_boot_layout(
    kernel_root: u64,
    virt_minus_phys: u64,
    phys_base: u64,
    image_size: u64,
) {
    KERNEL_ROOT.set(kernel_root);
    VIRT_MINUS_PHYS.set(virt_minus_phys);
    PHYS_BASE.set(phys_base);
    IMAGE_SIZE.set(image_size);
}

/// Programs MAIR, TCR and both TTBRs (the MMU is switched on by the caller).
pub(super) fn program_translation_registers(identity_root: u64, kernel_root: u64) {
    MAIR_EL1.set(paging::mair::VALUE);
    let pa_range = ID_AA64MMFR0_EL1.get() & 0xf;
    let asid16 = (ID_AA64MMFR0_EL1.get() >> 4) & 0xf == 0b10;
    // 48-bit VAs in both halves, 4 KiB granules, write-back inner-shareable table walks.
    let tcr = 16
        | (0b01 << 8)
        | (0b01 << 10)
        | (0b11 << 12)
        | (16 << 16)
        | (0b01 << 24)
        | (0b01 << 26)
        | (0b11 << 28)
        | (0b10 << 30)
        | (pa_range.min(5) << 32)
        | (u64::from(asid16) << 36);
    TCR_EL1.set(tcr);
    TTBR0_EL1.set(identity_root);
    TTBR1_EL1.set(kernel_root);
}

/// Physical extent of the loaded image (kernel and payload).
pub fn image_physical_range() -> (u64, u64) {
    let base = PHYS_BASE.get();
    (base, base + IMAGE_SIZE.get())
}

/// Size of the whole image as loaded (kernel memory image and payload).
pub fn image_size() -> u64 {
    IMAGE_SIZE.get()
}

/// Lock that serialises every change to the kernel's tables after early boot.
static KERNEL_TABLES: spin::Mutex<()> = spin::Mutex::new(());

/// Removes the boot identity map: from here on TTBR0 only ever holds task address spaces.
pub fn drop_identity_map() {
    TCR_EL1.set(TCR_EL1.get() | (1 << 7)); // EPD0: no walks through TTBR0
    TTBR0_EL1.set(0);
    barrier::isb(barrier::SY);
    // SAFETY: TLB maintenance has no memory-safety effect; it drops stale identity entries.
    unsafe { core::arch::asm!("tlbi vmalle1", "dsb nsh", "isb", options(nostack)) };
}

/// Maps the physical range `[pa, pa + size)` (widened to whole pages) into the linear map
/// with `attributes`, and returns the virtual address of `pa`.
///
/// Mapping a range twice with the same attributes is harmless: pages already mapped are
/// left alone. Blocks are used where alignment allows.
pub fn map_physical(pa: u64, size: u64, attributes: Attributes) -> Result<u64, MapError> {
    let start = pa & !(PAGE_SIZE - 1);
    let end = (pa.checked_add(size).ok_or(MapError::OutOfRange)?).next_multiple_of(PAGE_SIZE);
    let _guard = KERNEL_TABLES.lock();
    let mut pool = TablePool {
        virt_minus_phys: VIRT_MINUS_PHYS.get(),
    };
    let root = KERNEL_ROOT.get();
    // Map the maximal runs not yet mapped, so overlapping requests (two devices sharing a
    // page, a re-map of the device tree) compose.
    let mut page = start;
    while page < end {
        if let Some(existing) = paging::translate(&mut pool, root, PHYSMAP_BASE + page) {
            if existing.attributes != Some(attributes) {
                return Err(MapError::AlreadyMapped);
            }
            page += PAGE_SIZE;
            continue;
        }
        let mut run_end = page + PAGE_SIZE;
        while run_end < end && paging::translate(&mut pool, root, PHYSMAP_BASE + run_end).is_none()
        {
            run_end += PAGE_SIZE;
        }
        paging::map(
            &mut pool,
            root,
            PHYSMAP_BASE + page,
            page,
            run_end - page,
            attributes,
            true,
        )?;
        page = run_end;
    }
    // New entries replaced invalid ones, which the TLB never caches: a barrier suffices.
    barrier::dsb(barrier::ISHST);
    barrier::isb(barrier::SY);
    Ok(PHYSMAP_BASE + pa)
}

/// Maps `[pa, pa + len)` and returns it as bytes that live as long as the kernel.
///
/// For boot-time inputs that nothing writes after the hand-off (the device tree): the
/// linear map is never torn down, so the borrow stays valid.
pub fn map_physical_bytes(
    pa: u64,
    len: usize,
    attributes: Attributes,
) -> Result<&'static [u8], MapError> {
    let va = map_physical(pa, len as u64, attributes)?;
    // SAFETY: `map_physical` mapped all `len` bytes at `va` and linear-map entries are never
    // removed; the range is a boot loader hand-off that no one writes (see above).
    Ok(unsafe { core::slice::from_raw_parts(va as *const u8, len) })
}

/// The image payload (what the builder appended after the kernel's memory image).
pub fn payload() -> &'static [u8] {
    unsafe extern "C" {
        static __kernel_start: u8;
        static __kernel_end: u8;
    }
    let (start, end) = (
        &raw const __kernel_start as u64,
        &raw const __kernel_end as u64,
    );
    let len = (start + IMAGE_SIZE.get()).saturating_sub(end);
    // SAFETY: early boot mapped `[__kernel_end, __kernel_start + image_size)` read-only
    // (rounded up to a page), and nothing writes the payload.
    unsafe { core::slice::from_raw_parts(end as *const u8, len as usize) }
}
