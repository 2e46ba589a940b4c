//! Categories: which categorized events a session records, and the per-callsite
//! [`Gate`] that makes a disabled category cost one load and one branch.
//!
//! A session is given a pattern ([`SessionBuilder::categories`](super::SessionBuilder::categories),
//! or `TG4P_CATEGORIES` for [`init_from_env`](super::init_from_env)): names and globs
//! separated by commas, `-` in front of the ones to leave out (`db,net*,-net.noisy`).
//! A category is recorded when it matches no exclusion and, if the pattern has
//! inclusions, one of them. Events without a category are always recorded while a
//! session is open: they are governed by the session alone, so that the most common
//! instrumentation (`#[trace]` with no category) keeps the gate's single load.
//!
//! # The gate
//! Every categorized callsite (and track, and counter) holds a [`Gate`]: an atomic
//! that is the generation of the open session when its category is recorded, 0 when
//! it is not (or no session is open), and [`UNDECIDED`] until first used. The hot
//! path loads it and branches on 0. A gate is decided once: at its first use
//! (registered here, under the lock, from the open session's filter), and again
//! for every known gate when a session opens or closes. The lock orders those
//! decisions, so a gate never keeps the decision of a session that has closed.
//!
//! A thread that loaded a gate just before its session closed, and the gate of the
//! next session just after, may record one event of that thread in a category the
//! next session disabled: the same window every recorder has between its gate and
//! its write, and harmless (the event is well formed).

use std::fmt;
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};

/// A gate's state before its first use.
const UNDECIDED: u64 = u64::MAX;

/// Whether a category is recorded by the open session: decided once per session
/// generation, then one load and one branch. Generated code declares one per
/// categorized callsite (inside its `Callsite`).
#[derive(Debug)]
pub(crate) struct Gate {
    state: AtomicU64,
}

impl Gate {
    /// A gate not decided yet.
    pub(crate) const fn new() -> Gate {
        Gate {
            state: AtomicU64::new(UNDECIDED),
        }
    }

    /// Whether events of `category` (this gate's, always the same) are recorded now.
    #[inline(always)]
    pub(crate) fn open(&'static self, category: &'static str) -> bool {
        match self.state() {
            Decision::Off => false,
            Decision::Undecided => self.decide(category),
            Decision::On => true,
        }
    }

    /// The gate's decision so far: the hot path's one load. (Callers whose
    /// category is a field of the same `static` pass it only to
    /// [`decide`](Gate::decide), so that the compiler does not load it first.)
    #[inline(always)]
    pub(crate) fn state(&self) -> Decision {
        // Relaxed: the decision is a plain value; what an event writes is ordered
        // by the session's own hand-off (the gate only says whether to write).
        match self.state.load(Ordering::Relaxed) {
            0 => Decision::Off,
            UNDECIDED => Decision::Undecided,
            _ => Decision::On,
        }
    }

    /// Decides the gate at its first use (of `category`, always the same), from
    /// the open session's filter.
    #[cold]
    #[inline(never)]
    pub(crate) fn decide(&'static self, category: &'static str) -> bool {
        decide(self, category)
    }
}

impl Default for Gate {
    fn default() -> Self {
        Gate::new()
    }
}

/// What a [`Gate`] says.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Decision {
    /// Not recorded (or no session).
    Off,
    /// Recorded by the open session.
    On,
    /// Not used since the process started: to decide.
    Undecided,
}

/// One item of a pattern.
#[derive(Clone, Debug, PartialEq, Eq)]
struct Item {
    glob: String,
    exclude: bool,
}

/// A parsed category pattern: which categories a session records.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub(crate) struct Filter {
    items: Vec<Item>,
}

/// A category pattern that cannot be read (see
/// [`SessionBuilder::categories`](super::SessionBuilder::categories)).
///
/// ```
/// use tg4p_core::runtime::{CategoryError, Session, SessionError};
/// let bad = Session::builder().writer(std::io::sink()).categories("db,,net").start();
/// assert!(matches!(bad, Err(SessionError::Categories(CategoryError::EmptyItem { .. }))));
/// ```
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum CategoryError {
    /// An item is empty (`"db,,net"`, a trailing comma, or a lone `-`).
    EmptyItem {
        /// The whole pattern.
        pattern: String,
    },
    /// An item holds a space or a character a category name cannot have
    /// (categories are names like `db`, `net.http`, `my_app::db`).
    BadCharacter {
        /// The item.
        item: String,
        /// The character.
        found: char,
    },
}

impl fmt::Display for CategoryError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            CategoryError::EmptyItem { pattern } => write!(
                f,
                "category pattern {pattern:?} has an empty item; expected names or globs \
                 separated by commas, `-` before one to leave it out (e.g. \"db,net*,-noisy\")"
            ),
            CategoryError::BadCharacter { item, found } => write!(
                f,
                "category pattern item {item:?} holds {found:?}; a category is a name \
                 (letters, digits, `_`, `.`, `:`, `-`, `/`), `*` matches any run of characters"
            ),
        }
    }
}

impl std::error::Error for CategoryError {}

impl Filter {
    /// Reads `pattern`: items separated by commas (spaces around them ignored), each
    /// a name where `*` matches any run of characters, `-` in front to exclude it.
    /// An empty pattern records every category.
    pub(crate) fn parse(pattern: &str) -> Result<Filter, CategoryError> {
        let mut items = Vec::new();
        if pattern.trim().is_empty() {
            return Ok(Filter { items });
        }
        for raw in pattern.split(',') {
            let raw = raw.trim();
            let (exclude, glob) = match raw.strip_prefix('-') {
                Some(rest) => (true, rest),
                None => (false, raw),
            };
            if glob.is_empty() {
                return Err(CategoryError::EmptyItem {
                    pattern: pattern.to_owned(),
                });
            }
            if let Some(found) = glob
                .chars()
                .find(|&c| !(c.is_alphanumeric() || matches!(c, '_' | '.' | ':' | '-' | '/' | '*')))
            {
                return Err(CategoryError::BadCharacter {
                    item: raw.to_owned(),
                    found,
                });
            }
            items.push(Item {
                glob: glob.to_owned(),
                exclude,
            });
        }
        Ok(Filter { items })
    }

    /// Whether events of `category` are recorded (`""`: uncategorized, always).
    /// A category with commas is several, as in Perfetto (the tracing layer's
    /// `TARGET,LEVEL`): left out if an exclusion matches any of them, else
    /// recorded if an inclusion matches any (or there is none).
    pub(crate) fn allows(&self, category: &str) -> bool {
        if category.is_empty() {
            return true;
        }
        let mut included = true;
        let mut any_include = false;
        for item in &self.items {
            let hit = category
                .split(',')
                .any(|part| glob_match(&item.glob, part.trim()));
            if item.exclude {
                if hit {
                    return false;
                }
            } else {
                if !any_include {
                    included = false;
                    any_include = true;
                }
                included |= hit;
            }
        }
        included
    }
}

/// Whether `text` matches `glob`, where `*` matches any run of characters (the
/// classic greedy match with one backtrack point: linear in practice).
fn glob_match(glob: &str, text: &str) -> bool {
    let (g, t) = (glob.as_bytes(), text.as_bytes());
    let (mut gi, mut ti) = (0, 0);
    let mut star: Option<(usize, usize)> = None;
    while ti < t.len() {
        if gi < g.len() && g[gi] == b'*' {
            star = Some((gi, ti));
            gi += 1;
        } else if gi < g.len() && g[gi] == t[ti] {
            gi += 1;
            ti += 1;
        } else if let Some((sg, st)) = star {
            gi = sg + 1;
            ti = st + 1;
            star = Some((sg, st + 1));
        } else {
            return false;
        }
    }
    g[gi..].iter().all(|&c| c == b'*')
}

/// The filter of the open session and every gate decided so far.
struct Gates {
    /// The open session's generation and filter.
    session: Option<(u64, Filter)>,
    /// Every gate used so far, with its category.
    known: Vec<(&'static Gate, &'static str)>,
}

impl Gates {
    /// The state a gate of `category` takes now.
    fn state(&self, category: &str) -> u64 {
        match &self.session {
            Some((generation, filter)) if filter.allows(category) => *generation,
            _ => 0,
        }
    }
}

static GATES: Mutex<Gates> = Mutex::new(Gates {
    session: None,
    known: Vec::new(),
});

fn gates() -> std::sync::MutexGuard<'static, Gates> {
    GATES.lock().unwrap_or_else(|p| p.into_inner())
}

/// Decides `gate` at its first use, from the open session's filter.
fn decide(gate: &'static Gate, category: &'static str) -> bool {
    let mut all = gates();
    // Another thread may have decided it while this one waited for the lock.
    let state = match gate.state.load(Ordering::Relaxed) {
        UNDECIDED => {
            all.known.push((gate, category));
            let state = all.state(category);
            gate.state.store(state, Ordering::Relaxed);
            state
        }
        state => state,
    };
    state != 0
}

/// Session `generation` opens with `filter`: every known gate is decided for it.
/// Called before the session's gate opens, so that no event of a disabled category
/// is recorded in it.
pub(crate) fn open(generation: u64, filter: Filter) {
    let mut all = gates();
    all.session = Some((generation, filter));
    for &(gate, category) in &all.known {
        gate.state.store(all.state(category), Ordering::Relaxed);
    }
}

/// Session `generation` closed: every gate closes (if it is still the open one).
pub(crate) fn close(generation: u64) {
    let mut all = gates();
    if all.session.as_ref().is_some_and(|(g, _)| *g == generation) {
        all.session = None;
        for &(gate, _) in &all.known {
            gate.state.store(0, Ordering::Relaxed);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn globs() {
        assert!(glob_match("db", "db"));
        assert!(!glob_match("db", "dbx"));
        assert!(glob_match("net*", "net"));
        assert!(glob_match("net*", "net.http"));
        assert!(glob_match("*::db", "app::db"));
        assert!(glob_match("a*b*c", "aXbYbZc"));
        assert!(!glob_match("a*b*c", "aXbYbZ"));
        assert!(glob_match("*", ""));
    }

    #[test]
    fn patterns() {
        let f = Filter::parse("db, net*, -net.noisy").unwrap();
        assert!(f.allows("db"));
        assert!(f.allows("net.http"));
        assert!(!f.allows("net.noisy"));
        assert!(!f.allows("cache"));
        assert!(f.allows(""));
        let only_out = Filter::parse("-noisy").unwrap();
        assert!(only_out.allows("db"));
        assert!(!only_out.allows("noisy"));
        assert!(Filter::parse("").unwrap().allows("anything"));
        assert!(matches!(
            Filter::parse("db,"),
            Err(CategoryError::EmptyItem { .. })
        ));
        assert!(matches!(
            Filter::parse("-"),
            Err(CategoryError::EmptyItem { .. })
        ));
        assert!(matches!(
            Filter::parse("d b"),
            Err(CategoryError::BadCharacter { found: ' ', .. })
        ));
    }
}
