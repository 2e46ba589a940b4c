//! The one place this crate records through tg4p's runtime (its private seam):
//! slices on the calling thread's track, slices on a pool track, instants; each
//! with typed args, flows and (instants) a name given at run time.

use crate::fields::{FieldValue, Fields};
use crate::sites::Site;
use tg4p_core::runtime::private::{
    self as rt, ArgValue, Details, FnSpan, PoolPlace, PoolSpan, TypedArg,
};

/// The most args recorded per event (as `tg4p::MAX_ARGS`); later ones are left out.
const MAX_ARGS: usize = tg4p_core::runtime::MAX_ARGS;

/// Whether a session is recording: what every callback checks first.
#[inline(always)]
pub(crate) fn recording() -> bool {
    rt::enabled()
}

/// The clock's tick now, for a pool slice that begins in the past.
#[inline]
pub(crate) fn now() -> u64 {
    rt::now()
}

/// A slice open on the calling thread's track (not `Send`: it ends on this thread).
pub(crate) struct ThreadSlice(FnSpan);

impl ThreadSlice {
    /// A slice that records nothing.
    pub(crate) fn off() -> ThreadSlice {
        ThreadSlice(FnSpan::off())
    }
}

/// Begins a slice of `site` on the calling thread's track with `fields` as args,
/// and returns the tick it begins at (0 if not recorded).
#[inline]
pub(crate) fn begin_thread_since(site: &'static Site, fields: &Fields) -> (ThreadSlice, u64) {
    let (slice, tick) = if fields.is_empty() {
        rt::enter_since(site.callsite())
    } else {
        with_args(fields, |args| {
            rt::begin_details_since(site.callsite(), &Details::args(args))
        })
    };
    (ThreadSlice(slice), tick)
}

/// Begins a slice of `site` on the calling thread's track with `fields` as args.
#[inline]
pub(crate) fn begin_thread(site: &'static Site, fields: &Fields) -> ThreadSlice {
    if fields.is_empty() {
        return ThreadSlice(rt::enter(site.callsite()));
    }
    with_args(fields, |args| {
        ThreadSlice(FnSpan::begin_details(site.callsite(), &Details::args(args)))
    })
}

/// Ends a thread-track slice, with the values recorded since it began and flows.
#[inline]
pub(crate) fn end_thread(
    slice: ThreadSlice,
    recorded: &Fields,
    outgoing: &[u64],
    incoming: &[u64],
) {
    if recorded.is_empty() && outgoing.is_empty() && incoming.is_empty() {
        return drop(slice);
    }
    with_args(recorded, |args| {
        slice
            .0
            .end_details(&Details::args(args).flows(outgoing, incoming))
    })
}

/// A slice open on a track of a pool (`Send`: it may end on any thread).
pub(crate) struct PoolSlice(PoolSpan);

impl PoolSlice {
    /// Where the slice lies, to begin a child's slice under it.
    pub(crate) fn place(&self) -> PoolPlace {
        self.0.place()
    }
}

/// Begins a slice of `site` at tick `since`: under the slice at `parent` (on a
/// child track of its track) if given, else on a free track of the site's pool.
pub(crate) fn begin_pool(
    site: &'static Site,
    since: u64,
    fields: &Fields,
    parent: Option<PoolPlace>,
) -> PoolSlice {
    with_args(fields, |args| {
        let details = Details::args(args);
        PoolSlice(match parent {
            Some(parent) => {
                PoolSpan::begin_under(site.callsite(), site.pool, parent, since, &details)
            }
            None => PoolSpan::begin_since(site.callsite(), site.pool, since, &details),
        })
    })
}

/// Ends a pool slice, with the values recorded since it began and flows.
pub(crate) fn end_pool(slice: PoolSlice, recorded: &Fields, outgoing: &[u64], incoming: &[u64]) {
    with_args(recorded, |args| {
        slice
            .0
            .end_details(&Details::args(args).flows(outgoing, incoming))
    })
}

/// Records an instant of `site` (named `name` if given, else after the site) on the
/// calling thread's track, with `fields` as args and flows leaving it.
pub(crate) fn instant(site: &'static Site, name: Option<&str>, fields: &Fields, outgoing: &[u64]) {
    with_args(fields, |args| {
        rt::instant_details(
            site.callsite(),
            None,
            &Details::args(args).named(name).flows(outgoing, &[]),
        )
    })
}

/// A field's value as a typed arg.
#[inline]
fn typed<'a>((name, v): &'a (&'static str, FieldValue)) -> TypedArg<'a> {
    TypedArg {
        name,
        value: match v {
            FieldValue::I64(v) => ArgValue::Int(*v),
            FieldValue::U64(v) => ArgValue::Uint(*v),
            FieldValue::F64(v) => ArgValue::Double(*v),
            FieldValue::Bool(v) => ArgValue::Bool(*v),
            FieldValue::Str(s) => ArgValue::Str(s),
        },
    }
}

/// Runs `f` on `fields` as typed args: the common few straight from the stack,
/// up to 8 from an array on the stack, more from a vector.
#[inline]
fn with_args<R>(fields: &Fields, f: impl FnOnce(&[TypedArg<'_>]) -> R) -> R {
    const INLINE: usize = 8;
    const EMPTY: TypedArg<'static> = TypedArg {
        name: "",
        value: ArgValue::Bool(false),
    };
    match &fields.items[..] {
        [] => f(&[]),
        [a] => f(&[typed(a)]),
        [a, b] => f(&[typed(a), typed(b)]),
        items if items.len() <= INLINE => {
            let mut buf = [EMPTY; INLINE];
            for (slot, item) in buf.iter_mut().zip(items) {
                *slot = typed(item);
            }
            f(&buf[..items.len()])
        }
        items => {
            let all: Vec<TypedArg<'_>> = items.iter().take(MAX_ARGS).map(typed).collect();
            f(&all)
        }
    }
}
