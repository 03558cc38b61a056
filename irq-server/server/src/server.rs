//! The server loop: interrupts from the kernel's ring, requests from domains.

use crate::control;
use irq_protocol::{DomainPage, Error, Event, MAX_CPUS, MAX_DOMAINS, Request};
use kernel_abi::{MessageInfo, Syscall, invocation::NOTIFICATION_LABEL, layout};
use pipeline::{
    CpuId, Dispatch, DomainId, HandlerId, Irq, LineAction, Pipeline, Trigger, stall_page::AfterLog,
};
use sluice::{
    Cap, Endpoint, Frame, IrqControl, Mapping, Notification, SharedMemory, Thread, cap, println,
    require_cap,
    sys::{TrapArgs, syscall},
};

/// Lines (hardware and synthetic) the pipeline tracks at once.
const LINES: usize = 128;
/// This server thread's CPU (one server thread per CPU; SMP brings the others).
const CPU: CpuId = CpuId(0);

type Pipe = Pipeline<MAX_CPUS, MAX_DOMAINS, LINES>;

/// Where the kernel's interrupt ring is mapped.
const RING_VA: u64 = layout::SHARED_MAP_BASE;
/// Where domain `n`'s page is mapped: one page each after the ring.
const fn domain_page_va(n: usize) -> u64 {
    layout::SHARED_MAP_BASE + 0x1000 * (1 + n as u64)
}

/// Which line an oob handler serves from the start.
#[derive(Clone, Copy, Debug)]
pub enum Line {
    /// None: a domain moves lines to it with `Request::SwitchOob`.
    None,
    /// The board's EL1 physical timer (level).
    BoardTimer,
    /// The board's console UART (level).
    BoardUart,
    /// A hardware line by number, with its trigger.
    Hardware(u16, Trigger),
}

/// An out-of-band handler of the oob stage, registered by linking it into this program.
#[derive(Clone, Copy, Debug)]
pub struct OobHandler {
    /// For logs.
    pub name: &'static str,
    /// The line it serves from the start.
    pub line: Line,
    /// Runs in the oob stage as the interrupt arrives; must not call in-band services.
    pub handle: fn(&mut OobContext<'_>),
}

/// Who sent a request to a service of the oob stage, from the badge of the capability it
/// called through (set in the manifest, so a caller cannot pretend to be another).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Caller {
    /// An in-band domain (badge = id + 1).
    Domain(u8),
    /// A client that is not a domain, such as an oob real-time task (badge =
    /// `irq_protocol::CLIENT_BADGE_BASE` + the number).
    Client(u16),
}

impl Caller {
    fn from_badge(badge: u64) -> Option<Caller> {
        if (1..=MAX_DOMAINS as u64).contains(&badge) {
            Some(Caller::Domain((badge - 1) as u8))
        } else {
            let client = badge.checked_sub(irq_protocol::CLIENT_BADGE_BASE)?;
            (client < irq_protocol::MAX_CLIENTS as u64).then_some(Caller::Client(client as u16))
        }
    }
}

/// How a [`Service`] serves one request: the caller, the label, the words; `Ok` words for
/// the reply, or `Err` a nonzero reply label.
pub type ServeFn = fn(&mut OobContext<'_>, Caller, u32, [u64; 6]) -> Result<[u64; 6], u32>;

/// A component of the oob stage that serves requests of its own: request labels in
/// `labels` go to `serve`, in the oob stage, with the caller named by its badge. The
/// timer-server is one.
#[derive(Clone, Debug)]
pub struct Service {
    /// For logs.
    pub name: &'static str,
    /// The request labels it serves (from `irq_protocol::SERVICE_LABEL_BASE` on).
    pub labels: core::ops::Range<u32>,
    /// Runs once in the oob stage when it starts, before any interrupt is taken.
    pub start: fn(&mut OobContext<'_>),
    /// Serves one request: `Ok` words for the reply, or `Err` a nonzero reply label.
    pub serve: ServeFn,
}

/// What an oob stage is made of: its handlers and its services.
#[derive(Clone, Copy, Debug)]
pub struct Stage {
    /// Oob handlers; a handler's index is its `HandlerId`.
    pub handlers: &'static [OobHandler],
    /// Services, with disjoint label ranges.
    pub services: &'static [Service],
}

/// What an oob handler may do: oob-safe pipeline operations only.
#[allow(
    missing_debug_implementations,
    reason = "holds the pipeline, whose dump is not useful here"
)]
pub struct OobContext<'a> {
    /// The IRQ being handled.
    pub irq: u16,
    /// The cycle counter when the server woke for this interrupt (benchmarks split the
    /// interrupt-to-handler time into the kernel's and the server's share with it).
    pub woke: u64,
    pipeline: &'a mut Pipe,
    control: Cap<IrqControl>,
    /// The domain pages: a domain's stall word is mirrored just before the handler posts
    /// to it (for an oob line nothing is mirrored until then).
    domains: &'a [Option<DomainLink>; MAX_DOMAINS],
    posted: &'a mut u32,
    /// The irq_work IRQ a handler raised, acted on when it returns.
    raised: Option<(Dispatch, u8)>,
}

impl OobContext<'_> {
    /// `irq_post_inband`: puts `irq` into `domain`'s log from the oob stage; the domain
    /// runs it in-band (at once if unstalled, else when it unstalls).
    pub fn post_inband(&mut self, domain: u8, irq: u16) -> Result<(), pipeline::Error> {
        mirror(self.pipeline, self.domains, DomainId(domain));
        let dispatch = self.pipeline.post_inband(CPU, DomainId(domain), Irq(irq))?;
        if matches!(
            dispatch,
            Dispatch::Logged { .. } | Dispatch::Coalesced { .. }
        ) {
            *self.posted |= 1 << domain;
        }
        Ok(())
    }

    /// `irq_work_queue`: queues `item` for `domain`, to run in-band through the domain's
    /// irq_work IRQ (at once if the domain is unstalled, else after it unstalls). Queueing
    /// again before it ran coalesces the IRQ, never the items.
    pub fn irq_work_queue(&mut self, domain: u8, item: u32) -> Result<(), pipeline::Error> {
        mirror(self.pipeline, self.domains, DomainId(domain));
        match self
            .pipeline
            .irq_work_queue(CPU, DomainId(domain), pipeline::WorkItem(item))?
        {
            pipeline::WorkQueued::Raised(dispatch) => {
                self.raised = Some((dispatch, domain));
                Ok(())
            }
            _ => Ok(()),
        }
    }

    /// An in-band-only operation (`sync` of a domain's log), offered here so that misuse
    /// is caught at run time: from the oob stage it is refused with
    /// `pipeline::Error::Reentry` and counted, never run (invariant 5).
    pub fn sync(&mut self, domain: u8) -> Result<(), pipeline::Error> {
        let cap = self.pipeline.stall_cap(DomainId(domain))?;
        self.pipeline.sync(cap, CPU).map(drop)
    }

    /// The system counter (the generic timer's count).
    pub fn now(&self) -> u64 {
        sluice::sys::counter()
    }

    /// `irq_cpuidle_control`: while `veto` is set, this CPU may not enter an idle state
    /// that would stop or delay the timer. Returns the CPU's idle entries so far: deep,
    /// shallow, shallow because of the veto.
    ///
    /// # Errors
    /// The kernel's refusal.
    pub fn idle_veto(&mut self, veto: bool) -> Result<[u64; 3], sluice::Error> {
        control::idle_control(self.control, u64::from(CPU.0), veto)
    }

    /// The domain that owns `irq` in-band now, if any (a service checks with it that a
    /// domain names only its own IRQs).
    pub fn inband_owner(&self, irq: u16) -> Option<u8> {
        match self.pipeline.mode(Irq(irq)) {
            Some(pipeline::Mode::InBand { domain }) => Some(domain.0),
            _ => None,
        }
    }
}

/// A domain page as the server views it: every field is an atomic.
#[repr(transparent)]
struct SharedPage(DomainPage);

// SAFETY: `DomainPage` consists of `StallWord`s (two `AtomicU32`) and an `EventRing`
// (`AtomicU64`s): every byte is accessed through an atomic, any bit pattern is valid, and
// the `repr(C, align(64))` padding of `StallWord` is never read as data.
#[allow(unsafe_code)]
unsafe impl SharedMemory for SharedPage {}

struct DomainLink {
    /// Mapped for good at start: checked once, then every access is a plain reference.
    page: &'static DomainPage,
    events: Cap<Notification>,
}

struct Server {
    pipeline: Pipe,
    handlers: &'static [OobHandler],
    services: &'static [Service],
    control: Cap<IrqControl>,
    ring: Mapping,
    domains: [Option<DomainLink>; MAX_DOMAINS],
    /// Which domain allocated each synthetic IRQ (index = irq - SYNTHETIC_BASE).
    synthetic_owner: [Option<DomainId>; pipeline::SYNTHETIC_IRQS as usize],
    /// When the server last woke for interrupts (cycle counter).
    woke: u64,
    /// Per domain: events delivered at once, logged, replayed, syncs served.
    domain_stats: [[u64; 4]; MAX_DOMAINS],
    /// Per domain: irq_work items taken from the pipeline but not yet handed over (a
    /// reply carries at most five).
    work_stash: [([u32; pipeline::IRQ_WORK_ITEMS], usize); MAX_DOMAINS],
    /// Hardware lines a domain attached (owner).
    line_owner: [Option<DomainId>; pipeline::HW_IRQS as usize],
    /// Hardware lines the manifest grants to each domain (`irqs`), from the start-info
    /// page: a domain attaches only these.
    granted: [Option<DomainId>; pipeline::HW_IRQS as usize],
}

static SERVER: spin::Mutex<Option<Server>> = spin::Mutex::new(None);

/// Copies `domain`'s stall word (this CPU's) from its page into the pipeline.
fn mirror(pipeline: &mut Pipe, domains: &[Option<DomainLink>; MAX_DOMAINS], domain: DomainId) {
    if let Some(link) = domains.get(usize::from(domain.0)).and_then(Option::as_ref) {
        let stalled = link.page.stall[usize::from(CPU.0)].is_stalled();
        let _ = pipeline.mirror_stall(domain, CPU, stalled);
    }
}

/// Starts the oob stage with `handlers` and serves forever.
pub fn run(handlers: &'static [OobHandler]) -> ! {
    run_stage(Stage {
        handlers,
        services: &[],
    })
}

/// Starts the oob stage with the handlers and services of `stage` and serves forever.
pub fn run_stage(stage: Stage) -> ! {
    let requests = require_cap::<Endpoint>("requests");
    let irqs = require_cap::<Notification>("irqs");
    {
        let mut guard = SERVER.lock();
        let server = guard.insert(Server::start(stage, irqs));
        server.register_handlers();
        for service in stage.services {
            server.in_oob_context(0, false, |context| (service.start)(context));
        }
    }
    println!(
        "irq-server: oob stage up, {} oob handlers, {} services",
        stage.handlers.len(),
        stage.services.len()
    );
    serve(requests)
}

/// The manifest's line grants, by line (the kernel resolved the board roles and checked
/// every line against the controller; the irq-server keeps only the lines and domains it
/// can serve).
fn granted_lines() -> [Option<DomainId>; pipeline::HW_IRQS as usize] {
    let info = sluice::start_info();
    let mut granted = [None; pipeline::HW_IRQS as usize];
    let count = usize::try_from(info.irq_grant_count).unwrap_or(usize::MAX);
    for grant in info.irq_grants.iter().take(count) {
        if let Some(owner) = granted.get_mut(usize::from(grant.line))
            && usize::from(grant.domain) < MAX_DOMAINS
        {
            *owner = Some(DomainId(grant.domain));
        }
    }
    granted
}

fn fail(what: &str) -> ! {
    println!("irq-server: cannot start: {what}");
    sluice::sys::panic_trap(b"irq-server cannot start")
}

impl Server {
    fn start(stage: Stage, irqs: Cap<Notification>) -> Server {
        let control = require_cap::<IrqControl>("irq-control");
        let ring_frame = require_cap::<Frame>("ring");
        let Ok(ring) = ring_frame.map_view(RING_VA, true) else {
            fail("map the interrupt ring")
        };
        let mut domains = [const { None }; MAX_DOMAINS];
        for (n, slot) in domains.iter_mut().enumerate() {
            let mut name = *b"domN-page\0";
            name[3] = b'0' + n as u8;
            let page_name = core::str::from_utf8(&name[..9]).unwrap_or("");
            let mut events_name = *b"domN-events";
            events_name[3] = b'0' + n as u8;
            let events_name = core::str::from_utf8(&events_name).unwrap_or("");
            if let (Ok(frame), Ok(events)) =
                (cap::<Frame>(page_name), cap::<Notification>(events_name))
            {
                let Ok(mapping) = frame.map_view(domain_page_va(n), true) else {
                    fail("map a domain page")
                };
                let Ok(SharedPage(page)) = mapping.into_view::<SharedPage>() else {
                    fail("a domain page is smaller than DomainPage");
                };
                *slot = Some(DomainLink { page, events });
            }
        }
        if control::bind(require_cap::<Thread>("self"), irqs).is_err() {
            fail("bind the interrupt notification");
        }
        if control::route(control, irqs, ring_frame, u64::from(CPU.0)).is_err() {
            fail("take the interrupts (IrqControl::Route)");
        }
        Server {
            pipeline: Pipe::new(),
            handlers: stage.handlers,
            services: stage.services,
            control,
            ring,
            domains,
            synthetic_owner: [None; pipeline::SYNTHETIC_IRQS as usize],
            woke: 0,
            domain_stats: [[0; 4]; MAX_DOMAINS],
            work_stash: [([0; pipeline::IRQ_WORK_ITEMS], 0); MAX_DOMAINS],
            line_owner: [None; pipeline::HW_IRQS as usize],
            granted: granted_lines(),
        }
    }

    fn register_handlers(&mut self) {
        let info = sluice::start_info();
        for (index, handler) in self.handlers.iter().enumerate() {
            let (line, trigger) = match handler.line {
                Line::None => continue,
                Line::BoardTimer => (info.timer_irq as u16, Trigger::Level),
                Line::BoardUart => (info.uart_irq as u16, Trigger::Level),
                Line::Hardware(line, trigger) => (line, trigger),
            };
            let attached = self
                .pipeline
                .attach(CPU, Irq(line), trigger)
                .and_then(|()| {
                    self.pipeline
                        .switch_oob(CPU, Irq(line), HandlerId(index as u16))
                        .map(drop)
                });
            let configured = control::configure(self.control, line, trigger == Trigger::Edge)
                .and_then(|()| control::unmask(self.control, line));
            if attached.is_err() || configured.is_err() {
                println!(
                    "irq-server: oob handler '{}' cannot take line {line}",
                    handler.name
                );
            }
        }
    }

    fn page(&self, domain: DomainId) -> Option<&DomainPage> {
        Some(self.domains.get(usize::from(domain.0))?.as_ref()?.page)
    }

    /// Copies the domain's stall word into the pipeline before a decision about it.
    fn mirror(&mut self, domain: DomainId) {
        mirror(&mut self.pipeline, &self.domains, domain);
    }

    /// Mirrors the stall word the decision about `irq` depends on: its in-band owner's.
    /// An oob line needs none: its handler runs whatever the domains do (invariant 1), and
    /// [`OobContext`] mirrors a domain's word just before the handler posts to it.
    fn mirror_for(&mut self, irq: Irq) {
        if let Some(pipeline::Mode::InBand { domain }) = self.pipeline.mode(irq) {
            self.mirror(domain);
        }
    }

    /// Takes every interrupt the kernel recorded since last time.
    fn drain_ring(&mut self) {
        loop {
            let produced = self.ring.read(0).unwrap_or(0);
            let consumed = self.ring.read(1).unwrap_or(0);
            if consumed >= produced {
                return;
            }
            for index in consumed..produced {
                let slot = (index % layout::IRQ_RING_SLOTS as u64) as usize;
                let word = self.ring.read(4 + slot / 4).unwrap_or(0);
                let line = (word >> ((slot % 4) * 16)) as u16;
                self.hardware_event(line);
            }
            let _ = self.ring.write(1, produced);
        }
    }

    fn hardware_event(&mut self, line: u16) {
        let irq = Irq(line);
        // The owner's stall word is read only for an in-band line, and just before the
        // decision; an oob line's handler runs whatever the domains do.
        let domains = &self.domains;
        let dispatch = self.pipeline.receive_with_stall(CPU, irq, |domain| {
            domains
                .get(usize::from(domain.0))
                .and_then(Option::as_ref)
                .map(|link| link.page.stall[usize::from(CPU.0)].is_stalled())
        });
        let action = match dispatch {
            // The hot path, decided here rather than in `act`: the handler is one call
            // away from the decision.
            Ok(Dispatch::RunOob { handler }) => {
                self.run_oob(irq, handler);
                // An oob line is never held for an ack: it was unmasked before the event.
                Some(LineAction::Unmask)
            }
            other => self.act(irq, other),
        };
        // The kernel masked the line to route the event here; the action says what the
        // line is to be now.
        match action {
            // A line waiting for its domain's ack stays masked; its masked time starts.
            Some(LineAction::MaskUntilAck) => {
                let _ = self.pipeline.mask_started(irq, sluice::sys::counter());
            }
            // One nobody owns stays masked.
            Some(LineAction::Mask) | None => {}
            // `Keep` is the line as it was before the event: masked if it was already
            // waiting for its domain's ack (this is a second record of one assertion).
            Some(LineAction::Keep) if self.pipeline.is_masked_until_ack(irq) => {}
            Some(LineAction::Keep) | Some(LineAction::Unmask) => {
                let _ = control::unmask(self.control, line);
            }
        }
    }

    /// Runs oob handler `handler` for `irq` (the pipeline has entered oob context).
    #[inline(always)]
    fn run_oob(&mut self, irq: Irq, handler: HandlerId) {
        match self.handlers.get(usize::from(handler.0)) {
            Some(oob) => {
                let handle = oob.handle;
                self.in_oob_context(irq.0, true, handle);
            }
            None => {
                let _ = self.pipeline.leave_oob(CPU);
            }
        }
    }

    /// Carries out a dispatch decision; returns what to do with the line.
    fn act(&mut self, irq: Irq, dispatch: Result<Dispatch, pipeline::Error>) -> Option<LineAction> {
        match dispatch {
            Ok(Dispatch::RunOob { handler }) => {
                self.run_oob(irq, handler);
                Some(LineAction::Keep)
            }
            Ok(Dispatch::Deliver {
                domain,
                irq,
                count,
                line,
            }) => {
                // The decision's IRQ: for an irq_work IRQ raised by an oob handler it is
                // not the one that ran the handler.
                let delivered = self
                    .page(domain)
                    .is_some_and(|page| page.events.push(Event { irq: irq.0, count }));
                if delivered {
                    self.domain_stats[usize::from(domain.0)][0] += 1;
                    self.signal(domain);
                } else {
                    // The ring is full: keep the event in the log; the domain syncs for it.
                    let _ = self.pipeline.post_inband(CPU, domain, irq);
                    self.after_log(domain);
                }
                Some(line)
            }
            Ok(Dispatch::Logged { domain, line, .. })
            | Ok(Dispatch::Coalesced { domain, line, .. }) => {
                if let Some(stats) = self.domain_stats.get_mut(usize::from(domain.0)) {
                    stats[1] += 1;
                }
                self.after_log(domain);
                Some(line)
            }
            Ok(Dispatch::Unhandled) => Some(LineAction::Mask),
            Err(_) => None,
        }
    }

    /// Runs `f` (an oob handler, or a service) with an [`OobContext`], then carries out
    /// what it asked for: events it posted to domains, irq_work IRQs it raised. For a
    /// dispatch (`dispatched`), the pipeline leaves the oob section first: the replays
    /// that posting may start are in-band work, which the re-entry guard refuses in it.
    fn in_oob_context<R>(
        &mut self,
        irq: u16,
        dispatched: bool,
        f: impl FnOnce(&mut OobContext<'_>) -> R,
    ) -> R {
        let mut posted = 0u32;
        let mut context = OobContext {
            irq,
            woke: self.woke,
            pipeline: &mut self.pipeline,
            control: self.control,
            domains: &self.domains,
            posted: &mut posted,
            raised: None,
        };
        let result = f(&mut context);
        let raised = context.raised;
        if dispatched {
            let _ = self.pipeline.leave_oob(CPU);
        }
        for domain in 0..MAX_DOMAINS as u8 {
            if posted & (1 << domain) != 0 {
                self.after_log(DomainId(domain));
            }
        }
        // An irq_work IRQ the handler raised goes in-band like any other event.
        if let Some((dispatch, _)) = raised {
            let _ = self.act(Irq(irq), Ok(dispatch));
        }
        result
    }

    /// A request for a service of the oob stage.
    fn service_request(&mut self, badge: u64, label: u32, w: [u64; 6]) -> (u32, [u64; 6]) {
        let Some(caller) = Caller::from_badge(badge) else {
            return (Error::NotYours as u32, [0; 6]);
        };
        if let Caller::Domain(domain) = caller
            && self
                .domains
                .get(usize::from(domain))
                .is_none_or(Option::is_none)
        {
            return (Error::NotYours as u32, [0; 6]);
        }
        let Some(service) = self.services.iter().find(|s| s.labels.contains(&label)) else {
            return (Error::UnknownRequest as u32, [0; 6]);
        };
        let serve = service.serve;
        match self.in_oob_context(0, false, |context| serve(context, caller, label, w)) {
            Ok(words) => (0, words),
            Err(code) => (code.max(1), [0; 6]),
        }
    }

    /// Publishes "logged" in the domain's stall word; replays at once if the domain turns
    /// out to be unstalled (it may have missed the flag: the Dekker argument in
    /// `pipeline::stall_page`).
    fn after_log(&mut self, domain: DomainId) {
        let after = self
            .page(domain)
            .map(|page| page.stall[usize::from(CPU.0)].log_posted());
        if after == Some(AfterLog::ReplayNow) {
            self.mirror(domain);
            if self.replay(domain) > 0 {
                self.signal(domain);
            }
        }
    }

    /// Moves the domain's log into its event ring, in arrival order; returns how many.
    fn replay(&mut self, domain: DomainId) -> u64 {
        let Ok(cap) = self.pipeline.stall_cap(domain) else {
            return 0;
        };
        let room = self.page(domain).map_or(0, |page| page.events.room());
        let mut events = [Event { irq: 0, count: 0 }; irq_protocol::EVENT_SLOTS];
        let mut taken = 0;
        if let Ok(mut replay) = self.pipeline.sync(cap, CPU) {
            while taken < room {
                let Some(entry) = replay.next() else { break };
                events[taken] = Event {
                    irq: entry.irq.0,
                    count: entry.count,
                };
                taken += 1;
            }
        }
        if let Some(stats) = self.domain_stats.get_mut(usize::from(domain.0)) {
            stats[2] += events[..taken]
                .iter()
                .map(|e| u64::from(e.count))
                .sum::<u64>();
        }
        let empty = self.pipeline.log_len(domain, CPU) == 0;
        if let Some(page) = self.page(domain) {
            for event in &events[..taken] {
                page.events.push(*event);
            }
            if empty {
                page.stall[usize::from(CPU.0)].log_drained();
            }
        }
        taken as u64
    }

    fn signal(&self, domain: DomainId) {
        if let Some(link) = self
            .domains
            .get(usize::from(domain.0))
            .and_then(Option::as_ref)
        {
            let _ = link.events.signal();
        }
    }

    /// Handles one request; returns the reply's label (0 = done) and words.
    fn request(&mut self, domain: DomainId, label: u32, w: [u64; 6]) -> (u32, [u64; 6]) {
        match self.serve_request(domain, label, w) {
            Ok(words) => (0, words),
            Err(error) => (error as u32, [0; 6]),
        }
    }

    fn serve_request(
        &mut self,
        domain: DomainId,
        label: u32,
        w: [u64; 6],
    ) -> Result<[u64; 6], Error> {
        if self
            .domains
            .get(usize::from(domain.0))
            .is_none_or(Option::is_none)
        {
            return Err(Error::NotYours);
        }
        let request = Request::from_code(label).ok_or(Error::UnknownRequest)?;
        let irq = Irq(u16::try_from(w[0]).map_err(|_| Error::BadArgument)?);
        let mut reply = [0; 6];
        match request {
            Request::Attach => {
                let line = irq.0;
                let trigger = if w[1] == 1 {
                    Trigger::Edge
                } else {
                    Trigger::Level
                };
                if usize::from(line) >= pipeline::HW_IRQS as usize
                    || u32::from(line) >= sluice::start_info().irq_lines
                {
                    return Err(Error::BadArgument);
                }
                if self.granted[usize::from(line)] != Some(domain) {
                    return Err(Error::NotYours);
                }
                if self.line_owner[usize::from(line)].is_some() {
                    return Err(Error::Busy);
                }
                // A line given back while events of it were still logged keeps its slot
                // until they replay; the same trigger may take it again.
                if self.pipeline.attach(CPU, irq, trigger).is_err()
                    && self.pipeline.trigger(irq) != Some(trigger)
                {
                    return Err(Error::Busy);
                }
                // The trigger is set while the line is still masked.
                control::configure(self.control, line, trigger == Trigger::Edge)
                    .map_err(|_| Error::BadArgument)?;
                let switched = self
                    .pipeline
                    .switch_inband(CPU, irq, domain)
                    .map_err(|_| Error::Pipeline)?;
                self.line_owner[usize::from(line)] = Some(domain);
                // Unmasks it, once: a line already asserted fires at once, and the kernel
                // masks it on the way; a second unmask here would let it fire twice.
                self.apply_switch(irq, switched);
            }
            Request::Detach => {
                self.check_owner(domain, irq)?;
                self.give_back(irq)?;
            }
            Request::Reset => reply[0] = self.reset(domain)?,
            Request::Sync => {
                self.domain_stats[usize::from(domain.0)][3] += 1;
                self.mirror(domain);
                reply[0] = self.replay(domain);
            }
            Request::Ack => {
                self.check_owner(domain, irq)?;
                let cap = self
                    .pipeline
                    .stall_cap(domain)
                    .map_err(|_| Error::Pipeline)?;
                let unmask = self
                    .pipeline
                    .ack(cap, CPU, irq)
                    .map_err(|_| Error::Pipeline)?;
                let _ = self.pipeline.mask_ended(irq, sluice::sys::counter());
                let _ = control::unmask(self.control, unmask.0.0);
            }
            Request::AllocSynthetic => {
                let synthetic = self
                    .pipeline
                    .alloc_synthetic(CPU)
                    .map_err(|_| Error::Exhausted)?;
                let _ = self
                    .pipeline
                    .switch_inband(CPU, synthetic, domain)
                    .map_err(|_| Error::Pipeline)?;
                self.synthetic_owner[usize::from(synthetic.0 - pipeline::SYNTHETIC_BASE)] =
                    Some(domain);
                reply[0] = u64::from(synthetic.0);
            }
            Request::Inject => {
                self.check_owner(domain, irq)?;
                if !irq.is_synthetic() {
                    return Err(Error::BadArgument);
                }
                self.mirror_for(irq);
                let dispatch = self.pipeline.inject(CPU, irq);
                // A synthetic IRQ has no line at the controller: the line action is moot.
                let _ = self.act(irq, dispatch).ok_or(Error::Pipeline)?;
            }
            Request::SwitchOob => {
                self.check_owner(domain, irq)?;
                let handler = u16::try_from(w[1])
                    .ok()
                    .filter(|&h| usize::from(h) < self.handlers.len())
                    .ok_or(Error::BadArgument)?;
                let switched = self
                    .pipeline
                    .switch_oob(CPU, irq, HandlerId(handler))
                    .map_err(|_| Error::Pipeline)?;
                self.apply_switch(irq, switched);
            }
            Request::SwitchInband => {
                self.check_owner(domain, irq)?;
                let switched = self
                    .pipeline
                    .switch_inband(CPU, irq, domain)
                    .map_err(|_| Error::Pipeline)?;
                self.apply_switch(irq, switched);
            }
            Request::IsOob => reply[0] = u64::from(self.pipeline.is_oob(irq)),
            Request::IrqWorkSetup => {
                let work = self
                    .pipeline
                    .irq_work_setup(CPU, domain)
                    .map_err(|_| Error::Exhausted)?;
                self.synthetic_owner[usize::from(work.0 - pipeline::SYNTHETIC_BASE)] = Some(domain);
                reply[0] = u64::from(work.0);
            }
            Request::IrqWorkRun => {
                let d = usize::from(domain.0);
                if self.work_stash[d].1 == 0 {
                    let cap = self
                        .pipeline
                        .stall_cap(domain)
                        .map_err(|_| Error::Pipeline)?;
                    let batch = self
                        .pipeline
                        .irq_work_run(cap, CPU)
                        .map_err(|_| Error::Pipeline)?;
                    for item in &batch {
                        let (items, len) = &mut self.work_stash[d];
                        items[*len] = item.0;
                        *len += 1;
                    }
                }
                let (items, len) = &mut self.work_stash[d];
                let taken = (*len).min(5);
                reply[0] = taken as u64;
                for (slot, item) in reply[1..=taken].iter_mut().zip(items.iter()) {
                    *slot = u64::from(*item);
                }
                items.copy_within(taken..*len, 0);
                *len -= taken;
            }
            Request::DomainStats => {
                reply[..4].copy_from_slice(&self.domain_stats[usize::from(domain.0)])
            }
            Request::Diagnostics => {
                reply[0] = self.pipeline.reentry_attempts(CPU);
                reply[1] = self.pipeline.spurious();
                reply[2] = self.ring.read(2).unwrap_or(0);
            }
            Request::Stats => {
                let stats = self.pipeline.stats(irq).ok_or(Error::BadArgument)?;
                reply = if w[1] == 1 {
                    [stats.masked_time, stats.unhandled, 0, 0, 0, 0]
                } else {
                    [
                        stats.received,
                        stats.oob_handled,
                        stats.delivered,
                        stats.logged,
                        stats.replayed,
                        stats.coalesced,
                    ]
                };
            }
        }
        Ok(reply)
    }

    /// `Request::Reset`: `domain` starts afresh (its task was restarted). Its logged
    /// events and queued irq_work items are discarded, not replayed: they belong to the
    /// incarnation that died, whose device state the new one sets up again. Returns how
    /// many events were discarded.
    fn reset(&mut self, domain: DomainId) -> Result<u64, Error> {
        self.mirror(domain);
        let cap = self
            .pipeline
            .stall_cap(domain)
            .map_err(|_| Error::Pipeline)?;
        // Refused while the domain is stalled: the log stays for its unstall.
        let mut discarded = self
            .pipeline
            .sync(cap, CPU)
            .map_err(|_| Error::Pipeline)?
            .map(|entry| u64::from(entry.count))
            .sum::<u64>();
        if let Some(page) = self.page(domain) {
            page.stall[usize::from(CPU.0)].log_drained();
        }
        let d = usize::from(domain.0);
        discarded += self.work_stash[d].1 as u64;
        self.work_stash[d].1 = 0;
        // Each run takes a whole queue's worth; the bound only guards against a queue that
        // never empties.
        for _ in 0..=pipeline::IRQ_WORK_ITEMS {
            match self.pipeline.irq_work_run(cap, CPU) {
                Ok(batch) if !batch.is_empty() => discarded += batch.len() as u64,
                _ => break,
            }
        }
        for line in 0..pipeline::HW_IRQS {
            if self.line_owner[usize::from(line)] == Some(domain) {
                let _ = self.give_back(Irq(line));
            }
        }
        for n in 0..pipeline::SYNTHETIC_IRQS {
            if self.synthetic_owner[usize::from(n)] == Some(domain) {
                let irq = Irq(pipeline::SYNTHETIC_BASE + n);
                let _ = self.give_back(irq);
                let _ = self.pipeline.free_synthetic(CPU, irq);
                self.synthetic_owner[usize::from(n)] = None;
            }
        }
        Ok(discarded)
    }

    /// `free_irq`: takes `irq` from its owner. A hardware line also loses its owner here
    /// and its pipeline slot, unless events of it are still logged: then the slot waits
    /// for them to replay (see `Attach`). A synthetic IRQ stays allocated to its domain.
    fn give_back(&mut self, irq: Irq) -> Result<(), Error> {
        let switched = self
            .pipeline
            .release(CPU, irq)
            .map_err(|_| Error::Pipeline)?;
        self.apply_switch(irq, switched);
        if !irq.is_synthetic() {
            self.line_owner[usize::from(irq.0)] = None;
            let _ = self.pipeline.detach(CPU, irq);
        }
        Ok(())
    }

    /// Carries out a change of a line's mode: the action at the controller, and the oob
    /// handler it retired, if any, reclaimed at once (one CPU: no dispatch can still be
    /// running it).
    fn apply_switch(&mut self, irq: Irq, switched: pipeline::Switched<MAX_CPUS>) {
        self.apply(irq.0, switched.line);
        if let Some(retired) = switched.retired {
            let _ = self.pipeline.reclaim(retired);
        }
    }

    /// A domain may act on a line it attached or a synthetic IRQ it allocated.
    fn check_owner(&self, domain: DomainId, irq: Irq) -> Result<(), Error> {
        let owner = if irq.is_synthetic() {
            self.synthetic_owner
                .get(usize::from(irq.0.wrapping_sub(pipeline::SYNTHETIC_BASE)))
                .copied()
                .flatten()
        } else {
            self.line_owner.get(usize::from(irq.0)).copied().flatten()
        };
        if owner == Some(domain) {
            Ok(())
        } else {
            Err(Error::NotYours)
        }
    }

    /// Applies a line action to a hardware line (synthetic IRQs have no line).
    fn apply(&self, line: u16, action: LineAction) {
        if line >= pipeline::HW_IRQS {
            return;
        }
        let _ = match action {
            LineAction::Keep => Ok(()),
            LineAction::Unmask => control::unmask(self.control, line),
            LineAction::Mask | LineAction::MaskUntilAck => control::mask(self.control, line),
        };
    }
}

/// The loop: one `Recv` waits for a request or for interrupts (bound notification).
fn serve(requests: Cap<Endpoint>) -> ! {
    let slot = u64::from(requests.slot());
    let mut out = syscall(
        Syscall::Recv,
        TrapArgs {
            x0: slot,
            ..TrapArgs::default()
        },
    );
    loop {
        let info = MessageInfo::from_raw(out.info).unwrap_or_default();
        if out.status != 0 || info.label == NOTIFICATION_LABEL {
            let woke = sluice::cycles();
            if let Some(server) = SERVER.lock().as_mut() {
                server.woke = woke;
                // A line in word 0: the kernel handed it over directly (its ring was
                // empty); whatever came after it is in the ring.
                if info.length >= 1 {
                    server.hardware_event(out.words[0] as u16);
                }
                server.drain_ring();
            }
            out = syscall(
                Syscall::Recv,
                TrapArgs {
                    x0: slot,
                    ..TrapArgs::default()
                },
            );
            continue;
        }
        let domain = DomainId(out.x8.wrapping_sub(1) as u8);
        let (label, words) = match SERVER.lock().as_mut() {
            Some(server) if info.label >= irq_protocol::SERVICE_LABEL_BASE => {
                server.service_request(out.x8, info.label, out.words)
            }
            Some(server) if (1..=MAX_DOMAINS as u64).contains(&out.x8) => {
                server.request(domain, info.label, out.words)
            }
            _ => (Error::NotYours as u32, [0; 6]),
        };
        let reply = TrapArgs {
            x0: slot,
            x1: MessageInfo::new(label, 6).to_raw(),
            words,
        };
        out = syscall(Syscall::ReplyRecv, reply);
    }
}
