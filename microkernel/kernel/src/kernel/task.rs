//! Creating the system from the image: kernel objects, the kernel's original capabilities,
//! and tasks (address space, memory, capabilities, first registers). A restart refills a
//! task's memory and capabilities in place from the same image records.

use super::{Kernel, SLOTS_PER_TASK, objects::*};
use crate::arch::{self, user_memory};
use boot_info::{GrantObject, IrqLine, SEGMENT_EXECUTE, SEGMENT_WRITE, System, Task};
use core::fmt;
use cspace::{Capability, ObjectRef, SlotId};
use kernel_abi::{Badge, FaultKind, ObjectType, Rights, StartInfo, layout};
use paging::{Access, Attributes, MemoryKind, PAGE_SIZE};
use zerocopy::{FromZeros, IntoBytes};

/// Why the image's system could not be created.
#[derive(Clone, Copy, Debug)]
pub enum CreateError {
    /// More objects of a kind than the kernel's tables hold.
    TooMany(&'static str, usize, usize),
    /// A task record does not decode.
    BadRecord(usize),
    /// A task is malformed (task index, reason).
    BadTask(usize, &'static str),
    /// Out of physical memory.
    OutOfMemory(usize),
    /// A grant was refused (task index, grant name, error).
    BadGrant(usize, &'static str, kernel_abi::Error),
}

impl fmt::Display for CreateError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::TooMany(what, wanted, limit) => {
                write!(f, "{wanted} {what}, the kernel holds {limit}")
            }
            Self::BadRecord(task) => write!(f, "task record {task} does not decode"),
            Self::BadTask(task, why) => write!(f, "task {task}: {why}"),
            Self::OutOfMemory(task) => write!(f, "task {task}: out of physical memory"),
            Self::BadGrant(task, name, error) => {
                write!(f, "task {task}: capability '{name}': {error}")
            }
        }
    }
}

// Kernel root slots, relative to the first root slot: one original capability per object.
const ENDPOINT_ROOTS: u32 = 0;
const NOTIFICATION_ROOTS: u32 = ENDPOINT_ROOTS + MAX_ENDPOINTS as u32;
const SHARED_ROOTS: u32 = NOTIFICATION_ROOTS + MAX_NOTIFICATIONS as u32;
const THREAD_ROOTS: u32 = SHARED_ROOTS + MAX_SHARED as u32;
/// The shared-object slot of the console UART's device frame.
const CONSOLE_UART_SHARED: usize = MAX_SHARED - 1;
const SYSTEM_CONTROL_ROOT: u32 = THREAD_ROOTS + MAX_THREADS as u32;
const IRQ_CONTROL_ROOT: u32 = SYSTEM_CONTROL_ROOT + 1;
/// IRQ handler roots are allocated on demand from here.
const FIRST_IRQ_ROOT: u32 = IRQ_CONTROL_ROOT + 1;

fn root(relative: u32) -> SlotId {
    SlotId::new(MAX_THREADS as u32 * SLOTS_PER_TASK + relative)
}

/// Creates every object and task of `system`.
pub fn create_system(kernel: &mut Kernel, system: &System<'static>) -> Result<(), CreateError> {
    let count = |what, wanted: usize, limit: usize| {
        if wanted > limit {
            Err(CreateError::TooMany(what, wanted, limit))
        } else {
            Ok(())
        }
    };
    count("endpoints", system.endpoints.len(), MAX_ENDPOINTS)?;
    count(
        "notifications",
        system.notifications.len(),
        MAX_NOTIFICATIONS,
    )?;
    count("shared memory objects", system.shared.len(), MAX_SHARED)?;
    count("tasks", system.tasks.len(), MAX_THREADS)?;
    // The asid of task i is i + 1: 8-bit ASIDs suffice.
    kernel.next_root = FIRST_IRQ_ROOT;

    let original = |kind, index| Capability::new(ObjectRef { kind, index }, Rights::ALL);
    let mut originals = heapless_originals();
    for i in 0..system.endpoints.len() {
        originals.push((
            ENDPOINT_ROOTS + i as u32,
            original(ObjectType::Endpoint, i as u32),
        ));
    }
    for i in 0..system.notifications.len() {
        originals.push((
            NOTIFICATION_ROOTS + i as u32,
            original(ObjectType::Notification, i as u32),
        ));
    }
    for (i, shared) in system.shared.iter().enumerate() {
        if shared.size == 0 || !shared.size.is_multiple_of(PAGE_SIZE) {
            return Err(CreateError::BadTask(
                0,
                "shared memory size is not a positive multiple of 4096",
            ));
        }
        let base = kernel
            .frames_allocator
            .allocate(shared.size / PAGE_SIZE)
            .ok_or(CreateError::OutOfMemory(0))?;
        user_memory::zero(base, shared.size);
        kernel.shared[i] = Shared {
            base,
            size: shared.size,
            device: false,
        };
        originals.push((
            SHARED_ROOTS + i as u32,
            original(ObjectType::Frame, i as u32),
        ));
    }
    for i in 0..system.tasks.len() {
        originals.push((
            THREAD_ROOTS + i as u32,
            original(ObjectType::Thread, i as u32),
        ));
    }
    // The console UART's register page takes the last shared slot when the image leaves
    // it free; a `ConsoleUart` grant is refused otherwise.
    if system.shared.len() < MAX_SHARED {
        kernel.shared[CONSOLE_UART_SHARED] = Shared {
            base: kernel.uart_base & !(PAGE_SIZE - 1),
            size: PAGE_SIZE,
            device: true,
        };
        originals.push((
            SHARED_ROOTS + CONSOLE_UART_SHARED as u32,
            original(ObjectType::Frame, CONSOLE_UART_SHARED as u32),
        ));
    }
    originals.push((SYSTEM_CONTROL_ROOT, original(ObjectType::SystemControl, 0)));
    originals.push((IRQ_CONTROL_ROOT, original(ObjectType::IrqControl, 0)));
    for (relative, cap) in originals.iter() {
        kernel
            .caps
            .insert_original(root(*relative), *cap)
            .map_err(|e| CreateError::BadGrant(0, "kernel root", e))?;
    }

    for index in 0..system.tasks.len() {
        let task = boot_info::decode_task(kernel.payload, system, index)
            .map_err(|_| CreateError::BadRecord(index))?;
        kernel.task_records[index] = system.tasks[index];
        create_task(kernel, index, &task)?;
        kernel.thread_count += 1;
    }
    for index in 0..system.tasks.len() {
        let task = boot_info::decode_task(kernel.payload, system, index)
            .map_err(|_| CreateError::BadRecord(index))?;
        grant_all(kernel, index, &task)?;
        if task.start {
            kernel.make_ready(index);
        }
    }
    Ok(())
}

/// A small fixed list of (relative root slot, capability) (no heap).
fn heapless_originals() -> Originals {
    Originals {
        items: [(
            0,
            Capability::new(
                ObjectRef {
                    kind: ObjectType::Endpoint,
                    index: 0,
                },
                Rights::NONE,
            ),
        ); 256],
        len: 0,
    }
}

struct Originals {
    items: [(u32, Capability); 256],
    len: usize,
}

impl Originals {
    fn push(&mut self, item: (u32, Capability)) {
        if self.len < self.items.len() {
            self.items[self.len] = item;
            self.len += 1;
        }
    }
    fn iter(&self) -> impl Iterator<Item = &(u32, Capability)> {
        self.items[..self.len].iter()
    }
}

fn pages(bytes: u64) -> u64 {
    bytes.div_ceil(PAGE_SIZE)
}

fn user(access: Access) -> Attributes {
    Attributes::user(MemoryKind::Normal, access)
}

/// Lays out, maps and fills one task.
fn create_task(kernel: &mut Kernel, index: usize, task: &Task<'static>) -> Result<(), CreateError> {
    let bad = |why| CreateError::BadTask(index, why);
    if task.name.len() >= layout::NAME_LEN {
        return Err(bad("name longer than 23 bytes"));
    }
    if task.stack_size == 0
        || !task.stack_size.is_multiple_of(PAGE_SIZE)
        || task.stack_size > 0x100_0000
    {
        return Err(bad("stack size is not a multiple of 4096 up to 16 MiB"));
    }
    let mut total = 2 + pages(task.stack_size);
    for segment in &task.segments {
        let inside_program = segment.vaddr >= layout::PROGRAM_BASE
            && segment.vaddr.is_multiple_of(PAGE_SIZE)
            && segment
                .vaddr
                .checked_add(segment.mem_size)
                .is_some_and(|end| end <= layout::START_INFO);
        if !inside_program || segment.file_size > segment.mem_size {
            return Err(bad(
                "a segment lies outside the program area or is malformed",
            ));
        }
        if segment.flags & SEGMENT_WRITE != 0 && segment.flags & SEGMENT_EXECUTE != 0 {
            return Err(bad("a segment is writable and executable"));
        }
        let source_end = segment.file_offset.checked_add(segment.file_size);
        if source_end.is_none_or(|end| end > kernel.payload.len() as u64) {
            return Err(bad("a segment's bytes lie outside the image"));
        }
        total += pages(segment.mem_size);
    }
    for region in &task.regions {
        if *region == 0 || !region.is_multiple_of(PAGE_SIZE) {
            return Err(bad("a memory region is not a positive multiple of 4096"));
        }
        total += pages(*region);
    }
    let base = kernel
        .frames_allocator
        .allocate(total)
        .ok_or(CreateError::OutOfMemory(index))?;

    let mut tables = user_memory::TaskTables(&mut kernel.frames_allocator);
    let root_table =
        paging::TableMemory::allocate(&mut tables).ok_or(CreateError::OutOfMemory(index))?;
    let mut next = base;
    let mut map = |tables: &mut user_memory::TaskTables<'_>,
                   va: u64,
                   bytes: u64,
                   access|
     -> Result<u64, CreateError> {
        let pa = next;
        paging::map(
            tables,
            root_table,
            va,
            pa,
            pages(bytes) * PAGE_SIZE,
            user(access),
            false,
        )
        .map_err(|_| bad("overlapping or unmappable memory"))?;
        next += pages(bytes) * PAGE_SIZE;
        Ok(pa)
    };
    for segment in &task.segments {
        let access = match (
            segment.flags & SEGMENT_WRITE != 0,
            segment.flags & SEGMENT_EXECUTE != 0,
        ) {
            (true, _) => Access::ReadWrite,
            (false, true) => Access::ReadExecute,
            (false, false) => Access::ReadOnly,
        };
        map(&mut tables, segment.vaddr, segment.mem_size, access)?;
    }
    let start_info = map(&mut tables, layout::START_INFO, PAGE_SIZE, Access::ReadOnly)?;
    let ipc_buffer = map(
        &mut tables,
        layout::IPC_BUFFER,
        PAGE_SIZE,
        Access::ReadWrite,
    )?;
    map(
        &mut tables,
        layout::STACK_TOP - task.stack_size,
        task.stack_size,
        Access::ReadWrite,
    )?;
    let mut region_va = layout::REGIONS_BASE;
    for region in &task.regions {
        map(&mut tables, region_va, *region, Access::ReadWrite)?;
        region_va += region + PAGE_SIZE; // an unmapped page between regions
    }

    let cspace = kernel
        .caps
        .space(index as u32 * SLOTS_PER_TASK, SLOTS_PER_TASK)
        .map_err(|_| bad("no capability space"))?;
    kernel.threads[index] = Thread {
        state: State::Inactive,
        priority: task.priority,
        name: task.name,
        task_index: index,
        cpu: 0,
        cspace: Some(cspace),
        root: root_table,
        asid: index as u16 + 1,
        ipc_buffer,
        start_info,
        memory: TaskMemory {
            base,
            size: total * PAGE_SIZE,
        },
        entry: task.entry,
        fault_endpoint: task
            .fault_endpoint
            .map(|(endpoint, badge)| (endpoint as usize, badge)),
        reply_to: None,
        pending: None,
        links: Links::default(),
        restarts: 0,
        shared_mappings: [None; MAX_SHARED],
        bound_notification: None,
        timer_access: task.timer_access,
    };
    if task
        .fault_endpoint
        .is_some_and(|(endpoint, _)| endpoint as usize >= MAX_ENDPOINTS)
    {
        return Err(bad("fault endpoint out of range"));
    }
    if task
        .irq_grants
        .iter()
        .any(|grant| granted_line(kernel, grant.line).is_none())
    {
        return Err(bad(
            "an interrupt line granted to a domain is not on this board",
        ));
    }
    fill(kernel, index, task);
    Ok(())
}

// Every grant a record can hold fits the start-info page.
const _: () = assert!(boot_info::MAX_IRQ_GRANTS <= layout::MAX_IRQ_GRANTS);

/// The number of a line the manifest granted by role or by number; `None` when this board
/// has no such line.
fn granted_line(kernel: &Kernel, line: IrqLine) -> Option<u16> {
    let number = match line {
        IrqLine::BoardTimer => kernel.board_irqs.0,
        IrqLine::BoardUart => kernel.board_irqs.1,
        IrqLine::Number(number) => number,
    };
    (number < crate::irq::lines())
        .then(|| u16::try_from(number).ok())
        .flatten()
}

/// Refills a task's memory from its image record and resets its registers.
fn fill(kernel: &mut Kernel, index: usize, task: &Task<'static>) {
    let thread = &kernel.threads[index];
    user_memory::zero(thread.memory.base, thread.memory.size);
    let mut next = thread.memory.base;
    for segment in &task.segments {
        let start = segment.file_offset as usize;
        let bytes = &kernel.payload[start..start + segment.file_size as usize];
        user_memory::write(next, bytes);
        next += pages(segment.mem_size) * PAGE_SIZE;
    }
    let mut info = StartInfo::new_zeroed();
    info.magic = layout::START_INFO_MAGIC;
    info.task_index = index as u64;
    info.restarts = thread.restarts;
    info.name[..task.name.len()].copy_from_slice(task.name.as_bytes());
    for (entry, grant) in info.caps.iter_mut().zip(task.grants.iter()) {
        let len = grant.name.len().min(layout::NAME_LEN - 1);
        entry.name[..len].copy_from_slice(&grant.name.as_bytes()[..len]);
        entry.slot = grant.slot;
        entry.kind = grant_kind(grant.object).code();
        entry.rights = grant.rights;
        entry.flags = grant.flags;
    }
    info.cap_count = task.grants.len().min(layout::MAX_START_CAPS) as u64;
    (info.timer_irq, info.uart_irq) = kernel.board_irqs;
    info.irq_lines = crate::irq::lines();
    let args = task.args.len().min(layout::ARGS_LEN - 1);
    info.args[..args].copy_from_slice(&task.args.as_bytes()[..args]);
    // `create_task` checked every line; a restart refills from the same record.
    let mut count = 0;
    for grant in &task.irq_grants {
        if let (Some(entry), Some(line)) = (
            info.irq_grants.get_mut(count),
            granted_line(kernel, grant.line),
        ) {
            entry.line = line;
            entry.domain = grant.domain;
            count += 1;
        }
    }
    info.irq_grant_count = count as u64;
    user_memory::write(thread.start_info, info.as_bytes());

    let frame = &mut kernel.frames[index];
    *frame = crate::arch::exception::TrapFrame::ZERO;
    frame.elr = thread.entry;
    frame.sp_el0 = layout::STACK_TOP;
    frame.spsr = 0; // EL0t, interrupts unmasked
}

fn grant_kind(object: GrantObject) -> ObjectType {
    match object {
        GrantObject::Endpoint(_) => ObjectType::Endpoint,
        GrantObject::Notification(_) => ObjectType::Notification,
        GrantObject::IrqHandler(_) => ObjectType::IrqHandler,
        GrantObject::IrqControl => ObjectType::IrqControl,
        GrantObject::Thread(_) => ObjectType::Thread,
        GrantObject::Shared(_) => ObjectType::Frame,
        GrantObject::SystemControl => ObjectType::SystemControl,
        GrantObject::ConsoleUart => ObjectType::Frame,
    }
}

/// Gives a task the capabilities of its record, each derived from the kernel's original.
fn grant_all(kernel: &mut Kernel, index: usize, task: &Task<'static>) -> Result<(), CreateError> {
    let Some(space) = kernel.threads[index].cspace else {
        return Ok(());
    };
    for grant in &task.grants {
        let refuse = |error| CreateError::BadGrant(index, grant.name, error);
        let source = match grant.object {
            GrantObject::Endpoint(i) if (i as usize) < MAX_ENDPOINTS => root(ENDPOINT_ROOTS + i),
            GrantObject::Notification(i) if (i as usize) < MAX_NOTIFICATIONS => {
                root(NOTIFICATION_ROOTS + i)
            }
            GrantObject::Shared(i) if (i as usize) < MAX_SHARED => root(SHARED_ROOTS + i),
            GrantObject::Thread(i) if (i as usize) < kernel.thread_count => root(THREAD_ROOTS + i),
            GrantObject::SystemControl => root(SYSTEM_CONTROL_ROOT),
            GrantObject::ConsoleUart if kernel.shared[CONSOLE_UART_SHARED].device => {
                root(SHARED_ROOTS + CONSOLE_UART_SHARED as u32)
            }
            GrantObject::IrqControl => root(IRQ_CONTROL_ROOT),
            GrantObject::IrqHandler(line) => irq_root(kernel, line).map_err(refuse)?,
            _ => return Err(refuse(kernel_abi::Error::InvalidArgument)),
        };
        let destination = space.resolve(u64::from(grant.slot)).map_err(refuse)?;
        let rights = Rights::from_raw(u64::from(grant.rights)).map_err(refuse)?;
        let badge = (grant.badge != 0).then_some(Badge::new(grant.badge));
        kernel
            .caps
            .mint(source, destination, rights, badge)
            .map_err(refuse)?;
    }
    Ok(())
}

/// The kernel's original capability for an interrupt line, created on first grant.
fn irq_root(kernel: &mut Kernel, line: u32) -> Result<SlotId, kernel_abi::Error> {
    if line >= crate::irq::lines() || line as usize >= MAX_IRQ_LINES {
        return Err(kernel_abi::Error::InvalidArgument);
    }
    let object = ObjectRef {
        kind: ObjectType::IrqHandler,
        index: line,
    };
    if let Some((slot, _)) = kernel
        .caps
        .occupied()
        .find(|(slot, cap)| cap.object == object && slot.index() >= root(0).index())
    {
        return Ok(slot);
    }
    let slot = kernel.root_slot()?;
    kernel.caps.insert_issued(
        root(IRQ_CONTROL_ROOT),
        slot,
        Capability::new(object, Rights::ALL),
    )?;
    Ok(slot)
}

/// Reloads task `index` from the image and makes it runnable.
pub fn restart(kernel: &mut Kernel, index: usize) -> Result<(), kernel_abi::Error> {
    let (offset, len) = kernel.task_records[index];
    let record = kernel
        .payload
        .get(offset as usize..(offset + len) as usize)
        .ok_or(kernel_abi::Error::InvalidState)?;
    let task: Task<'static> = postcard_task(record)?;
    kernel.unlink(index);
    if let Some(caller) = kernel.threads[index].reply_to.take() {
        kernel.fail_waiter(caller, kernel_abi::Error::RevokedOrStale);
    }
    // Fresh capabilities: what the manifest grants, nothing the task acquired since.
    if let Some(space) = kernel.threads[index].cspace {
        for local in 0..space.len() {
            if let Ok(slot) = space.resolve(u64::from(local)) {
                let _ = kernel.caps.delete(slot);
            }
        }
    }
    unmap_all_shared(kernel, index);
    kernel.threads[index].restarts += 1;
    fill(kernel, index, &task);
    grant_all(kernel, index, &task).map_err(|_| kernel_abi::Error::InvalidState)?;
    kernel.make_ready(index);
    Ok(())
}

fn postcard_task(record: &'static [u8]) -> Result<Task<'static>, kernel_abi::Error> {
    boot_info::decode_task_record(record).map_err(|_| kernel_abi::Error::InvalidState)
}

/// Removes every shared-memory mapping of a task.
pub fn unmap_all_shared(kernel: &mut Kernel, index: usize) {
    for shared in 0..MAX_SHARED {
        if kernel.threads[index].shared_mappings[shared].is_some() {
            let _ = unmap_shared(kernel, index, shared);
        }
    }
}

/// Maps shared object `shared` into task `index` at `va`.
pub fn map_shared(
    kernel: &mut Kernel,
    index: usize,
    shared: usize,
    va: u64,
    writable: bool,
) -> Result<(), kernel_abi::Error> {
    use kernel_abi::Error;
    if !va.is_multiple_of(PAGE_SIZE) {
        return Err(Error::InvalidArgument);
    }
    let object = kernel.shared[shared];
    let end = va.checked_add(object.size).ok_or(Error::InvalidAddress)?;
    if va < layout::SHARED_MAP_BASE || end > layout::USER_MAP_END {
        return Err(Error::InvalidAddress);
    }
    if kernel.threads[index].shared_mappings[shared].is_some() {
        return Err(Error::AlreadyInUse);
    }
    let root_table = kernel.threads[index].root;
    let access = if writable {
        Access::ReadWrite
    } else {
        Access::ReadOnly
    };
    let attributes = if object.device {
        Attributes::user(MemoryKind::Device, access)
    } else {
        user(access)
    };
    let mut tables = user_memory::TaskTables(&mut kernel.frames_allocator);
    paging::map(
        &mut tables,
        root_table,
        va,
        object.base,
        object.size,
        attributes,
        false,
    )
    .map_err(|e| match e {
        paging::MapError::AlreadyMapped => Error::AlreadyInUse,
        paging::MapError::OutOfTables => Error::TableFull,
        _ => Error::InvalidAddress,
    })?;
    kernel.threads[index].shared_mappings[shared] = Some(va);
    Ok(())
}

/// Unmaps shared object `shared` from task `index`.
pub fn unmap_shared(
    kernel: &mut Kernel,
    index: usize,
    shared: usize,
) -> Result<(), kernel_abi::Error> {
    let va = kernel.threads[index].shared_mappings[shared]
        .take()
        .ok_or(kernel_abi::Error::InvalidState)?;
    let root_table = kernel.threads[index].root;
    let mut tables = user_memory::TaskTables(&mut kernel.frames_allocator);
    let mut offset = 0;
    while offset < kernel.shared[shared].size {
        let _ = paging::unmap_page(&mut tables, root_table, va + offset);
        offset += PAGE_SIZE;
    }
    arch::context::flush_asid(kernel.threads[index].asid);
    Ok(())
}

/// The fault kind of a synchronous exception from EL0 that is not a system call.
pub fn fault_kind(esr: u64) -> FaultKind {
    let class = arch::esr::ExceptionClass::of(esr).0;
    match class {
        0x24 | 0x25 if esr & 0x3f == 0b100001 => FaultKind::Alignment,
        0x24 | 0x25 => FaultKind::DataAbort,
        0x20 | 0x21 => FaultKind::InstructionAbort,
        0x00 | 0x0e => FaultKind::UndefinedInstruction,
        0x22 | 0x26 => FaultKind::Alignment,
        _ => FaultKind::Other,
    }
}
