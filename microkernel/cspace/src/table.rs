//! The global capability table and its capability derivation tree (CDT).
//!
//! # Layout
//!
//! One fixed array of slots serves every capability space in the system (a
//! [`CapSpace`] is a range of it). Besides its capability, each slot stores, as slot
//! indices inside the same array:
//!
//! - its place in the **derivation tree**: parent, first child, previous and next
//!   sibling. A capability made by [`CapTable::mint`], [`CapTable::copy`] or
//!   [`CapTable::insert_issued`] becomes a child of its source; an original made by
//!   [`CapTable::insert_original`] is a root. Siblings form a doubly linked list, so a
//!   node leaves its list in O(1); roots are in no list.
//! - its place in the **object ring**: a circular doubly linked list of every slot that
//!   names the same object. A capability is the last reference to its object exactly
//!   when its ring has one member, so deletion learns that in O(1) without a reference
//!   count per object (objects live in other tables, of sizes this crate does not know).
//!
//! # Why this shape
//!
//! - No heap and no recursion: every walk is a loop over the links, so the kernel stack
//!   use of an operation does not depend on how deep a tree is.
//! - Every operation checks everything it needs before it changes anything, so an
//!   operation that returns an error leaves the table exactly as it was.
//! - Deleting a capability re-parents its children to its parent (they stay valid and
//!   stay revocable from above); revoking deletes the whole subtree, leaf first, with a
//!   walk that visits each node twice at most: O(descendants).
//!
//! Costs: lookup, mint, copy and delete-of-a-leaf are O(1); move and delete are
//! O(children of the slot); revoke is O(descendants); creating an original is O(SLOTS),
//! because it scans the table to make sure the object is new (a second "original" would
//! make `last_reference` lie).

use core::fmt;

use kernel_abi::{Badge, Error, ObjectType, Rights};

use crate::{CapSpace, Capability, ObjectRef, SlotId};

/// A slot index inside the table, or none. `u32` rather than `Option<usize>` keeps a
/// slot small (the table is static kernel memory).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
struct Link(u32);

impl Link {
    const NONE: Self = Self(u32::MAX);

    /// Links to slot `index`; `index < SLOTS < u32::MAX` (asserted when a table is
    /// created), so the cast is lossless and never produces `NONE`.
    const fn to(index: usize) -> Self {
        Self(index as u32)
    }

    const fn get(self) -> Option<usize> {
        if self.0 == u32::MAX {
            None
        } else {
            Some(self.0 as usize)
        }
    }
}

/// One slot: a capability (or none) and its links. An empty slot has every link `NONE`,
/// and no link anywhere points to an empty slot.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
struct Slot {
    cap: Option<Capability>,
    parent: Link,
    first_child: Link,
    prev_sibling: Link,
    next_sibling: Link,
    /// Previous slot naming the same object (this slot itself if it is the only one).
    prev_same: Link,
    /// Next slot naming the same object (this slot itself if it is the only one).
    next_same: Link,
}

impl Slot {
    const EMPTY: Self = Self {
        cap: None,
        parent: Link::NONE,
        first_child: Link::NONE,
        prev_sibling: Link::NONE,
        next_sibling: Link::NONE,
        prev_same: Link::NONE,
        next_same: Link::NONE,
    };

    /// A slot holding `cap`, alone in its ring, linked into no tree yet.
    const fn holding(cap: Capability, own_index: usize) -> Self {
        Self {
            cap: Some(cap),
            prev_same: Link::to(own_index),
            next_same: Link::to(own_index),
            ..Self::EMPTY
        }
    }
}

/// What [`CapTable::delete`] removed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Deleted {
    /// The object the deleted capability named.
    pub object: ObjectRef,
    /// `true` if no other slot names `object` any more: the kernel may now destroy the
    /// object and reuse its table entry.
    pub last_reference: bool,
}

/// The fixed-capacity table of capability slots shared by all capability spaces, with
/// the derivation tree kept inside it; see the module documentation.
///
/// `SLOTS` must be below `u32::MAX` (checked at compile time by [`CapTable::new`]).
///
/// All operations take global [`SlotId`]s (resolve task-local numbers with
/// [`CapSpace::resolve`] first), check their arguments in the order documented on each,
/// and on error return the first failed check, changing nothing.
///
/// Equality compares the whole state, links included (tests use it to check that a
/// failed operation changed nothing); `Hash` hashes the same (host model checking keeps
/// tables as states).
#[derive(Clone, PartialEq, Eq, Hash)]
pub struct CapTable<const SLOTS: usize> {
    slots: [Slot; SLOTS],
}

impl<const SLOTS: usize> fmt::Debug for CapTable<SLOTS> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // Only the occupied slots: a table is mostly empty, and large.
        f.debug_map().entries(self.occupied()).finish()
    }
}

impl<const SLOTS: usize> Default for CapTable<SLOTS> {
    fn default() -> Self {
        Self::new()
    }
}

impl<const SLOTS: usize> CapTable<SLOTS> {
    /// An empty table (usable in a `static`).
    #[must_use]
    pub const fn new() -> Self {
        const {
            assert!(
                SLOTS < u32::MAX as usize,
                "a CapTable has fewer than u32::MAX slots"
            );
        }
        Self {
            slots: [Slot::EMPTY; SLOTS],
        }
    }

    /// The number of slots.
    #[must_use]
    pub const fn capacity(&self) -> usize {
        SLOTS
    }

    /// The capability space of `len` slots starting at global slot `base`.
    ///
    /// # Errors
    /// [`Error::InvalidArgument`] if the range does not lie inside the table.
    pub const fn space(&self, base: u32, len: u32) -> Result<CapSpace, Error> {
        // Widened: `base + len` cannot overflow a u64.
        if base as u64 + len as u64 > SLOTS as u64 {
            return Err(Error::InvalidArgument);
        }
        Ok(CapSpace::new_unchecked(base, len))
    }

    // ---- queries -------------------------------------------------------------------

    /// The capability in `slot`.
    ///
    /// # Errors
    /// [`Error::InvalidSlot`] if `slot` is beyond the table, [`Error::EmptySlot`] if it
    /// holds no capability.
    pub fn lookup(&self, slot: SlotId) -> Result<Capability, Error> {
        let i = self.index(slot)?;
        self.cap_at(i)
    }

    /// The capability in `slot`, if it names an object of kind `kind` and carries at
    /// least `needed` rights: the check that every invocation starts with.
    ///
    /// # Errors
    /// In this order: [`Error::InvalidSlot`], [`Error::EmptySlot`],
    /// [`Error::WrongObjectType`], [`Error::InsufficientRights`].
    pub fn lookup_checked(
        &self,
        slot: SlotId,
        kind: ObjectType,
        needed: Rights,
    ) -> Result<Capability, Error> {
        let cap = self.lookup(slot)?;
        if cap.object.kind != kind {
            return Err(Error::WrongObjectType);
        }
        if !needed.is_subset_of(cap.rights) {
            return Err(Error::InsufficientRights);
        }
        Ok(cap)
    }

    /// The slot `slot`'s capability was derived from, or `None` for a root.
    ///
    /// # Errors
    /// [`Error::InvalidSlot`], [`Error::EmptySlot`].
    pub fn parent(&self, slot: SlotId) -> Result<Option<SlotId>, Error> {
        let i = self.index(slot)?;
        self.cap_at(i)?;
        Ok(self.slots[i].parent.get().map(slot_id))
    }

    /// The slots directly derived from `slot` (in no particular order).
    ///
    /// # Errors
    /// [`Error::InvalidSlot`], [`Error::EmptySlot`].
    pub fn children(&self, slot: SlotId) -> Result<Children<'_, SLOTS>, Error> {
        let i = self.index(slot)?;
        self.cap_at(i)?;
        Ok(Children {
            table: self,
            next: self.slots[i].first_child,
        })
    }

    /// `true` if `slot` holds the only capability to its object, so deleting it would
    /// report `last_reference` (seL4's "final capability").
    ///
    /// # Errors
    /// [`Error::InvalidSlot`], [`Error::EmptySlot`].
    pub fn is_last_reference(&self, slot: SlotId) -> Result<bool, Error> {
        let i = self.index(slot)?;
        self.cap_at(i)?;
        Ok(self.slots[i].next_same == Link::to(i))
    }

    /// Every occupied slot with its capability, in slot order.
    pub fn occupied(&self) -> impl Iterator<Item = (SlotId, Capability)> + '_ {
        self.slots
            .iter()
            .enumerate()
            .filter_map(|(i, s)| s.cap.map(|cap| (slot_id(i), cap)))
    }

    // ---- creating capabilities ----------------------------------------------------

    /// Puts the original capability to a newly created object into `slot`, as the root
    /// of a new derivation tree. Used by the kernel at boot (and whenever it creates an
    /// object) to hand out the first capability.
    ///
    /// O(SLOTS): the table is scanned to make sure no capability names the object yet.
    ///
    /// # Errors
    /// In this order: [`Error::InvalidSlot`]; [`Error::SlotOccupied`];
    /// [`Error::InvalidArgument`] if `cap` is not well formed (see
    /// [`Capability::check_well_formed`]); [`Error::AlreadyInUse`] if a capability to
    /// `cap.object` already exists.
    pub fn insert_original(&mut self, slot: SlotId, cap: Capability) -> Result<(), Error> {
        let i = self.index(slot)?;
        self.check_vacant(i)?;
        cap.check_well_formed()?;
        self.check_new_object(cap.object)?;
        self.slots[i] = Slot::holding(cap, i);
        Ok(())
    }

    /// Puts the first capability to a newly created object into `dst`, as a child of the
    /// capability in `issuer` that was invoked to create it: an IRQ handler capability
    /// issued from the IRQ control capability, say. Revoking `issuer` (or an ancestor)
    /// then deletes it, and reports its object's last reference.
    ///
    /// The new capability names another object than the issuer's, so its rights are its
    /// own, not a subset of the issuer's; which kinds may issue which is the kernel's
    /// policy, not checked here.
    ///
    /// # Errors
    /// In this order: [`Error::InvalidSlot`] (for `issuer`, then `dst`);
    /// [`Error::EmptySlot`] if `issuer` is empty; [`Error::SlotOccupied`];
    /// [`Error::InvalidArgument`] if `cap` is not well formed; [`Error::AlreadyInUse`]
    /// if a capability to `cap.object` already exists.
    pub fn insert_issued(
        &mut self,
        issuer: SlotId,
        dst: SlotId,
        cap: Capability,
    ) -> Result<(), Error> {
        let p = self.index(issuer)?;
        let d = self.index(dst)?;
        self.cap_at(p)?;
        self.check_vacant(d)?;
        cap.check_well_formed()?;
        self.check_new_object(cap.object)?;
        self.slots[d] = Slot::holding(cap, d);
        self.link_child(p, d);
        Ok(())
    }

    /// Derives a capability with fewer (or the same) rights, and possibly a badge, from
    /// the one in `src` into `dst`, as a child of `src`.
    ///
    /// Rights are never silently masked: asking for a right `src` does not carry is an
    /// error, so a caller learns at once that it holds less than it thought. With
    /// `badge: None` the new capability keeps `src`'s badge (if any); a badge can only be
    /// set on an unbadged endpoint or notification capability, and never to `0`.
    ///
    /// # Errors
    /// In this order: [`Error::InvalidSlot`] (for `src`, then `dst`);
    /// [`Error::EmptySlot`] if `src` is empty; [`Error::SlotOccupied`] if `dst` is not
    /// (also when `src == dst`); [`Error::InsufficientRights`] if `rights` is not a
    /// subset of `src`'s; [`Error::InvalidArgument`] for a badge on another kind of
    /// object, or a zero badge; [`Error::BadgeAlreadySet`] for a badge when `src` has one.
    pub fn mint(
        &mut self,
        src: SlotId,
        dst: SlotId,
        rights: Rights,
        badge: Option<Badge>,
    ) -> Result<(), Error> {
        let s = self.index(src)?;
        let d = self.index(dst)?;
        let parent = self.cap_at(s)?;
        self.check_vacant(d)?;
        if !rights.is_subset_of(parent.rights) {
            return Err(Error::InsufficientRights);
        }
        let badge = match badge {
            None => parent.badge,
            Some(b) => {
                if !b.is_valid() || !parent.object.kind.accepts_badge() {
                    return Err(Error::InvalidArgument);
                }
                if parent.badge.is_some() {
                    return Err(Error::BadgeAlreadySet);
                }
                Some(b)
            }
        };
        self.derive(
            s,
            d,
            Capability {
                object: parent.object,
                rights,
                badge,
            },
        );
        Ok(())
    }

    /// Copies the capability in `src` (same object, rights and badge) into `dst`, as a
    /// child of `src`.
    ///
    /// # Errors
    /// In this order: [`Error::InvalidSlot`] (for `src`, then `dst`);
    /// [`Error::EmptySlot`] if `src` is empty; [`Error::SlotOccupied`] if `dst` is not
    /// (also when `src == dst`).
    pub fn copy(&mut self, src: SlotId, dst: SlotId) -> Result<(), Error> {
        let s = self.index(src)?;
        let d = self.index(dst)?;
        let cap = self.cap_at(s)?;
        self.check_vacant(d)?;
        self.derive(s, d, cap);
        Ok(())
    }

    /// Moves the capability in `src` to `dst`: `dst` takes `src`'s place in the
    /// derivation tree (same parent, same children) and `src` becomes empty.
    ///
    /// O(children of `src`).
    ///
    /// # Errors
    /// In this order: [`Error::InvalidSlot`] (for `src`, then `dst`);
    /// [`Error::EmptySlot`] if `src` is empty; [`Error::SlotOccupied`] if `dst` is not
    /// (also when `src == dst`).
    pub fn move_(&mut self, src: SlotId, dst: SlotId) -> Result<(), Error> {
        let s = self.index(src)?;
        let d = self.index(dst)?;
        self.cap_at(s)?;
        self.check_vacant(d)?;

        let node = self.slots[s];
        self.slots[d] = node;
        self.slots[s] = Slot::EMPTY;
        // Redirect every link that pointed at `s` to `d`.
        if let Some(p) = node.parent.get()
            && self.slots[p].first_child == Link::to(s)
        {
            self.slots[p].first_child = Link::to(d);
        }
        if let Some(prev) = node.prev_sibling.get() {
            self.slots[prev].next_sibling = Link::to(d);
        }
        if let Some(next) = node.next_sibling.get() {
            self.slots[next].prev_sibling = Link::to(d);
        }
        let mut child = node.first_child;
        while let Some(c) = child.get() {
            self.slots[c].parent = Link::to(d);
            child = self.slots[c].next_sibling;
        }
        if node.next_same == Link::to(s) {
            // Alone in its ring: now alone as `d`.
            self.slots[d].prev_same = Link::to(d);
            self.slots[d].next_same = Link::to(d);
        } else {
            // In a ring of two, `prev_same == next_same` and both lines hit that slot.
            self.set_next_same(node.prev_same, d);
            self.set_prev_same(node.next_same, d);
        }
        Ok(())
    }

    // ---- removing capabilities ----------------------------------------------------

    /// Deletes the capability in `slot`. Its children are re-parented to its parent (to
    /// no parent, if it was a root): they stay valid.
    ///
    /// O(children of `slot`).
    ///
    /// # Errors
    /// [`Error::InvalidSlot`], [`Error::EmptySlot`].
    pub fn delete(&mut self, slot: SlotId) -> Result<Deleted, Error> {
        let i = self.index(slot)?;
        self.remove(i).ok_or(Error::EmptySlot)
    }

    /// Deletes every capability derived, directly or transitively, from the one in
    /// `slot`, which itself stays. Returns how many were deleted, and calls
    /// `on_last_reference` once for each object whose last capability was among them.
    ///
    /// The subtree is deleted leaf first by a loop (no recursion), in O(descendants).
    ///
    /// # Errors
    /// [`Error::InvalidSlot`], [`Error::EmptySlot`].
    pub fn revoke(
        &mut self,
        slot: SlotId,
        mut on_last_reference: impl FnMut(ObjectRef),
    ) -> Result<usize, Error> {
        let root = self.index(slot)?;
        self.cap_at(root)?;
        let mut deleted = 0;
        let mut cur = root;
        loop {
            // Descend to a leaf; delete it; go back up to its parent, which may now be a
            // leaf itself. Each node is descended into once and deleted once.
            if let Some(child) = self.slots[cur].first_child.get() {
                cur = child;
                continue;
            }
            if cur == root {
                break;
            }
            let parent = self.slots[cur].parent.get();
            // `cur` is occupied: it is `root`'s descendant, and links only point at
            // occupied slots. Stopping is the safe answer should that ever break.
            let Some(gone) = self.remove(cur) else { break };
            deleted += 1;
            if gone.last_reference {
                on_last_reference(gone.object);
            }
            match parent {
                Some(p) => cur = p,
                // Unreachable: `cur` descends from `root`, so it has a parent. Stopping
                // is the safe answer should the links ever be corrupt.
                None => break,
            }
        }
        Ok(deleted)
    }

    // ---- self-check ---------------------------------------------------------------

    /// Checks every structural invariant of the table, for tests and debug builds:
    /// links are mutually consistent and point at occupied slots, parent chains end,
    /// each object ring holds exactly the slots naming that object, every capability is
    /// well formed, and a capability derived from one to the same object carries no
    /// more rights and keeps its badge.
    ///
    /// O(SLOTS²) in the worst case; loops only, with every walk bounded by `SLOTS`.
    ///
    /// # Errors
    /// A description of the first violated invariant.
    pub fn check_consistency(&self) -> Result<(), &'static str> {
        // First pass: every link is in range and points at an occupied slot, so the
        // second pass can follow links without indexing out of bounds.
        for slot in &self.slots {
            let links = [
                slot.parent,
                slot.first_child,
                slot.prev_sibling,
                slot.next_sibling,
                slot.prev_same,
                slot.next_same,
            ];
            if slot.cap.is_none() {
                if links.iter().any(|l| *l != Link::NONE) {
                    return Err("an empty slot has links");
                }
                continue;
            }
            for l in links {
                if let Some(j) = l.get()
                    && self.slots.get(j).and_then(|s| s.cap).is_none()
                {
                    return Err("a link points outside the table or to an empty slot");
                }
            }
        }
        for (i, slot) in self.slots.iter().enumerate() {
            let Some(cap) = slot.cap else { continue };
            cap.check_well_formed()
                .map_err(|_| "a stored capability is not well formed")?;
            self.check_tree_links(i, slot, cap)?;
            self.check_ring(i, cap)?;
        }
        Ok(())
    }

    /// Part of [`CapTable::check_consistency`]: the derivation tree around slot `i`.
    fn check_tree_links(&self, i: usize, slot: &Slot, cap: Capability) -> Result<(), &'static str> {
        match slot.parent.get() {
            None => {
                if slot.prev_sibling != Link::NONE || slot.next_sibling != Link::NONE {
                    return Err("a root has siblings");
                }
            }
            Some(p) => {
                if slot.prev_sibling == Link::NONE {
                    if self.slots[p].first_child != Link::to(i) {
                        return Err("a first child is not its parent's first child");
                    }
                    // The sibling list from here reaches every child of `p`, and ends.
                    let mut listed = 0;
                    let mut at = Link::to(i);
                    while let Some(c) = at.get() {
                        listed += 1;
                        if listed > SLOTS {
                            return Err("a sibling list does not end");
                        }
                        at = self.slots[c].next_sibling;
                    }
                    let children = self
                        .slots
                        .iter()
                        .filter(|s| s.cap.is_some() && s.parent == Link::to(p))
                        .count();
                    if listed != children {
                        return Err("a sibling list misses a child");
                    }
                }
                let parent_cap = self.slots[p].cap.ok_or("a parent is empty")?;
                if parent_cap.object == cap.object {
                    if !cap.rights.is_subset_of(parent_cap.rights) {
                        return Err("a derived capability has more rights than its parent");
                    }
                    if parent_cap.badge.is_some() && cap.badge != parent_cap.badge {
                        return Err("a derived capability lost its parent's badge");
                    }
                }
            }
        }
        if let Some(c) = slot.first_child.get()
            && (self.slots[c].parent != Link::to(i) || self.slots[c].prev_sibling != Link::NONE)
        {
            return Err("a first child does not point back to its parent");
        }
        if let Some(n) = slot.next_sibling.get()
            && (self.slots[n].prev_sibling != Link::to(i) || self.slots[n].parent != slot.parent)
        {
            return Err("sibling links disagree");
        }
        if let Some(n) = slot.prev_sibling.get()
            && self.slots[n].next_sibling != Link::to(i)
        {
            return Err("sibling links disagree");
        }
        // The parent chain ends (no cycle).
        let mut up = slot.parent;
        let mut steps = 0;
        while let Some(p) = up.get() {
            steps += 1;
            if steps > SLOTS {
                return Err("a parent chain has a cycle");
            }
            up = self.slots[p].parent;
        }
        Ok(())
    }

    /// Part of [`CapTable::check_consistency`]: slot `i`'s object ring is consistent and
    /// holds exactly the slots that name its object.
    fn check_ring(&self, i: usize, cap: Capability) -> Result<(), &'static str> {
        let mut members = 0;
        let mut at = i;
        loop {
            let next = self.slots[at]
                .next_same
                .get()
                .ok_or("an occupied slot has no ring link")?;
            if self.slots[next].prev_same != Link::to(at) {
                return Err("object ring links disagree");
            }
            if self.slots[next].cap.map(|c| c.object) != Some(cap.object) {
                return Err("an object ring holds another object");
            }
            members += 1;
            if next == i {
                break;
            }
            // No step bound is needed: every step checks `prev_same` of the slot it
            // reaches, so the walk can only come back to a slot through that slot's one
            // predecessor. A walk that revisits a slot other than `i` would need two; it
            // therefore meets `i` again within `SLOTS` steps or stops at an error above.
            at = next;
        }
        let naming = self
            .slots
            .iter()
            .filter(|s| s.cap.map(|c| c.object) == Some(cap.object))
            .count();
        if members != naming {
            return Err("an object ring misses a slot naming its object");
        }
        Ok(())
    }

    // ---- internals ----------------------------------------------------------------

    fn index(&self, slot: SlotId) -> Result<usize, Error> {
        let i = slot.index() as usize;
        if i < SLOTS {
            Ok(i)
        } else {
            Err(Error::InvalidSlot)
        }
    }

    fn cap_at(&self, i: usize) -> Result<Capability, Error> {
        self.slots[i].cap.ok_or(Error::EmptySlot)
    }

    fn check_vacant(&self, i: usize) -> Result<(), Error> {
        match self.slots[i].cap {
            Some(_) => Err(Error::SlotOccupied),
            None => Ok(()),
        }
    }

    fn check_new_object(&self, object: ObjectRef) -> Result<(), Error> {
        if self
            .slots
            .iter()
            .any(|s| s.cap.map(|c| c.object) == Some(object))
        {
            Err(Error::AlreadyInUse)
        } else {
            Ok(())
        }
    }

    /// Fills the vacant `d` with `cap`, which names the same object as `s`, as a child
    /// of `s`.
    fn derive(&mut self, s: usize, d: usize, cap: Capability) {
        self.slots[d] = Slot::holding(cap, d);
        // Join `s`'s object ring, right after `s`.
        let after = self.slots[s].next_same;
        self.slots[d].prev_same = Link::to(s);
        self.slots[d].next_same = after;
        self.set_prev_same(after, d);
        self.slots[s].next_same = Link::to(d);
        self.link_child(s, d);
    }

    /// Makes the unlinked `c` the first child of `p`.
    fn link_child(&mut self, p: usize, c: usize) {
        let old_first = self.slots[p].first_child;
        self.slots[c].parent = Link::to(p);
        self.slots[c].prev_sibling = Link::NONE;
        self.slots[c].next_sibling = old_first;
        if let Some(f) = old_first.get() {
            self.slots[f].prev_sibling = Link::to(c);
        }
        self.slots[p].first_child = Link::to(c);
    }

    fn set_prev_same(&mut self, at: Link, to: usize) {
        if let Some(a) = at.get() {
            self.slots[a].prev_same = Link::to(to);
        }
    }

    fn set_next_same(&mut self, at: Link, to: usize) {
        if let Some(a) = at.get() {
            self.slots[a].next_same = Link::to(to);
        }
    }

    /// Deletes the capability in slot `i`, re-parenting its children; `None` if the
    /// slot is empty.
    fn remove(&mut self, i: usize) -> Option<Deleted> {
        let node = self.slots[i];
        let object = node.cap?.object;
        // Leave the object ring.
        let last_reference = node.next_same == Link::to(i);
        if let (Some(prev), Some(next)) = (node.prev_same.get(), node.next_same.get()) {
            // In a ring of one both are `i`, which is cleared below anyway.
            self.slots[prev].next_same = node.next_same;
            self.slots[next].prev_same = node.prev_same;
        }
        // Hand the children to the parent.
        let mut last_child = Link::NONE;
        let mut child = node.first_child;
        while let Some(c) = child.get() {
            let next = self.slots[c].next_sibling;
            self.slots[c].parent = node.parent;
            if node.parent == Link::NONE {
                // They become roots, which are in no sibling list.
                self.slots[c].prev_sibling = Link::NONE;
                self.slots[c].next_sibling = Link::NONE;
            }
            last_child = child;
            child = next;
        }
        // Leave the sibling list, putting the children (if any) in `i`'s place.
        if let Some(p) = node.parent.get() {
            let (first, last) = match (node.first_child.get(), last_child.get()) {
                (Some(first), Some(last)) => {
                    self.slots[first].prev_sibling = node.prev_sibling;
                    self.slots[last].next_sibling = node.next_sibling;
                    (Link::to(first), Link::to(last))
                }
                _ => (node.next_sibling, node.prev_sibling),
            };
            match node.prev_sibling.get() {
                Some(prev) => self.slots[prev].next_sibling = first,
                None => self.slots[p].first_child = first,
            }
            if let Some(next) = node.next_sibling.get() {
                self.slots[next].prev_sibling = last;
            }
        }
        self.slots[i] = Slot::EMPTY;
        Some(Deleted {
            object,
            last_reference,
        })
    }
}

/// Converts a table index to a [`SlotId`]; lossless because `SLOTS < u32::MAX`.
const fn slot_id(i: usize) -> SlotId {
    SlotId::new(i as u32)
}

/// The children of one slot; see [`CapTable::children`].
#[derive(Debug)]
pub struct Children<'a, const SLOTS: usize> {
    table: &'a CapTable<SLOTS>,
    next: Link,
}

impl<const SLOTS: usize> Iterator for Children<'_, SLOTS> {
    type Item = SlotId;

    fn next(&mut self) -> Option<SlotId> {
        let c = self.next.get()?;
        self.next = self.table.slots.get(c)?.next_sibling;
        Some(slot_id(c))
    }
}

#[cfg(test)]
mod tests {
    extern crate std;
    use std::vec::Vec;

    use super::*;

    const EP: ObjectRef = ObjectRef::new(ObjectType::Endpoint, 0);
    const NTFN: ObjectRef = ObjectRef::new(ObjectType::Notification, 3);
    const TCB: ObjectRef = ObjectRef::new(ObjectType::Thread, 0);

    fn s(i: u32) -> SlotId {
        SlotId::new(i)
    }

    fn children<const N: usize>(t: &CapTable<N>, slot: u32) -> Vec<u32> {
        let mut c: Vec<u32> = t.children(s(slot)).unwrap().map(SlotId::index).collect();
        c.sort_unstable();
        c
    }

    /// Runs `op` and checks it failed with `err` without changing the table.
    fn fails<const N: usize, T: core::fmt::Debug>(
        t: &mut CapTable<N>,
        err: Error,
        op: impl FnOnce(&mut CapTable<N>) -> Result<T, Error>,
    ) {
        let before = t.clone();
        assert_eq!(op(t).unwrap_err(), err);
        assert!(*t == before, "a failed operation changed the table");
    }

    #[test]
    fn insert_original_checks() {
        let mut t = CapTable::<8>::new();
        let ep = Capability::new(EP, Rights::ALL);
        fails(&mut t, Error::InvalidSlot, |t| t.insert_original(s(8), ep));
        t.insert_original(s(0), ep).unwrap();
        fails(&mut t, Error::SlotOccupied, |t| t.insert_original(s(0), ep));
        fails(&mut t, Error::AlreadyInUse, |t| t.insert_original(s(1), ep));
        let badged_tcb = Capability::new(TCB, Rights::ALL).with_badge(Badge::new(1));
        fails(&mut t, Error::InvalidArgument, |t| {
            t.insert_original(s(1), badged_tcb)
        });
        let zero = Capability::new(NTFN, Rights::ALL).with_badge(Badge::new(0));
        fails(&mut t, Error::InvalidArgument, |t| {
            t.insert_original(s(1), zero)
        });
        let odd = Capability::new(TCB, Rights::from_bits_retain(0x80));
        fails(&mut t, Error::InvalidArgument, |t| {
            t.insert_original(s(1), odd)
        });
        assert_eq!(t.lookup(s(0)), Ok(ep));
        assert_eq!(t.parent(s(0)), Ok(None));
        assert_eq!(t.is_last_reference(s(0)), Ok(true));
        t.check_consistency().unwrap();
    }

    #[test]
    fn mint_derives_fewer_rights_and_sets_badges_once() {
        let mut t = CapTable::<8>::new();
        t.insert_original(s(0), Capability::new(EP, Rights::READ_WRITE))
            .unwrap();
        t.insert_original(s(7), Capability::new(TCB, Rights::ALL))
            .unwrap();
        let b = Some(Badge::new(0x10));
        // Asking for more than the source has is an error, not a mask.
        fails(&mut t, Error::InsufficientRights, |t| {
            t.mint(s(0), s(1), Rights::ALL, None)
        });
        fails(&mut t, Error::InvalidArgument, |t| {
            t.mint(s(7), s(1), Rights::READ, b)
        });
        fails(&mut t, Error::InvalidArgument, |t| {
            t.mint(s(0), s(1), Rights::READ, Some(Badge::new(0)))
        });
        fails(&mut t, Error::SlotOccupied, |t| {
            t.mint(s(0), s(0), Rights::READ, b)
        });
        fails(&mut t, Error::EmptySlot, |t| {
            t.mint(s(2), s(1), Rights::READ, b)
        });
        fails(&mut t, Error::InvalidSlot, |t| {
            t.mint(s(9), s(1), Rights::READ, b)
        });
        fails(&mut t, Error::InvalidSlot, |t| {
            t.mint(s(0), s(9), Rights::READ, b)
        });

        t.mint(s(0), s(1), Rights::WRITE, b).unwrap();
        assert_eq!(
            t.lookup(s(1)),
            Ok(Capability::new(EP, Rights::WRITE).with_badge(Badge::new(0x10)))
        );
        assert_eq!(t.parent(s(1)), Ok(Some(s(0))));
        fails(&mut t, Error::BadgeAlreadySet, |t| {
            t.mint(s(1), s(2), Rights::WRITE, Some(Badge::new(3)))
        });
        // Without a badge argument the badge is inherited.
        t.mint(s(1), s(2), Rights::NONE, None).unwrap();
        assert_eq!(t.lookup(s(2)).unwrap().badge, b);
        fails(&mut t, Error::InsufficientRights, |t| {
            t.mint(s(2), s(3), Rights::WRITE, None)
        });
        assert_eq!(t.is_last_reference(s(0)), Ok(false));
        t.check_consistency().unwrap();
    }

    #[test]
    fn copy_and_lookup_checked() {
        let mut t = CapTable::<4>::new();
        t.insert_original(s(0), Capability::new(NTFN, Rights::READ_WRITE))
            .unwrap();
        t.mint(s(0), s(1), Rights::WRITE, Some(Badge::new(1 << 5)))
            .unwrap();
        t.copy(s(1), s(2)).unwrap();
        assert_eq!(t.lookup(s(2)), t.lookup(s(1)));
        assert_eq!(t.parent(s(2)), Ok(Some(s(1))));
        fails(&mut t, Error::SlotOccupied, |t| t.copy(s(1), s(1)));
        fails(&mut t, Error::EmptySlot, |t| t.copy(s(3), s(1)));

        let k = ObjectType::Notification;
        assert!(t.lookup_checked(s(2), k, Rights::WRITE).is_ok());
        assert_eq!(
            t.lookup_checked(s(2), k, Rights::READ),
            Err(Error::InsufficientRights)
        );
        assert_eq!(
            t.lookup_checked(s(2), ObjectType::IrqHandler, Rights::NONE),
            Err(Error::WrongObjectType)
        );
        assert_eq!(
            t.lookup_checked(s(3), k, Rights::NONE),
            Err(Error::EmptySlot)
        );
        assert_eq!(
            t.lookup_checked(s(4), k, Rights::NONE),
            Err(Error::InvalidSlot)
        );
        t.check_consistency().unwrap();
    }

    #[test]
    fn move_takes_the_place_in_the_tree() {
        let mut t = CapTable::<8>::new();
        t.insert_original(s(0), Capability::new(EP, Rights::ALL))
            .unwrap();
        t.copy(s(0), s(1)).unwrap();
        t.copy(s(0), s(2)).unwrap();
        t.copy(s(0), s(3)).unwrap(); // middle sibling after the next copy
        t.copy(s(0), s(4)).unwrap();
        t.copy(s(3), s(5)).unwrap();
        t.copy(s(3), s(6)).unwrap();
        let cap = t.lookup(s(3)).unwrap();
        t.move_(s(3), s(7)).unwrap();
        assert_eq!(t.lookup(s(3)), Err(Error::EmptySlot));
        assert_eq!(t.lookup(s(7)), Ok(cap));
        assert_eq!(t.parent(s(7)), Ok(Some(s(0))));
        assert_eq!(children(&t, 0), [1, 2, 4, 7]);
        assert_eq!(children(&t, 7), [5, 6]);
        assert_eq!(t.parent(s(5)), Ok(Some(s(7))));
        fails(&mut t, Error::SlotOccupied, |t| t.move_(s(7), s(7)));
        fails(&mut t, Error::EmptySlot, |t| t.move_(s(3), s(3)));
        t.check_consistency().unwrap();
        // A lone capability stays alone in its ring when moved.
        t.insert_original(s(3), Capability::new(TCB, Rights::ALL))
            .unwrap();
        t.delete(s(7)).unwrap();
        t.move_(s(3), s(7)).unwrap();
        assert_eq!(t.is_last_reference(s(7)), Ok(true));
        t.check_consistency().unwrap();
    }

    #[test]
    fn delete_reparents_and_reports_the_last_reference() {
        let mut t = CapTable::<8>::new();
        t.insert_original(s(0), Capability::new(EP, Rights::ALL))
            .unwrap();
        t.copy(s(0), s(1)).unwrap();
        t.copy(s(1), s(2)).unwrap();
        t.copy(s(1), s(3)).unwrap();
        t.copy(s(0), s(4)).unwrap();
        let d = t.delete(s(1)).unwrap();
        assert_eq!(
            d,
            Deleted {
                object: EP,
                last_reference: false
            }
        );
        assert_eq!(children(&t, 0), [2, 3, 4]);
        t.check_consistency().unwrap();
        // Deleting a root makes its children roots.
        t.delete(s(0)).unwrap();
        for i in [2, 3, 4] {
            assert_eq!(t.parent(s(i)), Ok(None));
        }
        t.check_consistency().unwrap();
        assert!(!t.delete(s(2)).unwrap().last_reference);
        assert!(!t.delete(s(4)).unwrap().last_reference);
        assert!(t.delete(s(3)).unwrap().last_reference);
        fails(&mut t, Error::EmptySlot, |t| t.delete(s(3)));
        fails(&mut t, Error::InvalidSlot, |t| t.delete(s(8)));
        assert_eq!(t.occupied().count(), 0);
        assert!(t == CapTable::new());
    }

    #[test]
    fn revoke_deletes_the_subtree_only() {
        let mut t = CapTable::<16>::new();
        t.insert_original(s(0), Capability::new(EP, Rights::ALL))
            .unwrap();
        t.copy(s(0), s(1)).unwrap();
        t.copy(s(1), s(2)).unwrap();
        t.copy(s(2), s(3)).unwrap();
        t.copy(s(1), s(4)).unwrap();
        t.copy(s(0), s(5)).unwrap();
        t.insert_original(s(6), Capability::new(TCB, Rights::ALL))
            .unwrap();
        let mut dead = Vec::new();
        assert_eq!(t.revoke(s(1), |o| dead.push(o)), Ok(3));
        assert!(dead.is_empty());
        for i in [0, 1, 5, 6] {
            assert!(t.lookup(s(i)).is_ok());
        }
        for i in [2, 3, 4] {
            assert_eq!(t.lookup(s(i)), Err(Error::EmptySlot));
        }
        assert_eq!(t.revoke(s(1), |o| dead.push(o)), Ok(0));
        fails(&mut t, Error::EmptySlot, |t| t.revoke(s(2), |_| {}));
        fails(&mut t, Error::InvalidSlot, |t| t.revoke(s(16), |_| {}));
        t.check_consistency().unwrap();
    }

    #[test]
    fn revoking_an_issuer_reports_the_objects_it_issued() {
        let mut t = CapTable::<16>::new();
        let ctl = ObjectRef::new(ObjectType::IrqControl, 0);
        let irq = |n| ObjectRef::new(ObjectType::IrqHandler, n);
        t.insert_original(s(0), Capability::new(ctl, Rights::ALL))
            .unwrap();
        t.insert_issued(s(0), s(1), Capability::new(irq(27), Rights::ALL))
            .unwrap();
        t.insert_issued(s(0), s(2), Capability::new(irq(30), Rights::ALL))
            .unwrap();
        t.copy(s(2), s(3)).unwrap();
        t.copy(s(3), s(4)).unwrap();
        // One handler per line: a second one for IRQ 27 is refused.
        fails(&mut t, Error::AlreadyInUse, |t| {
            t.insert_issued(s(0), s(5), Capability::new(irq(27), Rights::ALL))
        });
        fails(&mut t, Error::EmptySlot, |t| {
            t.insert_issued(s(9), s(5), Capability::new(irq(1), Rights::ALL))
        });
        fails(&mut t, Error::SlotOccupied, |t| {
            t.insert_issued(s(0), s(0), Capability::new(irq(1), Rights::ALL))
        });
        assert_eq!(t.parent(s(1)), Ok(Some(s(0))));
        let mut dead = Vec::new();
        assert_eq!(t.revoke(s(0), |o| dead.push(o)), Ok(4));
        dead.sort();
        assert_eq!(dead, [irq(27), irq(30)]);
        assert_eq!(t.occupied().count(), 1);
        t.check_consistency().unwrap();
    }

    #[test]
    fn deep_chains_need_no_recursion() {
        const N: usize = 4096;
        let mut t = CapTable::<N>::new();
        t.insert_original(s(0), Capability::new(EP, Rights::ALL))
            .unwrap();
        for i in 1..N as u32 {
            t.copy(s(i - 1), s(i)).unwrap();
        }
        // Delete from the middle of the chain, then revoke it all from the root.
        t.delete(s(2000)).unwrap();
        assert_eq!(t.parent(s(2001)), Ok(Some(s(1999))));
        let mut dead = 0;
        assert_eq!(t.revoke(s(0), |_| dead += 1), Ok(N - 2));
        assert_eq!(dead, 0);
        assert!(t.delete(s(0)).unwrap().last_reference);
        assert!(t == CapTable::new());
    }

    /// Invariant 6 of the design, at this layer: a task names only its own slots, and a
    /// revoked or wrong capability is refused with an error that says which.
    #[test]
    fn a_task_can_only_use_what_it_holds() {
        let mut t = CapTable::<16>::new();
        let stall = |d| ObjectRef::new(ObjectType::StallCap, d);
        let a = t.space(0, 4).unwrap();
        let b = t.space(4, 4).unwrap();
        assert!(!a.overlaps(&b));
        assert_eq!(t.space(12, 5), Err(Error::InvalidArgument));
        assert_eq!(t.space(u32::MAX, 2), Err(Error::InvalidArgument));
        t.insert_original(
            a.resolve(0).unwrap(),
            Capability::new(stall(0), Rights::ALL),
        )
        .unwrap();
        t.insert_original(
            b.resolve(0).unwrap(),
            Capability::new(stall(1), Rights::ALL),
        )
        .unwrap();
        // Task B cannot name A's slot: local numbers stop at its own length.
        assert_eq!(b.resolve(4), Err(Error::InvalidSlot));
        let own = b.resolve(0).unwrap();
        assert_eq!(
            t.lookup_checked(own, ObjectType::StallCap, Rights::WRITE)
                .unwrap()
                .object,
            stall(1)
        );
        // A lends B its stall capability, then revokes it.
        t.copy(a.resolve(0).unwrap(), b.resolve(1).unwrap())
            .unwrap();
        let lent = b.resolve(1).unwrap();
        assert!(
            t.lookup_checked(lent, ObjectType::StallCap, Rights::WRITE)
                .is_ok()
        );
        assert_eq!(t.revoke(a.resolve(0).unwrap(), |_| {}), Ok(1));
        assert_eq!(
            t.lookup_checked(lent, ObjectType::StallCap, Rights::WRITE),
            Err(Error::EmptySlot)
        );
        assert_eq!(
            t.lookup_checked(own, ObjectType::Endpoint, Rights::WRITE),
            Err(Error::WrongObjectType)
        );
    }

    /// A small consistent table to corrupt, built through the API: slot 0 an endpoint
    /// original with children 1 (first) and 2; slot 3 a badged read-only child of 1;
    /// slot 4 a notification original (a root alone in its ring); 5..7 empty. The
    /// endpoint ring is 0 -> 1 -> 3 -> 2 -> 0.
    fn healthy() -> CapTable<8> {
        let mut t = CapTable::<8>::new();
        t.insert_original(s(0), Capability::new(EP, Rights::ALL))
            .unwrap();
        // A new child goes first in its parent's list: 2 then 1 leaves 1 first.
        t.copy(s(0), s(2)).unwrap();
        t.copy(s(0), s(1)).unwrap();
        t.mint(s(1), s(3), Rights::READ, Some(Badge::new(7)))
            .unwrap();
        t.insert_original(s(4), Capability::new(NTFN, Rights::ALL))
            .unwrap();
        t
    }

    /// `check_consistency` on [`healthy`] after `corrupt`.
    fn check_after(corrupt: impl FnOnce(&mut CapTable<8>)) -> Result<(), &'static str> {
        let mut t = healthy();
        corrupt(&mut t);
        t.check_consistency()
    }

    /// The table's self-check is the oracle of every other test and of the model checks,
    /// so it must itself fail: each corruption below breaks one link (or capability) the
    /// check verifies, and the check must report exactly that rule. The corruptions are
    /// chosen so that no check run earlier (slots are checked in index order, the tree
    /// before the ring) sees the damage first.
    #[test]
    fn check_consistency_reports_each_kind_of_corruption() {
        let t = healthy();
        assert_eq!(t.check_consistency(), Ok(()));
        assert_eq!(t.slots[0].first_child, Link::to(1));
        assert_eq!(t.slots[1].next_sibling, Link::to(2));
        assert_eq!(t.slots[0].next_same, Link::to(1));
        assert_eq!(t.slots[1].next_same, Link::to(3));
        assert_eq!(t.slots[3].next_same, Link::to(2));
        assert_eq!(t.slots[2].next_same, Link::to(0));

        // First pass: the links themselves.
        for link in 0..6 {
            let result = check_after(|t| {
                let e = &mut t.slots[5];
                let l = [
                    &mut e.parent,
                    &mut e.first_child,
                    &mut e.prev_sibling,
                    &mut e.next_sibling,
                    &mut e.prev_same,
                    &mut e.next_same,
                ];
                *l.into_iter().nth(link).unwrap() = Link::to(0);
            });
            assert_eq!(result, Err("an empty slot has links"), "link {link}");
        }
        let outside = "a link points outside the table or to an empty slot";
        assert_eq!(check_after(|t| t.slots[4].parent = Link(8)), Err(outside));
        assert_eq!(
            check_after(|t| t.slots[4].first_child = Link::to(6)),
            Err(outside)
        );

        // The capability itself.
        assert_eq!(
            check_after(|t| {
                t.slots[4].cap = Some(Capability::new(NTFN, Rights::from_bits_retain(0x80)));
            }),
            Err("a stored capability is not well formed")
        );

        // The derivation tree.
        let has_siblings = Err("a root has siblings");
        assert_eq!(
            check_after(|t| t.slots[4].next_sibling = Link::to(0)),
            has_siblings
        );
        assert_eq!(
            check_after(|t| t.slots[4].prev_sibling = Link::to(0)),
            has_siblings
        );
        // 1 forgets its only child 3, which still names 1 as its parent.
        assert_eq!(
            check_after(|t| t.slots[1].first_child = Link::NONE),
            Err("a first child is not its parent's first child")
        );
        assert_eq!(
            check_after(|t| t.slots[3].next_sibling = Link::to(3)),
            Err("a sibling list does not end")
        );
        // 2 drops out of its parent's list (its own back link is not looked at first).
        assert_eq!(
            check_after(|t| t.slots[1].next_sibling = Link::NONE),
            Err("a sibling list misses a child")
        );
        assert_eq!(
            check_after(|t| {
                t.slots[0].cap = Some(Capability::new(EP, Rights::READ));
            }),
            Err("a derived capability has more rights than its parent")
        );
        assert_eq!(
            check_after(|t| {
                let badged = |b| Capability::new(EP, Rights::READ).with_badge(Badge::new(b));
                t.slots[1].cap = Some(badged(7));
                t.slots[3].cap = Some(badged(8));
            }),
            Err("a derived capability lost its parent's badge")
        );
        let no_way_back = Err("a first child does not point back to its parent");
        // 4 is a root: its parent is not 1.
        assert_eq!(
            check_after(|t| t.slots[1].first_child = Link::to(4)),
            no_way_back
        );
        // 2 has the right parent but a previous sibling.
        assert_eq!(
            check_after(|t| t.slots[0].first_child = Link::to(2)),
            no_way_back
        );
        let disagree = Err("sibling links disagree");
        // 1 -> 2 but 2 <- 3.
        assert_eq!(
            check_after(|t| t.slots[2].prev_sibling = Link::to(3)),
            disagree
        );
        // 1 -> 2 and 2 <- 1, but 2 names 1 as its parent; 4 takes its place among 0's
        // children so that the list length still matches.
        assert_eq!(
            check_after(|t| {
                t.slots[2].parent = Link::to(1);
                t.slots[4].parent = Link::to(0);
            }),
            disagree
        );
        // 0's children listed 2 -> 1: 1 is checked before anything that lists it. It names
        // 0 as its previous sibling, but 0's next sibling is not 1.
        let mut t = CapTable::<4>::new();
        t.insert_original(s(0), Capability::new(EP, Rights::ALL))
            .unwrap();
        t.copy(s(0), s(1)).unwrap();
        t.copy(s(0), s(2)).unwrap();
        assert_eq!(t.check_consistency(), Ok(()));
        t.slots[1].prev_sibling = Link::to(0);
        assert_eq!(t.check_consistency(), disagree);
        // 4 is its own parent (and first child): only the parent chain says so.
        assert_eq!(
            check_after(|t| {
                t.slots[4].parent = Link::to(4);
                t.slots[4].first_child = Link::to(4);
            }),
            Err("a parent chain has a cycle")
        );

        // A sibling list as long as the table, and finite: every slot is a child of 1,
        // 1 among them (its own parent). The list 0 -> 1 -> 2 ends; what is wrong is the
        // parent chain 1 -> 1, and the check must say that, not that the list does not end.
        let mut t = CapTable::<3>::new();
        t.insert_original(s(0), Capability::new(EP, Rights::ALL))
            .unwrap();
        t.copy(s(0), s(1)).unwrap();
        t.copy(s(1), s(2)).unwrap();
        for i in 0..3 {
            t.slots[i].parent = Link::to(1);
            t.slots[i].first_child = Link::NONE;
            t.slots[i].prev_sibling = if i == 0 { Link::NONE } else { Link::to(i - 1) };
            t.slots[i].next_sibling = if i == 2 { Link::NONE } else { Link::to(i + 1) };
        }
        t.slots[1].first_child = Link::to(0);
        assert_eq!(t.check_consistency(), Err("a parent chain has a cycle"));

        // The object rings.
        assert_eq!(
            check_after(|t| t.slots[4].next_same = Link::NONE),
            Err("an occupied slot has no ring link")
        );
        // 0 -> 3 skips 1: 3 still says 1 comes before it.
        assert_eq!(
            check_after(|t| t.slots[0].next_same = Link::to(3)),
            Err("object ring links disagree")
        );
        // The notification joins the endpoint ring, links consistent: 2 -> 4 -> 0.
        assert_eq!(
            check_after(|t| {
                t.slots[2].next_same = Link::to(4);
                t.slots[4].prev_same = Link::to(2);
                t.slots[4].next_same = Link::to(0);
                t.slots[0].prev_same = Link::to(4);
            }),
            Err("an object ring holds another object")
        );
        // Slot 5 names the endpoint but sits in a ring of its own.
        assert_eq!(
            check_after(|t| {
                t.slots[5] = Slot::holding(Capability::new(EP, Rights::READ), 5);
            }),
            Err("an object ring misses a slot naming its object")
        );
    }
}
