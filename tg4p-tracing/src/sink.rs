//! The one place this crate records through tg4p's runtime (its private seam):
//! slices on the calling thread's track, slices on a pool track, instants.

use crate::fields::{FieldValue, Fields};
use crate::sites::Site;
use std::fmt;
use tg4p_core::FlowId;
use tg4p_core::runtime::private::{self as rt, FnSpan, FutureSpan};

/// Whether a session is recording: what every callback checks first.
#[inline(always)]
pub(crate) fn recording() -> bool {
    rt::enabled()
}

/// A slice open on the calling thread's track (not `Send`: it ends on this thread).
pub(crate) struct ThreadSlice(FnSpan);

/// Begins a slice of `site` on the calling thread's track with `fields` as args.
#[inline]
pub(crate) fn begin_thread(site: &'static Site, fields: &Fields) -> ThreadSlice {
    if fields.is_empty() {
        return ThreadSlice(rt::enter(site.callsite));
    }
    with_values(site, fields, |values| {
        ThreadSlice(rt::enter_args(site.callsite, values))
    })
}

/// The clock's tick now, for a pool slice that begins in the past.
pub(crate) fn now() -> u64 {
    0
}

/// Ends a thread-track slice, with the values recorded since it began and flows.
#[inline]
pub(crate) fn end_thread(
    slice: ThreadSlice,
    recorded: &Fields,
    _outgoing: &[FlowId],
    _incoming: &[FlowId],
) {
    if recorded.is_empty() {
        drop(slice);
    } else {
        slice.0.end_returning(&AsText(recorded));
    }
}

/// A slice open on a track of a pool (`Send`: it may end on any thread).
pub(crate) struct PoolSlice(FutureSpan);

/// Begins a slice of `site` at tick `since` on a free track of its pool.
pub(crate) fn begin_pool(site: &'static Site, _since: u64, fields: &Fields) -> PoolSlice {
    with_values(site, fields, |values| {
        PoolSlice(FutureSpan::begin_args(site.callsite, site.pool, values))
    })
}

/// Ends a pool slice, with the values recorded since it began and flows.
pub(crate) fn end_pool(
    slice: PoolSlice,
    recorded: &Fields,
    _outgoing: &[FlowId],
    _incoming: &[FlowId],
) {
    if recorded.is_empty() {
        drop(slice);
    } else {
        slice.0.end_returning(&AsText(recorded));
    }
}

/// Records an instant of `site` (named `name` if given) on the calling thread's
/// track, with flows leaving it.
pub(crate) fn instant(
    site: &'static Site,
    _name: Option<&str>,
    _level: Option<&'static str>,
    fields: &Fields,
    _outgoing: &[FlowId],
) {
    with_values(site, fields, |values| {
        let [] = rt::instant::<0>(site.callsite, None, values, &[]);
    })
}

/// Runs `f` on `fields` as the callsite's positional `Debug` args.
fn with_values<R>(site: &Site, fields: &Fields, f: impl FnOnce(&[&dyn fmt::Debug]) -> R) -> R {
    let shown: Vec<Shown<'_>> = site
        .names
        .iter()
        .map(|n| Shown(fields.items.iter().find(|(k, _)| k == n).map(|(_, v)| v)))
        .collect();
    let values: Vec<&dyn fmt::Debug> = shown.iter().map(|s| s as &dyn fmt::Debug).collect();
    f(&values)
}

/// A field's value as text (strings without quotes); empty if not set.
struct Shown<'a>(Option<&'a FieldValue>);

impl fmt::Debug for Shown<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.0 {
            None => Ok(()),
            Some(FieldValue::Str(s)) => f.write_str(s),
            Some(FieldValue::I64(v)) => write!(f, "{v}"),
            Some(FieldValue::U64(v)) => write!(f, "{v}"),
            Some(FieldValue::F64(v)) => write!(f, "{v}"),
            Some(FieldValue::Bool(v)) => write!(f, "{v}"),
        }
    }
}

/// Fields as one text, `name=value` each.
struct AsText<'a>(&'a Fields);

impl fmt::Debug for AsText<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, (name, value)) in self.0.items.iter().enumerate() {
            if i > 0 {
                f.write_str(" ")?;
            }
            write!(f, "{name}={:?}", Shown(Some(value)))?;
        }
        Ok(())
    }
}
