//! The timer-server: the proxy tick device of the reference documents, as a component of
//! the oob stage.
//!
//! It alone programs the hardware timer (the EL1 physical timer, opened to this task's
//! EL0 by the manifest's `timer-access`). Clients arm absolute deadlines; the server keeps
//! them in one [`DeadlineQueue`] and programs the comparator for the earliest. When the
//! timer interrupt arrives, [`HANDLER`] runs in the oob stage, at once, whatever any
//! in-band domain is doing, and hands out every expiry:
//!
//! - to an **oob client** (a real-time task) straight from the oob stage: the expiry goes
//!   into the client's status page, then its wake notification is signalled; the client
//!   runs as soon as the oob stage is idle, never after in-band work;
//! - to an **in-band domain** through the pipeline: the timer's synthetic IRQ is posted to
//!   the domain (`irq_post_inband`), so it is delivered at once when the domain is
//!   unstalled and logged, then replayed on unstall, while it is stalled.
//!
//! Periodic timers never drift (deadline `n` is `first + n * period`, from the queue);
//! deadlines that passed while an expiry was not yet served are counted as overruns and
//! reported in the status, never hidden.
//!
//! Link it into the oob stage's program with [`HANDLER`] and [`SERVICE`]:
//!
//! ```ignore
//! static HANDLERS: [OobHandler; 1] = [timer_server::HANDLER];
//! static SERVICES: [Service; 1] = [timer_server::SERVICE];
//! irq_server::run_stage(Stage { handlers: &HANDLERS, services: &SERVICES })
//! ```
//!
//! Capabilities it looks for in the oob stage's task: per oob client `n`,
//! `timer-wake{n}` (the client's wake notification, write) and `timer-status{n}` (the
//! client's status page, read-write); oob client `n` calls with the irq-server endpoint
//! badged `CLIENT_BADGE_BASE + n`.
#![no_std]
#![deny(unsafe_code)]

use deadline_queue::{Class, Client, DeadlineQueue, Expiry, TimerId};
use irq_protocol::{MAX_CLIENTS, MAX_DOMAINS};
use irq_server::{Caller, Line, OobContext, OobHandler, Service};
use sluice::{Cap, Frame, Mapping, Notification, abi::layout, cap};
use timer_protocol::{LABELS, StatusSlot, TIMERS_PER_CLIENT, TimerError, TimerRequest};

/// Clients: the domains first, then the oob clients.
const CLIENTS: usize = MAX_DOMAINS + MAX_CLIENTS;
/// Every client's timers, in one queue: client `c`'s timer `t` is slot `c * 4 + t`.
const TIMERS: usize = CLIENTS * TIMERS_PER_CLIENT;

/// Where the status page of oob client `n` is mapped in the oob stage: after the pages the
/// irq-server maps (its ring and one per domain), from the top of the shared window down.
const fn status_page_va(n: usize) -> u64 {
    layout::SHARED_MAP_BASE + 0x40_0000 + 0x1000 * n as u64
}

/// The oob handler on the board's timer line.
pub const HANDLER: OobHandler = OobHandler {
    name: "timer-server",
    line: Line::BoardTimer,
    handle: on_timer_interrupt,
};

/// The request service (labels `timer_protocol::LABELS`).
pub const SERVICE: Service = Service {
    name: "timer-server",
    labels: LABELS,
    start,
    serve,
};

/// The counters of [`TimerRequest::Stats`].
#[derive(Clone, Copy, Debug, Default)]
struct Counters {
    interrupts: u64,
    oob_expiries: u64,
    inband_expiries: u64,
    overruns: u64,
    worst_lateness: u64,
    programmed: u64,
}

/// Per timer: what its expiries did so far, and where an in-band one posts.
#[derive(Clone, Copy, Debug, Default)]
struct TimerRecord {
    expiries: u64,
    overruns: u64,
    last_deadline: u64,
    /// In-band timers: the synthetic IRQ each expiry raises.
    irq: u16,
}

struct OobClient {
    wake: Cap<Notification>,
    status: Mapping,
}

struct TimerServer {
    queue: DeadlineQueue<TIMERS>,
    records: [TimerRecord; TIMERS],
    oob_clients: [Option<OobClient>; MAX_CLIENTS],
    /// What the comparator holds (`None`: the timer is stopped).
    programmed: Option<u64>,
    /// Oob timers armed now: while there is one, deep idle is vetoed.
    oob_armed: u32,
    /// Whether the kernel holds the veto now.
    idle_vetoed: bool,
    counters: Counters,
}

/// Touched only by the oob stage's thread (handler and requests alike), so the lock is
/// never contended; it is there to make the single-thread use checkable.
static STATE: spin::Mutex<Option<TimerServer>> = spin::Mutex::new(None);

fn client_index(caller: Caller) -> Option<usize> {
    match caller {
        Caller::Domain(d) if usize::from(d) < MAX_DOMAINS => Some(usize::from(d)),
        Caller::Client(n) if usize::from(n) < MAX_CLIENTS => Some(MAX_DOMAINS + usize::from(n)),
        _ => None,
    }
}

fn slot_name<'b>(buffer: &'b mut [u8; 16], prefix: &str, n: usize) -> &'b str {
    let mut len = prefix.len().min(13);
    buffer[..len].copy_from_slice(&prefix.as_bytes()[..len]);
    if n >= 10 {
        buffer[len] = b'0' + (n / 10) as u8;
        len += 1;
    }
    buffer[len] = b'0' + (n % 10) as u8;
    core::str::from_utf8(&buffer[..=len]).unwrap_or("")
}

fn start(_: &mut OobContext<'_>) {
    let mut queue = DeadlineQueue::new();
    for client in 0..CLIENTS {
        let class = if client < MAX_DOMAINS {
            Class::InBand
        } else {
            Class::Oob
        };
        for timer in 0..TIMERS_PER_CLIENT {
            let id = TimerId((client * TIMERS_PER_CLIENT + timer) as u16);
            let _ = queue.open(
                id,
                Client {
                    owner: client as u32,
                    class,
                },
            );
        }
    }
    let mut oob_clients = [const { None }; MAX_CLIENTS];
    for (n, slot) in oob_clients.iter_mut().enumerate() {
        let (mut wake_name, mut status_name) = ([0; 16], [0; 16]);
        let wake = cap::<Notification>(slot_name(&mut wake_name, "timer-wake", n));
        let status = cap::<Frame>(slot_name(&mut status_name, "timer-status", n));
        if let (Ok(wake), Ok(status)) = (wake, status) {
            match status.map_view(status_page_va(n), true) {
                Ok(status) => *slot = Some(OobClient { wake, status }),
                Err(error) => sluice::println!(
                    "timer-server: cannot map the status page of oob client {n}: {}",
                    error.name()
                ),
            }
        }
    }
    sluice::timer::stop();
    *STATE.lock() = Some(TimerServer {
        queue,
        records: [TimerRecord::default(); TIMERS],
        oob_clients,
        programmed: None,
        oob_armed: 0,
        idle_vetoed: false,
        counters: Counters::default(),
    });
}

/// The timer interrupt, in the oob stage: hands out every expiry, then programs the
/// comparator for the next deadline (which also drops the level line before the
/// irq-server unmasks it).
fn on_timer_interrupt(context: &mut OobContext<'_>) {
    let now = context.now();
    let mut guard = STATE.lock();
    let Some(server) = guard.as_mut() else {
        sluice::timer::stop();
        return;
    };
    server.counters.interrupts += 1;
    server.expire(context, now);
    server.program();
    server.update_idle_veto(context);
}

impl TimerServer {
    fn expire(&mut self, context: &mut OobContext<'_>, now: u64) {
        let Self {
            queue,
            records,
            oob_clients,
            counters,
            oob_armed,
            ..
        } = self;
        if let Some(first) = queue.next_deadline() {
            counters.worst_lateness = counters.worst_lateness.max(now.saturating_sub(first));
        }
        for expiry in queue.expire(now) {
            let record = &mut records[expiry.id.get()];
            record.expiries += 1;
            record.overruns += expiry.overruns;
            record.last_deadline = expiry.deadline;
            counters.overruns += expiry.overruns;
            let client = expiry.owner as usize;
            if client < MAX_DOMAINS {
                counters.inband_expiries += 1;
                // Logged while the domain is stalled, delivered at once otherwise. The
                // IRQ was checked at arm time; a domain that gave it back since loses the
                // expiry, which is what it asked for.
                let _ = context.post_inband(client as u8, record.irq);
            } else if let Some(oob) = &oob_clients[client - MAX_DOMAINS] {
                counters.oob_expiries += 1;
                if expiry.next.is_none() {
                    *oob_armed = oob_armed.saturating_sub(1);
                }
                publish(&oob.status, &expiry, record);
                let _ = oob.wake.signal();
            }
        }
    }

    /// Vetoes deep idle while an oob timer is armed (an idle state that stops or delays
    /// the timer would make an oob client late), lifts the veto when none is.
    fn update_idle_veto(&mut self, context: &mut OobContext<'_>) {
        let veto = self.oob_armed > 0;
        if veto != self.idle_vetoed && context.idle_veto(veto).is_ok() {
            self.idle_vetoed = veto;
        }
    }

    /// Programs the comparator for the earliest deadline, or stops the timer.
    fn program(&mut self) {
        let next = self.queue.next_deadline();
        if next == self.programmed {
            return;
        }
        match next {
            Some(deadline) => sluice::timer::set_deadline(deadline),
            None => sluice::timer::stop(),
        }
        self.programmed = next;
        self.counters.programmed += 1;
    }

    fn arm(
        &mut self,
        context: &OobContext<'_>,
        caller: Caller,
        client: usize,
        w: [u64; 6],
    ) -> Result<(), TimerError> {
        let id = timer_id(client, w[0])?;
        let record = &mut self.records[id.get()];
        let irq = match caller {
            Caller::Domain(domain) => {
                let irq = u16::try_from(w[3]).map_err(|_| TimerError::NotYourIrq)?;
                if context.inband_owner(irq) != Some(domain) {
                    return Err(TimerError::NotYourIrq);
                }
                irq
            }
            Caller::Client(n) => {
                if self.oob_clients[usize::from(n)].is_none() {
                    return Err(TimerError::NotConnected);
                }
                0
            }
        };
        let (deadline, period) = (w[1], w[2]);
        if deadline == 0 || (period > 0 && deadline.checked_add(period).is_none()) {
            return Err(TimerError::BadDeadline);
        }
        let was_armed = self.queue.is_armed(id);
        let armed = if period == 0 {
            self.queue.arm_oneshot(id, deadline)
        } else {
            self.queue.arm_periodic(id, deadline, period)
        };
        armed.map_err(|_| TimerError::BadDeadline)?;
        if matches!(caller, Caller::Client(_)) && !was_armed {
            self.oob_armed += 1;
        }
        *record = TimerRecord {
            irq,
            ..TimerRecord::default()
        };
        if let Caller::Client(n) = caller
            && let Some(oob) = &self.oob_clients[usize::from(n)]
        {
            let local = id.get() % TIMERS_PER_CLIENT;
            for slot in [
                StatusSlot::Expiries,
                StatusSlot::Overruns,
                StatusSlot::Deadline,
            ] {
                let _ = oob.status.write(slot.word(local), 0);
            }
            let _ = oob.status.write(StatusSlot::Next.word(local), deadline);
        }
        Ok(())
    }
}

/// Writes an expiry into an oob client's status page; the count last, so a client that
/// reads it first sees the rest of the same expiry or a later one.
fn publish(status: &Mapping, expiry: &Expiry, record: &TimerRecord) {
    let local = expiry.id.get() % TIMERS_PER_CLIENT;
    let _ = status.write(StatusSlot::Deadline.word(local), expiry.deadline);
    let _ = status.write(StatusSlot::Overruns.word(local), record.overruns);
    let _ = status.write(StatusSlot::Next.word(local), expiry.next.unwrap_or(0));
    let _ = status.write(StatusSlot::Expiries.word(local), record.expiries);
}

fn timer_id(client: usize, timer: u64) -> Result<TimerId, TimerError> {
    let timer = usize::try_from(timer)
        .ok()
        .filter(|&t| t < TIMERS_PER_CLIENT)
        .ok_or(TimerError::NoSuchTimer)?;
    Ok(TimerId((client * TIMERS_PER_CLIENT + timer) as u16))
}

fn serve(
    context: &mut OobContext<'_>,
    caller: Caller,
    label: u32,
    w: [u64; 6],
) -> Result<[u64; 6], u32> {
    serve_request(context, caller, label, w).map_err(|error| error as u32)
}

fn serve_request(
    context: &mut OobContext<'_>,
    caller: Caller,
    label: u32,
    w: [u64; 6],
) -> Result<[u64; 6], TimerError> {
    let request = TimerRequest::from_code(label).ok_or(TimerError::UnknownRequest)?;
    let client = client_index(caller).ok_or(TimerError::NotAClient)?;
    let mut guard = STATE.lock();
    let server = guard.as_mut().ok_or(TimerError::NotConnected)?;
    let mut reply = [0; 6];
    match request {
        TimerRequest::Arm => server.arm(context, caller, client, w)?,
        TimerRequest::Cancel => {
            let id = timer_id(client, w[0])?;
            let was_armed = server
                .queue
                .cancel(id)
                .map_err(|_| TimerError::NoSuchTimer)?;
            if was_armed && matches!(caller, Caller::Client(_)) {
                server.oob_armed = server.oob_armed.saturating_sub(1);
            }
            reply[0] = u64::from(was_armed);
        }
        TimerRequest::Status => {
            let id = timer_id(client, w[0])?;
            let record = server.records[id.get()];
            reply[..4].copy_from_slice(&[
                record.expiries,
                record.overruns,
                record.last_deadline,
                server.queue.deadline_of(id).unwrap_or(0),
            ]);
        }
        TimerRequest::IdleStats => {
            let [deep, shallow, vetoed] = context
                .idle_veto(server.idle_vetoed)
                .map_err(|_| TimerError::NotConnected)?;
            reply[..4].copy_from_slice(&[deep, shallow, vetoed, u64::from(server.idle_vetoed)]);
        }
        TimerRequest::Stats => {
            let c = server.counters;
            reply = [
                c.interrupts,
                c.oob_expiries,
                c.inband_expiries,
                c.overruns,
                c.worst_lateness,
                c.programmed,
            ];
        }
    }
    // An arm or cancel may have changed the earliest deadline; one that has passed
    // already fires at once (the comparator raises the line when it is in the past).
    server.program();
    server.update_idle_veto(context);
    Ok(reply)
}
