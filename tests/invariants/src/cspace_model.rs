//! The capability space, model-checked: the real [`CapTable`] with two tasks' capability
//! spaces, driven by every interleaving of mint, copy, move, delete, revoke, issue, object
//! creation and cross-space transfer, each through the calling task's [`CapSpace`].
//!
//! # The system
//!
//! `SLOTS` = 6 global slots; task A owns slots 0..3, task B slots 3..6 (each names its
//! own as 0..3). At the start A holds an endpoint `E` (all rights) in its slot 0 and the
//! IRQ control capability `C` in its slot 1; B holds a stall capability `S` (all rights)
//! in its slot 0. Endpoints take badges, stall capabilities do not.
//!
//! Actions (every slot number is task-local and resolved through the task's space):
//!
//! - `Mint`: rights all or write only (so a mint from a capability with fewer rights
//!   asks for more, and must be refused), badge none or 5 (so a second badge, or a badge
//!   on a stall capability, must be refused);
//! - `Copy`, `Move`, `Delete`, `Revoke` within one space;
//! - `Transfer`: the kernel copying a capability from one task's slot to the other's (IPC
//!   with a grant);
//! - `Issue`: the IRQ control capability issues the handler capability of IRQ 0 (a new
//!   object, a child of the issuer);
//! - `Create`: the kernel creates the endpoint again once it is gone;
//! - `Outside`: each operation with a slot number past the task's space (refused
//!   before the table is touched).
//!
//! # Ghost state
//!
//! `cap[i]` is what slot `i` must hold by the operations' documented effect, and `anc[i]`
//! the set of slots holding a capability `i`'s capability was derived from, directly or
//! through any chain of mints, copies and issues (a move renames the slot, a delete
//! removes it from every set: what was derived through it stays derived from its
//! ancestors). Revoking slot `s` must delete exactly `{ j : s ∈ anc[j] }`.

use std::fmt;

use cspace::{CapSpace, CapTable, Capability, Deleted, ObjectRef, SlotId};
use kernel_abi::{Badge, Error, ObjectType, Rights};
use stateright::{Model, Property};

/// Slots of the model's table.
pub const SLOTS: usize = 6;
/// Slots per task.
pub const PER_TASK: u32 = 3;
/// Tasks.
pub const TASKS: usize = 2;
/// The table under test.
pub type Table = CapTable<SLOTS>;

/// The endpoint (badgeable).
pub const E: ObjectRef = ObjectRef::new(ObjectType::Endpoint, 0);
/// The stall capability's object (not badgeable).
pub const S: ObjectRef = ObjectRef::new(ObjectType::StallCap, 0);
/// The IRQ control object.
pub const C: ObjectRef = ObjectRef::new(ObjectType::IrqControl, 0);
/// The IRQ handler object `Issue` creates.
pub const H: ObjectRef = ObjectRef::new(ObjectType::IrqHandler, 0);

/// The rights a mint asks for.
pub const MINT_RIGHTS: [Rights; 2] = [Rights::ALL, Rights::WRITE];
/// The badges a mint asks for.
pub const MINT_BADGES: [Option<Badge>; 2] = [None, Some(Badge(5))];

/// The space of task `t`.
pub fn space(t: usize) -> CapSpace {
    Table::new()
        .space(t as u32 * PER_TASK, PER_TASK)
        .expect("the spaces fit the table")
}

/// Actions; `t` is a task, slots are task-local.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Action {
    /// `mint(src, dst, MINT_RIGHTS[rights], MINT_BADGES[badge])`.
    Mint {
        /// Task.
        t: u8,
        /// Source slot.
        src: u8,
        /// Destination slot.
        dst: u8,
        /// Index into [`MINT_RIGHTS`].
        rights: u8,
        /// Index into [`MINT_BADGES`].
        badge: u8,
    },
    /// `copy(src, dst)`.
    Copy {
        /// Task.
        t: u8,
        /// Source slot.
        src: u8,
        /// Destination slot.
        dst: u8,
    },
    /// `move_(src, dst)`.
    Move {
        /// Task.
        t: u8,
        /// Source slot.
        src: u8,
        /// Destination slot.
        dst: u8,
    },
    /// `delete(slot)`.
    Delete {
        /// Task.
        t: u8,
        /// Slot.
        slot: u8,
    },
    /// `revoke(slot)`.
    Revoke {
        /// Task.
        t: u8,
        /// Slot.
        slot: u8,
    },
    /// The kernel copies task `t`'s slot `src` into the other task's slot `dst`.
    Transfer {
        /// Sending task.
        t: u8,
        /// Its slot.
        src: u8,
        /// The receiver's slot.
        dst: u8,
    },
    /// `insert_issued(issuer, dst, handler of IRQ 0)`.
    Issue {
        /// Task.
        t: u8,
        /// Issuer slot.
        issuer: u8,
        /// Destination slot.
        dst: u8,
    },
    /// `insert_original(slot, E)`: the kernel creates the endpoint (again).
    Create {
        /// Task.
        t: u8,
        /// Slot.
        slot: u8,
    },
    /// Operation `op` (0 mint, 1 copy, 2 move, 3 delete, 4 revoke, 5 lookup) with a slot
    /// number past task `t`'s space.
    Outside {
        /// Task.
        t: u8,
        /// Operation.
        op: u8,
    },
}

/// Fault bits.
pub mod fault {
    /// A derived capability has more rights than one it derives from.
    pub const AMPLIFICATION: u16 = 1 << 0;
    /// A badge changed, was lost, or was set twice.
    pub const BADGE: u16 = 1 << 1;
    /// Revoke left a descendant or deleted a non-descendant.
    pub const REVOKE: u16 = 1 << 2;
    /// A slot outside a space was reached, or a task's operation touched another space.
    pub const ISOLATION: u16 = 1 << 3;
    /// `last_reference` was wrong.
    pub const LAST_REFERENCE: u16 = 1 << 4;
    /// An operation's answer or effect is not the documented one (including: a failed
    /// operation changed something).
    pub const SEMANTICS: u16 = 1 << 5;
}

/// One state.
#[derive(Clone, PartialEq, Eq, Hash)]
pub struct State {
    /// The real table.
    pub t: Table,
    /// Ghost: what each slot must hold.
    pub cap: [Option<Capability>; SLOTS],
    /// Ghost: the slots each slot's capability derives from (bit per slot).
    pub anc: [u8; SLOTS],
    /// Broken rules (see [`fault`]).
    pub faults: u16,
    /// The first broken step.
    pub why: Option<String>,
}

impl fmt::Debug for State {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let tree: Vec<_> = (0..SLOTS)
            .filter_map(|i| {
                let s = slot(i);
                let cap = self.t.lookup(s).ok()?;
                Some((i, cap, self.t.parent(s).ok().flatten().map(SlotId::index)))
            })
            .collect();
        f.debug_struct("State")
            .field("why", &self.why)
            .field("faults", &format_args!("{:#06x}", self.faults))
            .field("table (slot, capability, parent)", &tree)
            .field("ghost cap", &self.cap)
            .field("ghost anc", &self.anc)
            .finish()
    }
}

fn slot(i: usize) -> SlotId {
    SlotId::new(i as u32)
}

fn bit(i: usize) -> u8 {
    1 << i
}

/// The model.
#[derive(Clone, Debug)]
pub struct CspaceModel {
    /// At most this many capabilities exist at once (states with more are not explored):
    /// the bound of the exploration.
    pub max_caps: usize,
    /// Whether a capability may be put in any free slot of the destination space, or only
    /// in the first one. The first-free choice removes the states that differ only by
    /// where in a space the same capabilities sit, without removing any operation.
    pub any_free_slot: bool,
}

impl CspaceModel {
    /// The bounds `cargo xtask test` runs with: four capabilities at a time, put in the
    /// first free slot.
    pub const CI: CspaceModel = CspaceModel {
        max_caps: 4,
        any_free_slot: false,
    };
    /// The bounds of `cargo xtask test --deep`: five capabilities at a time, in any
    /// free slot.
    pub const DEEP: CspaceModel = CspaceModel {
        max_caps: 5,
        any_free_slot: true,
    };

    /// `INVARIANTS_CSPACE_BOUNDS=max_caps,any_free_slot(0/1)`, if set (for sizing bounds).
    pub fn from_env() -> Option<Self> {
        let v = std::env::var("INVARIANTS_CSPACE_BOUNDS").ok()?;
        let n: Vec<usize> = v
            .split(',')
            .map(|x| x.trim().parse().expect("a number"))
            .collect();
        assert_eq!(n.len(), 2, "INVARIANTS_CSPACE_BOUNDS takes 2 numbers");
        Some(Self {
            max_caps: n[0],
            any_free_slot: n[1] != 0,
        })
    }

    /// The initial state.
    pub fn initial() -> State {
        let mut t = Table::new();
        let mut cap = [None; SLOTS];
        let init = [
            (space(0).resolve(0), Capability::new(E, Rights::ALL)),
            (space(0).resolve(1), Capability::new(C, Rights::ALL)),
            (space(1).resolve(0), Capability::new(S, Rights::ALL)),
        ];
        for (at, c) in init {
            let at = at.expect("in the space");
            t.insert_original(at, c).expect("original");
            cap[at.index() as usize] = Some(c);
        }
        State {
            t,
            cap,
            anc: [0; SLOTS],
            faults: 0,
            why: None,
        }
    }
}

impl State {
    fn fail(&mut self, bit: u16, why: String) {
        self.faults |= bit;
        if self.why.is_none() {
            self.why = Some(why);
        }
    }

    /// Slots that name `object` (ghost).
    fn naming(&self, object: ObjectRef) -> usize {
        self.cap
            .iter()
            .filter(|c| c.is_some_and(|c| c.object == object))
            .count()
    }

    /// Derives ghost `dst` from ghost `src`.
    fn derive(&mut self, src: usize, dst: usize, cap: Capability) {
        self.cap[dst] = Some(cap);
        self.anc[dst] = self.anc[src] | bit(src);
    }

    fn remove(&mut self, i: usize) {
        self.cap[i] = None;
        self.anc[i] = 0;
        for a in &mut self.anc {
            *a &= !bit(i);
        }
    }

    /// Checks an operation's answer against the specification's; on a refusal the table
    /// must be unchanged.
    fn answer<T: fmt::Debug + PartialEq>(
        &mut self,
        before: &Table,
        what: &str,
        got: Result<T, Error>,
        want: Result<T, Error>,
    ) -> bool {
        if got != want {
            let bit = match &want {
                Err(Error::InsufficientRights) => fault::AMPLIFICATION,
                Err(Error::BadgeAlreadySet) => fault::BADGE,
                Err(Error::InvalidArgument) => fault::BADGE,
                _ => fault::SEMANTICS,
            };
            self.fail(bit, format!("{what}: got {got:?}, want {want:?}"));
            return false;
        }
        if want.is_err() && self.t != *before {
            self.fail(
                fault::SEMANTICS,
                format!("{what}: refused but changed the table"),
            );
            return false;
        }
        want.is_ok()
    }
}

/// Where a task-local slot number lands: an index, or the refusal.
fn resolve(t: usize, local: u8) -> Result<usize, Error> {
    space(t)
        .resolve(u64::from(local))
        .map(|s| s.index() as usize)
}

impl Model for CspaceModel {
    type State = State;
    type Action = Action;

    fn init_states(&self) -> Vec<State> {
        vec![Self::initial()]
    }

    fn within_boundary(&self, s: &State) -> bool {
        s.cap.iter().flatten().count() <= self.max_caps
    }

    fn actions(&self, s: &State, actions: &mut Vec<Action>) {
        // Only calls whose slots are right (source full, destination empty): the checks of
        // the slot arguments themselves are the unit and property tests' business; what
        // matters here is what the valid calls do, and the refusals that depend on the
        // capabilities (rights, badges, objects).
        let n = PER_TASK as u8;
        let full =
            |t: u8, l: u8| s.cap[(u32::from(t) * PER_TASK + u32::from(l)) as usize].is_some();
        let free = |t: u8| {
            let mut free = (0..n).filter(move |&l| !full(t, l));
            let first = free.next();
            first.into_iter().chain(free.filter(|_| self.any_free_slot))
        };
        for t in 0..TASKS as u8 {
            let other = 1 - t;
            for src in (0..n).filter(|&l| full(t, l)) {
                for dst in free(t) {
                    for rights in 0..MINT_RIGHTS.len() as u8 {
                        for badge in 0..MINT_BADGES.len() as u8 {
                            actions.push(Action::Mint {
                                t,
                                src,
                                dst,
                                rights,
                                badge,
                            });
                        }
                    }
                    actions.push(Action::Copy { t, src, dst });
                    actions.push(Action::Move { t, src, dst });
                    // Only the IRQ control capability issues (the kernel's policy).
                    if s.cap[(u32::from(t) * PER_TASK + u32::from(src)) as usize]
                        .is_some_and(|c| c.object == C)
                    {
                        actions.push(Action::Issue {
                            t,
                            issuer: src,
                            dst,
                        });
                    }
                }
                for dst in free(other) {
                    actions.push(Action::Transfer { t, src, dst });
                }
                actions.push(Action::Delete { t, slot: src });
                actions.push(Action::Revoke { t, slot: src });
            }
            for slot in free(t) {
                actions.push(Action::Create { t, slot });
            }
            for op in 0..6 {
                actions.push(Action::Outside { t, op });
            }
        }
    }

    fn next_state(&self, last: &State, action: Action) -> Option<State> {
        let mut s = last.clone();
        let before = &last.t;
        match action {
            Action::Mint {
                t,
                src,
                dst,
                rights,
                badge,
            } => {
                let t = usize::from(t);
                let (si, di) = (resolve(t, src).ok()?, resolve(t, dst).ok()?);
                let (rights, badge) = (
                    MINT_RIGHTS[usize::from(rights)],
                    MINT_BADGES[usize::from(badge)],
                );
                let got = s.t.mint(slot(si), slot(di), rights, badge);
                let want = match (last.cap[si], last.cap[di]) {
                    (None, _) => Err(Error::EmptySlot),
                    (_, Some(_)) => Err(Error::SlotOccupied),
                    (Some(p), None) if !rights.is_subset_of(p.rights) => {
                        Err(Error::InsufficientRights)
                    }
                    (Some(p), None) => match badge {
                        Some(_) if !p.object.kind.accepts_badge() => Err(Error::InvalidArgument),
                        Some(_) if p.badge.is_some() => Err(Error::BadgeAlreadySet),
                        _ => Ok(()),
                    },
                };
                let what = format!("task {t} mint {si}->{di} {rights:?} {badge:?}");
                if s.answer(before, &what, got, want) {
                    let p = last.cap[si].expect("checked");
                    let cap = Capability {
                        object: p.object,
                        rights,
                        badge: badge.or(p.badge),
                    };
                    s.derive(si, di, cap);
                }
                check_isolation(&mut s, last, t, &what);
            }
            Action::Copy { t, src, dst } | Action::Transfer { t, src, dst } => {
                let t = usize::from(t);
                let to = if matches!(action, Action::Transfer { .. }) {
                    1 - t
                } else {
                    t
                };
                let (si, di) = (resolve(t, src).ok()?, resolve(to, dst).ok()?);
                let got = s.t.copy(slot(si), slot(di));
                let want = match (last.cap[si], last.cap[di]) {
                    (None, _) => Err(Error::EmptySlot),
                    (_, Some(_)) => Err(Error::SlotOccupied),
                    (Some(_), None) => Ok(()),
                };
                let what = format!("task {t} copy {si}->{di} (space of task {to})");
                if s.answer(before, &what, got, want) {
                    let cap = last.cap[si].expect("checked");
                    s.derive(si, di, cap);
                }
                if to == t {
                    check_isolation(&mut s, last, t, &what);
                }
            }
            Action::Move { t, src, dst } => {
                let t = usize::from(t);
                let (si, di) = (resolve(t, src).ok()?, resolve(t, dst).ok()?);
                let got = s.t.move_(slot(si), slot(di));
                let want = match (last.cap[si], last.cap[di]) {
                    (None, _) => Err(Error::EmptySlot),
                    (_, Some(_)) => Err(Error::SlotOccupied),
                    (Some(_), None) => Ok(()),
                };
                let what = format!("task {t} move {si}->{di}");
                if s.answer(before, &what, got, want) {
                    s.cap[di] = s.cap[si].take();
                    s.anc[di] = s.anc[si];
                    s.anc[si] = 0;
                    for a in &mut s.anc {
                        if *a & bit(si) != 0 {
                            *a = (*a & !bit(si)) | bit(di);
                        }
                    }
                }
                check_isolation(&mut s, last, t, &what);
            }
            Action::Delete { t, slot: local } => {
                let t = usize::from(t);
                let i = resolve(t, local).ok()?;
                let got = s.t.delete(slot(i));
                let want = match last.cap[i] {
                    None => Err(Error::EmptySlot),
                    Some(c) => Ok(Deleted {
                        object: c.object,
                        last_reference: last.naming(c.object) == 1,
                    }),
                };
                let what = format!("task {t} delete {i}");
                if got.is_ok()
                    && want.is_ok()
                    && got.map(|d| d.last_reference) != want.map(|d| d.last_reference)
                {
                    s.fail(
                        fault::LAST_REFERENCE,
                        format!("{what}: got {got:?}, want {want:?}"),
                    );
                } else if s.answer(before, &what, got, want) {
                    s.remove(i);
                }
                check_isolation(&mut s, last, t, &what);
            }
            Action::Revoke { t, slot: local } => {
                let t = usize::from(t);
                let i = resolve(t, local).ok()?;
                let mut reported = Vec::new();
                let got = s.t.revoke(slot(i), |o| reported.push(o));
                let doomed: Vec<usize> =
                    (0..SLOTS).filter(|&j| last.anc[j] & bit(i) != 0).collect();
                let want = match last.cap[i] {
                    None => Err(Error::EmptySlot),
                    Some(_) => Ok(doomed.len()),
                };
                let what = format!("task {t} revoke {i}");
                if got != want {
                    s.fail(fault::REVOKE, format!("{what}: got {got:?}, want {want:?}"));
                } else if s.answer(before, &what, got, want) {
                    for &j in &doomed {
                        s.remove(j);
                    }
                    // Objects whose last capability was among the deleted ones, each once.
                    let mut dead: Vec<ObjectRef> = doomed
                        .iter()
                        .filter_map(|&j| last.cap[j].map(|c| c.object))
                        .filter(|&o| s.naming(o) == 0)
                        .collect();
                    dead.sort();
                    dead.dedup();
                    reported.sort();
                    if reported != dead {
                        s.fail(
                            fault::LAST_REFERENCE,
                            format!("{what}: reported dead {reported:?}, want {dead:?}"),
                        );
                    }
                    // Nothing but the descendants changed.
                    for j in 0..SLOTS {
                        if !doomed.contains(&j) && s.t.lookup(slot(j)).ok() != last.cap[j] {
                            s.fail(fault::REVOKE, format!("{what}: slot {j} changed"));
                        }
                    }
                }
            }
            Action::Issue { t, issuer, dst } => {
                let t = usize::from(t);
                let (si, di) = (resolve(t, issuer).ok()?, resolve(t, dst).ok()?);
                let handler = Capability::new(H, Rights::ALL);
                let got = s.t.insert_issued(slot(si), slot(di), handler);
                let want = match (last.cap[si], last.cap[di]) {
                    (None, _) => Err(Error::EmptySlot),
                    (_, Some(_)) => Err(Error::SlotOccupied),
                    _ if last.naming(H) > 0 => Err(Error::AlreadyInUse),
                    _ => Ok(()),
                };
                let what = format!("task {t} issue {si}->{di}");
                if s.answer(before, &what, got, want) {
                    s.derive(si, di, handler);
                }
                check_isolation(&mut s, last, t, &what);
            }
            Action::Create { t, slot: local } => {
                let t = usize::from(t);
                let i = resolve(t, local).ok()?;
                let ep = Capability::new(E, Rights::ALL);
                let got = s.t.insert_original(slot(i), ep);
                let want = match last.cap[i] {
                    Some(_) => Err(Error::SlotOccupied),
                    None if last.naming(E) > 0 => Err(Error::AlreadyInUse),
                    None => Ok(()),
                };
                let what = format!("create E in {i}");
                if s.answer(before, &what, got, want) {
                    s.cap[i] = Some(ep);
                    s.anc[i] = 0;
                }
            }
            Action::Outside { t, op } => {
                let t = usize::from(t);
                let sp = space(t);
                // Every number past the space is refused, whatever its size.
                for local in [
                    u64::from(PER_TASK),
                    u64::from(PER_TASK) + 1,
                    1 << 32,
                    u64::MAX,
                ] {
                    let got = sp.resolve(local).map(|s| s.index());
                    if got != Err(Error::InvalidSlot) {
                        s.fail(
                            fault::ISOLATION,
                            format!("task {t} resolved local slot {local} to {got:?}"),
                        );
                    }
                }
                // The global slot right past the space belongs to someone else (or is
                // past the table): the space must not contain it.
                let past = SlotId::new(sp.base().index() + sp.len());
                if sp.contains(past) || sp.local_of(past).is_some() {
                    s.fail(
                        fault::ISOLATION,
                        format!("task {t}'s space contains {past}"),
                    );
                }
                // A global slot past the table is refused by the table itself.
                let own = sp.resolve(0).expect("slot 0");
                let beyond = SlotId::new(SLOTS as u32);
                let got = match op {
                    0 => s.t.mint(own, beyond, Rights::NONE, None),
                    1 => s.t.copy(beyond, own),
                    2 => s.t.move_(own, beyond),
                    3 => s.t.delete(beyond).map(drop),
                    4 => s.t.revoke(beyond, |_| {}).map(drop),
                    _ => s.t.lookup(beyond).map(drop),
                };
                if got != Err(Error::InvalidSlot) || s.t != last.t {
                    s.fail(
                        fault::ISOLATION,
                        format!("operation {op} on {beyond} (past the table): {got:?}"),
                    );
                }
            }
        }
        if s == *last { None } else { Some(s) }
    }

    fn properties(&self) -> Vec<Property<Self>> {
        vec![
            Property::always(
                "no rights amplification along any derivation path",
                |_, s: &State| holds(s, fault::AMPLIFICATION, || no_amplification(s)),
            ),
            Property::always("badges are set once and never change", |_, s: &State| {
                holds(s, fault::BADGE, || badges_kept(s))
            }),
            Property::always(
                "revoke is complete: descendants are exactly what was derived",
                |_, s: &State| holds(s, fault::REVOKE, || tree_is_derivation(s)),
            ),
            Property::always(
                "a task reaches only its own slots; its operations touch only its space",
                |_, s: &State| holds(s, fault::ISOLATION, || true),
            ),
            Property::always("last-reference reporting is exact", |_, s: &State| {
                holds(s, fault::LAST_REFERENCE, || last_reference_exact(s))
            }),
            Property::always(
                "every operation has its documented effect; a refused one changes nothing",
                |_, s: &State| {
                    holds(s, fault::SEMANTICS, || {
                        s.t.check_consistency().is_ok()
                            && (0..SLOTS).all(|i| s.t.lookup(slot(i)).ok() == s.cap[i])
                    })
                },
            ),
            Property::sometimes("a derivation chain three deep", |_, s: &State| {
                s.anc.iter().any(|a| a.count_ones() >= 2)
            }),
            Property::sometimes(
                "a badged endpoint in the other task's space",
                |_, s: &State| {
                    (0..PER_TASK as usize).any(|l| {
                        s.cap[PER_TASK as usize + l]
                            .is_some_and(|c| c.object == E && c.badge.is_some())
                    })
                },
            ),
            Property::sometimes(
                "a capability in one space derived from one in the other that was moved",
                |_, s: &State| {
                    (0..SLOTS).any(|j| {
                        (0..SLOTS).any(|i| {
                            s.anc[j] & bit(i) != 0
                                && (i < PER_TASK as usize) != (j < PER_TASK as usize)
                                && s.cap[i].is_some_and(|c| c.rights != Rights::ALL)
                        })
                    })
                },
            ),
            Property::sometimes(
                "the endpoint is gone (its last reference deleted)",
                |_, s: &State| s.naming(E) == 0,
            ),
            Property::sometimes(
                "an issued handler capability copied to the other task",
                |_, s: &State| {
                    s.cap[PER_TASK as usize..]
                        .iter()
                        .any(|c| c.is_some_and(|c| c.object == H))
                },
            ),
        ]
    }
}

/// A property holds in `s` if no step broke it (`bit`) and, when no step broke anything,
/// `state` holds. After a broken step the ghost state stopped following the table, so
/// only the property the step broke reports it.
fn holds(s: &State, bit: u16, state: impl FnOnce() -> bool) -> bool {
    if s.faults != 0 {
        s.faults & bit == 0
    } else {
        state()
    }
}

/// A task's own operation changed only slots of its own space.
fn check_isolation(s: &mut State, last: &State, t: usize, what: &str) {
    let sp = space(t);
    for j in 0..SLOTS {
        if !sp.contains(slot(j)) && (s.t.lookup(slot(j)) != last.t.lookup(slot(j))) {
            s.fail(
                fault::ISOLATION,
                format!("{what}: task {t}'s operation changed slot {j} of another space"),
            );
        }
    }
}

/// Along every derivation path (the real parent links, and the ghost relation), a
/// capability to the same object as an ancestor carries a subset of its rights.
fn no_amplification(s: &State) -> bool {
    (0..SLOTS).all(|i| {
        let Ok(cap) = s.t.lookup(slot(i)) else {
            return true;
        };
        let mut up = s.t.parent(slot(i)).ok().flatten();
        let mut steps = 0;
        while let Some(p) = up {
            let Ok(pc) = s.t.lookup(p) else { return false };
            if pc.object == cap.object && !cap.rights.is_subset_of(pc.rights) {
                return false;
            }
            up = s.t.parent(p).ok().flatten();
            steps += 1;
            if steps > SLOTS {
                return false;
            }
        }
        (0..SLOTS).filter(|&j| s.anc[i] & bit(j) != 0).all(|j| {
            s.t.lookup(slot(j))
                .is_ok_and(|a| a.object != cap.object || cap.rights.is_subset_of(a.rights))
        })
    })
}

/// A capability derived from a badged one to the same object carries that badge; and the
/// table holds the badges the operations gave.
fn badges_kept(s: &State) -> bool {
    (0..SLOTS).all(|i| {
        let Ok(cap) = s.t.lookup(slot(i)) else {
            return true;
        };
        s.cap[i].map(|c| c.badge) == Some(cap.badge)
            && (0..SLOTS).filter(|&j| s.anc[i] & bit(j) != 0).all(|j| {
                s.t.lookup(slot(j)).is_ok_and(|a| {
                    a.object != cap.object || a.badge.is_none() || a.badge == cap.badge
                })
            })
    })
}

/// The real derivation tree's descendants of each slot are exactly the ghost ones, so a
/// revoke deletes exactly what was derived.
fn tree_is_derivation(s: &State) -> bool {
    (0..SLOTS).all(|i| {
        if s.t.lookup(slot(i)).is_err() {
            return s.anc[i] == 0 && s.anc.iter().all(|a| a & bit(i) == 0);
        }
        let mut real = 0u8;
        let mut todo = vec![i];
        while let Some(n) = todo.pop() {
            let Ok(children) = s.t.children(slot(n)) else {
                return false;
            };
            for c in children {
                let c = c.index() as usize;
                if c >= SLOTS || real & bit(c) != 0 {
                    return false;
                }
                real |= bit(c);
                todo.push(c);
            }
        }
        let ghost = (0..SLOTS)
            .filter(|&j| s.anc[j] & bit(i) != 0)
            .fold(0u8, |m, j| m | bit(j));
        real == ghost
    })
}

/// `is_last_reference` is true exactly for the only slot naming its object.
fn last_reference_exact(s: &State) -> bool {
    (0..SLOTS).all(|i| match s.t.lookup(slot(i)) {
        Ok(cap) => {
            let naming =
                s.t.occupied()
                    .filter(|(_, c)| c.object == cap.object)
                    .count();
            s.t.is_last_reference(slot(i)) == Ok(naming == 1)
        }
        Err(_) => true,
    })
}
