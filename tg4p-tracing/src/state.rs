//! What the layer and the subscriber share: a span's state and what each of
//! `tracing`'s callbacks does with it, wherever the state is kept (the registry's
//! extensions for [`TracingLayer`](crate::TracingLayer), our own slots for
//! [`TracingSubscriber`](crate::TracingSubscriber)), and each thread's stack of
//! open enters. See the layer's module docs for what a span becomes.

use crate::fields::Fields;
use crate::sink::{self, PoolSlice, ThreadSlice};
use crate::sites::{Site, site};
use std::cell::RefCell;
use std::sync::atomic::{AtomicUsize, Ordering};
use tg4p_core::FlowId;
use tracing::Event;
use tracing::span::{Attributes, Record};

/// The recorder's state of one span.
pub(crate) struct SpanState {
    pub(crate) site: &'static Site,
    /// The key of the span's parent, if it has one.
    parent: Option<u64>,
    /// Field values given at creation (and recorded before the first enter).
    fields: Fields,
    /// Values recorded after the first enter: written on the end of the span's slice.
    recorded: Fields,
    /// How many times the span was entered.
    enters: u32,
    /// The tick of the first enter: where a pool slice begins.
    first_enter: u64,
    /// The slice of a span entered more than once, from its first enter to its close.
    pool: Option<PoolSlice>,
    /// Flows (`follows_from`) leaving this span, written on its next slice end.
    outgoing: Vec<u64>,
    /// Flows arriving at this span, written on its next slice end.
    incoming: Vec<u64>,
    /// Whether this span counts in [`PENDING`].
    pending: bool,
}

/// Spans with values or flows waiting for a slice end, and open pool slices: while
/// both are 0 (sync code without `record` or `follows_from`), exits and closes need
/// not look at the span's state. Relaxed: a count that is read late only makes an
/// exit look (a span's own updates happen under its state's lock, and a span
/// is exited on the thread that entered it).
static PENDING: AtomicUsize = AtomicUsize::new(0);
static POOLS: AtomicUsize = AtomicUsize::new(0);

/// Whether an exit may have something to write beyond a plain slice end.
#[inline]
pub(crate) fn exits_pending() -> bool {
    PENDING.load(Ordering::Relaxed) != 0
}

/// Whether a close may have something to write (a pool slice's end).
#[inline]
pub(crate) fn closes_pending() -> bool {
    POOLS.load(Ordering::Relaxed) != 0 || PENDING.load(Ordering::Relaxed) != 0
}

const NO_FIELDS: &Fields = &Fields { items: Vec::new() };

impl SpanState {
    /// The state of a span created with `attrs`, a child of span `parent`.
    #[inline]
    pub(crate) fn new(attrs: &Attributes<'_>, parent: Option<u64>) -> SpanState {
        let mut fields = Fields::default();
        if !attrs.values().is_empty() {
            attrs.record(&mut fields);
        }
        SpanState {
            site: site(attrs.metadata()),
            parent,
            fields,
            recorded: Fields::default(),
            enters: 0,
            first_enter: 0,
            pool: None,
            outgoing: Vec::new(),
            incoming: Vec::new(),
            pending: false,
        }
    }

    /// Makes this (closed) state the state of a new span created with `attrs`, in
    /// place: the vectors keep their capacity, and the site is looked up only if
    /// the callsite differs from the last span's (a slot reused by the same
    /// callsite, as in a loop, keeps it).
    #[inline]
    pub(crate) fn reset(&mut self, attrs: &Attributes<'_>, parent: Option<u64>) {
        let meta = attrs.metadata();
        if !std::ptr::eq(self.site.meta, meta) {
            self.site = site(meta);
        }
        self.parent = parent;
        self.fields.items.clear();
        if !attrs.values().is_empty() {
            attrs.record(&mut self.fields);
        }
        self.recorded.items.clear();
        self.enters = 0;
        self.first_enter = 0;
        self.outgoing.clear();
        self.incoming.clear();
        debug_assert!(self.pool.is_none() && !self.pending);
    }

    /// Counts the span in [`PENDING`] (once).
    fn mark_pending(&mut self) {
        if !self.pending {
            self.pending = true;
            PENDING.fetch_add(1, Ordering::Relaxed);
        }
    }

    fn clear_pending(&mut self) {
        if self.pending {
            self.pending = false;
            PENDING.fetch_sub(1, Ordering::Relaxed);
        }
    }

    /// `Span::record`: before the first enter the values join the begin's args,
    /// after it the end's.
    pub(crate) fn record(&mut self, values: &Record<'_>) {
        if self.enters == 0 {
            values.record(&mut self.fields);
        } else {
            values.record(&mut self.recorded);
            self.mark_pending();
        }
    }

    /// The cause's side of `follows_from`: a flow leaving this span (`key`), from
    /// the end of its slice open now, else from an instant named after it,
    /// recorded here and now. Returns the flow's id.
    pub(crate) fn flow_out(&mut self, key: u64) -> u64 {
        let flow = FlowId::new().raw();
        if self.pool.is_some() || entered_here(key) {
            self.outgoing.push(flow);
            self.mark_pending();
        } else {
            // Nothing of the cause is open here (it ran already, or runs elsewhere,
            // or never did).
            sink::instant(self.site, None, NO_FIELDS, &[flow]);
        }
        flow
    }

    /// The effect's side of `follows_from`: `flow` arrives at its next slice end.
    pub(crate) fn flow_in(&mut self, flow: u64) {
        self.incoming.push(flow);
        self.mark_pending();
    }

    /// An enter: a slice on the calling thread's track (and, at the second enter,
    /// the pool slice from the first enter on). The caller pushes it with
    /// [`push_open`] once it has let go of the state.
    ///
    /// `in_parent(key, begin)` is called at most once, to begin the pool slice
    /// under the span's parent (`key`: the one given to [`SpanState::new`], if
    /// any): it calls `begin` with the parent's pool slice, if the parent has
    /// one, so that the slice nests under it (on a child track of the parent's
    /// track).
    #[inline]
    pub(crate) fn enter<P>(&mut self, in_parent: P) -> ThreadSlice
    where
        P: FnOnce(Option<u64>, &dyn Fn(Option<&PoolSlice>) -> PoolSlice) -> PoolSlice,
    {
        if !self.site.callsite.category_on() {
            // Its target (or level) is left out by the session's category pattern.
            return ThreadSlice::off();
        }
        self.enters = self.enters.saturating_add(1);
        if self.enters == 1 {
            let (slice, tick) = sink::begin_thread_since(self.site, &self.fields);
            self.first_enter = tick;
            return slice;
        }
        if self.pool.is_none() {
            if self.first_enter == 0 {
                // The first enter saw no session (it ended, another opened since).
                self.first_enter = sink::now();
            }
            let (site, since, fields) = (self.site, self.first_enter, &self.fields);
            let begin = |parent: Option<&PoolSlice>| sink::begin_pool(site, since, fields, parent);
            let pool = in_parent(self.parent, &begin);
            self.pool = Some(pool);
            POOLS.fetch_add(1, Ordering::Relaxed);
        }
        sink::begin_thread(self.site, NO_FIELDS)
    }

    /// The span's pool slice, if it has one (for its children's).
    pub(crate) fn pool(&self) -> Option<&PoolSlice> {
        self.pool.as_ref()
    }

    /// An exit with something pending: what the end of `slice` carries.
    pub(crate) fn exit(&mut self, slice: ThreadSlice) -> ExitEnd {
        if !self.pending {
            return ExitEnd::plain(slice);
        }
        // A span with no pool slice ends its flows and later values here; one with
        // a pool slice keeps its outgoing flows and values for the pool slice's end.
        let solo = self.pool.is_none();
        let recorded = if solo && self.enters == 1 {
            std::mem::take(&mut self.recorded)
        } else {
            Fields::default()
        };
        let outgoing = if solo {
            std::mem::take(&mut self.outgoing)
        } else {
            Vec::new()
        };
        let incoming = std::mem::take(&mut self.incoming);
        if self.recorded.is_empty() && self.outgoing.is_empty() {
            self.clear_pending();
        }
        ExitEnd {
            slice,
            recorded,
            outgoing,
            incoming,
        }
    }

    /// The span closed: its pool slice (if any) ends, on the calling thread.
    pub(crate) fn close(mut self) {
        self.close_in_place();
    }

    /// [`close`](SpanState::close), leaving the state to be [`reset`](SpanState::reset).
    #[inline]
    pub(crate) fn close_in_place(&mut self) {
        self.clear_pending();
        if let Some(pool) = self.pool.take() {
            POOLS.fetch_sub(1, Ordering::Relaxed);
            sink::end_pool(pool, &self.recorded, &self.outgoing, &self.incoming);
        }
    }
}

impl Drop for SpanState {
    fn drop(&mut self) {
        // A state dropped without `close` (the registry dropping extensions): keep
        // the counts right; a pool slice's guard ends its slice by itself.
        self.clear_pending();
        if self.pool.take().is_some() {
            POOLS.fetch_sub(1, Ordering::Relaxed);
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

thread_local! {
    /// The calling thread's open enters, innermost last: (span key, its slice).
    static OPEN: RefCell<Vec<(u64, ThreadSlice)>> = const { RefCell::new(Vec::new()) };
    /// The calling thread's scratch fields for events.
    static EVENT_FIELDS: RefCell<Fields> = const { RefCell::new(Fields { items: Vec::new() }) };
}

/// Whether span `key` is entered on the calling thread now.
fn entered_here(key: u64) -> bool {
    OPEN.try_with(|open| {
        open.try_borrow()
            .is_ok_and(|open| open.iter().any(|(k, _)| *k == key))
    })
    .unwrap_or(false)
}

/// Records that span `key` is entered on this thread, with its slice.
#[inline]
pub(crate) fn push_open(key: u64, slice: ThreadSlice) {
    let _ = OPEN.try_with(|open| {
        if let Ok(mut open) = open.try_borrow_mut() {
            open.push((key, slice));
        }
    });
}

/// The slice of span `key`'s innermost enter on this thread, taken off the stack;
/// `None` if the span is not entered here (entered with no session open).
#[inline]
pub(crate) fn pop_open(key: u64) -> Option<ThreadSlice> {
    OPEN.try_with(|open| {
        let mut open = open.try_borrow_mut().ok()?;
        // Almost always the innermost: exits mirror enters.
        if open.last().is_some_and(|(k, _)| *k == key) {
            return open.pop().map(|(_, s)| s);
        }
        let i = open.iter().rposition(|(k, _)| *k == key)?;
        Some(open.remove(i).1)
    })
    .ok()
    .flatten()
}

/// The key of the innermost span entered on this thread (while recording).
pub(crate) fn innermost_open() -> Option<u64> {
    OPEN.try_with(|open| open.try_borrow().ok()?.last().map(|(k, _)| *k))
        .ok()
        .flatten()
}

/// An event: an instant on the calling thread's track.
pub(crate) fn event(event: &Event<'_>) {
    let site = site(event.metadata());
    if !site.callsite.category_on() {
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
