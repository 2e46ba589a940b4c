//! Runtime strings as `&'static str`, for the live recorder's names.
//!
//! tg4p's callsites, tracks and counters are named with `&'static str` (a Rust
//! program's names are literals) and kept for the program's life. The names the
//! Python module gives them (traced functions' names and parameters, source files
//! and functions, track and counter names) are runtime strings, so each distinct
//! one is leaked once here and reused after. These are as many as the program's
//! functions, source locations, tracks and counters: event names and argument
//! names of instants and `with` blocks, and keyword argument names, are not
//! kept here (they go with each event, see `live::seam`).

use std::collections::HashSet;
use std::sync::Mutex;

static NAMES: Mutex<Option<HashSet<&'static str>>> = Mutex::new(None);

/// The one `&'static` copy of `s`.
pub(crate) fn intern(s: &str) -> &'static str {
    let mut names = NAMES.lock().unwrap_or_else(|p| p.into_inner());
    let names = names.get_or_insert_with(HashSet::new);
    if let Some(&found) = names.get(s) {
        return found;
    }
    let leaked: &'static str = Box::leak(s.to_owned().into_boxed_str());
    names.insert(leaked);
    leaked
}

/// How many distinct names are kept (`_tg4p._kept_names()`, for the tests).
pub(crate) fn kept() -> usize {
    NAMES
        .lock()
        .unwrap_or_else(|p| p.into_inner())
        .as_ref()
        .map_or(0, HashSet::len)
}

/// The one `&'static` copy of a list of interned names (argument names).
pub(crate) fn intern_list(list: &[&'static str]) -> &'static [&'static str] {
    static LISTS: Mutex<Option<HashSet<&'static [&'static str]>>> = Mutex::new(None);
    let mut lists = LISTS.lock().unwrap_or_else(|p| p.into_inner());
    let lists = lists.get_or_insert_with(HashSet::new);
    if let Some(&found) = lists.get(list) {
        return found;
    }
    let leaked: &'static [&'static str] = Box::leak(list.to_vec().into_boxed_slice());
    lists.insert(leaked);
    leaked
}
