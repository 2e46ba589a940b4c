//! A `tracing::Subscriber` of our own: the layer's recording without
//! `tracing_subscriber`'s registry underneath.

use crate::sink;
use crate::slots;
use crate::state::{self, ExitEnd};
use tracing::level_filters::LevelFilter;
use tracing::span::{Attributes, Id, Record};
use tracing::subscriber::Interest;
use tracing::{Event, Metadata, Subscriber};
use tracing_core::span::Current;

/// A [`tracing::Subscriber`] that records `tracing` spans and events into the open
/// tg4p session's trace, exactly as [`TracingLayer`](crate::TracingLayer) does (same
/// slices, tracks, args, instants and flows), at a fraction of its cost: it keeps
/// spans in slots of its own instead of `tracing_subscriber`'s registry, and
/// records enters and exits straight onto tg4p's recorder.
///
/// Use it when tg4p is the only place `tracing` data goes. It composes with no
/// layer: for `EnvFilter`, `fmt` or other layers next to tg4p, use the layer.
/// [`with_max_level`](TracingSubscriber::with_max_level) filters by level.
///
/// With no session open it records nothing; a span created then costs a slot
/// (its id) and nothing more. Spans created while a session is open are recorded.
///
/// ```
/// let subscriber = tg4p_tracing::TracingSubscriber::new();
/// tracing::subscriber::with_default(subscriber, || {
///     let session = tg4p_core::runtime::open(std::env::temp_dir().join("subscriber-doc.pftrace"))?;
///     let span = tracing::info_span!("load", items = 3);
///     span.in_scope(|| tracing::info!(first = "users", "loaded"));
///     session.finish()?;
///     Ok::<(), tg4p_core::runtime::SessionError>(())
/// })?;
/// # Ok::<(), tg4p_core::runtime::SessionError>(())
/// ```
#[derive(Clone, Copy, Debug)]
pub struct TracingSubscriber {
    max_level: LevelFilter,
}

impl Default for TracingSubscriber {
    fn default() -> Self {
        TracingSubscriber::new()
    }
}

impl TracingSubscriber {
    /// The subscriber, recording every level:
    /// `tracing::subscriber::set_global_default(TracingSubscriber::new())`.
    pub const fn new() -> TracingSubscriber {
        TracingSubscriber {
            max_level: LevelFilter::TRACE,
        }
    }

    /// Records only spans and events at `level` or more severe (`LevelFilter::OFF`:
    /// none); callsites below it are disabled at registration, as tracing's
    /// `max_level_hint` allows.
    ///
    /// ```
    /// use tracing::level_filters::LevelFilter;
    /// let subscriber = tg4p_tracing::TracingSubscriber::new().with_max_level(LevelFilter::INFO);
    /// # drop(subscriber);
    /// ```
    pub const fn with_max_level(self, level: LevelFilter) -> TracingSubscriber {
        TracingSubscriber { max_level: level }
    }
}

impl Subscriber for TracingSubscriber {
    fn register_callsite(&self, meta: &'static Metadata<'static>) -> Interest {
        if self.enabled(meta) {
            Interest::always()
        } else {
            Interest::never()
        }
    }

    #[inline]
    fn enabled(&self, meta: &Metadata<'_>) -> bool {
        *meta.level() <= self.max_level
    }

    fn max_level_hint(&self) -> Option<LevelFilter> {
        Some(self.max_level)
    }

    #[inline]
    fn new_span(&self, attrs: &Attributes<'_>) -> Id {
        let key = if sink::recording() {
            let parent = if attrs.is_contextual() {
                None // the innermost span entered here
            } else {
                Some(attrs.parent().map_or(0, Id::into_u64))
            };
            state::new_span(attrs, parent)
        } else {
            state::new_unrecorded_span()
        };
        match key {
            Some(key) => Id::from_u64(key),
            // 2^32 spans open at once: this one shares an id that no slot
            // matches, and records nothing.
            None => Id::from_u64(u64::MAX),
        }
    }

    fn record(&self, span: &Id, values: &Record<'_>) {
        if let Some(r) = slots::get(span.into_u64()) {
            state::record(r, values);
        }
    }

    fn record_follows_from(&self, span: &Id, follows: &Id) {
        if !sink::recording() {
            return;
        }
        if let (Some(effect), Some(cause)) =
            (slots::get(span.into_u64()), slots::get(follows.into_u64()))
        {
            state::follows_from(effect, cause);
        }
    }

    #[inline]
    fn event(&self, event: &Event<'_>) {
        if sink::recording() {
            state::event(event);
        }
    }

    #[inline]
    fn enter(&self, span: &Id) {
        if !sink::recording() {
            return;
        }
        let key = span.into_u64();
        let Some(slice) = slots::get(key).and_then(state::enter) else {
            return;
        };
        state::push_open(key, key, slice);
    }

    #[inline]
    fn exit(&self, span: &Id) {
        let Some((key, slice)) = state::pop_open(span.into_u64()) else {
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

    fn clone_span(&self, id: &Id) -> Id {
        slots::clone(id.into_u64());
        id.clone()
    }

    #[inline]
    fn try_close(&self, id: Id) -> bool {
        slots::release(id.into_u64())
    }

    fn current_span(&self) -> Current {
        let Some((_, key)) = state::innermost_open() else {
            return Current::none();
        };
        match slots::get(key).and_then(|r| r.site()) {
            Some(site) => Current::new(Id::from_u64(key), site.meta),
            None => Current::none(),
        }
    }
}
