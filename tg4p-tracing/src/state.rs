//! What the layer and the subscriber share: what each of `tracing`'s callbacks
//! does with a span's state, kept in slots (`slots.rs`) that both use (the
//! subscriber's span ids are slot keys; the layer maps the registry's ids to them
//! in `index.rs`), and each thread's stack of open enters and free slots. See the
//! layer's module docs for what a span becomes.

use crate::fields::Fields;
use crate::sink::{self, PoolSlice, ThreadSlice};
use crate::sites::{Site, site};
use crate::slots::{self, FIELDS, LocalFree, PENDING, POOL, Recorded, SlotRef};
use std::cell::RefCell;
use std::sync::atomic::{AtomicUsize, Ordering};
use tg4p_core::FlowId;
use tracing::Event;
use tracing::span::{Attributes, Record};

/// The part of a span's state behind its slot's lock: what only spans with field
/// values, values recorded later, flows or a pool slice have. (What every span
/// has is in atomics of the slot: see `slots.rs`.)
pub(crate) struct SpanState {
    /// Field values given at creation (and recorded before the first enter).
    pub(crate) fields: Fields,
    /// Values recorded after the first enter: written on the end of the span's slice.
    recorded: Fields,
    /// The slice of a span entered more than once, from its first enter to its close.
    pool: Option<PoolSlice>,
    /// Flows (`follows_from`) leaving this span, written on its next slice end.
    outgoing: Vec<u64>,
    /// Flows arriving at this span, written on its next slice end.
    incoming: Vec<u64>,
    /// Whether this span counts in [`WAITING`].
    pending: bool,
}

/// Spans with values or flows waiting for a slice end: while 0 (sync code without
/// `record` or `follows_from`), exits need not look at the span's state. Relaxed:
/// a count that is read late only makes an exit look (a span's own updates happen
/// under its lock, and a span is exited on the thread that entered it).
static WAITING: AtomicUsize = AtomicUsize::new(0);

/// Whether an exit may have something to write beyond a plain slice end.
#[inline]
pub(crate) fn exits_pending() -> bool {
    WAITING.load(Ordering::Relaxed) != 0
}

const NO_FIELDS: &Fields = &Fields { items: Vec::new() };

/// A new span, created with `attrs` while a session is open, a child of span
/// `parent` (a key, 0 if none; `None`: the innermost span entered on this
/// thread, if any): its key (`None` only with 2^32 spans open).
#[inline]
pub(crate) fn new_span(attrs: &Attributes<'_>, parent: Option<u64>) -> Option<u64> {
    let (parent, free) = with_thread(|t| {
        let parent = parent.unwrap_or_else(|| t.open.last().map_or(0, |o| o.key));
        (parent, t.free.take())
    })
    .unwrap_or((parent.unwrap_or(0), None));
    let fields = (!attrs.metadata().fields().is_empty() && !attrs.values().is_empty())
        .then_some(|state: &mut SpanState| attrs.record(&mut state.fields));
    slots::insert(
        free,
        Some(Recorded {
            site: site(attrs.metadata()),
            parent,
            fields,
        }),
    )
}

/// A new span created with no session open: its key (`None` only with 2^32
/// spans open).
#[inline]
pub(crate) fn new_unrecorded_span() -> Option<u64> {
    let free = with_thread(|t| t.free.take()).flatten();
    slots::insert::<fn(&mut SpanState)>(free, None)
}

/// An enter of span `r`: a slice on the calling thread's track (and, at the
/// second enter, the pool slice from the first enter on). `None` if the span is
/// not recorded. The caller pushes the slice with [`push_open`].
#[inline]
pub(crate) fn enter(r: SlotRef) -> Option<ThreadSlice> {
    let site = r.site()?;
    if !site.callsite().category_on() {
        // Its target (or level) is left out by the session's category pattern.
        return Some(ThreadSlice::off());
    }
    if r.count_enter() != 0 {
        return Some(enter_again(r, site));
    }
    let (slice, tick) = if r.flags() & FIELDS != 0 {
        first_enter_with_fields(r, site)
    } else {
        sink::begin_thread_since(site, NO_FIELDS)
    };
    r.set_first_enter(tick);
    Some(slice)
}

/// The first enter of span `r`, which has field values (out of line: the common
/// span path stays small).
#[inline(never)]
fn first_enter_with_fields(r: SlotRef, site: &'static Site) -> (ThreadSlice, u64) {
    match r.lock() {
        Some(l) => sink::begin_thread_since(site, &l.state.fields),
        None => sink::begin_thread_since(site, NO_FIELDS), // closed meanwhile
    }
}

/// A later enter of span `r`: its pool slice begins at the second (out of line).
#[cold]
#[inline(never)]
fn enter_again(r: SlotRef, site: &'static Site) -> ThreadSlice {
    if r.flags() & POOL == 0 {
        begin_pool(r, site);
    }
    sink::begin_thread(site, NO_FIELDS)
}

/// The second enter of span `r`: its pool slice, from its first enter on, under
/// its parent's pool slice if the parent has one (on a child track of the
/// parent's track). The parent's place is copied out under the parent's lock
/// first: no thread ever holds two spans' locks, so none waits on another's.
#[cold]
fn begin_pool(r: SlotRef, site: &'static Site) {
    let parent = slots::get(r.parent())
        .filter(|p| p.key() != r.key() && p.flags() & POOL != 0)
        .and_then(|p| p.lock()?.state.pool.as_ref().map(PoolSlice::place));
    let Some(mut l) = r.lock() else {
        return; // closed meanwhile
    };
    if l.state.pool.is_some() {
        return; // another thread's enter began it meanwhile
    }
    let mut since = r.first_enter();
    if since == 0 {
        // The first enter saw no session (it ended, another opened since), or
        // runs on another thread at this moment.
        since = sink::now();
    }
    l.state.pool = Some(sink::begin_pool(site, since, &l.state.fields, parent));
    r.set_flags(POOL);
}

/// An exit of span `r` with something pending: what the end of `slice` carries.
pub(crate) fn exit(r: SlotRef, slice: ThreadSlice) -> ExitEnd {
    if r.flags() & PENDING == 0 {
        return ExitEnd::plain(slice);
    }
    let Some(mut l) = r.lock() else {
        return ExitEnd::plain(slice);
    };
    let state = &mut l.state;
    if !state.pending {
        return ExitEnd::plain(slice);
    }
    // A span with no pool slice ends its flows and later values here; one with
    // a pool slice keeps its outgoing flows and values for the pool slice's end.
    let solo = state.pool.is_none();
    let recorded = if solo && r.enters() == 1 {
        std::mem::take(&mut state.recorded)
    } else {
        Fields::default()
    };
    let outgoing = if solo {
        std::mem::take(&mut state.outgoing)
    } else {
        Vec::new()
    };
    let incoming = std::mem::take(&mut state.incoming);
    if state.recorded.is_empty() && state.outgoing.is_empty() {
        state.clear_pending(&r);
    }
    ExitEnd {
        slice,
        recorded,
        outgoing,
        incoming,
    }
}

/// `Span::record` on span `r`: before the first enter the values join the
/// begin's args, after it the end's.
pub(crate) fn record(r: SlotRef, values: &Record<'_>) {
    if r.site().is_none() {
        return;
    }
    let Some(mut l) = r.lock() else {
        return; // closed meanwhile (on another thread)
    };
    if r.enters() == 0 {
        values.record(&mut l.state.fields);
        r.set_flags(FIELDS);
    } else {
        values.record(&mut l.state.recorded);
        l.state.mark_pending(&r);
    }
}

/// `follows_from`: a flow from span `cause` to span `effect`. It leaves from the
/// end of the cause's slice open now, else from an instant named after the cause,
/// recorded here and now; it arrives at the end of the effect's next slice.
pub(crate) fn follows_from(effect: SlotRef, cause: SlotRef) {
    let (Some(_), Some(cause_site)) = (effect.site(), cause.site()) else {
        return;
    };
    let flow = FlowId::new().raw();
    // The arrival first: an effect that closed meanwhile (on another thread)
    // takes no flow, and then none leaves. One span's lock at a time.
    {
        let Some(mut l) = effect.lock() else {
            return;
        };
        l.state.incoming.push(flow);
        l.state.mark_pending(&effect);
    }
    let from_slice = match cause.lock() {
        Some(mut l) if l.state.pool.is_some() || entered_here(cause.key()) => {
            l.state.outgoing.push(flow);
            l.state.mark_pending(&cause);
            true
        }
        _ => false,
    };
    if !from_slice {
        // Nothing of the cause is open here (it ran already, or runs
        // elsewhere, or never did, or it closed meanwhile).
        sink::instant(cause_site, None, NO_FIELDS, &[flow]);
    }
}

impl SpanState {
    pub(crate) const fn new() -> SpanState {
        SpanState {
            fields: Fields::new(),
            recorded: Fields::new(),
            pool: None,
            outgoing: Vec::new(),
            incoming: Vec::new(),
            pending: false,
        }
    }

    /// Makes this state (of a span closed, or of none) empty for a new span, in
    /// place: the vectors keep their capacity.
    pub(crate) fn reset(&mut self) {
        if self.pending {
            self.pending = false;
            WAITING.fetch_sub(1, Ordering::Relaxed);
        }
        // A pool slice left open (not possible through `close`) ends as its
        // guard drops.
        self.pool = None;
        self.fields.items.clear();
        self.recorded.items.clear();
        self.outgoing.clear();
        self.incoming.clear();
    }

    /// Counts the span in [`WAITING`] (once).
    fn mark_pending(&mut self, r: &SlotRef) {
        if !self.pending {
            self.pending = true;
            WAITING.fetch_add(1, Ordering::Relaxed);
            r.set_flags(PENDING);
        }
    }

    fn clear_pending(&mut self, r: &SlotRef) {
        if self.pending {
            self.pending = false;
            WAITING.fetch_sub(1, Ordering::Relaxed);
            r.clear_flags(PENDING);
        }
    }

    /// The span closed: its pool slice (if any) ends, on the calling thread.
    pub(crate) fn close(&mut self, r: &SlotRef) {
        self.clear_pending(r);
        if let Some(pool) = self.pool.take() {
            r.clear_flags(POOL);
            sink::end_pool(pool, &self.recorded, &self.outgoing, &self.incoming);
        }
    }
}

/// The end of a thread-track slice, with what it carries; written by
/// [`ExitEnd::write`] once the span's state is let go.
pub(crate) struct ExitEnd {
    slice: ThreadSlice,
    recorded: Fields,
    outgoing: Vec<u64>,
    incoming: Vec<u64>,
}

impl ExitEnd {
    #[inline]
    pub(crate) fn plain(slice: ThreadSlice) -> ExitEnd {
        ExitEnd {
            slice,
            recorded: Fields::default(),
            outgoing: Vec::new(),
            incoming: Vec::new(),
        }
    }

    #[inline]
    pub(crate) fn write(self) {
        sink::end_thread(self.slice, &self.recorded, &self.outgoing, &self.incoming)
    }
}

/// A span entered on a thread: its id (tracing's), its key (ours) and its slice.
struct Open {
    id: u64,
    key: u64,
    slice: ThreadSlice,
}

/// What this crate keeps per thread.
pub(crate) struct Thread {
    /// The thread's open enters, innermost last.
    open: Vec<Open>,
    /// The thread's free slots.
    pub(crate) free: LocalFree,
}

thread_local! {
    static THREAD: RefCell<Thread> = const {
        RefCell::new(Thread {
            open: Vec::new(),
            free: LocalFree::new(),
        })
    };
    /// The calling thread's scratch fields for events.
    static EVENT_FIELDS: RefCell<Fields> = const { RefCell::new(Fields { items: Vec::new() }) };
}

/// Runs `f` on the calling thread's state (`None` while the thread exits).
#[inline]
pub(crate) fn with_thread<R>(f: impl FnOnce(&mut Thread) -> R) -> Option<R> {
    THREAD
        .try_with(|t| Some(f(&mut *t.try_borrow_mut().ok()?)))
        .ok()
        .flatten()
}

/// Whether span `key` is entered on the calling thread now.
fn entered_here(key: u64) -> bool {
    with_thread(|t| t.open.iter().any(|o| o.key == key)).unwrap_or(false)
}

/// Records that span `id` (our `key`) is entered on this thread, with its slice.
#[inline]
pub(crate) fn push_open(id: u64, key: u64, slice: ThreadSlice) {
    with_thread(|t| t.open.push(Open { id, key, slice }));
}

/// The key and slice of span `id`'s innermost enter on this thread, taken off the
/// stack; `None` if the span is not entered here (entered with no session open).
#[inline]
pub(crate) fn pop_open(id: u64) -> Option<(u64, ThreadSlice)> {
    with_thread(|t| {
        // Almost always the innermost: exits mirror enters.
        let o = if t.open.last().is_some_and(|o| o.id == id) {
            t.open.pop()?
        } else {
            let i = t.open.iter().rposition(|o| o.id == id)?;
            t.open.remove(i)
        };
        Some((o.key, o.slice))
    })
    .flatten()
}

/// The id and key of the innermost span entered on this thread (while recording).
#[inline]
pub(crate) fn innermost_open() -> Option<(u64, u64)> {
    with_thread(|t| t.open.last().map(|o| (o.id, o.key))).flatten()
}

/// An event: an instant on the calling thread's track.
pub(crate) fn event(event: &Event<'_>) {
    let site = site(event.metadata());
    if !site.callsite().category_on() {
        return; // its target (or level) is left out by the session's category pattern
    }
    let record = |fields: &mut Fields| {
        fields.items.clear();
        event.record(fields);
        let message = fields.take_message();
        // The level is in the site's category: no arg per event.
        sink::instant(site, message.as_deref(), fields, &[]);
    };
    // The thread's scratch fields keep their capacity: no allocation per event
    // (a fresh one if an event is recorded from inside a field's formatting).
    let reused = EVENT_FIELDS
        .try_with(|f| f.try_borrow_mut().map(|mut f| record(&mut f)).is_ok())
        .unwrap_or(false);
    if !reused {
        record(&mut Fields::default());
    }
}
