//! Argument values captured with `Debug`, bounded so that huge values cannot flood
//! the trace.

use std::cell::RefCell;
use std::fmt::{self, Debug, Write};

/// The most bytes of one argument's `Debug` text that are recorded. Longer text is
/// cut at a character boundary at or below this limit and followed by
/// `…[truncated, N bytes]`, where N is the length of the whole text.
pub const ARG_VALUE_LIMIT: usize = 1024;

/// The most arguments recorded per event; later ones are left out.
pub const MAX_ARGS: usize = 32;

/// Formatted argument values of one event: the texts, one after the other.
#[derive(Debug, Default)]
pub(crate) struct ArgText {
    pub(crate) text: String,
    pub(crate) ends: Vec<usize>,
}

impl ArgText {
    pub(crate) fn clear(&mut self) {
        self.text.clear();
        self.ends.clear();
    }

    pub(crate) fn values(&self) -> impl Iterator<Item = &str> {
        let mut start = 0;
        self.ends.iter().map(move |&end| {
            let s = &self.text[start..end];
            start = end;
            s
        })
    }

    /// Appends the bounded `Debug` text of each value.
    pub(crate) fn format(&mut self, values: &[&dyn Debug]) {
        for value in values.iter().take(MAX_ARGS) {
            self.push_bounded(format_args!("{value:?}"));
            self.ends.push(self.text.len());
        }
    }

    /// Appends the text of `args`, bounded by [`ARG_VALUE_LIMIT`] (with the
    /// truncation marker past it); returns its byte range in `text`. Not an entry
    /// of `ends`.
    pub(crate) fn push_bounded(&mut self, args: fmt::Arguments<'_>) -> std::ops::Range<usize> {
        let start = self.text.len();
        let mut w = Bounded {
            out: &mut self.text,
            start,
            total: 0,
        };
        let _ = w.write_fmt(args);
        let total = w.total;
        if total > ARG_VALUE_LIMIT {
            let _ = write!(self.text, "…[truncated, {total} bytes]");
        }
        start..self.text.len()
    }
}

/// Keeps the first [`ARG_VALUE_LIMIT`] bytes written and counts the rest.
struct Bounded<'a> {
    out: &'a mut String,
    start: usize,
    total: usize,
}

impl Write for Bounded<'_> {
    fn write_str(&mut self, s: &str) -> fmt::Result {
        self.total += s.len();
        let room = ARG_VALUE_LIMIT.saturating_sub(self.out.len() - self.start);
        if room > 0 {
            let mut cut = room.min(s.len());
            while !s.is_char_boundary(cut) {
                cut -= 1;
            }
            self.out.push_str(&s[..cut]);
        }
        Ok(())
    }
}

thread_local! {
    static SCRATCH: RefCell<ArgText> = RefCell::new(ArgText::default());
}

/// Runs `f` on the thread's scratch buffer, cleared (a fresh buffer if it is in
/// use: a `Debug` or `Display` impl re-entering).
pub(crate) fn with_scratch<R>(f: impl FnOnce(&mut ArgText) -> R) -> R {
    let mut f = Some(f);
    let res = SCRATCH.try_with(|cell| match cell.try_borrow_mut() {
        Ok(mut scratch) => {
            scratch.clear();
            Some((f.take().expect("called once"))(&mut scratch))
        }
        Err(_) => None,
    });
    match res {
        Ok(Some(r)) => r,
        _ => (f.take().expect("called once"))(&mut ArgText::default()),
    }
}

/// Formats `values` into the thread's scratch buffer and runs `f` on the result
/// (a fresh buffer if a `Debug` impl re-enters this).
pub(crate) fn with_formatted<R>(values: &[&dyn Debug], f: impl FnOnce(&ArgText) -> R) -> R {
    let mut f = Some(f);
    let res = SCRATCH.try_with(|cell| match cell.try_borrow_mut() {
        Ok(mut scratch) => {
            scratch.clear();
            scratch.format(values);
            Some((f.take().expect("called once"))(&scratch))
        }
        Err(_) => None,
    });
    match res {
        Ok(Some(r)) => r,
        _ => {
            let mut fresh = ArgText::default();
            fresh.format(values);
            (f.take().expect("called once"))(&fresh)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn long_values_are_cut_with_a_marker() {
        let big = "é".repeat(1000); // 2000 bytes, Debug adds quotes
        let mut t = ArgText::default();
        t.format(&[&big, &42]);
        let vals: Vec<&str> = t.values().collect();
        assert!(vals[0].starts_with("\"éé"));
        assert!(
            vals[0].ends_with("…[truncated, 2002 bytes]"),
            "{}",
            &vals[0][1000..]
        );
        assert!(vals[0].len() <= ARG_VALUE_LIMIT + 40);
        assert_eq!(vals[1], "42");
    }
}
