//! The layer: `tracing`'s callbacks turned into tg4p slices and instants.
//!
//! # What a span or event becomes
//! - A span's slice is named after the span, in the span's target as category, at
//!   its callsite's source location (file, line, module path); its fields are typed
//!   args: `i64`/`u64` (and `i128`/`u128` that fit) as ints, `f64` as doubles,
//!   `bool` as bools, `&str` as strings, `?x`/`%x` and errors as their (bounded)
//!   text. Values recorded later (`Span::record`) are args of the slice's end,
//!   which trace_processor merges into the slice's args. The span's level is its
//!   second category: `slice.category` reads `"TARGET,LEVEL"` (see `sites.rs`).
//! - An event is an instant named by its message (else by its callsite's name),
//!   in its target and level as categories (as a span's), with its fields as
//!   typed args.
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
//!   when free), like `#[trace]`'s traced futures; if its parent span has such a
//!   slice already, it goes beneath it instead, on a child track of the parent's
//!   track (one per child alive at once, named like lanes: `PARENT #2`, ...), as
//!   a traced future's concurrent children do; its fields are on that slice's
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
//! Span ids are reused after close: the layer keeps a span's state in a slot of
//! its own (as [`TracingSubscriber`](crate::TracingSubscriber) does), found from
//! the registry's id through a table of its own (`index.rs`), not through the
//! registry's extensions; the id leaves the table at close, before the
//! registry can reuse it. A span may
//! close on another thread than it was entered on, and `on_close` may come long
//! after the last exit (a clone held elsewhere): only the pool slice ends at close,
//! and it may end on any thread. Exits happen on the entering thread (tracing's
//! guards are not `Send`); each thread keeps a stack of its open enters.

use crate::index::Index;
use crate::state::{self, ExitEnd};
use crate::{sink, slots};
use std::sync::atomic::{AtomicUsize, Ordering};
use tracing::span::{Attributes, Id, Record};
use tracing::{Event, Subscriber};
use tracing_subscriber::layer::{Context, Layer};
use tracing_subscriber::registry::LookupSpan;

/// A [`tracing_subscriber::Layer`] that records `tracing` spans and events into
/// the open tg4p session's trace, next to `#[tg4p::trace]` slices.
///
/// With no session open it records nothing and costs a load and a branch per
/// callback (a close also looks its id up in the layer's table, once a session
/// has recorded spans: at most 8 entries read). Spans created while a session is open are recorded; spans created
/// before it are not.
///
/// A layer sits on `tracing_subscriber`'s registry, whose own span bookkeeping
/// costs more per span than the layer's recording; when no other layer is
/// needed, [`TracingSubscriber`](crate::TracingSubscriber) records the same trace
/// at less than half the cost per span.
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
pub struct TracingLayer {
    /// The registry's ids of the spans this layer records, mapped to their slots
    /// (ids are unique within one registry only: one map per layer).
    index: Index,
    /// How many of them are [`Spilled`] now: while 0, a span missing from the
    /// index is not recorded, and the registry need not be asked.
    spilled: AtomicUsize,
}

impl TracingLayer {
    /// The layer. Compose it like any other:
    /// `tracing_subscriber::registry().with(TracingLayer::new())`.
    pub const fn new() -> TracingLayer {
        TracingLayer {
            index: Index::new(),
            spilled: AtomicUsize::new(0),
        }
    }

    /// The slot of span `id`, if it is recorded.
    #[inline(always)]
    fn find<S>(&self, id: &Id, ctx: &Context<'_, S>) -> Option<slots::SlotRef>
    where
        S: Subscriber + for<'a> LookupSpan<'a>,
    {
        let key = match self.index.get(id.into_u64()) {
            Some(key) => key,
            None => self.spilled(id, ctx)?,
        };
        slots::get(key)
    }

    #[cold]
    fn spilled<S>(&self, id: &Id, ctx: &Context<'_, S>) -> Option<u64>
    where
        S: Subscriber + for<'a> LookupSpan<'a>,
    {
        if self.spilled.load(Ordering::Acquire) == 0 {
            return None;
        }
        Some(ctx.span(id)?.extensions().get::<Spilled>()?.0)
    }

    /// Keeps span `id`'s `key` in the registry's extensions (its index window
    /// is full).
    #[cold]
    fn spill<S>(&self, id: &Id, key: u64, ctx: &Context<'_, S>)
    where
        S: Subscriber + for<'a> LookupSpan<'a>,
    {
        match ctx.span(id) {
            Some(span) => {
                span.extensions_mut().replace(Spilled(key));
                self.spilled.fetch_add(1, Ordering::Release);
            }
            None => {
                slots::release(key);
            }
        }
    }

    /// Takes span `id`'s key out of the registry's extensions, if it was spilled.
    #[cold]
    fn unspill<S>(&self, id: &Id, ctx: &Context<'_, S>) -> Option<u64>
    where
        S: Subscriber + for<'a> LookupSpan<'a>,
    {
        if self.spilled.load(Ordering::Acquire) == 0 {
            return None;
        }
        let key = ctx.span(id)?.extensions_mut().remove::<Spilled>()?.0;
        self.spilled.fetch_sub(1, Ordering::Release);
        Some(key)
    }
}

impl Default for TracingLayer {
    fn default() -> TracingLayer {
        TracingLayer::new()
    }
}

impl Clone for TracingLayer {
    /// Another layer, with no spans of its own yet (for another registry).
    fn clone(&self) -> TracingLayer {
        TracingLayer::new()
    }
}

impl std::fmt::Debug for TracingLayer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TracingLayer").finish_non_exhaustive()
    }
}

/// The key of a span that did not fit in the index, kept in the registry's
/// extensions of the span.
struct Spilled(u64);

impl<S> Layer<S> for TracingLayer
where
    S: Subscriber + for<'a> LookupSpan<'a>,
{
    #[inline]
    fn on_new_span(&self, attrs: &Attributes<'_>, id: &Id, ctx: Context<'_, S>) {
        if !sink::recording() {
            return;
        }
        let parent = if attrs.is_contextual() {
            None // the innermost span entered here
        } else {
            Some(
                attrs
                    .parent()
                    .and_then(|p| self.find(p, &ctx))
                    .map_or(0, |p| p.key()),
            )
        };
        let Some(key) = state::new_span(attrs, parent) else {
            return;
        };
        if !self.index.insert(id.into_u64(), key) {
            self.spill(id, key, &ctx);
        }
    }

    fn on_record(&self, id: &Id, values: &Record<'_>, ctx: Context<'_, S>) {
        if let Some(r) = self.find(id, &ctx) {
            state::record(r, values);
        }
    }

    fn on_follows_from(&self, id: &Id, follows: &Id, ctx: Context<'_, S>) {
        if !sink::recording() {
            return;
        }
        if let (Some(effect), Some(cause)) = (self.find(id, &ctx), self.find(follows, &ctx)) {
            state::follows_from(effect, cause);
        }
    }

    #[inline]
    fn on_enter(&self, id: &Id, ctx: Context<'_, S>) {
        if !sink::recording() {
            return;
        }
        let Some(r) = self.find(id, &ctx) else { return };
        if let Some(slice) = state::enter(r) {
            state::push_open(id.into_u64(), r.key(), slice);
        }
    }

    #[inline]
    fn on_exit(&self, id: &Id, _ctx: Context<'_, S>) {
        let Some((key, slice)) = state::pop_open(id.into_u64()) else {
            return;
        };
        if !state::exits_pending() {
            return drop(slice); // a plain end
        }
        let end = match slots::get(key) {
            Some(r) => state::exit(r, slice),
            None => ExitEnd::plain(slice),
        };
        end.write();
    }

    #[inline]
    fn on_close(&self, id: Id, ctx: Context<'_, S>) {
        let key = match self.index.remove(id.into_u64()) {
            Some(key) => key,
            None => match self.unspill(&id, &ctx) {
                Some(key) => key,
                None => return, // not recorded
            },
        };
        slots::release(key);
    }

    fn on_event(&self, event: &Event<'_>, _ctx: Context<'_, S>) {
        if !sink::recording() {
            return;
        }
        state::event(event);
    }
}
