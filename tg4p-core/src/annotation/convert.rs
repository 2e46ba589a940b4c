//! `From` conversions into [`Value`], used by the [`args!`](crate::args) macro and
//! handy on their own.

use super::Value;
use std::borrow::Cow;

macro_rules! from_as {
    ($variant:ident($target:ty): $($source:ty),*) => {$(
        impl From<$source> for Value {
            fn from(v: $source) -> Value {
                Value::$variant(v as $target)
            }
        }
    )*};
}

from_as!(Int(i64): i8, i16, i32, i64, isize);
from_as!(Uint(u64): u8, u16, u32, u64, usize);
from_as!(Double(f64): f32, f64);

impl From<bool> for Value {
    fn from(v: bool) -> Value {
        Value::Bool(v)
    }
}

impl From<&str> for Value {
    fn from(v: &str) -> Value {
        Value::Str(v.to_owned())
    }
}

impl From<String> for Value {
    fn from(v: String) -> Value {
        Value::Str(v)
    }
}

impl From<&String> for Value {
    fn from(v: &String) -> Value {
        Value::Str(v.clone())
    }
}

impl From<Cow<'_, str>> for Value {
    fn from(v: Cow<'_, str>) -> Value {
        Value::Str(v.into_owned())
    }
}

impl From<char> for Value {
    fn from(v: char) -> Value {
        Value::Str(v.to_string())
    }
}

/// A vector becomes an array.
impl<T: Into<Value>> From<Vec<T>> for Value {
    fn from(v: Vec<T>) -> Value {
        Value::Array(v.into_iter().map(Into::into).collect())
    }
}

/// A fixed-size array becomes an array.
impl<T: Into<Value>, const N: usize> From<[T; N]> for Value {
    fn from(v: [T; N]) -> Value {
        Value::Array(v.into_iter().map(Into::into).collect())
    }
}

/// A slice becomes an array (its elements are cloned).
impl<T: Clone + Into<Value>> From<&[T]> for Value {
    fn from(v: &[T]) -> Value {
        Value::Array(v.iter().cloned().map(Into::into).collect())
    }
}

impl Value {
    /// A dict from `(key, value)` pairs, in the order given.
    ///
    /// ```
    /// use tg4p_core::annotation::Value;
    /// let v = Value::dict([("b", 1), ("a", 2)]);
    /// assert_eq!(v, Value::Dict(vec![("b".into(), Value::Int(1)), ("a".into(), Value::Int(2))]));
    /// ```
    pub fn dict<K: Into<String>, V: Into<Value>>(
        entries: impl IntoIterator<Item = (K, V)>,
    ) -> Value {
        Value::Dict(
            entries
                .into_iter()
                .map(|(k, v)| (k.into(), v.into()))
                .collect(),
        )
    }

    /// An array from values, in the order given.
    ///
    /// ```
    /// use tg4p_core::annotation::Value;
    /// assert_eq!(Value::array(1..=2), Value::Array(vec![Value::Int(1), Value::Int(2)]));
    /// ```
    pub fn array<V: Into<Value>>(items: impl IntoIterator<Item = V>) -> Value {
        Value::Array(items.into_iter().map(Into::into).collect())
    }
}
