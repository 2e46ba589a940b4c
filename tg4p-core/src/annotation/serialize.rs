//! Any `serde::Serialize` value as an annotation [`Value`] (the `serde` feature):
//! structs and maps become dicts, sequences and tuples arrays, scalars their
//! annotation types. Bounded like every other recorded value.
//!
//! # Limits
//! - Depth: at most [`SERDE_DEPTH_LIMIT`] levels; a container deeper than that
//!   becomes the string `…[truncated: deeper than 16 levels]` at the last level.
//! - Size: at most [`SERDE_NODE_LIMIT`] values (scalars and containers) in all;
//!   the entries past it are left out, and each container that lost some ends with
//!   a marker: the entry `"…": "[truncated: N entries left out]"` in a dict, the
//!   item `"…[truncated: N items left out]"` in an array.
//! - Strings: at most [`ARG_VALUE_LIMIT`](crate::runtime::ARG_VALUE_LIMIT) bytes,
//!   with the same `…[truncated, N bytes]` marker as other argument texts.
//! - `None` and `()` are the string `"null"`; a unit enum variant is its name; other
//!   variants are a one-entry dict `{variant: value}` (serde_json's layout). Map
//!   keys that are not strings are written as their value's text (`1`, `true`).
//! - A `Serialize` impl that fails gives the string `<serde error: ..>`.

use super::Value;
use crate::runtime::ARG_VALUE_LIMIT;
use serde::ser::{self, Serialize};
use std::fmt;

/// How deep a value recorded through serde may nest (see the module docs).
pub const SERDE_DEPTH_LIMIT: usize = 16;
/// How many values (scalars and containers) one value recorded through serde may
/// hold in all (see the module docs).
pub const SERDE_NODE_LIMIT: usize = 512;

/// A value recorded through its `serde::Serialize` impl: as a nested dict or array
/// annotation, not as `Debug` text. Made by [`serde()`].
#[derive(Clone, Copy)]
pub struct Serde<'a, T: ?Sized>(pub &'a T);

impl<T: ?Sized> fmt::Debug for Serde<'_, T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Serde(..)")
    }
}

/// Records `value` through its `serde::Serialize` impl, as a nested dict or array
/// annotation (bounded: see [`SERDE_DEPTH_LIMIT`], [`SERDE_NODE_LIMIT`]). Needs the
/// `serde` feature.
///
/// Rust has no specialization, so a type that is both `Debug` and `Serialize`
/// cannot be told apart where a macro expands: this wrapper says which to use.
///
/// ```
/// use std::collections::BTreeMap;
/// use tg4p_core::annotation::{Value, serde};
///
/// let sizes = BTreeMap::from([("a", vec![1u8, 2]), ("b", vec![])]);
/// let v = tg4p_core::args!({"sizes": serde(&sizes)});
/// assert_eq!(v, tg4p_core::args!({"sizes": {"a": [1u8, 2u8], "b": []}}));
/// assert_eq!(Value::from(serde(&Some(1.5))), Value::Double(1.5));
/// ```
pub fn serde<T: Serialize + ?Sized>(value: &T) -> Serde<'_, T> {
    Serde(value)
}

impl<T: Serialize + ?Sized> Serialize for Serde<'_, T> {
    fn serialize<S: ser::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        self.0.serialize(s)
    }
}

impl<T: Serialize + ?Sized> From<Serde<'_, T>> for Value {
    fn from(v: Serde<'_, T>) -> Value {
        Value::from_serialize(v.0)
    }
}

impl Value {
    /// `value` as an annotation value through its `serde::Serialize` impl,
    /// bounded (see [`SERDE_DEPTH_LIMIT`], [`SERDE_NODE_LIMIT`]). Needs the `serde`
    /// feature.
    ///
    /// ```
    /// use tg4p_core::annotation::Value;
    /// assert_eq!(
    ///     Value::from_serialize(&(1u8, "a")),
    ///     Value::Array(vec![Value::Uint(1), Value::Str("a".into())]),
    /// );
    /// ```
    pub fn from_serialize<T: Serialize + ?Sized>(value: &T) -> Value {
        let mut budget = SERDE_NODE_LIMIT;
        match value.serialize(Builder {
            budget: &mut budget,
            depth: 1,
        }) {
            Ok(v) => v,
            Err(Error(msg)) => Value::Str(bounded(&format!("<serde error: {msg}>"))),
        }
    }
}

/// `s`, cut at [`ARG_VALUE_LIMIT`] with the marker other argument texts get.
fn bounded(s: &str) -> String {
    if s.len() <= ARG_VALUE_LIMIT {
        return s.to_owned();
    }
    let mut cut = ARG_VALUE_LIMIT;
    while !s.is_char_boundary(cut) {
        cut -= 1;
    }
    format!("{}…[truncated, {} bytes]", &s[..cut], s.len())
}

/// A failed `Serialize` impl's message.
#[derive(Debug)]
struct Error(String);

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for Error {}

impl ser::Error for Error {
    fn custom<T: fmt::Display>(msg: T) -> Self {
        Error(msg.to_string())
    }
}

/// Builds one value at `depth`, out of the shared `budget` of values.
struct Builder<'b> {
    budget: &'b mut usize,
    depth: usize,
}

impl<'b> Builder<'b> {
    /// A container's builder, or the too-deep marker.
    fn open(self, kind: Kind, len: Option<usize>) -> Result<Compound<'b>, Error> {
        let too_deep = self.depth >= SERDE_DEPTH_LIMIT;
        Ok(Compound {
            budget: self.budget,
            depth: self.depth,
            kind,
            too_deep,
            items: Vec::with_capacity(if too_deep {
                0
            } else {
                len.unwrap_or(0).min(64)
            }),
            entries: Vec::new(),
            key: None,
            left_out: 0,
        })
    }

    fn child(&mut self) -> Builder<'_> {
        Builder {
            budget: self.budget,
            depth: self.depth + 1,
        }
    }
}

/// What a [`Compound`] builds.
#[derive(Clone, Copy, PartialEq)]
enum Kind {
    Array,
    Dict,
    /// A dict inside a one-entry dict named by the variant.
    VariantDict(&'static str),
    /// An array inside a one-entry dict named by the variant.
    VariantArray(&'static str),
}

/// A dict or an array being built.
struct Compound<'b> {
    budget: &'b mut usize,
    depth: usize,
    kind: Kind,
    too_deep: bool,
    items: Vec<Value>,
    entries: Vec<(String, Value)>,
    /// A map's key, waiting for its value.
    key: Option<String>,
    left_out: usize,
}

impl Compound<'_> {
    /// Whether one more value fits; counts it if so, and the left-out one if not.
    fn take(&mut self) -> bool {
        if self.too_deep {
            return false;
        }
        if *self.budget == 0 {
            self.left_out += 1;
            return false;
        }
        *self.budget -= 1;
        true
    }

    fn item<T: Serialize + ?Sized>(&mut self, v: &T) -> Result<(), Error> {
        if self.take() {
            let v = v.serialize(Builder {
                budget: self.budget,
                depth: self.depth + 1,
            })?;
            self.items.push(v);
        }
        Ok(())
    }

    fn entry<T: Serialize + ?Sized>(&mut self, key: String, v: &T) -> Result<(), Error> {
        if self.take() {
            let v = v.serialize(Builder {
                budget: self.budget,
                depth: self.depth + 1,
            })?;
            self.entries.push((key, v));
        }
        Ok(())
    }

    fn done(self) -> Result<Value, Error> {
        if self.too_deep {
            return Ok(Value::Str(format!(
                "…[truncated: deeper than {SERDE_DEPTH_LIMIT} levels]"
            )));
        }
        let n = self.left_out;
        let value = match self.kind {
            Kind::Array | Kind::VariantArray(_) => {
                let mut items = self.items;
                if n > 0 {
                    items.push(Value::Str(format!("…[truncated: {n} items left out]")));
                }
                Value::Array(items)
            }
            Kind::Dict | Kind::VariantDict(_) => {
                let mut entries = self.entries;
                if n > 0 {
                    entries.push((
                        "…".into(),
                        Value::Str(format!("[truncated: {n} entries left out]")),
                    ));
                }
                Value::Dict(entries)
            }
        };
        Ok(match self.kind {
            Kind::VariantDict(v) | Kind::VariantArray(v) => Value::Dict(vec![(v.into(), value)]),
            _ => value,
        })
    }
}

impl<'b> ser::Serializer for Builder<'b> {
    type Ok = Value;
    type Error = Error;
    type SerializeSeq = Compound<'b>;
    type SerializeTuple = Compound<'b>;
    type SerializeTupleStruct = Compound<'b>;
    type SerializeTupleVariant = Compound<'b>;
    type SerializeMap = Compound<'b>;
    type SerializeStruct = Compound<'b>;
    type SerializeStructVariant = Compound<'b>;

    fn serialize_bool(self, v: bool) -> Result<Value, Error> {
        Ok(Value::Bool(v))
    }
    fn serialize_i8(self, v: i8) -> Result<Value, Error> {
        Ok(Value::Int(v.into()))
    }
    fn serialize_i16(self, v: i16) -> Result<Value, Error> {
        Ok(Value::Int(v.into()))
    }
    fn serialize_i32(self, v: i32) -> Result<Value, Error> {
        Ok(Value::Int(v.into()))
    }
    fn serialize_i64(self, v: i64) -> Result<Value, Error> {
        Ok(Value::Int(v))
    }
    fn serialize_i128(self, v: i128) -> Result<Value, Error> {
        Ok(i64::try_from(v).map_or_else(|_| Value::Str(v.to_string()), Value::Int))
    }
    fn serialize_u8(self, v: u8) -> Result<Value, Error> {
        Ok(Value::Uint(v.into()))
    }
    fn serialize_u16(self, v: u16) -> Result<Value, Error> {
        Ok(Value::Uint(v.into()))
    }
    fn serialize_u32(self, v: u32) -> Result<Value, Error> {
        Ok(Value::Uint(v.into()))
    }
    fn serialize_u64(self, v: u64) -> Result<Value, Error> {
        Ok(Value::Uint(v))
    }
    fn serialize_u128(self, v: u128) -> Result<Value, Error> {
        Ok(u64::try_from(v).map_or_else(|_| Value::Str(v.to_string()), Value::Uint))
    }
    fn serialize_f32(self, v: f32) -> Result<Value, Error> {
        Ok(Value::Double(v.into()))
    }
    fn serialize_f64(self, v: f64) -> Result<Value, Error> {
        Ok(Value::Double(v))
    }
    fn serialize_char(self, v: char) -> Result<Value, Error> {
        Ok(Value::Str(v.to_string()))
    }
    fn serialize_str(self, v: &str) -> Result<Value, Error> {
        Ok(Value::Str(bounded(v)))
    }
    fn serialize_bytes(self, v: &[u8]) -> Result<Value, Error> {
        let mut seq = self.open(Kind::Array, Some(v.len()))?;
        for b in v {
            ser::SerializeSeq::serialize_element(&mut seq, b)?;
        }
        seq.done()
    }
    fn serialize_none(self) -> Result<Value, Error> {
        Ok(Value::Str("null".into()))
    }
    fn serialize_some<T: Serialize + ?Sized>(self, v: &T) -> Result<Value, Error> {
        v.serialize(self)
    }
    fn serialize_unit(self) -> Result<Value, Error> {
        Ok(Value::Str("null".into()))
    }
    fn serialize_unit_struct(self, name: &'static str) -> Result<Value, Error> {
        Ok(Value::Str(name.into()))
    }
    fn serialize_unit_variant(
        self,
        _: &'static str,
        _: u32,
        variant: &'static str,
    ) -> Result<Value, Error> {
        Ok(Value::Str(variant.into()))
    }
    fn serialize_newtype_struct<T: Serialize + ?Sized>(
        self,
        _: &'static str,
        v: &T,
    ) -> Result<Value, Error> {
        v.serialize(self)
    }
    fn serialize_newtype_variant<T: Serialize + ?Sized>(
        mut self,
        _: &'static str,
        _: u32,
        variant: &'static str,
        v: &T,
    ) -> Result<Value, Error> {
        if self.depth >= SERDE_DEPTH_LIMIT {
            return self.open(Kind::Dict, None)?.done();
        }
        let inner = v.serialize(self.child())?;
        Ok(Value::Dict(vec![(variant.into(), inner)]))
    }
    fn serialize_seq(self, len: Option<usize>) -> Result<Compound<'b>, Error> {
        self.open(Kind::Array, len)
    }
    fn serialize_tuple(self, len: usize) -> Result<Compound<'b>, Error> {
        self.open(Kind::Array, Some(len))
    }
    fn serialize_tuple_struct(self, _: &'static str, len: usize) -> Result<Compound<'b>, Error> {
        self.open(Kind::Array, Some(len))
    }
    fn serialize_tuple_variant(
        self,
        _: &'static str,
        _: u32,
        variant: &'static str,
        len: usize,
    ) -> Result<Compound<'b>, Error> {
        let depth = self.depth;
        let mut c = self.open(Kind::VariantArray(variant), Some(len))?;
        // The variant's dict adds a level.
        c.depth = depth + 1;
        c.too_deep = c.depth >= SERDE_DEPTH_LIMIT;
        Ok(c)
    }
    fn serialize_map(self, len: Option<usize>) -> Result<Compound<'b>, Error> {
        self.open(Kind::Dict, len)
    }
    fn serialize_struct(self, _: &'static str, len: usize) -> Result<Compound<'b>, Error> {
        self.open(Kind::Dict, Some(len))
    }
    fn serialize_struct_variant(
        self,
        _: &'static str,
        _: u32,
        variant: &'static str,
        len: usize,
    ) -> Result<Compound<'b>, Error> {
        let depth = self.depth;
        let mut c = self.open(Kind::VariantDict(variant), Some(len))?;
        c.depth = depth + 1;
        c.too_deep = c.depth >= SERDE_DEPTH_LIMIT;
        Ok(c)
    }
}

impl ser::SerializeSeq for Compound<'_> {
    type Ok = Value;
    type Error = Error;
    fn serialize_element<T: Serialize + ?Sized>(&mut self, v: &T) -> Result<(), Error> {
        self.item(v)
    }
    fn end(self) -> Result<Value, Error> {
        self.done()
    }
}

impl ser::SerializeTuple for Compound<'_> {
    type Ok = Value;
    type Error = Error;
    fn serialize_element<T: Serialize + ?Sized>(&mut self, v: &T) -> Result<(), Error> {
        self.item(v)
    }
    fn end(self) -> Result<Value, Error> {
        self.done()
    }
}

impl ser::SerializeTupleStruct for Compound<'_> {
    type Ok = Value;
    type Error = Error;
    fn serialize_field<T: Serialize + ?Sized>(&mut self, v: &T) -> Result<(), Error> {
        self.item(v)
    }
    fn end(self) -> Result<Value, Error> {
        self.done()
    }
}

impl ser::SerializeTupleVariant for Compound<'_> {
    type Ok = Value;
    type Error = Error;
    fn serialize_field<T: Serialize + ?Sized>(&mut self, v: &T) -> Result<(), Error> {
        self.item(v)
    }
    fn end(self) -> Result<Value, Error> {
        self.done()
    }
}

impl ser::SerializeMap for Compound<'_> {
    type Ok = Value;
    type Error = Error;
    fn serialize_key<T: Serialize + ?Sized>(&mut self, key: &T) -> Result<(), Error> {
        // A key is text; one that is not a string is its value's text.
        let mut budget = 1;
        let key = match &key.serialize(Builder {
            budget: &mut budget,
            depth: SERDE_DEPTH_LIMIT,
        })? {
            Value::Str(s) => s.clone(),
            Value::Int(v) => v.to_string(),
            Value::Uint(v) => v.to_string(),
            Value::Double(v) => v.to_string(),
            Value::Bool(v) => v.to_string(),
            other => bounded(&format!("{other:?}")),
        };
        self.key = Some(key);
        Ok(())
    }
    fn serialize_value<T: Serialize + ?Sized>(&mut self, v: &T) -> Result<(), Error> {
        let key = self.key.take().unwrap_or_default();
        self.entry(key, v)
    }
    fn end(self) -> Result<Value, Error> {
        self.done()
    }
}

impl ser::SerializeStruct for Compound<'_> {
    type Ok = Value;
    type Error = Error;
    fn serialize_field<T: Serialize + ?Sized>(
        &mut self,
        key: &'static str,
        v: &T,
    ) -> Result<(), Error> {
        self.entry(key.into(), v)
    }
    fn end(self) -> Result<Value, Error> {
        self.done()
    }
}

impl ser::SerializeStructVariant for Compound<'_> {
    type Ok = Value;
    type Error = Error;
    fn serialize_field<T: Serialize + ?Sized>(
        &mut self,
        key: &'static str,
        v: &T,
    ) -> Result<(), Error> {
        self.entry(key.into(), v)
    }
    fn end(self) -> Result<Value, Error> {
        self.done()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::BTreeMap;

    #[test]
    fn containers_nest_and_scalars_keep_their_types() {
        let map = BTreeMap::from([(1u32, vec![Some(-1i64), None]), (2, vec![])]);
        assert_eq!(
            Value::from_serialize(&(map, 'c', 2.5f32, true, u128::MAX)),
            Value::Array(vec![
                Value::Dict(vec![
                    (
                        "1".into(),
                        Value::Array(vec![Value::Int(-1), Value::Str("null".into())])
                    ),
                    ("2".into(), Value::Array(vec![])),
                ]),
                Value::Str("c".into()),
                Value::Double(2.5),
                Value::Bool(true),
                Value::Str(u128::MAX.to_string()),
            ])
        );
    }

    #[test]
    fn size_and_depth_are_bounded_with_markers() {
        let many: Vec<u32> = (0..SERDE_NODE_LIMIT as u32 + 10).collect();
        let Value::Array(items) = &Value::from_serialize(&many) else {
            panic!("an array");
        };
        assert_eq!(items.len(), SERDE_NODE_LIMIT + 1);
        assert_eq!(
            items.last(),
            Some(&Value::Str("…[truncated: 10 items left out]".into()))
        );

        // 20 levels of arrays: the 16th is the marker.
        struct Nest(usize);
        impl Serialize for Nest {
            fn serialize<S: ser::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
                match self.0 {
                    0 => s.serialize_u8(0),
                    n => [Nest(n - 1)].serialize(s),
                }
            }
        }
        let deep = Value::from_serialize(&Nest(20));
        assert_eq!(deep.depth(), SERDE_DEPTH_LIMIT);
        let mut cut = &deep;
        while let Value::Array(items) = cut {
            cut = &items[0];
        }
        assert!(
            matches!(cut, Value::Str(s) if s.contains("deeper than 16")),
            "{cut:?}"
        );
        assert_eq!(Value::from_serialize(&Nest(14)).depth(), 15);

        let long = "é".repeat(ARG_VALUE_LIMIT);
        let Value::Str(s) = &Value::from_serialize(&long) else {
            panic!("a string");
        };
        assert!(s.ends_with(&format!("…[truncated, {} bytes]", long.len())));
    }
}
