//! Runtime strings as `&'static str`, for the live recorder's names.
//!
//! tg4p's live API names tracks, counters, events and arguments with `&'static str`
//! (a Rust program's names are literals). A Python program's names are runtime
//! strings, so each distinct one is leaked once here and reused after: memory grows
//! with the number of *distinct* names (function names, track names, dict keys of
//! instant arguments), never with the number of events. A program that makes a new
//! name per event (`instant(f"step {i}")`) grows this table by one string per name.
//! (tg4p issue 15 adds runtime names to the live API; this module then goes away.)

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
