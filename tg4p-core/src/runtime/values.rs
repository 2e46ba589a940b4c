//! Typed argument values: what `instant!`, `span!`, `#[trace_args]` and `ret`
//! record, each as its Perfetto debug-annotation type (`int_value`, `uint_value`,
//! `double_value`, `bool_value`, `string_value`), chosen from the value's type
//! where the macro expands, without specialization.
//!
//! # The dispatch
//! Generated code calls `Probe::new(&value).__tg4p_arg()`. `Probe<T>` has an
//! inherent method for every `T: Typed` (the recorded types, and references to
//! them); for any other type, method lookup derefs the probe to its [`Fallback`],
//! whose method records the value's `Debug` text. Inherent methods need no trait in scope, so generated code
//! imports nothing. `__tg4p_typed` is the same choice without the `Debug` bound
//! (`None` for other types): `#[trace_args]` and `ret` pair it with their own
//! `Debug` check, which reports a non-`Debug` argument at the user's token.

use super::args::{ARG_VALUE_LIMIT, ArgText, MAX_ARGS, with_scratch};
use super::record::{ArgValue, TypedArg};
use crate::annotation::{MAX_DEPTH, Value};
use std::borrow::Cow;
use std::fmt::{self, Debug, Display};
use std::ops::{Deref, Range};

/// An argument value as generated code captured it: a typed value, or a value to
/// record as its `Debug` or `Display` text.
#[derive(Clone, Copy)]
pub enum ArgRef<'a> {
    /// A signed integer: `int_value`.
    Int(i64),
    /// An unsigned integer: `uint_value`.
    Uint(u64),
    /// A float: `double_value`.
    Double(f64),
    /// A bool: `bool_value`.
    Bool(bool),
    /// A char: a one-char `string_value`.
    Char(char),
    /// A string, recorded as is (no quotes), bounded by [`ARG_VALUE_LIMIT`].
    Str(&'a str),
    /// Its `Debug` text (`?value`, and the fallback for other types).
    Debug(&'a (dyn Debug + 'a)),
    /// Its `Display` text (`%value`).
    Display(&'a (dyn Display + 'a)),
    /// A nested dict or array: a value recorded through serde (`tg4p::serde(&v)`).
    Tree(&'a (dyn TreeValue + 'a)),
}

/// A value recorded as a nested dict or array annotation: with the `serde`
/// feature, every `serde::Serialize` type (bounded as
/// `annotation::Value::from_serialize` says).
#[diagnostic::on_unimplemented(
    message = "`{Self}` is recorded through serde, and it does not implement `serde::Serialize` here",
    label = "not `serde::Serialize`, or tg4p's `serde` feature is off",
    note = "enable tg4p's `serde` feature (`features = [\"serde\"]` on the tg4p dependency) and derive `serde::Serialize` for the type"
)]
pub trait TreeValue {
    /// The value as a dict or array (or a scalar).
    fn __tg4p_tree(&self) -> Value;
}

#[cfg(feature = "serde")]
impl<T: serde::Serialize + ?Sized> TreeValue for T {
    fn __tg4p_tree(&self) -> Value {
        Value::from_serialize(self)
    }
}

/// `tg4p::serde(&v)` in `instant!` and `span!`: typed, as a tree.
#[cfg(feature = "serde")]
impl<T: serde::Serialize + ?Sized> Typed for crate::annotation::Serde<'_, T> {
    #[inline(always)]
    fn __tg4p_value(&self) -> ArgRef<'_> {
        ArgRef::Tree(self)
    }
}

impl Debug for ArgRef<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ArgRef::Int(v) => f.debug_tuple("Int").field(v).finish(),
            ArgRef::Uint(v) => f.debug_tuple("Uint").field(v).finish(),
            ArgRef::Double(v) => f.debug_tuple("Double").field(v).finish(),
            ArgRef::Bool(v) => f.debug_tuple("Bool").field(v).finish(),
            ArgRef::Char(v) => f.debug_tuple("Char").field(v).finish(),
            ArgRef::Str(v) => f.debug_tuple("Str").field(v).finish(),
            ArgRef::Debug(v) => f.debug_tuple("Debug").field(v).finish(),
            ArgRef::Display(v) => f
                .debug_tuple("Display")
                .field(&format_args!("{v}"))
                .finish(),
            ArgRef::Tree(v) => f.debug_tuple("Tree").field(&v.__tg4p_tree()).finish(),
        }
    }
}

impl<'a> ArgRef<'a> {
    /// The typed value if there is one, else `value`'s `Debug` text.
    #[inline(always)]
    pub fn pick(typed: Option<ArgRef<'a>>, value: &'a dyn Debug) -> ArgRef<'a> {
        match typed {
            Some(t) => t,
            None => ArgRef::Debug(value),
        }
    }

    /// `value`'s `Display` text: what `%value` records.
    #[inline(always)]
    pub fn display<T: Display>(value: &'a T) -> ArgRef<'a> {
        ArgRef::Display(value)
    }

    /// `value`'s `Debug` text: what `?value` records.
    #[inline(always)]
    pub fn debug<T: Debug>(value: &'a T) -> ArgRef<'a> {
        ArgRef::Debug(value)
    }

    /// `value` as a nested dict or array, through serde: what
    /// `#[trace_args(serde(x))]` records for `x`.
    #[inline(always)]
    pub fn serde<T: TreeValue>(value: &'a T) -> ArgRef<'a> {
        ArgRef::Tree(value)
    }
}

/// Chooses how a value is recorded from its type (see the module docs).
pub struct Probe<'a, T: ?Sized>(Fallback<'a, T>);

/// What a [`Probe`] of a type without a typed recording derefs to.
pub struct Fallback<'a, T: ?Sized>(&'a T);

impl<'a, T: ?Sized> Probe<'a, T> {
    /// The probe of `value`.
    #[inline(always)]
    pub fn new(value: &'a T) -> Self {
        Probe(Fallback(value))
    }
}

impl<'a, T: ?Sized> Deref for Probe<'a, T> {
    type Target = Fallback<'a, T>;
    #[inline(always)]
    fn deref(&self) -> &Fallback<'a, T> {
        &self.0
    }
}

impl<'a, T: ?Sized> Fallback<'a, T> {
    /// No typed recording for `T`.
    #[inline(always)]
    pub fn __tg4p_typed(&self) -> Option<ArgRef<'a>> {
        None
    }
}

impl<'a, T: Debug> Fallback<'a, T> {
    /// `T` is recorded as its `Debug` text.
    #[inline(always)]
    pub fn __tg4p_arg(&self) -> ArgRef<'a> {
        ArgRef::Debug(self.0)
    }
}

/// A type recorded as a typed value. Implemented for the integers (up to 64 bits),
/// floats, `bool`, `char`, `str`, `String`, `Cow<str>`, and references to them.
///
/// One generic inherent method of [`Probe`] is bounded by it, rather than one
/// method per type: so a value whose integer type is not inferred yet (`let n = 5;`
/// then `n = n`) still finds exactly one method, and rustc's fallback (`i32`)
/// settles the bound later.
pub trait Typed {
    /// The value, typed.
    fn __tg4p_value(&self) -> ArgRef<'_>;
}

impl<'a, T: Typed + ?Sized> Probe<'a, T> {
    /// The value, typed.
    #[inline(always)]
    pub fn __tg4p_typed(&self) -> Option<ArgRef<'a>> {
        Some((self.0).0.__tg4p_value())
    }
    /// The value, typed.
    #[inline(always)]
    pub fn __tg4p_arg(&self) -> ArgRef<'a> {
        (self.0).0.__tg4p_value()
    }
}

macro_rules! typed {
    ($($t:ty => |$v:ident| $e:expr;)*) => {$(
        impl Typed for $t {
            #[inline(always)]
            fn __tg4p_value(&self) -> ArgRef<'_> {
                let $v = self;
                $e
            }
        }
    )*};
}

typed! {
    i8 => |v| ArgRef::Int(*v as i64);
    i16 => |v| ArgRef::Int(*v as i64);
    i32 => |v| ArgRef::Int(*v as i64);
    i64 => |v| ArgRef::Int(*v);
    isize => |v| ArgRef::Int(*v as i64);
    u8 => |v| ArgRef::Uint(*v as u64);
    u16 => |v| ArgRef::Uint(*v as u64);
    u32 => |v| ArgRef::Uint(*v as u64);
    u64 => |v| ArgRef::Uint(*v);
    usize => |v| ArgRef::Uint(*v as u64);
    f32 => |v| ArgRef::Double(*v as f64);
    f64 => |v| ArgRef::Double(*v);
    bool => |v| ArgRef::Bool(*v);
    char => |v| ArgRef::Char(*v);
    str => |v| ArgRef::Str(v);
    String => |v| ArgRef::Str(v.as_str());
    Cow<'_, str> => |v| ArgRef::Str(v);
}

impl<T: Typed + ?Sized> Typed for &T {
    #[inline(always)]
    fn __tg4p_value(&self) -> ArgRef<'_> {
        (**self).__tg4p_value()
    }
}

/// A literal argument (`n = 3`): typed through a trait bound rather than a method,
/// so that an integer or float literal keeps rustc's fallback (`i32`, `f64`).
pub trait LiteralArg {
    /// The literal's value.
    fn __tg4p_literal(&self) -> ArgRef<'_>;
}

macro_rules! literal {
    ($($t:ty),*) => {$(
        impl LiteralArg for $t {
            #[inline(always)]
            fn __tg4p_literal(&self) -> ArgRef<'_> {
                Probe::new(self).__tg4p_arg()
            }
        }
    )*};
}
literal!(
    i8, i16, i32, i64, isize, u8, u16, u32, u64, usize, f32, f64, bool, char, &str
);

impl<const N: usize> LiteralArg for [u8; N] {
    fn __tg4p_literal(&self) -> ArgRef<'_> {
        ArgRef::Debug(self)
    }
}

impl LiteralArg for i128 {
    fn __tg4p_literal(&self) -> ArgRef<'_> {
        ArgRef::Debug(self)
    }
}

impl LiteralArg for u128 {
    fn __tg4p_literal(&self) -> ArgRef<'_> {
        ArgRef::Debug(self)
    }
}

/// The value of literal `value`.
#[inline(always)]
pub fn literal<T: LiteralArg>(value: &T) -> ArgRef<'_> {
    value.__tg4p_literal()
}

/// A typed value that needs no text: none of `Debug`, `Display`, a char or a
/// string longer than [`ARG_VALUE_LIMIT`].
#[inline(always)]
fn direct<'a>(v: &ArgRef<'a>) -> Option<ArgValue<'a>> {
    Some(match *v {
        ArgRef::Int(v) => ArgValue::Int(v),
        ArgRef::Uint(v) => ArgValue::Uint(v),
        ArgRef::Double(v) => ArgValue::Double(v),
        ArgRef::Bool(v) => ArgValue::Bool(v),
        ArgRef::Str(s) if s.len() <= ARG_VALUE_LIMIT => ArgValue::Str(s),
        _ => return None,
    })
}

/// `values` as typed values that need no text (see `direct`), if all of them are
/// and there are at most [`MAX_ARGS`]: what the compact record of a callsite's
/// typed args (`record::put_callsite_typed`) holds.
#[inline(always)]
pub(crate) fn direct_all<'a, const N: usize>(
    values: &[ArgRef<'a>; N],
) -> Option<[ArgValue<'a>; N]> {
    if N > MAX_ARGS {
        return None;
    }
    let mut all = true;
    let direct: [ArgValue<'a>; N] = std::array::from_fn(|i| {
        direct(&values[i]).unwrap_or_else(|| {
            all = false;
            ArgValue::Bool(false)
        })
    });
    all.then_some(direct)
}

/// Runs `f` on `values` as typed args named `names` (`"arg"` past its end), at
/// most [`MAX_ARGS`] of them; texts are formatted into the thread's scratch buffer.
pub(crate) fn with_typed<const N: usize, R>(
    names: &[&'static str],
    values: &[ArgRef<'_>; N],
    f: impl FnOnce(&[TypedArg<'_>]) -> R,
) -> R {
    let n = N.min(MAX_ARGS);
    let name = |i: usize| names.get(i).copied().unwrap_or("arg");
    if values.iter().all(|v| direct(v).is_some()) {
        let typed: [TypedArg<'_>; N] = std::array::from_fn(|i| TypedArg {
            name: name(i),
            value: direct(&values[i]).unwrap_or(ArgValue::Bool(false)),
        });
        return f(&typed[..n]);
    }
    with_scratch(|text: &mut ArgText| {
        let ranges: [Range<usize>; N] = std::array::from_fn(|i| match values[i] {
            _ if i >= n || direct(&values[i]).is_some() => 0..0,
            ArgRef::Debug(d) => text.push_bounded(format_args!("{d:?}")),
            ArgRef::Display(d) => text.push_bounded(format_args!("{d}")),
            ArgRef::Char(c) => text.push_bounded(format_args!("{c}")),
            ArgRef::Str(s) => text.push_bounded(format_args!("{s}")),
            ArgRef::Tree(t) => {
                let start = text.bytes.len();
                encode_tree(&t.__tg4p_tree(), &mut text.bytes);
                start..text.bytes.len()
            }
            _ => 0..0,
        });
        let text: &ArgText = text;
        let typed: [TypedArg<'_>; N] = std::array::from_fn(|i| TypedArg {
            name: name(i),
            value: direct(&values[i]).unwrap_or_else(|| match values[i] {
                ArgRef::Tree(_) => ArgValue::Tree(&text.bytes[ranges[i].clone()]),
                _ => ArgValue::Str(&text.text[ranges[i].clone()]),
            }),
        });
        f(&typed[..n])
    })
}

// A nested value's bytes in a record (written on the recording thread, read by
// the writer): one tag byte, then for `Int`, `Uint`, `Double` 8 bytes (LE), for
// `Bool` one byte, for `Str` a u32 length (LE) and the bytes, for `Dict` a u32
// count and per entry a key (as a `Str` without its tag) and a value, for `Array`
// a u32 count and the values.
const TREE_INT: u8 = 0;
const TREE_UINT: u8 = 1;
const TREE_DOUBLE: u8 = 2;
const TREE_BOOL: u8 = 3;
const TREE_STR: u8 = 4;
const TREE_DICT: u8 = 5;
const TREE_ARRAY: u8 = 6;

/// Appends the bytes of `v` to `out` (see the layout above): what an
/// [`ArgValue::Tree`] holds, for bindings that record nested values they built.
pub fn encode_tree(v: &Value, out: &mut Vec<u8>) {
    fn text(s: &str, out: &mut Vec<u8>) {
        let s = &s.as_bytes()[..s.len().min(u32::MAX as usize)];
        out.extend_from_slice(&(s.len() as u32).to_le_bytes());
        out.extend_from_slice(s);
    }
    match v {
        Value::Int(x) => {
            out.push(TREE_INT);
            out.extend_from_slice(&x.to_le_bytes());
        }
        Value::Uint(x) => {
            out.push(TREE_UINT);
            out.extend_from_slice(&x.to_le_bytes());
        }
        Value::Double(x) => {
            out.push(TREE_DOUBLE);
            out.extend_from_slice(&x.to_bits().to_le_bytes());
        }
        Value::Bool(x) => out.extend_from_slice(&[TREE_BOOL, *x as u8]),
        Value::Str(s) => {
            out.push(TREE_STR);
            text(s, out);
        }
        Value::Dict(entries) => {
            out.push(TREE_DICT);
            out.extend_from_slice(&(entries.len() as u32).to_le_bytes());
            for (k, v) in entries {
                text(k, out);
                encode_tree(v, out);
            }
        }
        Value::Array(items) => {
            out.push(TREE_ARRAY);
            out.extend_from_slice(&(items.len() as u32).to_le_bytes());
            for v in items {
                encode_tree(v, out);
            }
        }
    }
}

/// The value whose bytes [`encode_tree`] wrote at the start of `bytes`, or `None`
/// if they are cut short, malformed, or nested deeper than [`MAX_DEPTH`].
pub(crate) fn decode_tree(bytes: &[u8]) -> Option<Value> {
    fn take<'b>(b: &mut &'b [u8], n: usize) -> Option<&'b [u8]> {
        let (head, rest) = b.split_at_checked(n)?;
        *b = rest;
        Some(head)
    }
    fn word(b: &mut &[u8]) -> Option<[u8; 8]> {
        take(b, 8)?.try_into().ok()
    }
    fn len(b: &mut &[u8]) -> Option<usize> {
        Some(u32::from_le_bytes(take(b, 4)?.try_into().ok()?) as usize)
    }
    fn text(b: &mut &[u8]) -> Option<String> {
        let n = len(b)?;
        Some(String::from_utf8_lossy(take(b, n)?).into_owned())
    }
    fn value(b: &mut &[u8], depth: usize) -> Option<Value> {
        if depth > MAX_DEPTH {
            return None;
        }
        Some(match *take(b, 1)?.first()? {
            TREE_INT => Value::Int(i64::from_le_bytes(word(b)?)),
            TREE_UINT => Value::Uint(u64::from_le_bytes(word(b)?)),
            TREE_DOUBLE => Value::Double(f64::from_bits(u64::from_le_bytes(word(b)?))),
            TREE_BOOL => Value::Bool(*take(b, 1)?.first()? != 0),
            TREE_STR => Value::Str(text(b)?),
            TREE_DICT => {
                let n = len(b)?;
                // Each entry takes at least 5 bytes: no huge allocation from a bad count.
                let mut entries = Vec::with_capacity(n.min(b.len() / 5));
                for _ in 0..n {
                    let k = text(b)?;
                    entries.push((k, value(b, depth + 1)?));
                }
                Value::Dict(entries)
            }
            TREE_ARRAY => {
                let n = len(b)?;
                let mut items = Vec::with_capacity(n.min(b.len()));
                for _ in 0..n {
                    items.push(value(b, depth + 1)?);
                }
                Value::Array(items)
            }
            _ => return None,
        })
    }
    let mut b = bytes;
    value(&mut b, 1)
}

/// Typed values kept past the call that captured them: a traced future's args,
/// from its creation to its first poll (texts formatted, bounded, at creation).
#[derive(Debug, Default)]
pub(crate) struct KeptArgs {
    values: Vec<Kept>,
}

#[derive(Debug)]
enum Kept {
    Int(i64),
    Uint(u64),
    Double(f64),
    Bool(bool),
    Str(Box<str>),
    Tree(Box<[u8]>),
}

impl KeptArgs {
    /// Keeps `values` (at most [`MAX_ARGS`]).
    pub(crate) fn keep<const N: usize>(values: &[ArgRef<'_>; N]) -> KeptArgs {
        let values = with_typed(&[], values, |typed| {
            typed
                .iter()
                .map(|t| match t.value {
                    ArgValue::Int(v) => Kept::Int(v),
                    ArgValue::Uint(v) => Kept::Uint(v),
                    ArgValue::Double(v) => Kept::Double(v),
                    ArgValue::Bool(v) => Kept::Bool(v),
                    ArgValue::Str(v) => Kept::Str(v.into()),
                    ArgValue::Tree(v) => Kept::Tree(v.into()),
                })
                .collect()
        });
        KeptArgs { values }
    }

    /// Runs `f` on the kept values as typed args named `names` (`"arg"` past its
    /// end).
    pub(crate) fn with<R>(
        &self,
        names: &[&'static str],
        f: impl FnOnce(&[TypedArg<'_>]) -> R,
    ) -> R {
        // Most traced futures have no args: no array to fill at their first poll.
        if self.values.is_empty() {
            return f(&[]);
        }
        let typed: [TypedArg<'_>; MAX_ARGS] = std::array::from_fn(|i| TypedArg {
            name: names.get(i).copied().unwrap_or("arg"),
            value: match self.values.get(i) {
                Some(Kept::Int(v)) => ArgValue::Int(*v),
                Some(Kept::Uint(v)) => ArgValue::Uint(*v),
                Some(Kept::Double(v)) => ArgValue::Double(*v),
                Some(Kept::Bool(v)) => ArgValue::Bool(*v),
                Some(Kept::Str(v)) => ArgValue::Str(v),
                Some(Kept::Tree(v)) => ArgValue::Tree(v),
                None => ArgValue::Bool(false),
            },
        });
        f(&typed[..self.values.len().min(MAX_ARGS)])
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Debug)]
    struct Opaque;

    #[test]
    fn each_type_is_probed_as_its_annotation_type() {
        let s = String::from("text");
        let cow: Cow<'static, str> = Cow::Borrowed("cow");
        let r = &7u16;
        let borrowed = s.as_str();
        let probed = [
            Probe::new(&-3i8).__tg4p_arg(),
            Probe::new(&u64::MAX).__tg4p_arg(),
            Probe::new(&1.5f32).__tg4p_arg(),
            Probe::new(&true).__tg4p_arg(),
            Probe::new(&'é').__tg4p_arg(),
            Probe::new(&s).__tg4p_arg(),
            Probe::new(&borrowed).__tg4p_arg(),
            Probe::new(&cow).__tg4p_arg(),
            Probe::new(&r).__tg4p_arg(),
            Probe::new(&Opaque).__tg4p_arg(),
            Probe::new(&Some(1)).__tg4p_arg(),
        ];
        let shown: Vec<String> = probed.iter().map(|a| format!("{a:?}")).collect();
        assert_eq!(
            shown,
            [
                "Int(-3)",
                "Uint(18446744073709551615)",
                "Double(1.5)",
                "Bool(true)",
                "Char('é')",
                "Str(\"text\")",
                "Str(\"text\")",
                "Str(\"cow\")",
                "Uint(7)",
                "Debug(Opaque)",
                "Debug(Some(1))",
            ]
        );
        assert!(Probe::new(&Opaque).__tg4p_typed().is_none());
        assert!(matches!(literal(&3), ArgRef::Int(3)));
        assert!(matches!(literal(&"s"), ArgRef::Str("s")));
    }

    #[test]
    fn trees_decode_as_encoded_and_cut_bytes_do_not() {
        let tree = Value::Dict(vec![
            ("i".into(), Value::Int(-2)),
            ("u".into(), Value::Uint(u64::MAX)),
            ("d".into(), Value::Double(0.5)),
            ("b".into(), Value::Bool(true)),
            ("s".into(), Value::Str("é".into())),
            (
                "a".into(),
                Value::Array(vec![Value::Dict(vec![]), Value::Array(vec![])]),
            ),
        ]);
        let mut bytes = Vec::new();
        encode_tree(&tree, &mut bytes);
        assert_eq!(decode_tree(&bytes), Some(tree));
        for cut in 0..bytes.len() {
            assert_eq!(decode_tree(&bytes[..cut]), None, "cut at {cut}");
        }
        // A hostile count allocates nothing up front and fails.
        assert_eq!(decode_tree(&[6, 255, 255, 255, 255]), None);
        // Deeper than MAX_DEPTH: refused, not recursed into.
        let mut deep = [6, 1, 0, 0, 0].repeat(MAX_DEPTH + 1);
        deep.extend([0; 9]);
        assert_eq!(decode_tree(&deep), None);
    }

    #[test]
    fn texts_are_formatted_and_bounded() {
        let long = "x".repeat(ARG_VALUE_LIMIT + 5);
        let values = [
            ArgRef::Int(1),
            ArgRef::Display(&"shown"),
            ArgRef::Debug(&"quoted"),
            ArgRef::Char('c'),
            ArgRef::Str(&long),
        ];
        let got = with_typed(&["a", "b"], &values, |typed| {
            typed
                .iter()
                .map(|t| (t.name.to_owned(), format!("{:?}", t.value)))
                .collect::<Vec<_>>()
        });
        assert_eq!(got[0], ("a".into(), "Int(1)".into()));
        assert_eq!(got[1], ("b".into(), "Str(\"shown\")".into()));
        assert_eq!(got[2], ("arg".into(), "Str(\"\\\"quoted\\\"\")".into()));
        assert_eq!(got[3].1, "Str(\"c\")");
        assert!(got[4].1.contains("truncated"), "{}", got[4].1);
    }
}
