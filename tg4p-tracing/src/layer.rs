//! The layer: `tracing`'s callbacks turned into tg4p slices and instants.
//!
//! # What a span or event becomes
//! - A span's slice is named after the span, in the span's target as category, at
//!   its callsite's source location (file, line, module path); its fields are typed
//!   args: `i64`/`u64` (and `i128`/`u128` that fit) as ints, `f64` as doubles,
//!   `bool` as bools, `&str` as strings, `?x`/`%x` and errors as their (bounded)
//!   text. Values recorded later (`Span::record`) are args of the slice's end,
//!   which trace_processor merges into the slice's args. The span's level is not
//!   recorded (filter by level with a per-layer filter).
//! - An event is an instant named by its message (else by its callsite's name),
//!   in its target as category, with its fields as typed args and its level as the
//!   `level` arg.
//!
//! - Targets are categories, so the session's category pattern
//!   (`SessionBuilder::categories`, `TG4P_CATEGORIES`) selects them: a span or
//!   event whose target it leaves out records nothing (`"my_app*,-my_app::noisy"`).
//!
//! # Where a span goes
//! - Every enter..exit of a span is a slice on the entering thread's track: it
//!   nests in whatever is open on that thread (`#[trace]` functions, enclosing
//!   spans) and holds what runs inside (events, `#[trace]` functions, inner spans).
//!   A span entered once (a sync function under `#[instrument]`,
//!   `span.in_scope(..)`) is that one slice.
//! - A span entered a second time (an `.instrument()`ed future polled again, a span
//!   re-entered after an `.await`, a span entered on several threads) also gets one
//!   slice for its whole life, from its first enter to its close, on a track of a
//!   pool per callsite (children of the process track, named after the span, reused
//!   when free), like `#[trace]`'s traced futures; its fields are on that slice's
//!   begin, values recorded after its first enter on its end. Its enters are the
//!   slices on the threads that ran it ("polls").
//! - A span that is never entered records nothing (its creation alone is not work
//!   done anywhere); an event inside it still records.
//! - Events are instants on the calling thread's track, inside the slice of the
//!   span entered there, if any.
//! - `follows_from`: a flow arrow from the cause to the span that follows from it.
//!   It leaves from the end of the cause's slice open at the time (its pool slice,
//!   or its enter on the calling thread), else from an instant named after the
//!   cause, recorded then; it arrives at the end of the span's next slice.
//!
//! # Memory
//! The layer records through the session's buffers like `#[trace]`: under
//! `Overflow::Block` nothing is lost; under `Overflow::Drop` what does not fit is
//! dropped, counted in the report and marked in the trace. A slice's end on a
//! thread's track always has room (its begin reserved it); values or flows it would
//! carry beyond that are left out if they do not fit (the values marked as not
//! recorded). A pool slice's end may be dropped, like a traced future's: the slice
//! then shows as "did not end".
//!
//! # tracing's rules
//! Span ids are reused after close: the layer's state of a span lives in the
//! registry's extensions of that span, which the registry drops at close. A span may
//! close on another thread than it was entered on, and `on_close` may come long
//! after the last exit (a clone held elsewhere): only the pool slice ends at close,
//! and it may end on any thread. Exits happen on the entering thread (tracing's
//! guards are not `Send`); each thread keeps a stack of its open enters.

use crate::fields::Fields;
use crate::sink::{self, PoolSlice, ThreadSlice};
use crate::sites::{Site, site};
use std::cell::RefCell;
use std::sync::atomic::{AtomicUsize, Ordering};
use tg4p_core::FlowId;
use tracing::span::{Attributes, Id, Record};
use tracing::{Event, Subscriber};
use tracing_subscriber::layer::{Context, Layer};
use tracing_subscriber::registry::LookupSpan;

/// A [`tracing_subscriber::Layer`] that records `tracing` spans and events into
/// the open tg4p session's trace, next to `#[tg4p::trace]` slices.
///
/// With no session open it records nothing and costs a load and a branch per
/// callback. Spans created while a session is open are recorded; spans created
/// before it are not.
///
/// ```
/// use tracing_subscriber::layer::SubscriberExt;
///
/// let subscriber = tracing_subscriber::registry().with(tg4p_tracing::TracingLayer::new());
/// tracing::subscriber::with_default(subscriber, || {
///     let session = tg4p_core::runtime::open(std::env::temp_dir().join("layer-doc.pftrace"))?;
///     let span = tracing::info_span!("load", items = 3);
///     span.in_scope(|| tracing::info!(first = "users", "loaded"));
///     session.finish()?;
///     Ok::<(), tg4p_core::runtime::SessionError>(())
/// })?;
/// # Ok::<(), tg4p_core::runtime::SessionError>(())
/// ```
#[derive(Clone, Copy, Debug, Default)]
pub struct TracingLayer {
    _private: (),
}

impl TracingLayer {
    /// The layer. Compose it like any other:
    /// `tracing_subscriber::registry().with(TracingLayer::new())`.
    pub const fn new() -> TracingLayer {
        TracingLayer { _private: () }
    }
}

/// The layer's state of one span, kept in the registry's extensions of the span.
struct SpanState {
    site: &'static Site,
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
/// exit look (a span's own updates happen under its extensions' lock, and a span
/// is exited on the thread that entered it).
static PENDING: AtomicUsize = AtomicUsize::new(0);
static POOLS: AtomicUsize = AtomicUsize::new(0);

impl SpanState {
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
}

thread_local! {
    /// The calling thread's open enters, innermost last: (span id, its slice).
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

const NO_FIELDS: &Fields = &Fields { items: Vec::new() };

impl<S> Layer<S> for TracingLayer
where
    S: Subscriber + for<'a> LookupSpan<'a>,
{
    fn on_new_span(&self, attrs: &Attributes<'_>, id: &Id, ctx: Context<'_, S>) {
        if !sink::recording() {
            return;
        }
        let site = site(attrs.metadata());
        // The span's category is its target: a span of a target the session's
        // pattern leaves out keeps no state, so nothing of it is recorded.
        if !site.callsite.category_on() {
            return;
        }
        let Some(span) = ctx.span(id) else { return };
        let mut fields = Fields::default();
        if !attrs.values().is_empty() {
            attrs.record(&mut fields);
        }
        span.extensions_mut().replace(SpanState {
            site,
            fields,
            recorded: Fields::default(),
            enters: 0,
            first_enter: 0,
            pool: None,
            outgoing: Vec::new(),
            incoming: Vec::new(),
            pending: false,
        });
    }

    fn on_record(&self, id: &Id, values: &Record<'_>, ctx: Context<'_, S>) {
        let Some(span) = ctx.span(id) else { return };
        let mut ext = span.extensions_mut();
        let Some(state) = ext.get_mut::<SpanState>() else {
            return;
        };
        if state.enters == 0 {
            values.record(&mut state.fields);
        } else {
            values.record(&mut state.recorded);
            state.mark_pending();
        }
    }

    fn on_follows_from(&self, id: &Id, follows: &Id, ctx: Context<'_, S>) {
        if !sink::recording() {
            return;
        }
        let (Some(span), Some(cause)) = (ctx.span(id), ctx.span(follows)) else {
            return;
        };
        let flow = FlowId::new().raw();
        {
            let mut ext = cause.extensions_mut();
            let Some(cause) = ext.get_mut::<SpanState>() else {
                return;
            };
            if cause.pool.is_some() || entered_here(follows.into_u64()) {
                // The arrow leaves from the end of its slice open now.
                cause.outgoing.push(flow);
                cause.mark_pending();
            } else {
                // Nothing of the cause is open here (it ran already, or runs
                // elsewhere, or never did): the arrow leaves from an instant named
                // after it, here and now.
                sink::instant(cause.site, None, None, NO_FIELDS, &[flow]);
            }
        }
        if let Some(state) = span.extensions_mut().get_mut::<SpanState>() {
            state.incoming.push(flow);
            state.mark_pending();
        }
    }

    fn on_enter(&self, id: &Id, ctx: Context<'_, S>) {
        if !sink::recording() {
            return;
        }
        let Some(span) = ctx.span(id) else { return };
        let mut ext = span.extensions_mut();
        let Some(state) = ext.get_mut::<SpanState>() else {
            return;
        };
        state.enters = state.enters.saturating_add(1);
        let slice = if state.enters == 1 {
            state.first_enter = sink::now();
            sink::begin_thread(state.site, &state.fields)
        } else {
            if state.pool.is_none() {
                let pool = sink::begin_pool(state.site, state.first_enter, &state.fields);
                state.pool = Some(pool);
                POOLS.fetch_add(1, Ordering::Relaxed);
            }
            sink::begin_thread(state.site, NO_FIELDS)
        };
        drop(ext);
        let _ = OPEN.try_with(|open| {
            if let Ok(mut open) = open.try_borrow_mut() {
                open.push((id.into_u64(), slice));
            }
        });
    }

    fn on_exit(&self, id: &Id, ctx: Context<'_, S>) {
        let key = id.into_u64();
        let Some(slice) = OPEN
            .try_with(|open| {
                let mut open = open.try_borrow_mut().ok()?;
                let i = open.iter().rposition(|(k, _)| *k == key)?;
                Some(open.remove(i).1)
            })
            .ok()
            .flatten()
        else {
            return;
        };
        if PENDING.load(Ordering::Relaxed) == 0 {
            return sink::end_thread(slice, NO_FIELDS, &[], &[]);
        }
        let Some(span) = ctx.span(id) else {
            return sink::end_thread(slice, NO_FIELDS, &[], &[]);
        };
        let mut ext = span.extensions_mut();
        let Some(state) = ext.get_mut::<SpanState>().filter(|s| s.pending) else {
            drop(ext);
            return sink::end_thread(slice, NO_FIELDS, &[], &[]);
        };
        // A span with no pool slice ends its flows and later values here; one with
        // a pool slice keeps its outgoing flows and values for the pool slice's end.
        let solo = state.pool.is_none();
        let recorded = if solo && state.enters == 1 {
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
            state.clear_pending();
        }
        drop(ext);
        sink::end_thread(slice, &recorded, &outgoing, &incoming);
    }

    fn on_close(&self, id: Id, ctx: Context<'_, S>) {
        if POOLS.load(Ordering::Relaxed) == 0 && PENDING.load(Ordering::Relaxed) == 0 {
            return; // nothing to end: the registry drops the state
        }
        let Some(span) = ctx.span(&id) else { return };
        let Some(mut state) = span.extensions_mut().remove::<SpanState>() else {
            return;
        };
        state.clear_pending();
        if let Some(pool) = state.pool.take() {
            POOLS.fetch_sub(1, Ordering::Relaxed);
            sink::end_pool(pool, &state.recorded, &state.outgoing, &state.incoming);
        }
    }

    fn on_event(&self, event: &Event<'_>, _ctx: Context<'_, S>) {
        if !sink::recording() {
            return;
        }
        let meta = event.metadata();
        let site = site(meta);
        if !site.callsite.category_on() {
            return; // its target is left out by the session's category pattern
        }
        let record = |fields: &mut Fields| {
            fields.items.clear();
            event.record(fields);
            let message = fields.take_message();
            sink::instant(
                site,
                message.as_deref(),
                Some(meta.level().as_str()),
                fields,
                &[],
            );
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
}
