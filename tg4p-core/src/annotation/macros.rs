//! The [`args!`](crate::args) macro: annotation values written like JSON.

/// Builds an annotation [`Value`](crate::annotation::Value) from JSON-like syntax.
///
/// - `{ key: value, ... }` is a dict, entries kept in order. A key is a string literal
///   or any single token tree that converts into `String` (a variable, or an
///   expression in parentheses).
/// - `[ value, ... ]` is an array.
/// - Anything else is a Rust expression converted with `Value::from`: integer literals
///   become `Int`, float literals `Double`, `true`/`false` `Bool`, strings `Str`, and
///   variables of any type with a `From` impl (`Vec`, arrays, `u64`, ...) their value.
///
/// Each dict entry and array element costs one level of macro recursion, so a single
/// literal holds at most about 120 of them (raise `#![recursion_limit]` for more, or
/// build large values with [`Value::dict`](crate::annotation::Value::dict) and
/// [`Value::array`](crate::annotation::Value::array)).
///
/// ```
/// use tg4p_core::{annotation::Value, args};
/// let n = 7u64;
/// let v = args!({
///     "aaa": "abc",
///     "ccc": [1, 2, 3, 4, "a", "b", {"abcdef": "fdsa", "ggg": true}],
///     "neg": -1,
///     "sum": n + 1,
///     "empty": {},
/// });
/// let Value::Dict(entries) = &v else { unreachable!() };
/// assert_eq!(entries[1].1, Value::Array(vec![
///     Value::Int(1), Value::Int(2), Value::Int(3), Value::Int(4),
///     Value::Str("a".into()), Value::Str("b".into()),
///     Value::Dict(vec![("abcdef".into(), "fdsa".into()), ("ggg".into(), true.into())]),
/// ]));
/// assert_eq!(entries[2].1, Value::Int(-1));
/// assert_eq!(entries[3].1, Value::Uint(8));
/// assert_eq!(entries[4].1, Value::Dict(vec![]));
/// ```
#[macro_export]
macro_rules! args {
    ({ $($body:tt)* }) => {
        $crate::annotation::Value::Dict($crate::__args_entries!([] $($body)*))
    };
    ([ $($body:tt)* ]) => {
        $crate::annotation::Value::Array($crate::__args_items!([] $($body)*))
    };
    ($value:expr) => {
        $crate::annotation::Value::from($value)
    };
}

/// Munches the entries of an `args!` dict. Not public API.
#[doc(hidden)]
#[macro_export]
macro_rules! __args_entries {
    ([$($done:expr,)*]) => {
        ::std::vec![$($done,)*]
    };
    ([$($done:expr,)*] $key:tt : { $($value:tt)* } $(, $($rest:tt)*)?) => {
        $crate::__args_entries!(
            [$($done,)* (::std::string::String::from($key), $crate::args!({ $($value)* })),]
            $($($rest)*)?
        )
    };
    ([$($done:expr,)*] $key:tt : [ $($value:tt)* ] $(, $($rest:tt)*)?) => {
        $crate::__args_entries!(
            [$($done,)* (::std::string::String::from($key), $crate::args!([ $($value)* ])),]
            $($($rest)*)?
        )
    };
    ([$($done:expr,)*] $key:tt : $value:expr $(, $($rest:tt)*)?) => {
        $crate::__args_entries!(
            [$($done,)* (::std::string::String::from($key), $crate::annotation::Value::from($value)),]
            $($($rest)*)?
        )
    };
}

/// Munches the elements of an `args!` array. Not public API.
#[doc(hidden)]
#[macro_export]
macro_rules! __args_items {
    ([$($done:expr,)*]) => {
        ::std::vec![$($done,)*]
    };
    ([$($done:expr,)*] { $($value:tt)* } $(, $($rest:tt)*)?) => {
        $crate::__args_items!([$($done,)* $crate::args!({ $($value)* }),] $($($rest)*)?)
    };
    ([$($done:expr,)*] [ $($value:tt)* ] $(, $($rest:tt)*)?) => {
        $crate::__args_items!([$($done,)* $crate::args!([ $($value)* ]),] $($($rest)*)?)
    };
    ([$($done:expr,)*] $value:expr $(, $($rest:tt)*)?) => {
        $crate::__args_items!([$($done,)* $crate::annotation::Value::from($value),] $($($rest)*)?)
    };
}
