//! AArch64 stage-1 translation tables: 4 KiB granule, four levels, 48-bit virtual addresses.
//!
//! The kernel builds its own tables twice — once with the MMU off during early boot, once
//! with it on — and will build one set per task address space. The rules for what a
//! descriptor means are the same every time, so they live here, in safe code the host can
//! test. How a table is reached in memory (identity with the MMU off, through the kernel's
//! mapping with it on, a `Vec` in a test) is the caller's business: [`TableMemory`].
//!
//! Policy enforced here rather than trusted to callers: a mapping is never both writable
//! and executable ([`Attributes`] cannot express it), and a valid entry is never silently
//! replaced (remapping is an error, so the caller has to unmap first and take care of TLB
//! maintenance: break-before-make).
#![no_std]
#![forbid(unsafe_code)]

use bitflags::bitflags;

/// Size of a page and of a translation table.
pub const PAGE_SIZE: u64 = 4096;
/// Entries per table.
pub const ENTRIES: usize = 512;
/// Bits of virtual address translated (T0SZ = T1SZ = 16).
pub const VA_BITS: u32 = 48;

/// One translation table: 512 descriptors, 4 KiB aligned.
#[repr(C, align(4096))]
#[derive(Clone, Debug)]
pub struct Table(pub [u64; ENTRIES]);

impl Table {
    /// A table with every entry invalid.
    pub const EMPTY: Table = Table([0; ENTRIES]);
}

/// Memory attribute indices programmed into MAIR_EL1 by the kernel, in this order.
///
/// Keeping the MAIR value next to the indices that refer to it means the two cannot drift.
pub mod mair {
    /// Device-nGnRnE: strongly ordered MMIO.
    pub const DEVICE_NGNRNE: u64 = 0;
    /// Normal memory, inner and outer write-back, read/write-allocate.
    pub const NORMAL_WB: u64 = 1;
    /// Device-nGnRE: MMIO allowing early write acknowledgement (what device registers use).
    pub const DEVICE_NGNRE: u64 = 2;
    /// Normal memory, non-cacheable.
    pub const NORMAL_NC: u64 = 3;
    /// The MAIR_EL1 value matching the indices above.
    pub const VALUE: u64 = (0xff << 8) | (0x04 << 16) | (0x44 << 24); // index 0: 0x00
}

bitflags! {
    /// Bits of a block or page descriptor (the ones this crate sets; the rest stay zero).
    #[derive(Clone, Copy, Debug, PartialEq, Eq)]
    pub struct DescriptorBits: u64 {
        /// Entry is valid.
        const VALID = 1 << 0;
        /// At levels 0-2: next-level table; at level 3: page (must be set for a page).
        const TABLE_OR_PAGE = 1 << 1;
        /// AP[1]: EL0 may access.
        const AP_EL0 = 1 << 6;
        /// AP[2]: read-only.
        const AP_RO = 1 << 7;
        /// SH = inner shareable.
        const SH_INNER = 0b11 << 8;
        /// Access flag: set so the first access does not fault.
        const AF = 1 << 10;
        /// Not global: the entry is tagged with the current ASID (task mappings).
        const NG = 1 << 11;
        /// Privileged execute never.
        const PXN = 1 << 53;
        /// Unprivileged execute never.
        const UXN = 1 << 54;
    }
}

const ATTR_INDEX_SHIFT: u64 = 2;
const ATTR_INDEX_MASK: u64 = 0b111 << ATTR_INDEX_SHIFT;
/// Output address bits [47:12] of a descriptor.
const ADDRESS_MASK: u64 = 0x0000_ffff_ffff_f000;

/// What kind of memory a mapping refers to.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum MemoryKind {
    /// Cacheable RAM.
    Normal,
    /// Non-cacheable RAM (buffers shared with non-coherent observers).
    NormalUncached,
    /// Device registers.
    Device,
}

/// Access permissions of a mapping. Writable-and-executable is deliberately not a variant.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Access {
    /// Readable, not writable, not executable.
    ReadOnly,
    /// Readable and writable, never executable.
    ReadWrite,
    /// Readable and executable, never writable.
    ReadExecute,
}

/// Who the mapping is for.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Privilege {
    /// Kernel only (EL1); global (not tagged with an ASID).
    Kernel,
    /// A task at EL0 (and the kernel, which may touch user memory only through checked
    /// copies); tagged with the address space's ASID.
    User,
}

/// The attributes of one mapping.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Attributes {
    /// Memory type.
    pub kind: MemoryKind,
    /// Permissions.
    pub access: Access,
    /// Owner.
    pub privilege: Privilege,
}

impl Attributes {
    /// Kernel code.
    pub const KERNEL_TEXT: Self = Self::kernel(MemoryKind::Normal, Access::ReadExecute);
    /// Kernel read-only data.
    pub const KERNEL_RODATA: Self = Self::kernel(MemoryKind::Normal, Access::ReadOnly);
    /// Kernel data, stacks, heap-free object tables.
    pub const KERNEL_DATA: Self = Self::kernel(MemoryKind::Normal, Access::ReadWrite);
    /// Device registers used by the kernel.
    pub const KERNEL_DEVICE: Self = Self::kernel(MemoryKind::Device, Access::ReadWrite);

    /// Kernel-only attributes.
    pub const fn kernel(kind: MemoryKind, access: Access) -> Self {
        Self {
            kind,
            access,
            privilege: Privilege::Kernel,
        }
    }

    /// Task (EL0) attributes.
    pub const fn user(kind: MemoryKind, access: Access) -> Self {
        Self {
            kind,
            access,
            privilege: Privilege::User,
        }
    }

    /// The leaf descriptor bits for these attributes (without address or type bits).
    pub fn leaf_bits(self) -> u64 {
        let mut bits = DescriptorBits::VALID | DescriptorBits::AF;
        let attr_index = match self.kind {
            MemoryKind::Normal => {
                bits |= DescriptorBits::SH_INNER;
                mair::NORMAL_WB
            }
            MemoryKind::NormalUncached => {
                bits |= DescriptorBits::SH_INNER;
                mair::NORMAL_NC
            }
            MemoryKind::Device => mair::DEVICE_NGNRE,
        };
        if self.access != Access::ReadWrite {
            bits |= DescriptorBits::AP_RO;
        }
        // Kernel mappings are never executable at EL0; user mappings never at EL1 (PXN), so
        // the kernel cannot be tricked into running task code.
        match (self.privilege, self.access) {
            (Privilege::Kernel, Access::ReadExecute) => bits |= DescriptorBits::UXN,
            (Privilege::Kernel, _) => bits |= DescriptorBits::UXN | DescriptorBits::PXN,
            (Privilege::User, Access::ReadExecute) => {
                bits |= DescriptorBits::AP_EL0 | DescriptorBits::NG | DescriptorBits::PXN
            }
            (Privilege::User, _) => {
                bits |= DescriptorBits::AP_EL0
                    | DescriptorBits::NG
                    | DescriptorBits::PXN
                    | DescriptorBits::UXN
            }
        }
        bits.bits() | (attr_index << ATTR_INDEX_SHIFT)
    }

    /// Decodes the attributes of a leaf descriptor; `None` for encodings this crate never
    /// writes.
    pub fn from_leaf(descriptor: u64) -> Option<Self> {
        let bits = DescriptorBits::from_bits_truncate(descriptor);
        let kind = match (descriptor & ATTR_INDEX_MASK) >> ATTR_INDEX_SHIFT {
            mair::NORMAL_WB => MemoryKind::Normal,
            mair::NORMAL_NC => MemoryKind::NormalUncached,
            mair::DEVICE_NGNRE => MemoryKind::Device,
            _ => return None,
        };
        let privilege = if bits.contains(DescriptorBits::AP_EL0) {
            Privilege::User
        } else {
            Privilege::Kernel
        };
        let exec = match privilege {
            Privilege::Kernel => !bits.contains(DescriptorBits::PXN),
            Privilege::User => !bits.contains(DescriptorBits::UXN),
        };
        let access = match (bits.contains(DescriptorBits::AP_RO), exec) {
            (false, false) => Access::ReadWrite,
            (true, false) => Access::ReadOnly,
            (true, true) => Access::ReadExecute,
            (false, true) => return None,
        };
        Some(Self {
            kind,
            access,
            privilege,
        })
    }
}

/// Why a mapping request was refused.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum MapError {
    /// An address or size is not page aligned.
    Misaligned,
    /// The range wraps around or leaves the 48-bit space.
    OutOfRange,
    /// Part of the range is already mapped.
    AlreadyMapped,
    /// No table could be allocated.
    OutOfTables,
}

/// Access to the memory that holds translation tables.
///
/// Tables are named by their physical address, which is what descriptors contain.
pub trait TableMemory {
    /// Allocates a zeroed table and returns its physical address.
    fn allocate(&mut self) -> Option<u64>;
    /// The table at physical address `pa` (one that `allocate` returned, or the root).
    fn table(&mut self, pa: u64) -> &mut Table;
}

/// Index of `va` into the table at `level` (0-3).
pub const fn index(va: u64, level: u32) -> usize {
    ((va >> (39 - 9 * level)) & 0x1ff) as usize
}

/// Bytes covered by one entry at `level`.
pub const fn entry_span(level: u32) -> u64 {
    1 << (39 - 9 * level)
}

fn is_table(descriptor: u64, level: u32) -> bool {
    level < 3 && descriptor & 0b11 == 0b11
}

/// Maps `size` bytes at `va` to `pa` in the tables rooted at `root`.
///
/// Uses 1 GiB and 2 MiB blocks where both addresses and the remaining size allow it and
/// `allow_blocks` is set, 4 KiB pages otherwise. `va` may be a TTBR1 (upper-half) address:
/// only its low 48 bits index the tables. Fails without changing any existing entry if any
/// part of the range is already mapped (tables allocated before the failure stay, empty).
pub fn map(
    memory: &mut impl TableMemory,
    root: u64,
    va: u64,
    pa: u64,
    size: u64,
    attributes: Attributes,
    allow_blocks: bool,
) -> Result<(), MapError> {
    if !va.is_multiple_of(PAGE_SIZE)
        || !pa.is_multiple_of(PAGE_SIZE)
        || !size.is_multiple_of(PAGE_SIZE)
    {
        return Err(MapError::Misaligned);
    }
    let low = va & ((1 << VA_BITS) - 1);
    if low.checked_add(size).is_none_or(|end| end > 1 << VA_BITS)
        || pa.checked_add(size).is_none_or(|end| end > 1 << VA_BITS)
    {
        return Err(MapError::OutOfRange);
    }
    // Check first, so a refused request leaves the mappings as they were.
    let mut offset = 0;
    while offset < size {
        if translate(memory, root, va + offset).is_some() {
            return Err(MapError::AlreadyMapped);
        }
        offset += PAGE_SIZE;
    }
    let leaf = attributes.leaf_bits();
    let mut offset = 0;
    while offset < size {
        let (v, p, remaining) = (va + offset, pa + offset, size - offset);
        let level = leaf_level(v, p, remaining, allow_blocks);
        let table = walk_to(memory, root, v, level)?;
        let type_bits = if level == 3 { 0b11 } else { 0b01 };
        memory.table(table).0[index(v, level)] = (p & ADDRESS_MASK) | leaf | type_bits;
        offset += entry_span(level);
    }
    Ok(())
}

/// The deepest-needed level for a leaf at `va`/`pa` with `remaining` bytes left.
fn leaf_level(va: u64, pa: u64, remaining: u64, allow_blocks: bool) -> u32 {
    if allow_blocks {
        for level in 1..3 {
            let span = entry_span(level);
            if va.is_multiple_of(span) && pa.is_multiple_of(span) && remaining >= span {
                return level;
            }
        }
    }
    3
}

/// Returns the table at `level` covering `va`, allocating intermediate tables.
fn walk_to(memory: &mut impl TableMemory, root: u64, va: u64, level: u32) -> Result<u64, MapError> {
    let mut table = root;
    for current in 0..level {
        let slot = index(va, current);
        let descriptor = memory.table(table).0[slot];
        table = if is_table(descriptor, current) {
            descriptor & ADDRESS_MASK
        } else if descriptor & 1 == 0 {
            let next = memory.allocate().ok_or(MapError::OutOfTables)?;
            memory.table(table).0[slot] = next | 0b11;
            next
        } else {
            // A block already covers this range; `map` checked this cannot happen.
            return Err(MapError::AlreadyMapped);
        };
    }
    Ok(table)
}

/// Removes the page mapping at `va`, returning the physical address it mapped.
///
/// Only 4 KiB pages can be unmapped one at a time; unmapping inside a block is refused with
/// `None` (blocks are used for the kernel's long-lived linear map only). The caller must
/// invalidate the TLB entry.
pub fn unmap_page(memory: &mut impl TableMemory, root: u64, va: u64) -> Option<u64> {
    let mut table = root;
    for level in 0..3 {
        let descriptor = memory.table(table).0[index(va, level)];
        if !is_table(descriptor, level) {
            return None;
        }
        table = descriptor & ADDRESS_MASK;
    }
    let slot = &mut memory.table(table).0[index(va, 3)];
    if *slot & 0b11 != 0b11 {
        return None;
    }
    let pa = *slot & ADDRESS_MASK;
    *slot = 0;
    Some(pa)
}

/// A resolved translation.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Translation {
    /// Physical address `va` maps to.
    pub pa: u64,
    /// Attributes of the leaf entry.
    pub attributes: Option<Attributes>,
    /// Level of the leaf (1 = 1 GiB block, 2 = 2 MiB block, 3 = page).
    pub level: u32,
}

/// Walks the tables like the MMU does and returns where `va` maps to, if anywhere.
pub fn translate(memory: &mut impl TableMemory, root: u64, va: u64) -> Option<Translation> {
    let mut table = root;
    for level in 0..4 {
        let descriptor = memory.table(table).0[index(va, level)];
        if descriptor & 1 == 0 {
            return None;
        }
        if is_table(descriptor, level) {
            table = descriptor & ADDRESS_MASK;
            continue;
        }
        if level == 0 || (level == 3 && descriptor & 0b10 == 0) {
            return None; // reserved encodings
        }
        let span = entry_span(level);
        let base = descriptor & ADDRESS_MASK & !(span - 1);
        return Some(Translation {
            pa: base | (va & (span - 1)),
            attributes: Attributes::from_leaf(descriptor),
            level,
        });
    }
    None
}

#[cfg(test)]
mod tests;
