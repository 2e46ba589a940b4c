//! Annotation values: the arguments attached to events (Perfetto's debug annotations).
//!
//! Build them with the [`args!`](crate::args) macro, which reads like JSON, or from
//! Rust values through `From`:
//!
//! ```
//! use tg4p_core::annotation::Value;
//! let v = tg4p_core::args!({"name": "abc", "sizes": [1, 2, -3], "ok": true, "ratio": 0.5});
//! assert_eq!(v, Value::Dict(vec![
//!     ("name".into(), Value::Str("abc".into())),
//!     ("sizes".into(), Value::Array(vec![Value::Int(1), Value::Int(2), Value::Int(-3)])),
//!     ("ok".into(), Value::Bool(true)),
//!     ("ratio".into(), Value::Double(0.5)),
//! ]));
//! ```
//!
//! With the `serde` feature, any `serde::Serialize` value converts too, through
//! `annotation::serde(&value)` (or `Value::from_serialize`), bounded in depth and size.
//!
//! # Limits
//! - Nesting: at most [`MAX_DEPTH`] levels; deeper values are refused by the writers
//!   with an error (checked without recursion), never truncated.
//! - An empty dict or array is written as the string `"{}"` or `"[]"`:
//!   trace_processor does not import an annotation that has no value at all.
//! - Dropping a value of any depth is iterative (no stack overflow). `Clone`,
//!   `PartialEq` and `Debug` recurse, one stack frame per level: fine up to
//!   [`MAX_DEPTH`], but avoid them on hostile values thousands of levels deep.

mod convert;
mod macros;
#[cfg(feature = "serde")]
mod serialize;
#[cfg(feature = "serde")]
pub use serialize::{SERDE_DEPTH_LIMIT, SERDE_NODE_LIMIT, Serde, serde};

/// How deep annotation values may nest (a scalar at top level has depth 1; each dict or
/// array around it adds one).
///
/// Protobuf decoders refuse messages nested deeper than about 100 levels, and an
/// annotation sits three messages deep in a trace (`Trace` > `TracePacket` >
/// `TrackEvent`), so 64 leaves a wide margin. Deeper values are refused with an
/// error, never truncated.
pub const MAX_DEPTH: usize = 64;

/// An annotation value: a scalar, an ordered dict or an array, nested freely up to
/// [`MAX_DEPTH`].
///
/// Empty dicts and arrays are written as the strings `"{}"` and `"[]"` (see the
/// module docs); dict keys may repeat and keep their order.
#[derive(Clone, Debug, PartialEq)]
pub enum Value {
    /// A boolean.
    Bool(bool),
    /// A signed integer.
    Int(i64),
    /// An unsigned integer.
    Uint(u64),
    /// A float.
    Double(f64),
    /// A string.
    Str(String),
    /// Entries keep the order they were given in.
    Dict(Vec<(String, Value)>),
    /// Values in order.
    Array(Vec<Value>),
}

impl Value {
    /// The nesting depth: 1 for a scalar or an empty container, one more per level.
    ///
    /// Computed without recursion, so hostile input cannot overflow the stack.
    pub fn depth(&self) -> usize {
        let mut deepest = 0;
        let mut stack = vec![(self, 1usize)];
        while let Some((value, depth)) = stack.pop() {
            deepest = deepest.max(depth);
            match value {
                Value::Dict(entries) => stack.extend(entries.iter().map(|(_, v)| (v, depth + 1))),
                Value::Array(items) => stack.extend(items.iter().map(|v| (v, depth + 1))),
                _ => {}
            }
        }
        deepest
    }
}

impl Drop for Value {
    /// Drops nested containers with an explicit stack instead of recursion, so a value
    /// nested thousands of levels deep cannot overflow the thread's stack.
    fn drop(&mut self) {
        // Fast path: a scalar, or a container whose children are all leaves (or empty
        // containers), drops without any recursion worth avoiding.
        let nested = match self {
            Value::Dict(entries) => entries.iter().any(|(_, v)| v.has_children()),
            Value::Array(items) => items.iter().any(Value::has_children),
            _ => false,
        };
        if !nested {
            return;
        }
        let mut stack = Vec::new();
        self.move_children_to(&mut stack);
        while let Some(mut value) = stack.pop() {
            value.move_children_to(&mut stack);
            // `value` is now a leaf or an empty container: dropping it recurses no further.
        }
    }
}

impl Value {
    fn has_children(&self) -> bool {
        match self {
            Value::Dict(entries) => !entries.is_empty(),
            Value::Array(items) => !items.is_empty(),
            _ => false,
        }
    }

    fn move_children_to(&mut self, stack: &mut Vec<Value>) {
        match self {
            Value::Dict(entries) => stack.extend(entries.drain(..).map(|(_, v)| v)),
            Value::Array(items) => stack.append(items),
            _ => {}
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn chain(depth: usize) -> Value {
        let mut v = Value::Int(0);
        for i in 1..depth {
            v = if i % 2 == 0 {
                Value::Array(vec![v])
            } else {
                Value::Dict(vec![("k".into(), v)])
            };
        }
        v
    }

    #[test]
    fn deep_values_measure_and_drop_without_recursion() {
        // Run on a small stack so a recursive drop would certainly overflow.
        std::thread::Builder::new()
            .stack_size(64 * 1024)
            .spawn(|| {
                let v = chain(100_000);
                assert_eq!(v.depth(), 100_000);
                drop(v);
            })
            .unwrap()
            .join()
            .unwrap();
    }

    #[test]
    fn depth_counts_levels() {
        assert_eq!(Value::Int(1).depth(), 1);
        assert_eq!(Value::Array(vec![]).depth(), 1);
        assert_eq!(chain(64).depth(), 64);
    }
}
