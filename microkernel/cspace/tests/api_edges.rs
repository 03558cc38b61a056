//! Edges of the public API that the model tests leave open, found by `cargo xtask
//! mutants`: each test names the surviving mutants it kills.

use cspace::{CapTable, Capability, ObjectRef, SlotId};
use kernel_abi::{Error, ObjectType, Rights};

const EP: ObjectRef = ObjectRef::new(ObjectType::Endpoint, 3);

/// Slots and objects name themselves in messages; the table's `Debug` lists exactly
/// the occupied slots. (Kills `Display for SlotId`, `Display for ObjectRef` and
/// `Debug for CapTable` -> `Ok(())`.)
#[test]
fn edge_cspace_names_and_debug() {
    assert_eq!(SlotId::new(7).to_string(), "slot 7");
    assert_eq!(EP.to_string(), "Endpoint 3");
    let mut t = CapTable::<4>::new();
    assert_eq!(format!("{t:?}"), "{}");
    t.insert_original(SlotId::new(2), Capability::new(EP, Rights::READ))
        .unwrap();
    let debug = format!("{t:?}");
    assert!(
        debug.starts_with("{SlotId(2): Capability {") && debug.contains("Endpoint"),
        "{debug}"
    );
}

/// A space may end exactly at the table's end, not one past it; its length and the
/// table's capacity read back. (Kills `>` -> `>=` in `CapTable::space`,
/// `CapSpace::len` -> 0, 1 and `CapTable::capacity` -> 0, 1.)
#[test]
fn edge_cspace_spaces_fit_the_table_exactly() {
    let t = CapTable::<6>::new();
    assert_eq!(t.capacity(), 6);
    let all = t.space(0, 6).unwrap();
    assert_eq!(all.len(), 6);
    let tail = t.space(3, 3).unwrap();
    assert_eq!(tail.len(), 3);
    assert_eq!(tail.resolve(2), Ok(SlotId::new(5)));
    assert_eq!(tail.resolve(3), Err(Error::InvalidSlot));
    assert_eq!(t.space(4, 3), Err(Error::InvalidArgument));
    assert_eq!(t.space(6, 0).map(|s| s.len()), Ok(0));
    assert_eq!(t.space(7, 0), Err(Error::InvalidArgument));
}
