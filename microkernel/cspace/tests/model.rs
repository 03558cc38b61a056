//! Random operation sequences on a real `CapTable`, checked against a reference model
//! and against the capability rules themselves after every step.
//!
//! The model is deliberately naive (a map from slot to capability and parent, with
//! children and descendants found by scanning), so that it is easy to believe. Besides
//! agreeing with it, the table must satisfy these rules, checked directly on the table:
//!
//! - a failed operation leaves the table exactly as it was;
//! - no operation changes a capability in place: a slot occupied before and after a step
//!   holds the same capability (so a badge, once set, never changes);
//! - copy and move carry the capability (rights and badge) unchanged, mint gives the
//!   requested rights and the requested or inherited badge;
//! - along every derivation path, a capability to the same object as an ancestor has a
//!   subset of its rights, and the ancestor's badge if it has one;
//! - revoke empties exactly the descendants of the slot, and reports their count;
//! - deletion reports `last_reference` exactly when no slot names the object any more,
//!   and revoke reports each object that lost its last capability exactly once;
//! - the table's own structural self-check passes.

use std::collections::{BTreeMap, BTreeSet};

use cspace::{CapTable, Capability, Deleted, ObjectRef, SlotId};
use kernel_abi::{Badge, Error, ObjectType, Rights};
use proptest::prelude::*;

/// Small, so that slots collide and trees get deep.
const SLOTS: usize = 16;
/// Slot numbers are drawn from `0..SLOT_RANGE`, a little past the table.
const SLOT_RANGE: u32 = SLOTS as u32 + 2;

type Table = CapTable<SLOTS>;

#[derive(Debug, Clone)]
enum Op {
    InsertOriginal {
        slot: u32,
        cap: Capability,
    },
    InsertIssued {
        issuer: u32,
        dst: u32,
        cap: Capability,
    },
    Mint {
        src: u32,
        dst: u32,
        rights: Rights,
        badge: Option<Badge>,
    },
    Copy {
        src: u32,
        dst: u32,
    },
    Move {
        src: u32,
        dst: u32,
    },
    Delete {
        slot: u32,
    },
    Revoke {
        slot: u32,
    },
    Lookup {
        slot: u32,
    },
    LookupChecked {
        slot: u32,
        kind: ObjectType,
        rights: Rights,
    },
}

/// What an operation returned, in a form both the table and the model produce.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Outcome {
    Unit,
    Deleted(Deleted),
    /// Count, and the objects reported dead (sorted).
    Revoked(usize, Vec<ObjectRef>),
    Cap(Capability),
}

// ---- strategies ---------------------------------------------------------------------

/// How an operation chooses a slot. Most choices are resolved against the current state
/// (the n-th occupied or vacant slot), so that most operations get past the argument
/// checks and trees grow deep; the rest are raw numbers, a few past the table's end.
#[derive(Debug, Clone, Copy)]
enum Pick {
    Occupied(u8),
    Vacant(u8),
    Raw(u32),
}

/// How a mint chooses its rights: a random subset of the source's, or raw bits (which
/// may ask for more than the source has, or for a reserved bit).
#[derive(Debug, Clone, Copy)]
enum RightsPick {
    SubsetOfSource(u8),
    Raw(Rights),
}

/// An operation before its slots are chosen; see [`Plan::resolve`].
#[derive(Debug, Clone)]
enum Plan {
    InsertOriginal(Pick, Capability),
    InsertIssued(Pick, Pick, Capability),
    Mint(Pick, Pick, RightsPick, Option<Badge>),
    Copy(Pick, Pick),
    Move(Pick, Pick),
    Delete(Pick),
    Revoke(Pick),
    Lookup(Pick),
    LookupChecked(Pick, ObjectType, Rights),
}

fn source() -> impl Strategy<Value = Pick> {
    prop_oneof![
        8 => any::<u8>().prop_map(Pick::Occupied),
        1 => any::<u8>().prop_map(Pick::Vacant),
        1 => (0..SLOT_RANGE).prop_map(Pick::Raw),
    ]
}

fn destination() -> impl Strategy<Value = Pick> {
    prop_oneof![
        8 => any::<u8>().prop_map(Pick::Vacant),
        1 => any::<u8>().prop_map(Pick::Occupied),
        1 => (0..SLOT_RANGE).prop_map(Pick::Raw),
    ]
}

fn kind() -> impl Strategy<Value = ObjectType> {
    prop_oneof![
        Just(ObjectType::Endpoint),
        Just(ObjectType::Notification),
        Just(ObjectType::Thread),
        Just(ObjectType::IrqHandler),
    ]
}

/// Few objects, so that "this object already has capabilities" comes up.
fn object() -> impl Strategy<Value = ObjectRef> {
    (kind(), 0..3u32).prop_map(|(k, i)| ObjectRef::new(k, i))
}

/// Any defined rights, sometimes with a reserved bit.
fn rights() -> impl Strategy<Value = Rights> {
    prop_oneof![
        19 => (0..16u8).prop_map(Rights::from_bits_retain),
        1 => (0..16u8).prop_map(|b| Rights::from_bits_retain(b | 0x40)),
    ]
}

/// Mostly no badge, sometimes the invalid badge 0.
fn badge() -> impl Strategy<Value = Option<Badge>> {
    prop_oneof![
        3 => Just(None),
        3 => (1..5u64).prop_map(|b| Some(Badge::new(b))),
        1 => Just(Some(Badge::new(0))),
    ]
}

/// A capability for the kernel to create: mostly all rights and no badge.
fn capability() -> impl Strategy<Value = Capability> {
    let rights = prop_oneof![2 => Just(Rights::ALL), 1 => rights()];
    (object(), rights, prop_oneof![3 => Just(None), 1 => badge()]).prop_map(
        |(object, rights, badge)| Capability {
            object,
            rights,
            badge,
        },
    )
}

fn plan() -> impl Strategy<Value = Plan> {
    let mint_rights = prop_oneof![
        4 => any::<u8>().prop_map(RightsPick::SubsetOfSource),
        1 => rights().prop_map(RightsPick::Raw),
    ];
    prop_oneof![
        3 => (destination(), capability()).prop_map(|(d, c)| Plan::InsertOriginal(d, c)),
        1 => (source(), destination(), capability())
            .prop_map(|(s, d, c)| Plan::InsertIssued(s, d, c)),
        5 => (source(), destination(), mint_rights, badge())
            .prop_map(|(s, d, r, b)| Plan::Mint(s, d, r, b)),
        4 => (source(), destination()).prop_map(|(s, d)| Plan::Copy(s, d)),
        2 => (source(), destination()).prop_map(|(s, d)| Plan::Move(s, d)),
        2 => source().prop_map(Plan::Delete),
        1 => source().prop_map(Plan::Revoke),
        1 => source().prop_map(Plan::Lookup),
        1 => (source(), kind(), rights()).prop_map(|(s, k, r)| Plan::LookupChecked(s, k, r)),
    ]
}

impl Pick {
    /// The slot this pick names in the state `m` (which agrees with the table).
    fn resolve(self, m: &Model) -> u32 {
        let nth = |n: u8, want_occupied: bool| {
            let matching: Vec<u32> = (0..SLOTS as u32)
                .filter(|s| m.slots.contains_key(s) == want_occupied)
                .collect();
            // None of the wanted kind: any slot will do.
            matching
                .get(usize::from(n) % matching.len().max(1))
                .copied()
                .unwrap_or(u32::from(n) % SLOT_RANGE)
        };
        match self {
            Pick::Occupied(n) => nth(n, true),
            Pick::Vacant(n) => nth(n, false),
            Pick::Raw(s) => s,
        }
    }
}

impl Plan {
    /// The concrete operation this plan makes in the state `m`.
    fn resolve(&self, m: &Model) -> Op {
        match *self {
            Plan::InsertOriginal(d, cap) => Op::InsertOriginal {
                slot: d.resolve(m),
                cap,
            },
            Plan::InsertIssued(s, d, cap) => Op::InsertIssued {
                issuer: s.resolve(m),
                dst: d.resolve(m),
                cap,
            },
            Plan::Mint(s, d, r, badge) => {
                let src = s.resolve(m);
                let rights = match r {
                    RightsPick::Raw(r) => r,
                    RightsPick::SubsetOfSource(mask) => {
                        let from = m.slots.get(&src).map_or(Rights::ALL, |n| n.cap.rights);
                        from & Rights::from_bits_retain(mask)
                    }
                };
                Op::Mint {
                    src,
                    dst: d.resolve(m),
                    rights,
                    badge,
                }
            }
            Plan::Copy(s, d) => Op::Copy {
                src: s.resolve(m),
                dst: d.resolve(m),
            },
            Plan::Move(s, d) => Op::Move {
                src: s.resolve(m),
                dst: d.resolve(m),
            },
            Plan::Delete(s) => Op::Delete { slot: s.resolve(m) },
            Plan::Revoke(s) => Op::Revoke { slot: s.resolve(m) },
            Plan::Lookup(s) => Op::Lookup { slot: s.resolve(m) },
            Plan::LookupChecked(s, kind, rights) => Op::LookupChecked {
                slot: s.resolve(m),
                kind,
                rights,
            },
        }
    }
}

// ---- the reference model ------------------------------------------------------------

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Node {
    cap: Capability,
    parent: Option<u32>,
}

/// The obvious implementation: occupied slots in a map, everything else by scanning.
#[derive(Debug, Clone, Default)]
struct Model {
    slots: BTreeMap<u32, Node>,
}

impl Model {
    fn valid(slot: u32) -> Result<(), Error> {
        if (slot as usize) < SLOTS {
            Ok(())
        } else {
            Err(Error::InvalidSlot)
        }
    }

    fn full(&self, slot: u32) -> Result<Node, Error> {
        self.slots.get(&slot).copied().ok_or(Error::EmptySlot)
    }

    fn vacant(&self, slot: u32) -> Result<(), Error> {
        if self.slots.contains_key(&slot) {
            Err(Error::SlotOccupied)
        } else {
            Ok(())
        }
    }

    fn named(&self, object: ObjectRef) -> bool {
        self.slots.values().any(|n| n.cap.object == object)
    }

    /// Written out here rather than calling `Capability::check_well_formed`.
    fn well_formed(cap: &Capability) -> Result<(), Error> {
        let rights_ok = cap.rights.bits() & !0b1111 == 0;
        let badge_ok = match cap.badge {
            None => true,
            Some(b) => {
                b.get() != 0
                    && matches!(
                        cap.object.kind,
                        ObjectType::Endpoint | ObjectType::Notification
                    )
            }
        };
        if rights_ok && badge_ok {
            Ok(())
        } else {
            Err(Error::InvalidArgument)
        }
    }

    fn children(&self, slot: u32) -> Vec<u32> {
        self.slots
            .iter()
            .filter(|(_, n)| n.parent == Some(slot))
            .map(|(&s, _)| s)
            .collect()
    }

    fn is_descendant(&self, mut slot: u32, of: u32) -> bool {
        while let Some(p) = self.slots[&slot].parent {
            if p == of {
                return true;
            }
            slot = p;
        }
        false
    }

    fn apply(&mut self, op: &Op) -> Result<Outcome, Error> {
        match *op {
            Op::InsertOriginal { slot, cap } => {
                Self::valid(slot)?;
                self.vacant(slot)?;
                Self::well_formed(&cap)?;
                if self.named(cap.object) {
                    return Err(Error::AlreadyInUse);
                }
                self.slots.insert(slot, Node { cap, parent: None });
                Ok(Outcome::Unit)
            }
            Op::InsertIssued { issuer, dst, cap } => {
                Self::valid(issuer)?;
                Self::valid(dst)?;
                self.full(issuer)?;
                self.vacant(dst)?;
                Self::well_formed(&cap)?;
                if self.named(cap.object) {
                    return Err(Error::AlreadyInUse);
                }
                let node = Node {
                    cap,
                    parent: Some(issuer),
                };
                self.slots.insert(dst, node);
                Ok(Outcome::Unit)
            }
            Op::Mint {
                src,
                dst,
                rights,
                badge,
            } => {
                Self::valid(src)?;
                Self::valid(dst)?;
                let from = self.full(src)?.cap;
                self.vacant(dst)?;
                if rights.bits() & !from.rights.bits() != 0 {
                    return Err(Error::InsufficientRights);
                }
                let badge = match badge {
                    None => from.badge,
                    Some(b) => {
                        let kind = from.object.kind;
                        let badgeable =
                            kind == ObjectType::Endpoint || kind == ObjectType::Notification;
                        if b.get() == 0 || !badgeable {
                            return Err(Error::InvalidArgument);
                        }
                        if from.badge.is_some() {
                            return Err(Error::BadgeAlreadySet);
                        }
                        Some(b)
                    }
                };
                let cap = Capability {
                    object: from.object,
                    rights,
                    badge,
                };
                self.slots.insert(
                    dst,
                    Node {
                        cap,
                        parent: Some(src),
                    },
                );
                Ok(Outcome::Unit)
            }
            Op::Copy { src, dst } => {
                Self::valid(src)?;
                Self::valid(dst)?;
                let cap = self.full(src)?.cap;
                self.vacant(dst)?;
                self.slots.insert(
                    dst,
                    Node {
                        cap,
                        parent: Some(src),
                    },
                );
                Ok(Outcome::Unit)
            }
            Op::Move { src, dst } => {
                Self::valid(src)?;
                Self::valid(dst)?;
                let node = self.full(src)?;
                self.vacant(dst)?;
                self.slots.remove(&src);
                self.slots.insert(dst, node);
                for n in self.slots.values_mut() {
                    if n.parent == Some(src) {
                        n.parent = Some(dst);
                    }
                }
                Ok(Outcome::Unit)
            }
            Op::Delete { slot } => {
                Self::valid(slot)?;
                let node = self.full(slot)?;
                self.slots.remove(&slot);
                for n in self.slots.values_mut() {
                    if n.parent == Some(slot) {
                        n.parent = node.parent;
                    }
                }
                Ok(Outcome::Deleted(Deleted {
                    object: node.cap.object,
                    last_reference: !self.named(node.cap.object),
                }))
            }
            Op::Revoke { slot } => {
                Self::valid(slot)?;
                self.full(slot)?;
                let doomed: Vec<u32> = self
                    .slots
                    .keys()
                    .copied()
                    .filter(|&s| self.is_descendant(s, slot))
                    .collect();
                let objects: BTreeSet<ObjectRef> =
                    doomed.iter().map(|s| self.slots[s].cap.object).collect();
                for s in &doomed {
                    self.slots.remove(s);
                }
                let dead = objects.into_iter().filter(|&o| !self.named(o)).collect();
                Ok(Outcome::Revoked(doomed.len(), dead))
            }
            Op::Lookup { slot } => {
                Self::valid(slot)?;
                Ok(Outcome::Cap(self.full(slot)?.cap))
            }
            Op::LookupChecked { slot, kind, rights } => {
                Self::valid(slot)?;
                let cap = self.full(slot)?.cap;
                if cap.object.kind != kind {
                    return Err(Error::WrongObjectType);
                }
                if rights.bits() & !cap.rights.bits() != 0 {
                    return Err(Error::InsufficientRights);
                }
                Ok(Outcome::Cap(cap))
            }
        }
    }
}

// ---- running an operation on the real table -----------------------------------------

fn id(slot: u32) -> SlotId {
    SlotId::new(slot)
}

fn apply(table: &mut Table, op: &Op) -> Result<Outcome, Error> {
    match *op {
        Op::InsertOriginal { slot, cap } => {
            table.insert_original(id(slot), cap).map(|()| Outcome::Unit)
        }
        Op::InsertIssued { issuer, dst, cap } => table
            .insert_issued(id(issuer), id(dst), cap)
            .map(|()| Outcome::Unit),
        Op::Mint {
            src,
            dst,
            rights,
            badge,
        } => table
            .mint(id(src), id(dst), rights, badge)
            .map(|()| Outcome::Unit),
        Op::Copy { src, dst } => table.copy(id(src), id(dst)).map(|()| Outcome::Unit),
        Op::Move { src, dst } => table.move_(id(src), id(dst)).map(|()| Outcome::Unit),
        Op::Delete { slot } => table.delete(id(slot)).map(Outcome::Deleted),
        Op::Revoke { slot } => {
            let mut dead = Vec::new();
            let n = table.revoke(id(slot), |o| dead.push(o))?;
            dead.sort();
            Ok(Outcome::Revoked(n, dead))
        }
        Op::Lookup { slot } => table.lookup(id(slot)).map(Outcome::Cap),
        Op::LookupChecked { slot, kind, rights } => table
            .lookup_checked(id(slot), kind, rights)
            .map(Outcome::Cap),
    }
}

// ---- checks on the real table alone -------------------------------------------------

fn cap_at(t: &Table, slot: u32) -> Option<Capability> {
    t.lookup(id(slot)).ok()
}

fn descendants(t: &Table, of: u32) -> BTreeSet<u32> {
    (0..SLOTS as u32)
        .filter(|&s| {
            let mut at = s;
            while let Ok(Some(p)) = t.parent(id(at)) {
                if p.index() == of {
                    return true;
                }
                at = p.index();
            }
            false
        })
        .collect()
}

fn named(t: &Table, object: ObjectRef) -> bool {
    (0..SLOTS as u32).any(|s| cap_at(t, s).map(|c| c.object) == Some(object))
}

/// The rules of the module documentation, on `before` -> `after` for `op` with `result`.
fn check_rules(
    before: &Table,
    after: &Table,
    op: &Op,
    result: &Result<Outcome, Error>,
) -> Result<(), TestCaseError> {
    if result.is_err() {
        prop_assert!(before == after, "failed {:?} changed the table", op);
        return Ok(());
    }
    // Capabilities are never changed in place.
    for s in 0..SLOTS as u32 {
        if let (Some(b), Some(a)) = (cap_at(before, s), cap_at(after, s)) {
            prop_assert_eq!(b, a, "slot {} changed in place by {:?}", s, op);
        }
    }
    match (op, result) {
        (Op::Copy { src, dst }, _) => {
            prop_assert_eq!(cap_at(after, *dst), cap_at(before, *src));
            prop_assert_eq!(after.parent(id(*dst)), Ok(Some(id(*src))));
        }
        (Op::Move { src, dst }, _) => {
            prop_assert_eq!(cap_at(after, *dst), cap_at(before, *src));
            prop_assert_eq!(cap_at(after, *src), None);
        }
        (
            Op::Mint {
                src,
                dst,
                rights,
                badge,
            },
            _,
        ) => {
            let (Some(from), Some(made)) = (cap_at(before, *src), cap_at(after, *dst)) else {
                return Err(TestCaseError::fail(format!(
                    "{op:?} succeeded on empty slots"
                )));
            };
            prop_assert_eq!(made.rights, *rights);
            prop_assert!(rights.is_subset_of(from.rights));
            prop_assert_eq!(made.badge, badge.or(from.badge));
            prop_assert!(from.badge.is_none() || made.badge == from.badge);
        }
        (Op::Delete { slot }, Ok(Outcome::Deleted(d))) => {
            prop_assert_eq!(cap_at(before, *slot).map(|c| c.object), Some(d.object));
            prop_assert_eq!(cap_at(after, *slot), None);
            prop_assert_eq!(d.last_reference, !named(after, d.object));
        }
        (Op::Revoke { slot }, Ok(Outcome::Revoked(n, dead))) => {
            let doomed = descendants(before, *slot);
            prop_assert_eq!(*n, doomed.len());
            for s in 0..SLOTS as u32 {
                let gone = cap_at(before, s).is_some() && cap_at(after, s).is_none();
                prop_assert_eq!(gone, doomed.contains(&s), "revoke({}) and slot {}", slot, s);
            }
            let expect: BTreeSet<ObjectRef> = doomed
                .iter()
                .filter_map(|&s| cap_at(before, s))
                .map(|c| c.object)
                .filter(|&o| !named(after, o))
                .collect();
            // Sorted, and no object reported twice.
            prop_assert_eq!(dead, &expect.into_iter().collect::<Vec<_>>());
        }
        _ => {}
    }
    // No amplification along any derivation path.
    for s in 0..SLOTS as u32 {
        let Some(cap) = cap_at(after, s) else {
            continue;
        };
        let mut at = s;
        while let Ok(Some(p)) = after.parent(id(at)) {
            let Some(anc) = cap_at(after, p.index()) else {
                return Err(TestCaseError::fail(format!(
                    "slot {s}'s ancestor {p} is empty"
                )));
            };
            if anc.object == cap.object {
                prop_assert!(
                    cap.rights.is_subset_of(anc.rights),
                    "slot {} has more rights than its ancestor {}",
                    s,
                    p.index()
                );
                prop_assert!(anc.badge.is_none() || anc.badge == cap.badge);
            }
            at = p.index();
        }
    }
    Ok(())
}

/// The table and the model hold the same capabilities in the same tree.
fn check_same(t: &Table, m: &Model) -> Result<(), TestCaseError> {
    for s in 0..SLOTS as u32 {
        let node = m.slots.get(&s);
        prop_assert_eq!(cap_at(t, s), node.map(|n| n.cap), "slot {}", s);
        let Some(node) = node else { continue };
        prop_assert_eq!(
            t.parent(id(s)).unwrap().map(SlotId::index),
            node.parent,
            "parent of {}",
            s
        );
        let mut children: Vec<u32> = t.children(id(s)).unwrap().map(SlotId::index).collect();
        children.sort_unstable();
        prop_assert_eq!(children, m.children(s), "children of {}", s);
    }
    Ok(())
}

/// `PROPTEST_CASES` when set (`cargo xtask test --deep`), else `default`: an explicit
/// `cases` in a config would otherwise override the environment.
fn cases_from_env(default: u32) -> u32 {
    std::env::var("PROPTEST_CASES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

proptest! {
    #![proptest_config(ProptestConfig {
        cases: cases_from_env(256),
        failure_persistence: Some(Box::new(
            proptest::test_runner::FileFailurePersistence::WithSource("proptest-regressions"),
        )),
        ..ProptestConfig::default()
    })]

    #[test]
    fn table_matches_model_and_keeps_the_rules(plans in prop::collection::vec(plan(), 100..300)) {
        let mut table = Table::new();
        let mut model = Model::default();
        for plan in &plans {
            let op = &plan.resolve(&model);
            let before = table.clone();
            let got = apply(&mut table, op);
            let want = model.apply(op);
            prop_assert_eq!(&got, &want, "{:?}", op);
            check_rules(&before, &table, op, &got)?;
            check_same(&table, &model)?;
            if let Err(broken) = table.check_consistency() {
                return Err(TestCaseError::fail(format!("after {op:?}: {broken}")));
            }
        }
    }
}
