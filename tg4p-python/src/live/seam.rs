//! The one module that records through tg4p's private seam (`tg4p::__private`,
//! what `#[trace]` and `span!` expand to).
//!
//! The public live API names events with `&'static str` literals, takes the
//! source location from the Rust caller and captures arguments as `Debug` text
//! through macros only. A Python program needs events with runtime names (interned
//! by [`crate::names`]), its own source locations (file, line and function of the
//! Python code) and arguments from Python objects, so this module builds callsites
//! itself and calls the seam's `enter`, `enter_args`, `enter_span` and `instant`.
//!
//! Arguments go in as the bounded text of a [`Value`] ([`Rendered`]) because that is
//! what the recorder stores today; when it records typed values (tg4p issue 15),
//! [`Rendered`] is dropped and the values are passed as they are: nothing outside
//! this module changes.

use std::collections::HashMap;
use std::fmt::{self, Debug};
use std::sync::Mutex;
use tg4p::__private::{Callsite, FnSpan, Function, Span, enabled, enter, enter_args, enter_span};
use tg4p::{FlowId, Track, Value};

/// Where an event comes from in the Python program (interned strings).
#[derive(Clone, Copy, Debug)]
pub(crate) struct Location {
    pub(crate) file: &'static str,
    pub(crate) line: u32,
    pub(crate) function: &'static str,
}

/// The most outgoing flows one instant may start (the seam takes their number as a
/// constant; see [`instant`]).
pub(crate) const MAX_OUTGOING_FLOWS: usize = 16;

/// Whether a session is recording (else nothing needs converting).
#[inline]
pub(crate) fn recording() -> bool {
    enabled()
}

/// The callsite of events named `name` at `at` with arguments `arg_names`: one per
/// distinct combination, made on first use and kept for the program's life (its
/// parts are interned, so there are as many as distinct names and places).
pub(crate) fn callsite(
    name: &'static str,
    at: Location,
    arg_names: &'static [&'static str],
) -> &'static Callsite {
    // Every part is interned: equal pointers are equal strings, and the reverse.
    type Key = (usize, usize, usize, u32, usize, usize);
    static SITES: Mutex<Option<HashMap<Key, &'static Callsite>>> = Mutex::new(None);
    let key = (
        name.as_ptr() as usize,
        at.file.as_ptr() as usize,
        at.function.as_ptr() as usize,
        at.line,
        arg_names.as_ptr() as usize,
        arg_names.len(),
    );
    let mut sites = SITES.lock().unwrap_or_else(|p| p.into_inner());
    sites
        .get_or_insert_with(HashMap::new)
        .entry(key)
        .or_insert_with(|| {
            Box::leak(Box::new(Callsite::new(
                name,
                Function::Path(at.function),
                at.file,
                at.line,
                arg_names,
            )))
        })
}

/// The slice of one traced call, ended when dropped (also when the call raised).
#[must_use]
// The guards are held only for their `Drop`, which ends the slice.
#[allow(dead_code)]
pub(crate) enum CallGuard {
    Thread(FnSpan),
    Track(Span),
}

/// Starts the slice of a traced call on the calling thread's track or on `track`.
#[inline]
pub(crate) fn begin_call(
    site: &'static Callsite,
    track: Option<&'static Track>,
    args: &[Value],
) -> CallGuard {
    match track {
        None if args.is_empty() => CallGuard::Thread(enter(site)),
        None => with_rendered(args, |values| CallGuard::Thread(enter_args(site, values))),
        Some(track) => with_rendered(args, |values| {
            CallGuard::Track(enter_span(site, Some(track), values))
        }),
    }
}

/// Starts a slice that can take flows (a `with ...trace(..)` block).
pub(crate) fn begin_span(
    site: &'static Callsite,
    track: Option<&'static Track>,
    args: &[Value],
) -> Span {
    with_rendered(args, |values| enter_span(site, track, values))
}

/// Records an instant ending the flows `incoming` and starting `outgoing` new ones
/// (at most [`MAX_OUTGOING_FLOWS`]); returns the new flows' ids.
pub(crate) fn instant(
    site: &'static Callsite,
    track: Option<&'static Track>,
    args: &[Value],
    incoming: &[FlowId],
    outgoing: usize,
) -> Vec<FlowId> {
    macro_rules! by_count {
        ($($n:literal)*) => {
            match outgoing {
                $($n => with_rendered(args, |values| {
                    tg4p::__private::instant::<$n>(site, track, values, incoming).to_vec()
                }),)*
                _ => Vec::new(),
            }
        };
    }
    debug_assert!(outgoing <= MAX_OUTGOING_FLOWS);
    by_count!(0 1 2 3 4 5 6 7 8 9 10 11 12 13 14 15 16)
}

fn with_rendered<R>(args: &[Value], f: impl FnOnce(&[&dyn Debug]) -> R) -> R {
    let top = |value| Rendered { value, top: true };
    // Up to four arguments without allocating (the common case).
    match args {
        [] => f(&[]),
        [a] => f(&[&top(a)]),
        [a, b] => f(&[&top(a), &top(b)]),
        [a, b, c] => f(&[&top(a), &top(b), &top(c)]),
        [a, b, c, d] => f(&[&top(a), &top(b), &top(c), &top(d)]),
        _ => {
            let rendered: Vec<Rendered<'_>> = args.iter().map(top).collect();
            let values: Vec<&dyn Debug> = rendered.iter().map(|r| r as &dyn Debug).collect();
            f(&values)
        }
    }
}

/// A value's text as the recorder stores it today: a top-level string as it is,
/// everything else in a Python-like literal form (`[1, "a", {"k": True}]`).
struct Rendered<'a> {
    value: &'a Value,
    top: bool,
}

impl Debug for Rendered<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let nested = |value| Rendered { value, top: false };
        match self.value {
            Value::Bool(true) => f.write_str("True"),
            Value::Bool(false) => f.write_str("False"),
            Value::Int(v) => write!(f, "{v}"),
            Value::Uint(v) => write!(f, "{v}"),
            Value::Double(v) => write!(f, "{v:?}"),
            Value::Str(s) if self.top => f.write_str(s),
            Value::Str(s) => write!(f, "{s:?}"),
            Value::Array(items) => {
                f.write_str("[")?;
                for (i, item) in items.iter().enumerate() {
                    if i > 0 {
                        f.write_str(", ")?;
                    }
                    nested(item).fmt(f)?;
                }
                f.write_str("]")
            }
            Value::Dict(entries) => {
                f.write_str("{")?;
                for (i, (k, v)) in entries.iter().enumerate() {
                    if i > 0 {
                        f.write_str(", ")?;
                    }
                    write!(f, "{k:?}: ")?;
                    nested(v).fmt(f)?;
                }
                f.write_str("}")
            }
            // `Value` may gain variants; render them as Rust sees them.
            #[allow(unreachable_patterns)]
            other => write!(f, "{other:?}"),
        }
    }
}
