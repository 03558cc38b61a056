extern crate std;

use super::*;
use proptest::prelude::*;
use std::{boxed::Box, vec::Vec};

/// Tables in host memory; physical address = 0x1000 * (index + 1).
struct HostTables {
    tables: Vec<Box<Table>>,
    limit: usize,
}

impl HostTables {
    fn new(limit: usize) -> (Self, u64) {
        let mut memory = Self {
            tables: Vec::new(),
            limit,
        };
        let root = memory.allocate().unwrap();
        (memory, root)
    }
}

impl TableMemory for HostTables {
    fn allocate(&mut self) -> Option<u64> {
        if self.tables.len() == self.limit {
            return None;
        }
        self.tables.push(Box::new(Table::EMPTY));
        Some(self.tables.len() as u64 * PAGE_SIZE)
    }
    fn table(&mut self, pa: u64) -> &mut Table {
        &mut self.tables[(pa / PAGE_SIZE) as usize - 1]
    }
}

const KERNEL_VA: u64 = 0xffff_ffff_8008_0000;

#[test]
fn maps_pages_and_translates_back() {
    let (mut memory, root) = HostTables::new(16);
    map(
        &mut memory,
        root,
        KERNEL_VA,
        0x4008_0000,
        3 * PAGE_SIZE,
        Attributes::KERNEL_TEXT,
        true,
    )
    .unwrap();
    let t = translate(&mut memory, root, KERNEL_VA + PAGE_SIZE + 0x123).unwrap();
    assert_eq!(t.pa, 0x4008_1123);
    assert_eq!(t.level, 3);
    assert_eq!(t.attributes, Some(Attributes::KERNEL_TEXT));
    assert!(translate(&mut memory, root, KERNEL_VA + 3 * PAGE_SIZE).is_none());
}

#[test]
fn uses_blocks_when_aligned_and_pages_at_the_edges() {
    let (mut memory, root) = HostTables::new(16);
    let va = 0xffff_0000_4000_0000 - PAGE_SIZE;
    let size = (1 << 30) + (2 << 20) + 2 * PAGE_SIZE;
    map(
        &mut memory,
        root,
        va,
        0x4000_0000 - PAGE_SIZE,
        size,
        Attributes::KERNEL_DATA,
        true,
    )
    .unwrap();
    let level_at =
        |memory: &mut HostTables, off: u64| translate(memory, root, va + off).unwrap().level;
    assert_eq!(level_at(&mut memory, 0), 3);
    assert_eq!(level_at(&mut memory, PAGE_SIZE), 1);
    assert_eq!(level_at(&mut memory, PAGE_SIZE + (1 << 30)), 2);
    assert_eq!(level_at(&mut memory, size - PAGE_SIZE), 3);
}

#[test]
fn refuses_misaligned_overlapping_and_out_of_range_requests() {
    let (mut memory, root) = HostTables::new(16);
    let attrs = Attributes::KERNEL_DATA;
    assert_eq!(
        map(&mut memory, root, 0x1001, 0, PAGE_SIZE, attrs, true),
        Err(MapError::Misaligned)
    );
    assert_eq!(
        map(
            &mut memory,
            root,
            0xffff_ffff_ffff_f000,
            0,
            2 * PAGE_SIZE,
            attrs,
            true
        ),
        Err(MapError::OutOfRange)
    );
    map(
        &mut memory,
        root,
        0x20_0000,
        0x20_0000,
        PAGE_SIZE,
        attrs,
        true,
    )
    .unwrap();
    let before: Vec<Table> = memory.tables.iter().map(|t| (**t).clone()).collect();
    assert_eq!(
        map(
            &mut memory,
            root,
            0x1f_f000,
            0x1f_f000,
            2 * PAGE_SIZE,
            attrs,
            true
        ),
        Err(MapError::AlreadyMapped)
    );
    for (old, new) in before.iter().zip(&memory.tables) {
        assert_eq!(old.0, new.0, "a refused mapping changed a table");
    }
}

#[test]
fn reports_running_out_of_tables() {
    let (mut memory, root) = HostTables::new(2);
    assert_eq!(
        map(
            &mut memory,
            root,
            KERNEL_VA,
            0,
            PAGE_SIZE,
            Attributes::KERNEL_DATA,
            true
        ),
        Err(MapError::OutOfTables)
    );
}

#[test]
fn unmaps_single_pages_only() {
    let (mut memory, root) = HostTables::new(16);
    map(
        &mut memory,
        root,
        0x40_0000,
        0x8000_0000,
        2 << 20,
        Attributes::KERNEL_DATA,
        true,
    )
    .unwrap();
    assert_eq!(
        unmap_page(&mut memory, root, 0x40_0000),
        None,
        "inside a block"
    );
    map(
        &mut memory,
        root,
        0x1000,
        0x9000,
        PAGE_SIZE,
        Attributes::KERNEL_DATA,
        true,
    )
    .unwrap();
    assert_eq!(unmap_page(&mut memory, root, 0x1000), Some(0x9000));
    assert!(translate(&mut memory, root, 0x1000).is_none());
    assert_eq!(unmap_page(&mut memory, root, 0x1000), None);
}

#[test]
fn each_address_and_the_size_must_be_page_aligned() {
    let (mut memory, root) = HostTables::new(16);
    let attrs = Attributes::KERNEL_DATA;
    for (va, pa, size) in [
        (0x1001, 0x2000, PAGE_SIZE),
        (0x1000, 0x2001, PAGE_SIZE),
        (0x1000, 0x2000, PAGE_SIZE / 2),
    ] {
        assert_eq!(
            map(&mut memory, root, va, pa, size, attrs, true),
            Err(MapError::Misaligned),
            "va {va:#x} pa {pa:#x} size {size:#x}"
        );
    }
    assert_eq!(memory.tables.len(), 1, "nothing allocated");
}

#[test]
fn the_last_page_of_the_address_spaces_can_be_mapped() {
    let (mut memory, root) = HostTables::new(16);
    let attrs = Attributes::KERNEL_DATA;
    let top = 1 << VA_BITS;
    // Ends exactly at the top of the 48-bit space, virtual (upper half) and physical.
    map(
        &mut memory,
        root,
        u64::MAX - (PAGE_SIZE - 1),
        top - PAGE_SIZE,
        PAGE_SIZE,
        attrs,
        true,
    )
    .unwrap();
    assert_eq!(
        translate(&mut memory, root, u64::MAX).map(|t| t.pa),
        Some(top - 1)
    );
    // The same low 48 bits index the tables: a lower-half address in fresh tables.
    let (mut memory, root) = HostTables::new(16);
    map(
        &mut memory,
        root,
        top - PAGE_SIZE,
        0,
        PAGE_SIZE,
        attrs,
        true,
    )
    .unwrap();
    // One page further is outside.
    assert_eq!(
        map(&mut memory, root, 0x1000, top, PAGE_SIZE, attrs, true),
        Err(MapError::OutOfRange)
    );
    assert_eq!(
        map(
            &mut memory,
            root,
            0x1000,
            top - PAGE_SIZE,
            2 * PAGE_SIZE,
            attrs,
            true
        ),
        Err(MapError::OutOfRange)
    );
}

#[test]
fn a_mapping_next_to_an_existing_one_is_not_an_overlap() {
    let (mut memory, root) = HostTables::new(16);
    let attrs = Attributes::KERNEL_DATA;
    map(&mut memory, root, 0x2000, 0x9000, PAGE_SIZE, attrs, true).unwrap();
    map(&mut memory, root, 0x1000, 0x8000, PAGE_SIZE, attrs, true).unwrap();
    assert_eq!(
        translate(&mut memory, root, 0x1000).map(|t| t.pa),
        Some(0x8000)
    );
}

/// Like the MMU, `translate` treats the reserved encodings as faults: a block descriptor
/// at level 0 (no 512 GiB blocks with a 4 KiB granule) and a level-3 entry with bit 1
/// clear.
#[test]
fn reserved_encodings_do_not_translate() {
    let (mut memory, root) = HostTables::new(16);
    let leaf = Attributes::KERNEL_DATA.leaf_bits();
    memory.table(root).0[index(0, 0)] = leaf | 0b01;
    assert_eq!(translate(&mut memory, root, 0x1000), None, "level-0 block");

    let (mut memory, root) = HostTables::new(16);
    let va = 0x4000_3000;
    map(
        &mut memory,
        root,
        va,
        0x8000,
        PAGE_SIZE,
        Attributes::KERNEL_DATA,
        true,
    )
    .unwrap();
    let mut table = root;
    for level in 0..3 {
        table = memory.table(table).0[index(va, level)] & ADDRESS_MASK;
    }
    let entry = &mut memory.table(table).0[index(va, 3)];
    assert_eq!(*entry & 0b11, 0b11);
    *entry &= !0b10;
    assert_eq!(
        translate(&mut memory, root, va),
        None,
        "level-3 block encoding"
    );
}

/// The MAIR_EL1 value gives each index the memory type its name says (Arm ARM, MAIR_EL1
/// Attr<n> encodings), and leaves indices 4..7 zero.
#[test]
fn mair_value_encodes_each_named_index() {
    let attr = |index: u64| (mair::VALUE >> (8 * index)) & 0xff;
    assert_eq!(attr(mair::DEVICE_NGNRNE), 0x00, "Device-nGnRnE");
    assert_eq!(
        attr(mair::NORMAL_WB),
        0xff,
        "Normal, inner and outer write-back non-transient, read/write-allocate"
    );
    assert_eq!(attr(mair::DEVICE_NGNRE), 0x04, "Device-nGnRE");
    assert_eq!(
        attr(mair::NORMAL_NC),
        0x44,
        "Normal, inner and outer non-cacheable"
    );
    assert_eq!(mair::VALUE >> 32, 0, "indices 4..7 unused");
}

/// Leaf descriptor bits, written out from the architecture's field positions (VALID bit 0,
/// AttrIndx 4:2, AP 7:6, SH 9:8, AF 10, nG 11, PXN 53, UXN 54), so a bit that
/// `from_leaf` does not decode (VALID, AF, SH) cannot go missing unnoticed.
#[test]
fn leaf_bits_match_the_descriptor_format() {
    const PXN: u64 = 1 << 53;
    const UXN: u64 = 1 << 54;
    let cases = [
        // VALID | AttrIndx 1 | AP_RO | SH inner | AF
        (Attributes::KERNEL_TEXT, 0x785 | UXN),
        (Attributes::KERNEL_RODATA, 0x785 | UXN | PXN),
        // VALID | AttrIndx 1 | SH inner | AF
        (Attributes::KERNEL_DATA, 0x705 | UXN | PXN),
        // VALID | AttrIndx 2 | AF: no shareability for device memory
        (Attributes::KERNEL_DEVICE, 0x409 | UXN | PXN),
        // VALID | AttrIndx 3 | AP_EL0 | SH inner | AF | nG
        (
            Attributes::user(MemoryKind::NormalUncached, Access::ReadWrite),
            0xf4d | UXN | PXN,
        ),
        // VALID | AttrIndx 1 | AP_EL0 | AP_RO | SH inner | AF | nG
        (
            Attributes::user(MemoryKind::Normal, Access::ReadExecute),
            0xfc5 | PXN,
        ),
        // VALID | AttrIndx 2 | AP_EL0 | AP_RO | AF | nG
        (
            Attributes::user(MemoryKind::Device, Access::ReadOnly),
            0xcc9 | UXN | PXN,
        ),
        // VALID | AttrIndx 3 | AP_RO | SH inner | AF
        (
            Attributes::kernel(MemoryKind::NormalUncached, Access::ReadOnly),
            0x78d | UXN | PXN,
        ),
    ];
    for (attributes, bits) in cases {
        assert_eq!(
            attributes.leaf_bits(),
            bits,
            "{attributes:?}: {:#x} != {bits:#x}",
            attributes.leaf_bits()
        );
    }
}

fn any_attributes() -> impl Strategy<Value = Attributes> {
    let kind = prop_oneof![
        Just(MemoryKind::Normal),
        Just(MemoryKind::NormalUncached),
        Just(MemoryKind::Device)
    ];
    let access = prop_oneof![
        Just(Access::ReadOnly),
        Just(Access::ReadWrite),
        Just(Access::ReadExecute)
    ];
    let privilege = prop_oneof![Just(Privilege::Kernel), Just(Privilege::User)];
    (kind, access, privilege).prop_map(|(kind, access, privilege)| Attributes {
        kind,
        access,
        privilege,
    })
}

proptest! {
    /// W^X at the descriptor level: no encoding is writable and executable at any level.
    #[test]
    fn no_descriptor_is_writable_and_executable(attrs in any_attributes()) {
        let bits = DescriptorBits::from_bits_truncate(attrs.leaf_bits());
        let writable = !bits.contains(DescriptorBits::AP_RO);
        let el1_exec = !bits.contains(DescriptorBits::PXN);
        let el0_exec = !bits.contains(DescriptorBits::UXN);
        prop_assert!(!(writable && (el1_exec || el0_exec)));
        prop_assert!(!(el1_exec && bits.contains(DescriptorBits::AP_EL0)), "kernel may run user code");
        prop_assert_eq!(Attributes::from_leaf(attrs.leaf_bits()), Some(attrs));
    }

    /// Every page of every mapped range translates to its own physical page, and nothing
    /// outside the ranges translates at all.
    #[test]
    fn disjoint_mappings_translate_exactly(
        ranges in proptest::collection::vec((0u64..64, 1u64..40, 0u64..4096), 1..6),
        blocks in any::<bool>(),
    ) {
        let (mut memory, root) = HostTables::new(256);
        let mut mapped: Vec<(u64, u64, u64)> = Vec::new();
        for (slot, pages, pa_page) in ranges {
            // Ranges start at distinct 1 MiB-spaced slots around a 2 MiB boundary.
            let va = 0xffff_0000_3f00_0000 + slot * (1 << 20);
            let size = pages * PAGE_SIZE;
            let pa = pa_page * PAGE_SIZE;
            let overlaps = mapped.iter().any(|&(v, s, _)| va < v + s && v < va + size);
            let result = map(&mut memory, root, va, pa, size, Attributes::KERNEL_DATA, blocks);
            if overlaps {
                prop_assert_eq!(result, Err(MapError::AlreadyMapped));
            } else {
                prop_assert_eq!(result, Ok(()));
                mapped.push((va, size, pa));
            }
        }
        for probe in (0..72 * 256).map(|p| 0xffff_0000_3f00_0000 + p * PAGE_SIZE) {
            let expected = mapped.iter().find(|&&(v, s, _)| probe >= v && probe < v + s)
                .map(|&(v, _, p)| p + (probe - v));
            prop_assert_eq!(translate(&mut memory, root, probe).map(|t| t.pa), expected);
        }
    }
}
