//! The one module that records through tg4p's private seam (`tg4p::__private`,
//! what `#[trace]` and `span!` expand to).
//!
//! The public live API names events with `&'static str` literals, takes the
//! source location from the Rust caller and captures arguments through macros
//! only. A Python program needs events with runtime names, its own source
//! locations (file, line and function of the Python code) and arguments from
//! Python objects, so this module builds callsites itself and records through the
//! seam's `Details` calls, with typed args.
//!
//! # Names
//! Callsites are kept for the program's life, so they are made per source
//! location (and per traced function), never per runtime string: an instant's or
//! a `with` block's name and the names of arguments from dicts and keywords go
//! with each event (`Details::name`, each arg's name), so a program that makes a
//! new name per event (`instant(f"step {i}")`) keeps nothing per name. Only
//! track and counter names are kept, one track each (tg4p's tracks live for the
//! program, as `Track::named`'s do).
//!
//! # Arguments
//! Each argument becomes one typed arg as tg4p records them: `bool`, `int`,
//! `float` and `str` as `bool`, `int`/`uint`, `double` and `string` values; a
//! `dict`, `list` or `tuple` as a nested dict/array annotation with typed leaves
//! (a tree, as tg4p's `serde` values are recorded), or as its Python-literal text
//! if its encoding passes [`MAX_TREE_BYTES`].

use pyo3::prelude::*;
use std::collections::HashMap;
use std::fmt::{self, Debug, Write as _};
use std::sync::Mutex;
use std::sync::atomic::{AtomicUsize, Ordering::Relaxed};
use tg4p::__private::{
    ArgValue, Callsite, Details, FnSpan, Function, Span, TypedArg, enabled, encode_tree, enter,
    flow_id_vec, instant_details, span_details,
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
    let sites = sites.get_or_insert_with(HashMap::new);
    let site = *sites.entry(key).or_insert_with(|| {
        Box::leak(Box::new(Callsite::new(
            name,
            Function::Path(at.function),
            at.file,
            at.line,
            arg_names,
        )))
    });
    SITE_COUNT.store(sites.len(), Relaxed);
    site
}

/// How many callsites [`callsite`] made (for the tests).
static SITE_COUNT: AtomicUsize = AtomicUsize::new(0);

/// How many names are kept ([`crate::names`]) and how many callsites
/// (`_kept_names()`): what a program's new names would grow.
#[pyfunction]
pub(crate) fn _kept_names() -> (usize, usize) {
    (crate::names::kept(), SITE_COUNT.load(Relaxed))
}

/// The slice of one traced call, ended when dropped (also when the call raised).
#[must_use]
// The guards are held only for their `Drop`, which ends the slice.
#[allow(dead_code)]
pub(crate) enum CallGuard {
    Thread(FnSpan),
    Track(Span),
}

/// Starts the slice of a traced call on the calling thread's track or on `track`,
/// with arguments `args` named `names`.
#[inline]
pub(crate) fn begin_call(
    site: &'static Callsite,
    track: Option<&'static Track>,
    names: &[&str],
    args: &[Value],
) -> CallGuard {
    match track {
        None if args.is_empty() => CallGuard::Thread(enter(site)),
        None => with_typed(names, args, |typed| {
            CallGuard::Thread(FnSpan::begin_details(site, &Details::args(typed)))
        }),
        Some(track) => with_typed(names, args, |typed| {
            CallGuard::Track(span_details(site, Some(track), &Details::args(typed)))
        }),
    }
}

/// [`begin_call`] with arguments already typed.
#[inline]
pub(crate) fn begin_call_typed(
    site: &'static Callsite,
    track: Option<&'static Track>,
    typed: &[TypedArg<'_>],
) -> CallGuard {
    let details = Details::args(typed);
    match track {
        None => CallGuard::Thread(FnSpan::begin_details(site, &details)),
        Some(track) => CallGuard::Track(span_details(site, Some(track), &details)),
    }
}

/// Starts a slice named `name` that can take flows (a `with ...trace(..)`
/// block), with arguments `args` named `names`.
pub(crate) fn begin_span(
    site: &'static Callsite,
    track: Option<&'static Track>,
    name: &str,
    names: &[&str],
    args: &[Value],
) -> Span {
    with_typed(names, args, |typed| {
        span_details(site, track, &Details::args(typed).named(Some(name)))
    })
}

/// Records an instant named `name` (arguments `args` named `names`) ending the
/// flows `incoming` and starting `outgoing` new ones (at most
/// [`MAX_OUTGOING_FLOWS`]); returns the new flows' ids.
pub(crate) fn instant(
    site: &'static Callsite,
    track: Option<&'static Track>,
    name: &str,
    names: &[&str],
    args: &[Value],
    incoming: &[FlowId],
    outgoing: usize,
) -> Vec<FlowId> {
    debug_assert!(outgoing <= MAX_OUTGOING_FLOWS);
    let ids = flow_id_vec(outgoing.min(MAX_OUTGOING_FLOWS));
    let out: Vec<u64> = ids.iter().map(|f| f.raw()).collect();
    let inc: Vec<u64> = incoming.iter().map(|f| f.raw()).collect();
    with_typed(names, args, |typed| {
        instant_details(
            site,
            track,
            &Details::args(typed).named(Some(name)).flows(&out, &inc),
        );
    });
    ids
}

/// The largest nested value recorded as a tree; a bigger one is recorded as its
/// bounded text (a record must fit in one of tg4p's buffers).
const MAX_TREE_BYTES: usize = 8 * ARG_VALUE_LIMIT;

/// Runs `f` on `args` (named `names`, `"arg"` past its end) as typed args: see
/// the module docs.
fn with_typed<R>(names: &[&str], args: &[Value], f: impl FnOnce(&[TypedArg<'_>]) -> R) -> R {
    let name = |i: usize| names.get(i).copied().unwrap_or("arg");
    // Scalars only, up to four (the common case): no allocation.
    if args.len() <= 4 && args.iter().all(|a| scalar(a).is_some()) {
        let typed: [TypedArg<'_>; 4] = std::array::from_fn(|i| TypedArg {
            name: name(i),
            value: args
                .get(i)
                .and_then(scalar)
                .unwrap_or(ArgValue::Bool(false)),
        });
        return f(&typed[..args.len()]);
    }
    let encoded: Vec<Option<Nested>> = args
        .iter()
        .map(|a| scalar(a).is_none().then(|| Nested::of(a)))
        .collect();
    let typed: Vec<TypedArg<'_>> = args
        .iter()
        .zip(&encoded)
        .enumerate()
        .map(|(i, (arg, nested))| TypedArg {
            name: name(i),
            value: match nested {
                None => scalar(arg).unwrap_or(ArgValue::Bool(false)),
                Some(Nested::Tree(bytes)) => ArgValue::Tree(bytes),
                Some(Nested::Text(text)) => ArgValue::Str(text),
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

/// A nested value as recorded: its tree, or its text if the tree is too big.
enum Nested {
    Tree(Vec<u8>),
    Text(String),
}

impl Nested {
    fn of(value: &Value) -> Nested {
        let mut bytes = Vec::new();
        encode_tree(value, &mut bytes);
        if bytes.len() <= MAX_TREE_BYTES {
            return Nested::Tree(bytes);
        }
        let mut text = String::new();
        let _ = write!(text, "{:?}", Rendered { value, top: true });
        bound(&mut text);
        Nested::Text(text)
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
