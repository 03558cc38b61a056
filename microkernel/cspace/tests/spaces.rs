//! Property test of the rule "a task acts only through capabilities it holds" at the
//! level the kernel uses it: every operation names its slots through the task's
//! [`CapSpace`], with task-local numbers as a register would carry them.
//!
//! The table is split into three spaces of random lengths, with gaps between them. Random
//! operations by random tasks, with local numbers inside the space, at its end, past it
//! and far past it (`1 << 32`, `u64::MAX`), are checked against the reference: a local
//! number resolves exactly when it is below the space's length, to `base + local`; an
//! operation that names a slot outside the space is refused with `InvalidSlot` and changes
//! nothing; one that resolves changes only slots of the task's own space (no operation
//! here crosses spaces: only the kernel's transfer does, which `model.rs` covers).

use cspace::{CapSpace, CapTable, Capability, ObjectRef, SlotId};
use kernel_abi::{Error, ObjectType, Rights};
use proptest::prelude::*;

const SLOTS: usize = 24;
const TASKS: usize = 3;

#[derive(Debug, Clone, Copy)]
enum Op {
    Create(u64),
    Mint(u64, u64, u8),
    Copy(u64, u64),
    Move(u64, u64),
    Delete(u64),
    Revoke(u64),
}

/// A task-local number: mostly inside a space of up to 8 slots, sometimes at or just past
/// a space's end, sometimes far outside.
fn local() -> impl Strategy<Value = u64> {
    prop_oneof![
        8 => 0..8u64,
        2 => 0..12u64,
        1 => Just(1u64 << 32),
        1 => Just(u64::MAX),
        1 => any::<u64>(),
    ]
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        2 => local().prop_map(Op::Create),
        3 => (local(), local(), 0..16u8).prop_map(|(s, d, r)| Op::Mint(s, d, r)),
        2 => (local(), local()).prop_map(|(s, d)| Op::Copy(s, d)),
        1 => (local(), local()).prop_map(|(s, d)| Op::Move(s, d)),
        1 => local().prop_map(Op::Delete),
        1 => local().prop_map(Op::Revoke),
    ]
}

/// Three spaces: lengths 0..=7 and gaps 0..=1 before each; they always fit in 24 slots.
fn layout() -> impl Strategy<Value = [(u32, u32); TASKS]> {
    prop::array::uniform3((0..=1u32, 0..=7u32)).prop_map(|parts| {
        let mut base = 0;
        parts.map(|(gap, len)| {
            base += gap;
            let space = (base, len);
            base += len;
            space
        })
    })
}

fn snapshot(table: &CapTable<SLOTS>) -> Vec<(SlotId, Capability)> {
    table.occupied().collect()
}

/// The reference resolution: `Some(base + local)` exactly when `local < len`.
fn reference(space: (u32, u32), local: u64) -> Option<SlotId> {
    (local < u64::from(space.1)).then(|| SlotId::new(space.0 + local as u32))
}

// The default configuration: 256 cases, or `PROPTEST_CASES` (`cargo xtask test --deep`).
proptest! {
    #[test]
    fn a_task_reaches_only_its_own_slots(
        spaces in layout(),
        ops in prop::collection::vec((0..TASKS, op()), 1..120),
    ) {
        let mut table = CapTable::<SLOTS>::new();
        let caps: Vec<CapSpace> =
            spaces.iter().map(|&(base, len)| table.space(base, len).unwrap()).collect();
        let mut next_object = 0;
        for (task, op) in ops {
            let (space, bounds) = (caps[task], spaces[task]);
            let locals: Vec<u64> = match op {
                Op::Create(s) | Op::Delete(s) | Op::Revoke(s) => vec![s],
                Op::Mint(s, d, _) | Op::Copy(s, d) | Op::Move(s, d) => vec![s, d],
            };
            let mut resolved = Vec::new();
            for &local in &locals {
                let got = space.resolve(local);
                prop_assert_eq!(got.ok(), reference(bounds, local), "task {} local {}", task, local);
                if let Ok(slot) = got {
                    prop_assert!(space.contains(slot));
                    prop_assert_eq!(space.local_of(slot).map(u64::from), Some(local));
                }
                resolved.push(got);
            }
            let before = snapshot(&table);
            let Some(slots) = resolved.iter().copied().collect::<Result<Vec<_>, _>>().ok() else {
                // The kernel stops at the first slot that does not resolve.
                prop_assert_eq!(resolved.iter().find_map(|r| r.err()), Some(Error::InvalidSlot));
                continue;
            };
            let _ = match op {
                Op::Create(_) => {
                    next_object += 1;
                    let object = ObjectRef::new(ObjectType::Endpoint, next_object);
                    table.insert_original(slots[0], Capability::new(object, Rights::ALL))
                }
                Op::Mint(_, _, rights) => {
                    table.mint(slots[0], slots[1], Rights::from_bits_retain(rights), None)
                }
                Op::Copy(..) => table.copy(slots[0], slots[1]),
                Op::Move(..) => table.move_(slots[0], slots[1]),
                Op::Delete(_) => table.delete(slots[0]).map(drop),
                Op::Revoke(_) => table.revoke(slots[0], |_| {}).map(drop),
            };
            let after = snapshot(&table);
            for changed in before.iter().filter(|e| !after.contains(e))
                .chain(after.iter().filter(|e| !before.contains(e)))
            {
                prop_assert!(
                    space.contains(changed.0),
                    "task {}'s {:?} changed {:?}, outside its space {:?}",
                    task, op, changed.0, bounds
                );
            }
            prop_assert_eq!(table.check_consistency(), Ok(()));
        }
    }
}
