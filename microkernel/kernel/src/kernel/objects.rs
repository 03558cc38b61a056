//! Kernel objects: threads, endpoints, notifications, IRQ lines, shared memory.
//!
//! Every object lives in a fixed-capacity table of the `Kernel` and is named by its index
//! (capabilities hold `ObjectRef { kind, index }`). Wait queues are intrusive lists threaded
//! through the threads themselves: a thread waits on at most one object at a time.

use cspace::CapSpace;
use kernel_abi::{FaultKind, MessageInfo};

/// Most threads (one per task).
pub const MAX_THREADS: usize = boot_info::MAX_TASKS;
/// Most endpoints.
pub const MAX_ENDPOINTS: usize = 64;
/// Most notifications.
pub const MAX_NOTIFICATIONS: usize = 64;
/// Most shared memory objects.
pub const MAX_SHARED: usize = boot_info::MAX_SHARED;
/// Interrupt lines the kernel can route (GIC INTIDs 0..1019; BCM numbering fits below).
pub const MAX_IRQ_LINES: usize = 1024;

/// A thread's index in the thread table.
pub type ThreadId = usize;

/// What a thread is doing.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum State {
    /// Not started (the manifest said `start = false`), or not loaded.
    Inactive,
    /// Runnable: running or in the run queue.
    Ready,
    /// Waiting for a receiver on an endpoint (`Send`, `Call`, or a fault message).
    Sending { endpoint: usize },
    /// Waiting for a message on an endpoint.
    Receiving { endpoint: usize },
    /// Waiting for the reply to its `Call`.
    AwaitingReply,
    /// Waiting on a notification.
    Waiting { notification: usize },
    /// Stopped by its supervisor.
    Suspended,
    /// Stopped by a fault.
    Faulted,
}

/// A message a blocked sender carries until a receiver takes it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Pending {
    /// A `Send` or `Call` with the capability's badge; `grant` if it may carry a capability.
    Message {
        info: MessageInfo,
        badge: u64,
        call: bool,
        grant: bool,
    },
    /// A fault report for the supervisor.
    Fault(Fault),
}

/// A fault, as reported to the supervisor.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Fault {
    /// What went wrong.
    pub kind: FaultKind,
    /// Faulting address (FAR, or the bad call number, or the panic message address).
    pub address: u64,
    /// Faulting instruction.
    pub pc: u64,
    /// The exception syndrome.
    pub esr: u64,
    /// The badge naming the task on its fault endpoint.
    pub badge: u64,
}

/// Intrusive wait-queue links.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Links {
    pub next: Option<ThreadId>,
    pub prev: Option<ThreadId>,
}

/// A FIFO of threads, linked through `Thread::links`.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Queue {
    pub head: Option<ThreadId>,
    pub tail: Option<ThreadId>,
}

/// Where a task's memory lies, so a restart can refill it in place.
#[derive(Clone, Copy, Debug, Default)]
pub struct TaskMemory {
    /// Physical base of the task's contiguous block (segments, info page, IPC buffer,
    /// stack, regions, in that order).
    pub base: u64,
    /// Size of the block.
    pub size: u64,
}

/// A thread: one per task.
#[derive(Debug)]
pub struct Thread {
    pub state: State,
    pub priority: u8,
    pub name: &'static str,
    pub task_index: usize,
    /// The CPU whose run queue this thread belongs to.
    pub cpu: usize,
    pub cspace: Option<CapSpace>,
    /// Translation table root (physical) and ASID of the task's address space.
    pub root: u64,
    pub asid: u16,
    /// Physical addresses of the kernel-shared pages.
    pub ipc_buffer: u64,
    pub start_info: u64,
    pub memory: TaskMemory,
    pub entry: u64,
    pub fault_endpoint: Option<(usize, u64)>,
    /// The caller waiting for this thread's `Reply`.
    pub reply_to: Option<ThreadId>,
    /// What this thread sends once a receiver comes (while `Sending`).
    pub pending: Option<Pending>,
    pub links: Links,
    pub restarts: u64,
    /// Where each shared object is mapped in this task (virtual address).
    pub shared_mappings: [Option<u64>; MAX_SHARED],
    /// A notification whose signals also end this thread's `Recv`.
    pub bound_notification: Option<usize>,
    /// The task may program the EL1 physical timer while it runs.
    pub timer_access: bool,
}

impl Thread {
    /// An unused table entry.
    pub const EMPTY: Thread = Thread {
        state: State::Inactive,
        priority: 0,
        name: "",
        task_index: 0,
        cpu: 0,
        cspace: None,
        root: 0,
        asid: 0,
        ipc_buffer: 0,
        start_info: 0,
        memory: TaskMemory { base: 0, size: 0 },
        entry: 0,
        fault_endpoint: None,
        reply_to: None,
        pending: None,
        links: Links {
            next: None,
            prev: None,
        },
        restarts: 0,
        shared_mappings: [None; MAX_SHARED],
        bound_notification: None,
        timer_access: false,
    };
}

/// Which side of an endpoint is queued.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum EndpointQueue {
    /// Nobody waits.
    #[default]
    Idle,
    /// Senders wait for a receiver.
    Senders,
    /// Receivers wait for a sender.
    Receivers,
}

/// A synchronous IPC endpoint.
#[derive(Clone, Copy, Debug, Default)]
pub struct Endpoint {
    pub queue: Queue,
    pub waiting: EndpointQueue,
}

/// An asynchronous notification: a word of OR-ed badges and the threads waiting on it.
#[derive(Clone, Copy, Debug, Default)]
pub struct Notification {
    pub word: u64,
    pub waiters: Queue,
    /// The thread whose `Recv` this notification also ends.
    pub bound_thread: Option<ThreadId>,
}

/// Hardware interrupts of one CPU routed to the interrupt pipeline (the irq-server).
#[derive(Clone, Copy, Debug)]
pub struct Route {
    /// The notification signalled for each interrupt, and its badge.
    pub notification: usize,
    pub badge: u64,
    /// Physical address of the `IrqRing` page.
    pub ring: u64,
}

/// One interrupt line routed to a task.
#[derive(Clone, Copy, Debug, Default)]
pub struct IrqLine {
    /// The notification it signals, and with which badge.
    pub bound: Option<(usize, u64)>,
    /// Masked since its last signal, until the handler acks.
    pub masked: bool,
    /// Signals delivered.
    pub count: u64,
}

/// Shared memory: contiguous physical pages.
#[derive(Clone, Copy, Debug, Default)]
pub struct Shared {
    pub base: u64,
    pub size: u64,
    /// Device registers (mapped Device-nGnRE), not memory: the kernel never writes it.
    pub device: bool,
}
