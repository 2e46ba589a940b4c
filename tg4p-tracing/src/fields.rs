//! Field values of spans and events, kept typed: integers, floats and booleans stay
//! numbers in the trace; `&str` stays a string; `Debug` and `Display` values become
//! their text (bounded like `#[trace_args]`' arguments).

use std::fmt::{self, Write};
use tracing::field::{Field, Visit};

/// The most bytes of one field's text that are kept (as `tg4p::ARG_VALUE_LIMIT`).
const TEXT_LIMIT: usize = tg4p_core::runtime::ARG_VALUE_LIMIT;

/// One field's value, as its Perfetto debug-annotation type.
#[derive(Clone, Debug, PartialEq)]
pub(crate) enum FieldValue {
    I64(i64),
    U64(u64),
    F64(f64),
    Bool(bool),
    Str(String),
}

/// The fields of a span or event, in the order they were recorded. A field recorded
/// again replaces its earlier value.
#[derive(Clone, Debug, Default)]
pub(crate) struct Fields {
    pub(crate) items: Vec<(&'static str, FieldValue)>,
}

impl Fields {
    pub(crate) const fn new() -> Fields {
        Fields { items: Vec::new() }
    }

    pub(crate) fn is_empty(&self) -> bool {
        self.items.is_empty()
    }

    fn set(&mut self, name: &'static str, value: FieldValue) {
        match self.items.iter_mut().find(|(n, _)| *n == name) {
            Some(slot) => slot.1 = value,
            None => self.items.push((name, value)),
        }
    }

    /// Takes the value of the `message` field out (events name their instant by it).
    pub(crate) fn take_message(&mut self) -> Option<String> {
        let i = self.items.iter().position(|(n, _)| *n == "message")?;
        match self.items.remove(i).1 {
            FieldValue::Str(s) => Some(s),
            other => Some(format!("{other:?}")),
        }
    }
}

impl Visit for Fields {
    fn record_i64(&mut self, field: &Field, value: i64) {
        self.set(field.name(), FieldValue::I64(value));
    }

    fn record_u64(&mut self, field: &Field, value: u64) {
        self.set(field.name(), FieldValue::U64(value));
    }

    fn record_f64(&mut self, field: &Field, value: f64) {
        self.set(field.name(), FieldValue::F64(value));
    }

    fn record_bool(&mut self, field: &Field, value: bool) {
        self.set(field.name(), FieldValue::Bool(value));
    }

    fn record_i128(&mut self, field: &Field, value: i128) {
        let v = match i64::try_from(value) {
            Ok(v) => FieldValue::I64(v),
            Err(_) => FieldValue::Str(value.to_string()),
        };
        self.set(field.name(), v);
    }

    fn record_u128(&mut self, field: &Field, value: u128) {
        let v = match u64::try_from(value) {
            Ok(v) => FieldValue::U64(v),
            Err(_) => FieldValue::Str(value.to_string()),
        };
        self.set(field.name(), v);
    }

    fn record_str(&mut self, field: &Field, value: &str) {
        self.set(field.name(), FieldValue::Str(bounded(value)));
    }

    fn record_error(&mut self, field: &Field, value: &(dyn std::error::Error + 'static)) {
        self.set(field.name(), FieldValue::Str(text(format_args!("{value}"))));
    }

    fn record_debug(&mut self, field: &Field, value: &dyn fmt::Debug) {
        // `Display` values (`%x`) arrive here too, wrapped in a `Debug` that
        // displays them; so does an event's `message` (`fmt::Arguments`).
        self.set(
            field.name(),
            FieldValue::Str(text(format_args!("{value:?}"))),
        );
    }
}

/// `s`, cut at a character boundary to at most [`TEXT_LIMIT`] bytes plus a marker.
fn bounded(s: &str) -> String {
    if s.len() <= TEXT_LIMIT {
        return s.to_owned();
    }
    text(format_args!("{s}"))
}

/// The bounded text of `args`: its first [`TEXT_LIMIT`] bytes (at a character
/// boundary), then `…[truncated, N bytes]` if it was longer.
fn text(args: fmt::Arguments<'_>) -> String {
    struct Bounded {
        out: String,
        total: usize,
    }
    impl Write for Bounded {
        fn write_str(&mut self, s: &str) -> fmt::Result {
            self.total += s.len();
            let room = TEXT_LIMIT.saturating_sub(self.out.len());
            let mut cut = room.min(s.len());
            while !s.is_char_boundary(cut) {
                cut -= 1;
            }
            self.out.push_str(&s[..cut]);
            Ok(())
        }
    }
    let mut w = Bounded {
        out: String::new(),
        total: 0,
    };
    let _ = w.write_fmt(args);
    if w.total > TEXT_LIMIT {
        let _ = write!(w.out, "…[truncated, {} bytes]", w.total);
    }
    w.out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn long_text_is_cut_with_a_marker() {
        let long = "é".repeat(TEXT_LIMIT); // 2 bytes each
        let cut = bounded(&long);
        assert!(cut.starts_with("éé"));
        assert!(cut.ends_with(&format!("…[truncated, {} bytes]", 2 * TEXT_LIMIT)));
        assert!(cut.len() <= TEXT_LIMIT + 40);
        assert_eq!(bounded("short"), "short");
    }
}
