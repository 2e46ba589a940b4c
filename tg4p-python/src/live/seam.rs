//! The one module that records through tg4p's private seam (`tg4p::__private`,
//! what `#[trace]` and `span!` expand to).
//!
//! The public live API names events with `&'static str` literals, takes the
//! source location from the Rust caller and captures arguments through macros
//! only. A Python program needs events with runtime names (interned by
//! [`crate::names`]), its own source locations (file, line and function of the
//! Python code) and arguments from Python objects, so this module builds callsites
//! itself and records through the seam's `Details` calls, with typed args.
//!
//! # Arguments
//! Each argument becomes typed args as tg4p records them (see [`with_typed`]):
//! `bool`, `int`, `float` and `str` as `bool`, `int`/`uint`, `double` and `string`
//! values; a `dict` as its entries under dotted names (`request.user.id`), which
//! the writer nests back into a dict annotation, so nested dicts stay nested and
//! their leaves typed; a `list`/`tuple` (which a dotted name cannot express) as
//! its Python-literal text.

use std::collections::HashMap;
use std::fmt::{self, Debug, Write as _};
use std::sync::Mutex;
use tg4p::__private::{
    ArgValue, Callsite, Details, FnSpan, Function, Span, TypedArg, enabled, enter, flow_id_vec,
    instant_details, span_details,
};
use tg4p::{ARG_VALUE_LIMIT, FlowId, Track, Value};

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
        None => with_typed(site.arg_names(), args, |typed| {
            CallGuard::Thread(FnSpan::begin_details(site, &details(typed, &[], &[])))
        }),
        Some(track) => with_typed(site.arg_names(), args, |typed| {
            CallGuard::Track(span_details(site, Some(track), &details(typed, &[], &[])))
        }),
    }
}

/// Starts a slice that can take flows (a `with ...trace(..)` block).
pub(crate) fn begin_span(
    site: &'static Callsite,
    track: Option<&'static Track>,
    args: &[Value],
) -> Span {
    with_typed(site.arg_names(), args, |typed| {
        span_details(site, track, &details(typed, &[], &[]))
    })
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
    debug_assert!(outgoing <= MAX_OUTGOING_FLOWS);
    let ids = flow_id_vec(outgoing.min(MAX_OUTGOING_FLOWS));
    let out: Vec<u64> = ids.iter().map(|f| f.raw()).collect();
    let inc: Vec<u64> = incoming.iter().map(|f| f.raw()).collect();
    with_typed(site.arg_names(), args, |typed| {
        instant_details(site, track, &details(typed, &out, &inc));
    });
    ids
}

fn details<'a>(args: &'a [TypedArg<'a>], outgoing: &'a [u64], incoming: &'a [u64]) -> Details<'a> {
    Details {
        name: None,
        args,
        outgoing,
        incoming,
    }
}

/// The most typed args one event gets from its arguments (a record keeps 255);
/// leaves past it are left out, and a last arg `…` says how many.
const MAX_LEAVES: usize = 128;

/// Runs `f` on `args` (named `names`, `"arg"` past its end) as typed args: see
/// the module docs.
fn with_typed<R>(
    names: &[&'static str],
    args: &[Value],
    f: impl FnOnce(&[TypedArg<'_>]) -> R,
) -> R {
    // Scalars only, up to four (the common case): no allocation.
    if args.len() <= 4 && args.iter().all(|a| scalar(a).is_some()) {
        let name = |i: usize| names.get(i).copied().unwrap_or("arg");
        let typed: [TypedArg<'_>; 4] = std::array::from_fn(|i| TypedArg {
            name: name(i),
            value: args
                .get(i)
                .and_then(scalar)
                .unwrap_or(ArgValue::Bool(false)),
        });
        return f(&typed[..args.len()]);
    }
    let mut leaves = Leaves::default();
    for (i, value) in args.iter().enumerate() {
        let name = names.get(i).copied().unwrap_or("arg");
        leaves.add(name.to_owned(), value);
    }
    if leaves.left_out > 0 {
        let more = format!("[{} more values left out]", leaves.left_out);
        leaves.items.push(("…".to_owned(), Leaf::Text(more)));
    }
    let typed: Vec<TypedArg<'_>> = leaves
        .items
        .iter()
        .map(|(name, leaf)| TypedArg {
            name,
            value: match leaf {
                Leaf::Scalar(v) => *v,
                Leaf::Text(t) => ArgValue::Str(t),
            },
        })
        .collect();
    f(&typed)
}

/// `value` as a typed value, if it is a scalar.
fn scalar(value: &Value) -> Option<ArgValue<'_>> {
    Some(match value {
        Value::Bool(v) => ArgValue::Bool(*v),
        Value::Int(v) => ArgValue::Int(*v),
        Value::Uint(v) => ArgValue::Uint(*v),
        Value::Double(v) => ArgValue::Double(*v),
        Value::Str(s) => ArgValue::Str(s),
        _ => return None,
    })
}

/// The typed leaves of an event's arguments, with their dotted names.
#[derive(Default)]
struct Leaves<'v> {
    items: Vec<(String, Leaf<'v>)>,
    left_out: usize,
}

enum Leaf<'v> {
    Scalar(ArgValue<'v>),
    Text(String),
}

impl<'v> Leaves<'v> {
    fn add(&mut self, name: String, value: &'v Value) {
        if self.items.len() >= MAX_LEAVES {
            self.left_out += 1;
            return;
        }
        if let Some(v) = scalar(value) {
            self.items.push((name, Leaf::Scalar(v)));
            return;
        }
        match value {
            // An empty dict has no leaf to carry its name: its text does.
            Value::Dict(entries) if !entries.is_empty() => {
                for (key, v) in entries {
                    self.add(format!("{name}.{key}"), v);
                }
            }
            other => {
                let mut text = String::new();
                let _ = write!(
                    text,
                    "{:?}",
                    Rendered {
                        value: other,
                        top: true
                    }
                );
                bound(&mut text);
                self.items.push((name, Leaf::Text(text)));
            }
        }
    }
}

/// Cuts `text` to [`ARG_VALUE_LIMIT`] bytes at a character boundary, marked.
fn bound(text: &mut String) {
    if text.len() <= ARG_VALUE_LIMIT {
        return;
    }
    let whole = text.len();
    let marker = format!("…[truncated, {whole} bytes]");
    let mut cut = ARG_VALUE_LIMIT.saturating_sub(marker.len());
    while !text.is_char_boundary(cut) {
        cut -= 1;
    }
    text.truncate(cut);
    text.push_str(&marker);
}

/// A list's (or other non-scalar's) text: in a Python-like literal form
/// (`[1, "a", {"k": True}]`).
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
