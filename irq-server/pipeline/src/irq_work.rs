//! `irq_work`: work queued from the oob stage to run in an in-band domain (Dovetail's
//! `irq_work_queue`, signalled through a synthetic IRQ as the pipeline requires).
//!
//! Each domain has one synthetic IRQ for irq_work (`Pipeline::irq_work_setup`) and, per
//! CPU, a queue of at most [`IRQ_WORK_ITEMS`] items. Queueing an item raises the IRQ on
//! that CPU through the pipeline (delivered, or logged while the domain is stalled) unless
//! it is already raised and not yet run: queueing twice before the domain runs its work
//! raises one IRQ, but every queued item is handed out exactly once, in queueing order,
//! by `Pipeline::irq_work_run`. A full queue refuses the item with
//! [`Error::WorkQueueFull`](crate::Error::WorkQueueFull) rather than dropping anything.

use core::hash::{Hash, Hasher};

use heapless::{Deque, Vec};

/// Capacity of one domain's irq_work queue on one CPU.
pub const IRQ_WORK_ITEMS: usize = 8;

/// One unit of in-band work: an opaque word the domain interprets (an index into its own
/// table of work functions, say).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct WorkItem(pub u32);

/// The items handed out by one `irq_work_run`, in queueing order.
pub type WorkBatch = Vec<WorkItem, IRQ_WORK_ITEMS>;

/// One domain's irq_work queue on one CPU.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct IrqWorkQueue {
    items: Deque<WorkItem, IRQ_WORK_ITEMS>,
    /// The IRQ has been raised and the domain has not run its work since.
    raised: bool,
}

// By hand: `heapless::Deque` has `Eq` but no `Hash`. Hashes what `Eq` compares (the items
// in order, and `raised`), so equal queues hash equally.
impl Hash for IrqWorkQueue {
    fn hash<H: Hasher>(&self, state: &mut H) {
        self.raised.hash(state);
        self.items.len().hash(state);
        for item in &self.items {
            item.hash(state);
        }
    }
}

impl IrqWorkQueue {
    pub(crate) const fn new() -> Self {
        Self {
            items: Deque::new(),
            raised: false,
        }
    }

    pub(crate) fn is_full(&self) -> bool {
        self.items.is_full()
    }

    /// Queues an item; returns whether the IRQ must be raised now. The caller checked
    /// `is_full` first.
    pub(crate) fn push(&mut self, item: WorkItem) -> Result<bool, WorkItem> {
        self.items.push_back(item)?;
        let raise = !self.raised;
        self.raised = true;
        Ok(raise)
    }

    /// Takes back the item just pushed (when raising the IRQ failed).
    pub(crate) fn undo_push(&mut self, raised_before: bool) {
        let _ = self.items.pop_back();
        self.raised = raised_before;
    }

    pub(crate) fn raised(&self) -> bool {
        self.raised
    }

    /// Hands out every queued item; the next item queued raises the IRQ again.
    pub(crate) fn run(&mut self) -> WorkBatch {
        let mut batch = WorkBatch::new();
        while let Some(item) = self.items.pop_front() {
            // Cannot fail: the batch has the queue's capacity.
            let _ = batch.push(item);
        }
        self.raised = false;
        batch
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    // Through `Pipeline::irq_work_queue` these are not observable: it never pushes to a
    // full queue (it checks `is_full` first, and the push refuses anyway), and the undo
    // path runs only if raising the IRQ fails, which it cannot for a line the domain owns
    // in-band. The queue's own contract is checked here.

    #[test]
    fn full_queue_says_so_and_refuses() {
        let mut q = IrqWorkQueue::new();
        for i in 0..IRQ_WORK_ITEMS as u32 {
            assert!(!q.is_full());
            assert_eq!(q.push(WorkItem(i)), Ok(i == 0), "only the first raises");
        }
        assert!(q.is_full());
        assert_eq!(q.push(WorkItem(99)), Err(WorkItem(99)));
        assert_eq!(q.run().len(), IRQ_WORK_ITEMS);
        assert!(!q.is_full());
    }

    #[test]
    fn undo_push_restores_the_queue_and_the_raised_flag() {
        let mut q = IrqWorkQueue::new();
        assert!(!q.raised());
        let before = q.clone();
        assert_eq!(q.push(WorkItem(1)), Ok(true));
        assert!(q.raised());
        q.undo_push(false);
        assert_eq!(
            q, before,
            "the first item undone: nothing queued, not raised"
        );
        assert!(!q.raised());

        assert_eq!(q.push(WorkItem(1)), Ok(true));
        let before = q.clone();
        assert_eq!(q.push(WorkItem(2)), Ok(false));
        q.undo_push(true);
        assert_eq!(
            q, before,
            "a second item undone: the first stays, still raised"
        );
        assert!(q.raised());
        assert_eq!(q.run().as_slice(), &[WorkItem(1)]);
        assert!(!q.raised());
    }
}
