//! The kernel proper: object tables, scheduling, and the entry from every trap.
//!
//! The kernel is not preemptible: it runs with IRQs masked, under one lock, from trap entry
//! to the return into a thread. Everything it does is a bounded amount of work on the
//! static tables here; a thread that has to wait is put on a queue and another thread (or
//! the idle loop) runs.

mod fastpath;
mod ipc;
pub mod objects;
mod syscall;
mod task;

use crate::arch::{
    self, context,
    exception::{Syndrome, TrapFrame, Vector},
};
use crate::{ExitCode, irq, println, shutdown};
use cspace::{CapTable, SlotId};
use objects::*;
use sched::{RunQueue, ThreadIndex};

/// Capability slots of each task.
pub const SLOTS_PER_TASK: u32 = 64;
/// Slots for the kernel's own original capabilities (one per object), above the tasks'.
const ROOT_SLOTS: u32 = 512;
/// All capability slots.
const SLOTS: usize = (MAX_THREADS as u32 * SLOTS_PER_TASK + ROOT_SLOTS) as usize;

/// Everything the kernel owns.
pub struct Kernel {
    pub caps: CapTable<SLOTS>,
    pub threads: [Thread; MAX_THREADS],
    /// User registers of each thread; the trap vectors read and write these directly.
    pub frames: [TrapFrame; MAX_THREADS],
    pub endpoints: [Endpoint; MAX_ENDPOINTS],
    pub notifications: [Notification; MAX_NOTIFICATIONS],
    pub shared: [Shared; MAX_SHARED],
    pub irq_lines: [IrqLine; MAX_IRQ_LINES],
    /// What each CPU runs and has ready to run.
    pub cpus: [PerCpu; MAX_CPUS],
    pub thread_count: usize,
    pub frames_allocator: crate::memory::FrameAllocator,
    /// Next free kernel root slot.
    pub next_root: u32,
    /// The image payload (task programs, for restarts).
    pub payload: &'static [u8],
    /// Each task's record in the payload.
    pub task_records: [(u32, u32); MAX_THREADS],
    /// The interrupt line of the slice timer (the EL1 virtual timer, kernel-owned).
    pub slice_irq: u32,
    /// Length of a round-robin time slice, in counter ticks.
    pub slice_ticks: u64,
    /// Per CPU: where its hardware interrupts go when the pipeline has taken them.
    pub routes: [Option<Route>; MAX_CPUS],
    /// The board's timer and UART interrupt lines, published to tasks.
    pub board_irqs: (u32, u32),
    /// The console UART's physical base (for `GrantObject::ConsoleUart`).
    pub uart_base: u64,
}

/// Most CPUs the kernel's per-CPU tables hold (SMP bring-up is its own issue; until then
/// only CPU 0 runs threads, but nothing here assumes it).
pub const MAX_CPUS: usize = 4;

/// One CPU's scheduling state.
pub struct PerCpu {
    /// Ready threads of this CPU (the running one is not in it), but for `preempted`.
    pub run_queue: RunQueue<MAX_THREADS>,
    /// The thread the interrupt fast path preempted to run the irq-server, not yet in
    /// `run_queue`: queuing it (at the front of its level) is deferred from the interrupt
    /// to the next kernel entry on this CPU ([`Kernel::settle`]), out of the interrupt
    /// latency. Every entry settles before anything reads the run queue (the IPC fast
    /// paths leave such a call to the general path), so no kernel code sees it missing. (Code that would touch another CPU's queue, once SMP
    /// exists, settles that CPU first.)
    pub preempted: Option<ThreadId>,
    /// The thread running on this CPU.
    pub current: Option<ThreadId>,
    /// The address space TTBR0 holds now.
    pub active_asid: u16,
    /// Whether the slice timer runs (the current thread has a ready peer at its priority).
    pub slice_armed: bool,
    /// Whether EL0 may program the physical timer now (the running task's privilege).
    pub timer_open: bool,
    /// The oob stage's idle veto (`IrqControlOp::IdleControl`): no deep idle while set.
    pub idle_veto: bool,
    /// Idle entries: deep, shallow, shallow because of the veto.
    pub idle_entries: [u64; 3],
}

impl PerCpu {
    const IDLE: PerCpu = PerCpu {
        run_queue: RunQueue::new(),
        preempted: None,
        current: None,
        active_asid: 0,
        slice_armed: false,
        timer_open: false,
        idle_veto: false,
        idle_entries: [0; 3],
    };
}

static KERNEL: spin::Mutex<Kernel> = spin::Mutex::new(Kernel {
    caps: CapTable::new(),
    threads: [const { Thread::EMPTY }; MAX_THREADS],
    frames: [const { TrapFrame::ZERO }; MAX_THREADS],
    endpoints: [Endpoint {
        queue: Queue {
            head: None,
            tail: None,
        },
        waiting: EndpointQueue::Idle,
    }; MAX_ENDPOINTS],
    notifications: [Notification {
        word: 0,
        waiters: Queue {
            head: None,
            tail: None,
        },
        bound_thread: None,
    }; MAX_NOTIFICATIONS],
    shared: [Shared {
        base: 0,
        size: 0,
        device: false,
    }; MAX_SHARED],
    uart_base: 0,
    irq_lines: [IrqLine {
        bound: None,
        masked: false,
        count: 0,
    }; MAX_IRQ_LINES],
    cpus: [const { PerCpu::IDLE }; MAX_CPUS],
    thread_count: 0,
    frames_allocator: crate::memory::FrameAllocator::empty(),
    next_root: 0,
    payload: &[],
    task_records: [(0, 0); MAX_THREADS],
    slice_irq: u32::MAX,
    slice_ticks: 0,
    routes: [None; MAX_CPUS],
    board_irqs: (0, 0),
});

/// Length of a round-robin time slice among threads of equal priority.
const SLICE_MICROSECONDS: u64 = 5_000;

/// Whether threads exist (otherwise interrupts go to the kernel's own handlers).
static RUNNING_TASKS: core::sync::atomic::AtomicBool = core::sync::atomic::AtomicBool::new(false);

/// Creates the system the image describes and runs it. Never returns.
pub fn start(
    system: &boot_info::System<'static>,
    payload: &'static [u8],
    allocator: crate::memory::FrameAllocator,
    board: &boot_info::BoardDescription<'_>,
) -> ! {
    let slice_irq = board.slice_timer_irq;
    let mut kernel = KERNEL.lock();
    kernel.board_irqs = (board.timer_irq, board.uart_irq);
    kernel.uart_base = board.uart.base;
    kernel.frames_allocator = allocator;
    kernel.payload = payload;
    if let Err(error) = task::create_system(&mut kernel, system) {
        println!("error: the image's system cannot be created: {error}");
        drop(kernel);
        shutdown(ExitCode::CheckFailed);
    }
    println!(
        "kernel: {} tasks, {} endpoints, {} notifications; {} KiB of RAM for tasks, {} KiB free",
        kernel.thread_count,
        system.endpoints.len(),
        system.notifications.len(),
        kernel.frames_allocator.allocated() >> 10,
        kernel.frames_allocator.free() >> 10
    );
    kernel.slice_irq = slice_irq;
    kernel.slice_ticks = arch::timer::frequency() * SLICE_MICROSECONDS / 1_000_000;
    if irq::unmask(slice_irq).is_err() {
        println!(
            "warning: slice timer IRQ {slice_irq} unavailable: equal priorities take turns only on Yield"
        );
    }
    context::init_cpu();
    RUNNING_TASKS.store(true, core::sync::atomic::Ordering::SeqCst);
    drop(kernel);
    idle()
}

/// Runs when no thread can: waits for an interrupt to make one ready.
fn idle() -> ! {
    context::idle(
        || KERNEL.lock().dispatch(arch::cpu::id()),
        || KERNEL.lock().idle_state(arch::cpu::id()),
    )
}

impl Kernel {
    /// How deep this CPU may sleep now: deep only where the board has a deep state
    /// (PSCI) and the oob stage has not vetoed it; counted either way.
    fn idle_state(&mut self, cpu: usize) -> context::IdleState {
        let deep_available = crate::power() != boot_info::Power::None;
        let Some(per_cpu) = self.cpus.get_mut(cpu) else {
            return context::IdleState::Shallow;
        };
        let (state, entry) = match (deep_available, per_cpu.idle_veto) {
            (true, false) => (context::IdleState::Deep(crate::power()), 0),
            (true, true) => (context::IdleState::Shallow, 2),
            (false, _) => (context::IdleState::Shallow, 1),
        };
        per_cpu.idle_entries[entry] += 1;
        state
    }
}

/// Entry from EL0: a system call, a fault or an interrupt. Returns the frame to resume.
pub fn trap(vector: Vector, syndrome: Syndrome) -> *mut TrapFrame {
    let cpu = arch::cpu::id();
    let mut kernel = KERNEL.lock();
    kernel.settle(cpu);
    let Some(current) = kernel.cpus[cpu].current else {
        drop(kernel);
        crate::fault::exception(vector, syndrome, &TrapFrame::ZERO);
    };
    match vector {
        Vector::UserSync => {
            // System calls took `system_call`; this is a fault.
            let class = arch::esr::ExceptionClass::of(syndrome.esr);
            let kind = task::fault_kind(syndrome.esr);
            // FAR is only meaningful for aborts and alignment faults; else report the pc.
            let address = if class.is_abort() || kind == kernel_abi::FaultKind::Alignment {
                syndrome.far
            } else {
                syndrome.elr
            };
            kernel.fault(current, kind, address, syndrome.elr, syndrome.esr);
        }
        Vector::UserIrq => kernel.route_interrupts(cpu),
        _ => kernel.fault(
            current,
            kernel_abi::FaultKind::Other,
            0,
            syndrome.elr,
            syndrome.esr,
        ),
    }
    match kernel.dispatch(cpu) {
        Some(frame) => frame,
        None => {
            drop(kernel);
            idle()
        }
    }
}

/// A system call from the current thread. Returns the frame to resume.
pub fn system_call() -> *mut TrapFrame {
    let cpu = arch::cpu::id();
    let mut kernel = KERNEL.lock();
    let Some(current) = kernel.cpus[cpu].current else {
        drop(kernel);
        crate::fault::exception(
            Vector::UserSync,
            arch::exception::syndrome(0),
            &TrapFrame::ZERO,
        );
    };
    if let Some(frame) = fastpath::attempt(&mut kernel, cpu, current) {
        return frame;
    }
    system_call_slow(kernel, cpu, current)
}

#[inline(never)]
fn system_call_slow(
    mut kernel: spin::MutexGuard<'_, Kernel>,
    cpu: usize,
    current: ThreadId,
) -> *mut TrapFrame {
    kernel.settle(cpu);
    syscall::handle(&mut kernel, cpu, current);
    match kernel.dispatch(cpu) {
        Some(frame) => frame,
        None => {
            drop(kernel);
            idle()
        }
    }
}

/// An IRQ while a thread ran. Returns the frame to resume.
pub fn interrupt() -> *mut TrapFrame {
    let cpu = arch::cpu::id();
    let mut kernel = KERNEL.lock();
    kernel.settle(cpu);
    if let Some(Some(next)) = kernel.take_interrupt(cpu) {
        return kernel.switch_to(cpu, next);
    }
    match kernel.dispatch(cpu) {
        Some(frame) => frame,
        None => {
            drop(kernel);
            idle()
        }
    }
}

/// An IRQ taken at EL1 (the idle loop, or the kernel-only boot check).
pub fn kernel_irq() {
    if RUNNING_TASKS.load(core::sync::atomic::Ordering::Relaxed) {
        KERNEL.lock().route_interrupts(arch::cpu::id());
    } else {
        irq::handle_pending();
    }
}

impl Kernel {
    /// Queues the thread the interrupt fast path preempted ([`PerCpu::preempted`]) at
    /// the front of its level, where it would have been queued at the interrupt. First
    /// thing on every kernel entry but a system call, which settles on its general path;
    /// its fast paths step aside to the general path while a thread is unsettled (a
    /// settle inlined there cost the IPC round trip 25 instructions, their test 5).
    #[inline(always)]
    pub(super) fn settle(&mut self, cpu: usize) {
        if self.cpus[cpu].preempted.is_some() {
            self.queue_preempted(cpu);
        }
    }

    /// The rest of [`settle`](Self::settle), out of line so that the entry paths (the
    /// IPC fast path above all) carry only the test.
    #[inline(never)]
    fn queue_preempted(&mut self, cpu: usize) {
        let this = &mut self.cpus[cpu];
        if let Some(thread) = this.preempted.take() {
            let priority = self.threads[thread].priority;
            let _ = this
                .run_queue
                .enqueue_front(ThreadIndex(thread as u16), priority);
        }
    }

    /// Picks the thread to run on `cpu` (keeping the current one unless a higher priority
    /// is ready), switches the address space, and returns its frame.
    fn dispatch(&mut self, cpu: usize) -> Option<*mut TrapFrame> {
        let this = &mut self.cpus[cpu];
        let next = match this.current {
            Some(current) if self.threads[current].state == State::Ready => {
                let priority = self.threads[current].priority;
                if sched::should_preempt(priority, &this.run_queue) {
                    let _ = this
                        .run_queue
                        .enqueue_front(ThreadIndex(current as u16), priority);
                    this.run_queue.pop_highest().map(|(t, _)| t.get())
                } else {
                    Some(current)
                }
            }
            _ => this.run_queue.pop_highest().map(|(t, _)| t.get()),
        };
        this.current = next;
        // The slice timer runs while the thread has a ready peer at its priority.
        let peer = next.is_some_and(|t| this.run_queue.has_ready_at(self.threads[t].priority));
        if peer {
            arch::timer::set_slice_deadline(arch::timer::counter() + self.slice_ticks);
        } else if this.slice_armed {
            arch::timer::stop_slice();
        }
        this.slice_armed = peer;
        let next = next?;
        Some(self.switch_to(cpu, next))
    }

    /// Makes `next` the running thread of `cpu` (the fast path decided it may run now).
    fn switch_to(&mut self, cpu: usize, next: ThreadId) -> *mut TrapFrame {
        let this = &mut self.cpus[cpu];
        this.current = Some(next);
        let asid = self.threads[next].asid;
        if asid != this.active_asid {
            context::switch_address_space(self.threads[next].root, asid);
            this.active_asid = asid;
            let timer = self.threads[next].timer_access;
            if timer != this.timer_open {
                context::open_timer_to_el0(timer);
                this.timer_open = timer;
            }
        }
        &raw mut self.frames[next]
    }

    /// Makes `thread` runnable (it runs at once if it outranks the current thread).
    pub fn make_ready(&mut self, thread: ThreadId) {
        self.threads[thread].state = State::Ready;
        let this = &mut self.cpus[self.threads[thread].cpu];
        if this.current != Some(thread) {
            let _ = this
                .run_queue
                .enqueue(ThreadIndex(thread as u16), self.threads[thread].priority);
        }
    }

    /// Takes a thread off whatever it waits on (queue, run queue), leaving its state.
    pub fn unlink(&mut self, thread: ThreadId) {
        match self.threads[thread].state {
            State::Sending { endpoint } | State::Receiving { endpoint } => {
                let mut queue = self.endpoints[endpoint].queue;
                self.queue_remove(&mut queue, thread);
                self.endpoints[endpoint].queue = queue;
                if queue.head.is_none() {
                    self.endpoints[endpoint].waiting = EndpointQueue::Idle;
                }
            }
            State::Waiting { notification } => {
                let mut queue = self.notifications[notification].waiters;
                self.queue_remove(&mut queue, thread);
                self.notifications[notification].waiters = queue;
            }
            State::Ready => {
                let _ = self.cpus[self.threads[thread].cpu]
                    .run_queue
                    .remove(ThreadIndex(thread as u16));
            }
            _ => {}
        }
        self.threads[thread].pending = None;
    }

    /// Appends `thread` to `queue`.
    #[inline(always)]
    pub fn queue_push(&mut self, queue: &mut Queue, thread: ThreadId) {
        self.threads[thread].links = Links {
            next: None,
            prev: queue.tail,
        };
        match queue.tail {
            Some(tail) => self.threads[tail].links.next = Some(thread),
            None => queue.head = Some(thread),
        }
        queue.tail = Some(thread);
    }

    /// Removes and returns the head of `queue`.
    #[inline(always)]
    pub fn queue_pop(&mut self, queue: &mut Queue) -> Option<ThreadId> {
        let head = queue.head?;
        self.queue_remove(queue, head);
        Some(head)
    }

    /// Removes `thread` from `queue` (which it must be on).
    #[inline(always)]
    pub fn queue_remove(&mut self, queue: &mut Queue, thread: ThreadId) {
        let Links { next, prev } = self.threads[thread].links;
        match prev {
            Some(prev) => self.threads[prev].links.next = next,
            None => queue.head = next,
        }
        match next {
            Some(next) => self.threads[next].links.prev = prev,
            None => queue.tail = prev,
        }
        self.threads[thread].links = Links::default();
    }

    /// Acknowledges every pending interrupt and signals the notification its line is
    /// bound to; the line stays masked until the handler acks it.
    fn route_interrupts(&mut self, cpu: usize) {
        // At EL1 (the idle loop): take every pending interrupt; a thread the fast path
        // picked joins the front of the run queue, where `dispatch` finds it.
        while let Some(picked) = self.take_interrupt(cpu) {
            self.settle(cpu);
            if let Some(thread) = picked {
                let priority = self.threads[thread].priority;
                let _ = self.cpus[cpu]
                    .run_queue
                    .enqueue_front(ThreadIndex(thread as u16), priority);
            }
        }
    }

    /// Takes one interrupt (`None`: none was pending; the CPU traps again at once if more
    /// are). `Some(Some(thread))`: switch to `thread` directly, the interrupt went to a
    /// bound thread that outranks the running one (the irq-server, typically);
    /// `Some(None)` leaves the choice to `dispatch`.
    fn take_interrupt(&mut self, cpu: usize) -> Option<Option<ThreadId>> {
        let line = irq::take(self.slice_irq)?;
        Some(self.route(cpu, line))
    }

    fn route(&mut self, cpu: usize, line: u32) -> Option<ThreadId> {
        if line == self.slice_irq {
            self.end_of_slice(cpu);
            return None;
        }
        let index = line as usize;
        if let Some((notification, badge)) = self.irq_lines.get(index).and_then(|l| l.bound) {
            self.irq_lines[index].masked = true;
            self.irq_lines[index].count += 1;
            self.signal(notification, badge);
            return None;
        }
        let Some(route) = self.routes[cpu] else {
            irq::count_spurious();
            return None;
        };
        // Fast path: the server waits in `Recv` with its notification bound and outranks
        // whatever ran: hand it the signal and run it now.
        let notification = &mut self.notifications[route.notification];
        if let Some(server) = notification.bound_thread
            && let State::Receiving { endpoint } = self.threads[server].state
        {
            let this = &self.cpus[cpu];
            let outranks = match this.current {
                Some(current) => {
                    self.threads[current].state != State::Ready
                        || self.threads[server].priority > self.threads[current].priority
                }
                None => true,
            };
            if outranks
                && this
                    .run_queue
                    .highest_priority()
                    .is_none_or(|p| p < self.threads[server].priority)
            {
                let pending = core::mem::take(&mut notification.word);
                // A clear notification means the server drained the ring before it
                // waited: the line travels in the message and skips the ring.
                let words = if pending == 0 {
                    self.frames[server].x[2] = u64::from(line);
                    1
                } else {
                    ipc::push_routed(route.ring, line);
                    0
                };
                let mut queue = self.endpoints[endpoint].queue;
                self.queue_remove(&mut queue, server);
                self.endpoints[endpoint].queue = queue;
                if queue.head.is_none() {
                    self.endpoints[endpoint].waiting = EndpointQueue::Idle;
                }
                let frame = &mut self.frames[server];
                frame.x[0] = 0;
                frame.x[1] =
                    kernel_abi::MessageInfo::new(kernel_abi::invocation::NOTIFICATION_LABEL, words)
                        .to_raw();
                frame.x[8] = pending | route.badge;
                self.threads[server].state = State::Ready;
                // The preempted thread joins the run queue at the next kernel entry.
                if let Some(current) = self.cpus[cpu].current
                    && self.threads[current].state == State::Ready
                {
                    self.cpus[cpu].preempted = Some(current);
                }
                return Some(server);
            }
        }
        ipc::push_routed(route.ring, line);
        self.signal(route.notification, route.badge);
        None
    }

    /// The running thread's time slice is over: if a peer of its priority is ready, it
    /// goes to the back of its level (round robin) and `dispatch` picks the peer.
    fn end_of_slice(&mut self, cpu: usize) {
        arch::timer::stop_slice();
        let this = &mut self.cpus[cpu];
        this.slice_armed = false;
        if let Some(current) = this.current
            && self.threads[current].state == State::Ready
        {
            let priority = self.threads[current].priority;
            if this.run_queue.has_ready_at(priority) {
                let _ = this
                    .run_queue
                    .enqueue(ThreadIndex(current as u16), priority);
                this.current = None;
            }
        }
    }

    /// ORs `badge` into a notification, waking its first waiter.
    pub fn signal(&mut self, notification: usize, badge: u64) {
        // A bound thread blocked in `Recv` takes the signal as a message.
        if let Some(thread) = self.notifications[notification].bound_thread
            && matches!(self.threads[thread].state, State::Receiving { .. })
        {
            self.unlink(thread);
            let word = core::mem::take(&mut self.notifications[notification].word) | badge;
            let frame = &mut self.frames[thread];
            frame.x[0] = 0;
            frame.x[1] =
                kernel_abi::MessageInfo::new(kernel_abi::invocation::NOTIFICATION_LABEL, 0)
                    .to_raw();
            frame.x[8] = word;
            self.make_ready(thread);
            return;
        }
        let mut waiters = self.notifications[notification].waiters;
        match self.queue_pop(&mut waiters) {
            Some(waiter) => {
                self.notifications[notification].waiters = waiters;
                let frame = &mut self.frames[waiter];
                frame.x[0] = 0;
                frame.x[8] = self.notifications[notification].word | badge;
                self.notifications[notification].word = 0;
                self.make_ready(waiter);
            }
            None => self.notifications[notification].word |= badge,
        }
    }

    /// Stops `thread` for a fault and reports it to its supervisor.
    pub fn fault(
        &mut self,
        thread: ThreadId,
        kind: kernel_abi::FaultKind,
        address: u64,
        pc: u64,
        esr: u64,
    ) {
        let name = self.threads[thread].name;
        println!(
            "kernel: task {name} faulted: {} at pc {pc:#x}, address {address:#x}",
            kind.name()
        );
        self.unlink(thread);
        if let Some(caller) = self.threads[thread].reply_to.take() {
            self.fail_waiter(caller, kernel_abi::Error::RevokedOrStale);
        }
        self.threads[thread].state = State::Faulted;
        let Some((endpoint, badge)) = self.threads[thread].fault_endpoint else {
            println!("kernel: task {name} has no fault endpoint; it stays stopped");
            return;
        };
        let fault = Fault {
            kind,
            address,
            pc,
            esr,
            badge,
        };
        ipc::send_fault(self, thread, endpoint, fault);
    }

    /// Ends a blocked thread's call with `error`.
    pub fn fail_waiter(&mut self, thread: ThreadId, error: kernel_abi::Error) {
        self.unlink(thread);
        self.frames[thread].x[0] = u64::from(error.code());
        self.make_ready(thread);
    }

    /// Takes a free kernel root slot.
    pub fn root_slot(&mut self) -> Result<SlotId, kernel_abi::Error> {
        if self.next_root >= ROOT_SLOTS {
            return Err(kernel_abi::Error::TableFull);
        }
        let slot = MAX_THREADS as u32 * SLOTS_PER_TASK + self.next_root;
        self.next_root += 1;
        Ok(SlotId::new(slot))
    }
}

/// Ends the system on a request from a task holding the system control capability.
pub fn power_off(status: u64) -> ! {
    let code = match status {
        0 => ExitCode::Success,
        _ => ExitCode::CheckFailed,
    };
    shutdown(code)
}
