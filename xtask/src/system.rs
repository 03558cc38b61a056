//! The system a manifest describes, resolved into the payload's own types.
//!
//! [`plan`] is both the check and the translation: it turns names into indices and slots,
//! rights words into bits, sizes into bytes, and refuses anything the kernel would refuse
//! or could not hold (every `boot_info` limit is the capacity of the `heapless` vector the
//! item is pushed into). `manifest::load` calls it so a bad manifest is refused before
//! anything is built; `image::assemble` calls it again for the records it encodes. Only
//! what comes from the task programs (entry points, load segments) and the payload layout
//! (task record offsets) is left to fill in.

use crate::manifest::{CapEntry, DEFAULT_STACK, Manifest, TaskEntry};
use anyhow::Result;
use boot_info::{Grant, GrantObject, IrqGrant, IrqLine, MAX_IRQ_GRANTS, Shared, System, Task};
use irq_protocol::MAX_DOMAINS;
use kernel_abi::{Rights, layout};
use std::{collections::HashMap, ops::Range};
use toml::Spanned;

/// Longest task, capability or object name (the kernel NUL-pads names to `NAME_LEN`).
pub const NAME_MAX: usize = layout::NAME_LEN - 1;
/// Memory sizes are whole pages.
pub const PAGE: u64 = 4096;
/// Largest task stack the kernel accepts (`create_task` in the kernel's `task.rs`).
const MAX_STACK: u64 = 16 << 20;
/// Interrupt lines the kernel can hand out (the kernel's `MAX_IRQ_LINES`; a board may have
/// fewer, which the kernel checks).
const IRQ_LINES: u32 = 1024;
/// Rights words of the manifest, and the right each stands for.
const RIGHTS: &[(&str, Rights)] = &[
    ("read", Rights::READ),
    ("write", Rights::WRITE),
    ("grant", Rights::GRANT),
    ("grant-reply", Rights::GRANT_REPLY),
];

/// A manifest's system, ready to encode.
#[derive(Debug)]
pub struct Plan<'m> {
    /// The kernel objects, and one `(0, 0)` record placeholder per task.
    pub system: System<'m>,
    /// The tasks, in index order.
    pub tasks: Vec<PlannedTask<'m>>,
}

/// One task of a [`Plan`].
#[derive(Debug)]
pub struct PlannedTask<'m> {
    /// The package whose binary is the task's program.
    pub crate_name: &'m str,
    /// Where the manifest declares the task (`file:line:column`), for later errors.
    pub place: String,
    /// The record, without entry point and segments (they come from the program).
    pub record: Task<'m>,
}

/// Checks and resolves the system `manifest` describes; `None` when it declares neither
/// tasks nor kernel objects (a kernel-only image).
pub fn plan(manifest: &Manifest) -> Result<Option<Plan<'_>>> {
    if manifest.tasks.is_empty()
        && manifest.endpoints.is_empty()
        && manifest.notifications.is_empty()
        && manifest.shared.is_empty()
    {
        return Ok(None);
    }
    Planner::new(manifest).run().map(Some)
}

/// The names declared so far of one namespace, with where they were declared.
#[derive(Default)]
struct Names<'m>(HashMap<&'m str, (u32, Range<usize>)>);

impl<'m> Names<'m> {
    fn index(&self, name: &str) -> Option<u32> {
        self.0.get(name).map(|(index, _)| *index)
    }
}

struct Planner<'m> {
    manifest: &'m Manifest,
    endpoints: Names<'m>,
    notifications: Names<'m>,
    shared: Names<'m>,
    tasks: Names<'m>,
    /// IRQ lines granted to kernel handler capabilities so far, and where.
    irqs: HashMap<u32, Range<usize>>,
    /// Lines granted to in-band domains of the pipeline (`irqs` keys) so far, and where.
    domain_lines: HashMap<IrqLine, Range<usize>>,
    /// Those grants, in manifest order, for the irq-server's record.
    irq_grants: Vec<IrqGrant>,
}

impl<'m> Planner<'m> {
    fn new(manifest: &'m Manifest) -> Self {
        Self {
            manifest,
            endpoints: Names::default(),
            notifications: Names::default(),
            shared: Names::default(),
            tasks: Names::default(),
            irqs: HashMap::new(),
            domain_lines: HashMap::new(),
            irq_grants: Vec::new(),
        }
    }

    fn error(&self, span: Range<usize>, reason: impl std::fmt::Display) -> anyhow::Error {
        self.manifest.error(span, reason)
    }

    fn run(mut self) -> Result<Plan<'m>> {
        let manifest = self.manifest;
        let mut system = System {
            endpoints: heapless::Vec::new(),
            notifications: heapless::Vec::new(),
            shared: heapless::Vec::new(),
            tasks: heapless::Vec::new(),
        };
        for endpoint in &manifest.endpoints {
            let name = self.declare_object(endpoint, Kind::Endpoint)?;
            self.push(&mut system.endpoints, name, endpoint.span(), "endpoints")?;
        }
        for notification in &manifest.notifications {
            let name = self.declare_object(notification, Kind::Notification)?;
            let span = notification.span();
            self.push(&mut system.notifications, name, span, "notifications")?;
        }
        for entry in &manifest.shared {
            let shared = entry.get_ref();
            let name = self.declare_object(&shared.name, Kind::Shared)?;
            let size = self.pages(&shared.size, "a shared memory size")?;
            let span = entry.span();
            self.push(
                &mut system.shared,
                Shared { name, size },
                span,
                "shared objects",
            )?;
        }
        // Task names first: capabilities and fault endpoints may name any task.
        for (index, task) in manifest.tasks.iter().enumerate() {
            let name = &task.get_ref().name;
            self.check_name(name, "task name")?;
            if let Some((_, first)) = self.tasks.0.get(name.get_ref().as_str()) {
                return Err(self.error(
                    name.span(),
                    format!(
                        "duplicate task name '{}' (first at {})",
                        name.get_ref(),
                        self.manifest.place(first.clone())
                    ),
                ));
            }
            self.push(&mut system.tasks, (0, 0), task.span(), "tasks")?;
            self.tasks
                .0
                .insert(name.get_ref(), (index as u32, name.span()));
        }
        let mut tasks: Vec<PlannedTask<'m>> = manifest
            .tasks
            .iter()
            .enumerate()
            .map(|(index, task)| self.task(index, task))
            .collect::<Result<_>>()?;
        self.hand_over_irq_grants(&mut tasks)?;
        Ok(Plan { system, tasks })
    }

    /// Gives the domains' line grants to the irq-server: every task holding `irq-control`.
    fn hand_over_irq_grants(&self, tasks: &mut [PlannedTask<'m>]) -> Result<()> {
        if self.irq_grants.is_empty() {
            return Ok(());
        }
        let mut handed = false;
        for task in tasks.iter_mut().filter(|task| {
            task.record
                .grants
                .iter()
                .any(|grant| grant.object == GrantObject::IrqControl)
        }) {
            // `domain_irqs` kept the count within the capacity.
            task.record.irq_grants = self.irq_grants.iter().copied().collect();
            handed = true;
        }
        if handed {
            return Ok(());
        }
        let first = self
            .manifest
            .tasks
            .iter()
            .find_map(|task| task.get_ref().irqs.first())
            .map_or(0..0, Spanned::span);
        Err(self.error(
            first,
            "interrupt lines are granted to a domain, but no task holds `irq-control` (the irq-server that would honour the grant)",
        ))
    }

    /// The `irqs` of an in-band domain: lines it may attach through the irq-server.
    fn domain_irqs(&mut self, task: &'m TaskEntry) -> Result<()> {
        let Some(first) = task.irqs.first() else {
            return Ok(());
        };
        // The server knows a domain by the badge of its request capability (domain + 1).
        let badge = task
            .caps
            .iter()
            .map(Spanned::get_ref)
            .find(|cap| cap.name.get_ref() == "irq-server" && cap.endpoint.is_some())
            .and_then(|cap| cap.badge.as_ref())
            .map(|badge| *badge.get_ref());
        let domain = match badge {
            Some(badge) if (1..=MAX_DOMAINS as i64).contains(&badge) => (badge - 1) as u8,
            _ => {
                return Err(self.error(
                    first.span(),
                    format!(
                        "task '{}' is granted interrupt lines but is no in-band domain: it needs an `irq-server` endpoint capability badged with its domain id + 1 (1..={MAX_DOMAINS})",
                        task.name.get_ref()
                    ),
                ));
            }
        };
        for irq in &task.irqs {
            let line = match irq.get_ref() {
                toml::Value::String(role) if role == "timer" => IrqLine::BoardTimer,
                toml::Value::String(role) if role == "uart" => IrqLine::BoardUart,
                toml::Value::Integer(number) => IrqLine::Number(self.line(*number, irq.span())?),
                other => {
                    return Err(self.error(
                        irq.span(),
                        format!(
                            "{other} is not an interrupt line: give \"timer\", \"uart\" or a number (0..{IRQ_LINES})"
                        ),
                    ));
                }
            };
            if let Some(first) = self.domain_lines.get(&line) {
                return Err(self.error(
                    irq.span(),
                    format!(
                        "{} is granted to two domains (first at {}); a line has one owner",
                        describe(line),
                        self.manifest.place(first.clone())
                    ),
                ));
            }
            if let IrqLine::Number(number) = line {
                self.both_ways(number, irq.span(), self.irqs.get(&number))?;
            }
            if self.irq_grants.len() == MAX_IRQ_GRANTS {
                return Err(self.error(
                    irq.span(),
                    format!("more than {MAX_IRQ_GRANTS} interrupt lines granted to domains (the boot-info limit)"),
                ));
            }
            self.domain_lines.insert(line, irq.span());
            self.irq_grants.push(IrqGrant { line, domain });
        }
        Ok(())
    }

    /// Refuses `line` when it was granted the other way too (to a kernel handler
    /// capability and to a domain), at `other`: the kernel routes a line either to its
    /// handler capability or to the irq-server, never both.
    fn both_ways(&self, line: u32, span: Range<usize>, other: Option<&Range<usize>>) -> Result<()> {
        match other {
            None => Ok(()),
            Some(other) => Err(self.error(
                span,
                format!(
                    "IRQ {line} is granted both to a kernel handler capability and to a domain (other grant at {}); the kernel routes a line to one of them",
                    self.manifest.place(other.clone())
                ),
            )),
        }
    }

    fn task(&mut self, index: usize, entry: &'m Spanned<TaskEntry>) -> Result<PlannedTask<'m>> {
        let task = entry.get_ref();
        let priority = u8::try_from(*task.priority.get_ref()).map_err(|_| {
            self.error(
                task.priority.span(),
                format!(
                    "priority {} is out of range (0..=255)",
                    task.priority.get_ref()
                ),
            )
        })?;
        let stack_size = match &task.stack {
            Some(stack) => self.pages(stack, "a stack size")?,
            None => DEFAULT_STACK,
        };
        if stack_size > MAX_STACK {
            let span = task.stack.as_ref().map_or(entry.span(), Spanned::span);
            return Err(self.error(
                span,
                format!(
                    "stack of {stack_size} bytes is larger than the kernel allows ({MAX_STACK})"
                ),
            ));
        }
        // Regions are mapped in order from REGIONS_BASE, an unmapped page after each, and
        // must end below the window for shared memory.
        let mut regions = heapless::Vec::new();
        let mut region_base = layout::REGIONS_BASE;
        for region in &task.regions {
            let size = self.pages(region, "a region size")?;
            let end = region_base.saturating_add(size);
            if end > layout::SHARED_MAP_BASE {
                return Err(self.error(
                    region.span(),
                    format!(
                        "regions end at {end:#x}, beyond their area ({:#x}..{:#x}, a guard page after each)",
                        layout::REGIONS_BASE,
                        layout::SHARED_MAP_BASE
                    ),
                ));
            }
            region_base = end + PAGE;
            self.push(&mut regions, size, region.span(), "regions in one task")?;
        }
        let fault_endpoint = match &task.fault_endpoint {
            Some(name) => Some((
                self.lookup(name, Kind::Endpoint)?,
                index as u64 + 1, // the badge that names this task
            )),
            None => None,
        };
        if let Some(args) = &task.args {
            let text = args.get_ref();
            if text.len() >= layout::ARGS_LEN || !text.is_ascii() {
                return Err(self.error(
                    args.span(),
                    format!(
                        "args must be ASCII of at most {} bytes (this is {} bytes)",
                        layout::ARGS_LEN - 1,
                        text.len()
                    ),
                ));
            }
        }
        let mut grants = heapless::Vec::new();
        let mut cap_names: HashMap<&str, Range<usize>> = HashMap::new();
        for (i, cap) in task.caps.iter().enumerate() {
            let name = &cap.get_ref().name;
            let name_str = self.check_name(name, "capability name")?;
            if let Some(first) = cap_names.insert(name_str, name.span()) {
                return Err(self.error(
                    name.span(),
                    format!(
                        "duplicate capability name '{name_str}' in task '{}' (first at {})",
                        task.name.get_ref(),
                        self.manifest.place(first)
                    ),
                ));
            }
            let grant = self.grant(cap, i as u32 + 1)?;
            self.push(&mut grants, grant, cap.span(), "capabilities in one task")?;
        }
        self.domain_irqs(task)?;
        Ok(PlannedTask {
            crate_name: task.crate_name.get_ref(),
            place: self.manifest.place(entry.span()),
            record: Task {
                name: task.name.get_ref(),
                priority,
                stack_size,
                entry: 0,
                segments: heapless::Vec::new(),
                regions,
                grants,
                fault_endpoint,
                start: task.start,
                timer_access: task.timer_access,
                args: task
                    .args
                    .as_ref()
                    .map_or("", |args| args.get_ref().as_str()),
                irq_grants: heapless::Vec::new(),
            },
        })
    }

    /// One capability, in `slot`.
    fn grant(&mut self, entry: &'m Spanned<CapEntry>, slot: u32) -> Result<Grant<'m>> {
        let cap = entry.get_ref();
        let keys = [
            ("endpoint", cap.endpoint.as_ref().map(Spanned::span)),
            ("notification", cap.notification.as_ref().map(Spanned::span)),
            ("thread", cap.thread.as_ref().map(Spanned::span)),
            ("shared", cap.shared.as_ref().map(Spanned::span)),
            ("irq", cap.irq.as_ref().map(Spanned::span)),
            ("irq-control", cap.irq_control.as_ref().map(Spanned::span)),
            (
                "system-control",
                cap.system_control.as_ref().map(Spanned::span),
            ),
            ("console-uart", cap.console_uart.as_ref().map(Spanned::span)),
        ];
        let present: Vec<_> = keys
            .iter()
            .filter_map(|(key, span)| span.clone().map(|span| (*key, span)))
            .collect();
        match present.as_slice() {
            [] => {
                let all: Vec<_> = keys.iter().map(|(key, _)| *key).collect();
                return Err(self.error(
                    entry.span(),
                    format!(
                        "capability '{}' names no object (give one of: {})",
                        cap.name.get_ref(),
                        all.join(", ")
                    ),
                ));
            }
            [_] => {}
            [(first, _), (second, span), ..] => {
                return Err(self.error(
                    span.clone(),
                    format!(
                        "capability '{}' names two objects ({first} and {second}); give exactly one",
                        cap.name.get_ref()
                    ),
                ));
            }
        }
        let object = if let Some(name) = &cap.endpoint {
            GrantObject::Endpoint(self.lookup(name, Kind::Endpoint)?)
        } else if let Some(name) = &cap.notification {
            GrantObject::Notification(self.lookup(name, Kind::Notification)?)
        } else if let Some(name) = &cap.shared {
            GrantObject::Shared(self.lookup(name, Kind::Shared)?)
        } else if let Some(name) = &cap.thread {
            GrantObject::Thread(self.lookup(name, Kind::Task)?)
        } else if let Some(irq) = &cap.irq {
            GrantObject::IrqHandler(self.irq(irq)?)
        } else if let Some(flag) = &cap.irq_control {
            self.only_true(flag, "irq-control")?;
            GrantObject::IrqControl
        } else if let Some(flag) = &cap.system_control {
            self.only_true(flag, "system-control")?;
            GrantObject::SystemControl
        } else if let Some(flag) = &cap.console_uart {
            self.only_true(flag, "console-uart")?;
            GrantObject::ConsoleUart
        } else {
            unreachable!("exactly one object key is present")
        };
        let rights = match &cap.rights {
            None => Rights::ALL,
            Some(words) => {
                if !matches!(
                    object,
                    GrantObject::Endpoint(_)
                        | GrantObject::Notification(_)
                        | GrantObject::Shared(_)
                ) {
                    return Err(self.error(
                        words.span(),
                        "rights apply only to endpoint, notification and shared capabilities",
                    ));
                }
                self.rights(words.get_ref())?
            }
        };
        let badge = match &cap.badge {
            None => 0,
            Some(badge) => {
                if !matches!(
                    object,
                    GrantObject::Endpoint(_) | GrantObject::Notification(_)
                ) {
                    return Err(self.error(
                        badge.span(),
                        "a badge applies only to endpoint and notification capabilities",
                    ));
                }
                match u64::try_from(*badge.get_ref()) {
                    Ok(value) if value > 0 => value,
                    _ => {
                        return Err(self.error(
                            badge.span(),
                            format!(
                                "badge {} is not positive (0 means no badge: leave the key out)",
                                badge.get_ref()
                            ),
                        ));
                    }
                }
            }
        };
        let flags = match &cap.restart {
            None => 0,
            Some(restart) => {
                if !matches!(object, GrantObject::Thread(_)) {
                    return Err(self.error(
                        restart.span(),
                        "restart applies only to thread capabilities",
                    ));
                }
                if *restart.get_ref() {
                    layout::START_CAP_RESTART
                } else {
                    0
                }
            }
        };
        Ok(Grant {
            name: cap.name.get_ref(),
            slot,
            object,
            rights: rights.bits(),
            badge,
            flags,
        })
    }

    /// An IRQ line, granted to one handler only.
    fn irq(&mut self, irq: &Spanned<i64>) -> Result<u32> {
        let line = self.line(*irq.get_ref(), irq.span())?;
        if let Some(first) = self.irqs.get(&line) {
            return Err(self.error(
                irq.span(),
                format!(
                    "the handler of IRQ {line} is granted twice (first at {}); an IRQ has one handler",
                    self.manifest.place(first.clone())
                ),
            ));
        }
        let other = self.domain_lines.get(&IrqLine::Number(line));
        self.both_ways(line, irq.span(), other)?;
        self.irqs.insert(line, irq.span());
        Ok(line)
    }

    /// An interrupt line number.
    fn line(&self, number: i64, span: Range<usize>) -> Result<u32> {
        u32::try_from(number)
            .ok()
            .filter(|line| *line < IRQ_LINES)
            .ok_or_else(|| {
                self.error(
                    span,
                    format!("IRQ {number} is not an interrupt line (0..{IRQ_LINES})"),
                )
            })
    }

    fn rights(&self, words: &[Spanned<String>]) -> Result<Rights> {
        words.iter().try_fold(Rights::NONE, |rights, word| {
            let right = RIGHTS
                .iter()
                .find(|(name, _)| name == word.get_ref())
                .map(|(_, right)| *right)
                .ok_or_else(|| {
                    let known: Vec<_> = RIGHTS.iter().map(|(name, _)| *name).collect();
                    self.error(
                        word.span(),
                        format!(
                            "unknown right '{}' (known: {})",
                            word.get_ref(),
                            known.join(", ")
                        ),
                    )
                })?;
            Ok(rights | right)
        })
    }

    fn only_true(&self, flag: &Spanned<bool>, key: &str) -> Result<()> {
        if *flag.get_ref() {
            Ok(())
        } else {
            Err(self.error(
                flag.span(),
                format!("`{key}` takes only `true` (leave it out otherwise)"),
            ))
        }
    }

    /// Declares a kernel object; object names are unique across kinds.
    fn declare_object(&mut self, name: &'m Spanned<String>, kind: Kind) -> Result<&'m str> {
        let name_str = self.check_name(name, "object name")?;
        for other in [Kind::Endpoint, Kind::Notification, Kind::Shared] {
            if let Some((_, first)) = self.names(other).0.get(name_str) {
                return Err(self.error(
                    name.span(),
                    format!(
                        "duplicate object name '{name_str}' (already declared as {} at {})",
                        other.noun(),
                        self.manifest.place(first.clone())
                    ),
                ));
            }
        }
        let names = self.names_mut(kind);
        let index = names.0.len() as u32;
        names.0.insert(name_str, (index, name.span()));
        Ok(name_str)
    }

    /// The index of a declared object or task.
    fn lookup(&self, name: &Spanned<String>, kind: Kind) -> Result<u32> {
        self.names(kind).index(name.get_ref()).ok_or_else(|| {
            self.error(
                name.span(),
                format!("no {} named '{}'", kind.noun(), name.get_ref()),
            )
        })
    }

    fn names(&self, kind: Kind) -> &Names<'m> {
        match kind {
            Kind::Endpoint => &self.endpoints,
            Kind::Notification => &self.notifications,
            Kind::Shared => &self.shared,
            Kind::Task => &self.tasks,
        }
    }

    fn names_mut(&mut self, kind: Kind) -> &mut Names<'m> {
        match kind {
            Kind::Endpoint => &mut self.endpoints,
            Kind::Notification => &mut self.notifications,
            Kind::Shared => &mut self.shared,
            Kind::Task => &mut self.tasks,
        }
    }

    fn check_name(&self, name: &'m Spanned<String>, what: &str) -> Result<&'m str> {
        let text = name.get_ref();
        let problem = if text.is_empty() {
            format!("{what} is empty")
        } else if text.len() > NAME_MAX {
            format!(
                "{what} '{text}' is {} bytes long (at most {NAME_MAX})",
                text.len()
            )
        } else if text.contains('\0') {
            format!("{what} contains a NUL byte")
        } else {
            return Ok(text);
        };
        Err(self.error(name.span(), problem))
    }

    /// A memory size: a positive multiple of the page size.
    fn pages(&self, size: &Spanned<i64>, what: &str) -> Result<u64> {
        match u64::try_from(*size.get_ref()) {
            Ok(bytes) if bytes > 0 && bytes.is_multiple_of(PAGE) => Ok(bytes),
            _ => Err(self.error(
                size.span(),
                format!(
                    "{what} must be a positive multiple of {PAGE} bytes, not {}",
                    size.get_ref()
                ),
            )),
        }
    }

    /// Pushes onto a payload vector, whose capacity is the `boot_info` limit.
    fn push<T, const N: usize>(
        &self,
        vec: &mut heapless::Vec<T, N>,
        item: T,
        span: Range<usize>,
        what: &str,
    ) -> Result<()> {
        vec.push(item)
            .map_err(|_| self.error(span, format!("more than {N} {what} (the boot-info limit)")))
    }
}

/// The namespaces names are resolved in.
#[derive(Clone, Copy)]
enum Kind {
    Endpoint,
    Notification,
    Shared,
    Task,
}

impl Kind {
    fn noun(self) -> &'static str {
        match self {
            Self::Endpoint => "endpoint",
            Self::Notification => "notification",
            Self::Shared => "shared memory object",
            Self::Task => "task",
        }
    }
}

/// A line as messages name it.
fn describe(line: IrqLine) -> String {
    match line {
        IrqLine::BoardTimer => "the board timer's line".into(),
        IrqLine::BoardUart => "the console UART's line".into(),
        IrqLine::Number(number) => format!("IRQ {number}"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::manifest::{
        line_and_column,
        tests::{load_with, write_tree},
    };

    const HEAD: &str = "description = \"t\"\nboards = [\"virt-gicv3\"]\n";

    /// Loads `HEAD` + `body` and expects it refused at the `nth` (0-based) occurrence of
    /// `marker` in the file, for `reason`.
    #[track_caller]
    fn refused(body: &str, marker: &str, nth: usize, reason: &str) {
        let text = format!("{HEAD}{body}");
        let offset = text
            .match_indices(marker)
            .nth(nth)
            .unwrap_or_else(|| panic!("no {marker:?} #{nth} in {text}"))
            .0;
        let (line, column) = line_and_column(&text, offset);
        let dir = write_tree(&text);
        let error = match load_with(&dir, &["a", "b"]) {
            Ok(_) => panic!("accepted:\n{text}"),
            Err(error) => error.to_string(),
        };
        let expected = format!("test.toml:{line}:{column}: {reason}");
        assert!(
            error.contains(&expected),
            "expected {expected:?}\n     got {error:?}"
        );
    }

    fn task(name: &str, extra: &str) -> String {
        format!("\n[[task]]\nname = \"{name}\"\ncrate = \"a\"\npriority = 1\n{extra}\n")
    }

    #[test]
    fn accepts_the_documented_example() {
        let text = format!(
            "{HEAD}endpoints = [\"pingpong\", \"faults\"]\nnotifications = [\"done\"]\n\
             shared = [{{ name = \"buf\", size = 4096 }}]\n{}{}",
            task(
                "supervisor",
                "stack = 8192\nregions = [8192]\ncaps = [\n\
                 { name = \"faults\", endpoint = \"faults\", rights = [\"read\"] },\n\
                 { name = \"client\", thread = \"client\", restart = true },\n\
                 { name = \"power\", system-control = true },\n\
                 { name = \"irqctl\", irq-control = true },\n]"
            ),
            task(
                "client",
                "fault-endpoint = \"faults\"\nstart = false\ncaps = [\n\
                 { name = \"server\", endpoint = \"pingpong\", rights = [\"write\", \"grant\"], badge = 7 },\n\
                 { name = \"done\", notification = \"done\", rights = [\"write\", \"grant-reply\"] },\n\
                 { name = \"uart\", irq = 33 },\n\
                 { name = \"buf\", shared = \"buf\", rights = [\"read\", \"write\"] },\n]"
            ),
        );
        let dir = write_tree(&text);
        let manifest = load_with(&dir, &["a"]).unwrap();
        let plan = plan(&manifest).unwrap().unwrap();
        assert_eq!(plan.system.endpoints, ["pingpong", "faults"]);
        assert_eq!(plan.system.tasks, [(0, 0), (0, 0)]);
        let client = &plan.tasks[1].record;
        assert_eq!(client.fault_endpoint, Some((1, 2)));
        assert_eq!(
            client.grants[1].rights,
            (Rights::WRITE | Rights::GRANT_REPLY).bits()
        );
        assert_eq!(
            plan.tasks[0].record.grants[1].object,
            GrantObject::Thread(1)
        );
        assert!(
            plan.tasks[1].place.ends_with("test.toml:20:1"),
            "{}",
            plan.tasks[1].place
        );
    }

    /// An irq-server and in-band domains with `irqs`.
    fn pipeline_system(domains: &[(&str, u32, &str)]) -> String {
        let mut body = String::from("endpoints = [\"irq-requests\"]\n");
        body += &task(
            "server",
            "caps = [{ name = \"irq-control\", irq-control = true }]",
        );
        for (name, badge, irqs) in domains {
            body += &task(
                name,
                &format!(
                    "irqs = {irqs}\ncaps = [{{ name = \"irq-server\", endpoint = \"irq-requests\", badge = {badge} }}]"
                ),
            );
        }
        body
    }

    #[test]
    fn hands_domain_line_grants_to_the_irq_server() {
        let text = format!(
            "{HEAD}{}",
            pipeline_system(&[("d0", 1, "[\"timer\", 40]"), ("d7", 8, "[\"uart\"]")])
        );
        let dir = write_tree(&text);
        let manifest = load_with(&dir, &["a"]).unwrap();
        let plan = plan(&manifest).unwrap().unwrap();
        let grant = |line, domain| IrqGrant { line, domain };
        assert_eq!(
            plan.tasks[0].record.irq_grants,
            [
                grant(IrqLine::BoardTimer, 0),
                grant(IrqLine::Number(40), 0),
                grant(IrqLine::BoardUart, 7)
            ]
        );
        // Only the irq-server's record carries the table.
        assert!(plan.tasks[1].record.irq_grants.is_empty());
    }

    #[test]
    fn refuses_bad_domain_line_grants() {
        refused(
            &pipeline_system(&[("d0", 1, "[\"timer\"]"), ("d1", 2, "[\"timer\"]")]),
            "\"timer\"",
            1,
            "the board timer's line is granted to two domains (first at ",
        );
        refused(
            &pipeline_system(&[("d0", 1, "[\"tick\"]")]),
            "\"tick\"",
            0,
            "\"tick\" is not an interrupt line: give \"timer\", \"uart\" or a number (0..1024)",
        );
        refused(
            &pipeline_system(&[("d0", 1, "[2000]")]),
            "2000",
            0,
            "IRQ 2000 is not an interrupt line (0..1024)",
        );
        refused(
            &pipeline_system(&[("d0", 9, "[40]")]),
            "40]",
            0,
            "task 'd0' is granted interrupt lines but is no in-band domain: it needs an `irq-server` endpoint capability badged with its domain id + 1 (1..=8)",
        );
        refused(
            &task("lonely", "irqs = [40]"),
            "40]",
            0,
            "task 'lonely' is granted interrupt lines but is no in-band domain",
        );
        // A line is routed to a kernel handler capability or to the irq-server, not both;
        // caught whichever grant comes first.
        let handler = task("h", "caps = [{ name = \"line\", irq = 40 }]");
        refused(
            &format!("{}{handler}", pipeline_system(&[("d0", 1, "[40]")])),
            "40 }",
            0,
            "IRQ 40 is granted both to a kernel handler capability and to a domain (other grant at ",
        );
        let domains = pipeline_system(&[("d0", 1, "[40]")]);
        let (objects, tasks) = domains.split_at(domains.find("\n[[task]]").unwrap());
        refused(
            &format!("{objects}{handler}{tasks}"),
            "40]",
            0,
            "IRQ 40 is granted both to a kernel handler capability and to a domain",
        );
        // Nobody to honour the grant.
        refused(
            &format!(
                "endpoints = [\"irq-requests\"]\n{}",
                task(
                    "d0",
                    "irqs = [\"uart\"]\ncaps = [{ name = \"irq-server\", endpoint = \"irq-requests\", badge = 1 }]"
                )
            ),
            "\"uart\"",
            0,
            "interrupt lines are granted to a domain, but no task holds `irq-control`",
        );
    }

    #[test]
    fn a_kernel_only_manifest_has_no_system() {
        let dir = write_tree(HEAD);
        assert!(plan(&load_with(&dir, &[]).unwrap()).unwrap().is_none());
    }

    #[test]
    fn refuses_duplicate_names() {
        let body = format!("{}{}", task("a", ""), task("a", ""));
        refused(&body, "\"a\"", 2, "duplicate task name 'a' (first at ");
        let body = task(
            "a",
            "caps = [{ name = \"x\", irq-control = true }, { name = \"x\", system-control = true }]",
        );
        refused(
            &body,
            "\"x\"",
            1,
            "duplicate capability name 'x' in task 'a' (first at ",
        );
        refused(
            "endpoints = [\"e\"]\nnotifications = [\"n\", \"e\"]\n",
            "\"e\"",
            1,
            "duplicate object name 'e' (already declared as endpoint at ",
        );
        refused(
            "endpoints = [\"e\"]\nshared = [{ name = \"e\", size = 4096 }]\n",
            "\"e\"",
            1,
            "duplicate object name 'e' (already declared as endpoint at ",
        );
    }

    #[test]
    fn refuses_an_irq_granted_twice() {
        let body = format!(
            "{}{}",
            task("a", "caps = [{ name = \"uart\", irq = 33 }]"),
            task("b", "caps = [{ name = \"irq\", irq = 33 }]")
        );
        refused(
            &body,
            "33",
            1,
            "the handler of IRQ 33 is granted twice (first at ",
        );
        refused(
            &task("a", "caps = [{ name = \"u\", irq = -1 }]"),
            "-1",
            0,
            "IRQ -1 is not an interrupt line (0..1024)",
        );
        refused(
            &task("a", "caps = [{ name = \"u\", irq = 1024 }]"),
            "1024",
            0,
            "IRQ 1024 is not an interrupt line (0..1024)",
        );
    }

    #[test]
    fn refuses_priorities_out_of_range() {
        let body = task("a", "").replace("priority = 1", "priority = 256");
        refused(&body, "256", 0, "priority 256 is out of range (0..=255)");
        let body = task("a", "").replace("priority = 1", "priority = -1");
        refused(&body, "-1", 0, "priority -1 is out of range (0..=255)");
    }

    #[test]
    fn refuses_capabilities_to_missing_objects() {
        let cap = |object: &str| task("a", &format!("caps = [{{ name = \"c\", {object} }}]"));
        refused(
            &cap("endpoint = \"nope\""),
            "\"nope\"",
            0,
            "no endpoint named 'nope'",
        );
        refused(
            &cap("notification = \"nope\""),
            "\"nope\"",
            0,
            "no notification named 'nope'",
        );
        refused(
            &cap("shared = \"nope\""),
            "\"nope\"",
            0,
            "no shared memory object named 'nope'",
        );
        refused(
            &cap("thread = \"nope\""),
            "\"nope\"",
            0,
            "no task named 'nope'",
        );
        // An object of another kind does not count.
        refused(
            &format!("notifications = [\"n\"]\n{}", cap("endpoint = \"n\"")),
            "\"n\"",
            1,
            "no endpoint named 'n'",
        );
        refused(
            &task("a", "fault-endpoint = \"nope\""),
            "\"nope\"",
            0,
            "no endpoint named 'nope'",
        );
    }

    #[test]
    fn refuses_sizes_that_are_not_whole_pages() {
        refused(
            &task("a", "stack = 1000"),
            "1000",
            0,
            "a stack size must be a positive multiple of 4096 bytes, not 1000",
        );
        refused(
            &task("a", "regions = [4096, 0]"),
            "0]",
            0,
            "a region size must be a positive multiple of 4096 bytes, not 0",
        );
        refused(
            "shared = [{ name = \"s\", size = -4096 }]\n",
            "-4096",
            0,
            "a shared memory size must be a positive multiple of 4096 bytes, not -4096",
        );
        refused(
            &task("a", "stack = 0x1001000"),
            "0x1001000",
            0,
            "stack of 16781312 bytes is larger than the kernel allows (16777216)",
        );
        refused(
            &task("a", "regions = [0x8000000, 0x8000000]"),
            "0x8000000]",
            0,
            "regions end at 0x40001000, beyond their area (0x30000000..0x40000000, a guard \
             page after each)",
        );
        let dir = write_tree(&format!(
            "{HEAD}{}",
            task("a", "regions = [0x7fff000, 0x8000000]")
        ));
        assert!(load_with(&dir, &["a"]).is_ok());
    }

    #[test]
    fn refuses_long_and_empty_names() {
        let long = "x".repeat(NAME_MAX + 1);
        refused(
            &task(&long, ""),
            &format!("\"{long}\""),
            0,
            &format!("task name '{long}' is 24 bytes long (at most 23)"),
        );
        let body = task(
            "a",
            &format!("caps = [{{ name = \"{long}\", irq-control = true }}]"),
        );
        refused(
            &body,
            &format!("\"{long}\""),
            0,
            "capability name 'xxxxxxxxxxxxxxxxxxxxxxxx' is 24 bytes long (at most 23)",
        );
        refused(
            &format!("endpoints = [\"{long}\"]\n"),
            &format!("\"{long}\""),
            0,
            "object name 'xxxxxxxxxxxxxxxxxxxxxxxx' is 24 bytes long (at most 23)",
        );
        refused(&task("", ""), "\"\"", 0, "task name is empty");
        // 23 bytes is fine.
        let dir = write_tree(&format!("{HEAD}{}", task(&"y".repeat(NAME_MAX), "")));
        assert!(load_with(&dir, &["a"]).is_ok());
    }

    #[test]
    fn refuses_bad_badges() {
        let body = format!(
            "endpoints = [\"e\"]\n{}",
            task(
                "a",
                "caps = [{ name = \"c\", endpoint = \"e\", badge = 0 }]"
            )
        );
        refused(
            &body,
            "0 }",
            0,
            "badge 0 is not positive (0 means no badge: leave the key out)",
        );
        let body = format!(
            "{}{}",
            task("a", "caps = [{ name = \"c\", thread = \"b\", badge = 3 }]"),
            task("b", "")
        );
        refused(
            &body,
            "3 }",
            0,
            "a badge applies only to endpoint and notification capabilities",
        );
        let body = format!(
            "shared = [{{ name = \"s\", size = 4096 }}]\n{}",
            task("a", "caps = [{ name = \"c\", shared = \"s\", badge = 3 }]")
        );
        refused(
            &body,
            "3 }",
            0,
            "a badge applies only to endpoint and notification capabilities",
        );
    }

    #[test]
    fn refuses_options_on_kinds_that_take_none() {
        let body = format!(
            "endpoints = [\"e\"]\n{}",
            task(
                "a",
                "caps = [{ name = \"c\", endpoint = \"e\", restart = true }]"
            )
        );
        refused(
            &body,
            "true",
            0,
            "restart applies only to thread capabilities",
        );
        refused(
            &task(
                "a",
                "caps = [{ name = \"c\", irq = 5, rights = [\"read\"] }]",
            ),
            "[\"read\"]",
            0,
            "rights apply only to endpoint, notification and shared capabilities",
        );
        refused(
            &task("a", "caps = [{ name = \"c\", irq-control = false }]"),
            "false",
            0,
            "`irq-control` takes only `true` (leave it out otherwise)",
        );
    }

    #[test]
    fn refuses_zero_or_two_object_keys() {
        refused(
            &task("a", "caps = [{ name = \"c\", rights = [\"read\"] }]"),
            "{ name",
            0,
            "capability 'c' names no object (give one of: endpoint, notification, thread, \
             shared, irq, irq-control, system-control, console-uart)",
        );
        refused(
            &format!(
                "endpoints = [\"e\"]\n{}",
                task("a", "caps = [{ name = \"c\", endpoint = \"e\", irq = 4 }]")
            ),
            "4 }",
            0,
            "capability 'c' names two objects (endpoint and irq); give exactly one",
        );
    }

    #[test]
    fn refuses_unknown_rights() {
        let body = format!(
            "endpoints = [\"e\"]\n{}",
            task(
                "a",
                "caps = [{ name = \"c\", endpoint = \"e\", rights = [\"read\", \"send\"] }]"
            )
        );
        refused(
            &body,
            "\"send\"",
            0,
            "unknown right 'send' (known: read, write, grant, grant-reply)",
        );
    }

    #[test]
    fn refuses_more_than_the_boot_info_limits() {
        let tasks: String = (0..=boot_info::MAX_TASKS)
            .map(|i| task(&format!("t{i}"), ""))
            .collect();
        refused(
            &tasks,
            "[[task]]",
            boot_info::MAX_TASKS,
            "more than 32 tasks (the boot-info limit)",
        );
        let caps: Vec<_> = (0..=boot_info::MAX_GRANTS)
            .map(|i| format!("{{ name = \"c{i}\", irq-control = true }}"))
            .collect();
        refused(
            &task("a", &format!("caps = [\n{}\n]", caps.join(",\n"))),
            "{ name",
            boot_info::MAX_GRANTS,
            "more than 48 capabilities in one task (the boot-info limit)",
        );
        refused(
            &task("a", "regions = [4096, 4096, 4096, 4096, 8192]"),
            "8192",
            0,
            "more than 4 regions in one task (the boot-info limit)",
        );
        let shared: Vec<_> = (0..=boot_info::MAX_SHARED)
            .map(|i| format!("{{ name = \"s{i}\", size = 4096 }}"))
            .collect();
        refused(
            &format!("shared = [{}]\n", shared.join(", ")),
            "{ name",
            boot_info::MAX_SHARED,
            "more than 16 shared objects (the boot-info limit)",
        );
        let endpoints: Vec<_> = (0..=64).map(|i| format!("\"e{i}\"")).collect();
        refused(
            &format!("endpoints = [{}]\n", endpoints.join(", ")),
            "\"e64\"",
            0,
            "more than 64 endpoints (the boot-info limit)",
        );
        let notifications: Vec<_> = (0..=64).map(|i| format!("\"n{i}\"")).collect();
        refused(
            &format!("notifications = [{}]\n", notifications.join(", ")),
            "\"n64\"",
            0,
            "more than 64 notifications (the boot-info limit)",
        );
    }

    #[test]
    fn refuses_unknown_keys_in_tasks_and_caps() {
        refused(&task("a", "prio = 3"), "prio =", 0, "unknown field `prio`");
        refused(
            &task(
                "a",
                "caps = [{ name = \"c\", irq-control = true, slot = 3 }]",
            ),
            "slot",
            0,
            "unknown field `slot`",
        );
    }
}
