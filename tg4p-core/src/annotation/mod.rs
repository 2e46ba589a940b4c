//! Annotation values: the arguments attached to events (Perfetto's debug annotations).

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
#[derive(Clone, Debug, PartialEq)]
pub enum Value {
    Bool(bool),
    Int(i64),
    Uint(u64),
    Double(f64),
    Str(String),
    /// Entries keep the order they were given in.
    Dict(Vec<(String, Value)>),
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
