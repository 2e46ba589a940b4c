//! Small ids for the `static` things records refer to: callsites, tracks, counters.
//!
//! A record cannot hold a reference, so each static gets a non-zero `u32` id the
//! first time it is used (kept in the static itself, so the hot path only loads it)
//! and is listed here under that id, where the writer finds it again by its type.
//! The registry knows only [`Callsite`]s (defined here); tracks and counters
//! register themselves as any `'static` value.

use super::category::{Decision, Gate};
use crate::intern::FxHashMap;
use std::any::Any;
use std::panic::Location;
use std::sync::Mutex;
use std::sync::atomic::{AtomicU32, Ordering};

/// The function a callsite is in: known at compile time (attribute macros), or
/// computed on first use by the writer (`macro_rules!` macros, which cannot name it).
#[derive(Clone, Copy, Debug)]
pub enum Function {
    /// The function's path, known when the callsite is declared.
    Path(&'static str),
    /// Computes the function's path (on the writer's thread, once).
    Lazy(fn() -> &'static str),
}

impl Function {
    pub(crate) fn get(self) -> &'static str {
        match self {
            Function::Path(p) => p,
            Function::Lazy(f) => f(),
        }
    }
}

/// A place in the source that records events: the event name, its source location
/// and the names of its arguments. Generated code declares one `static` per callsite.
#[derive(Debug)]
pub struct Callsite {
    pub(crate) name: &'static str,
    pub(crate) function: Function,
    pub(crate) file: &'static str,
    pub(crate) line: u32,
    pub(crate) arg_names: &'static [&'static str],
    /// The events' category (`""`: none).
    pub(crate) category: &'static str,
    /// Whether the open session records `category`.
    gate: Gate,
    id: AtomicU32,
}

impl Callsite {
    /// The callsite of events named `name` in `function`, at `file:line`, with
    /// args named `arg_names`.
    pub const fn new(
        name: &'static str,
        function: Function,
        file: &'static str,
        line: u32,
        arg_names: &'static [&'static str],
    ) -> Callsite {
        Callsite {
            name,
            function,
            file,
            line,
            arg_names,
            category: "",
            gate: Gate::new(),
            id: AtomicU32::new(0),
        }
    }

    /// The same callsite, its events in category `category` (trace_processor's
    /// `slice.category`): a `tracing` callsite's target.
    pub const fn with_category(self, category: &'static str) -> Callsite {
        Callsite { category, ..self }
    }

    /// Whether the open session records this callsite's category: one load and
    /// one branch once decided (see `category`). An uncategorized callsite is
    /// recorded whenever a session is open; generated code checks only
    /// categorized ones.
    #[inline(always)]
    pub fn category_on(&'static self) -> bool {
        match self.gate.state() {
            Decision::Off => false,
            // The category is read here only, so that the hot path loads the
            // gate alone.
            Decision::Undecided => self.gate.decide(self.category),
            Decision::On => true,
        }
    }

    /// The names of its args, in order (what typed values recorded through
    /// `Details` are named after by bindings that build their own callsites).
    pub const fn arg_names(&self) -> &'static [&'static str] {
        self.arg_names
    }

    /// The callsite's id, registering it on first use.
    #[inline(always)]
    pub(crate) fn id(&'static self) -> u32 {
        // Acquire: pairs with the Release store in `register`, so whoever records
        // this id has the registry entry visible to the writer (through the
        // Release/Acquire of the chunk's `published` count).
        match self.id.load(Ordering::Acquire) {
            0 => register(&self.id, self),
            id => id,
        }
    }

    /// The callsite of a method call like `TOP.span("SORT")`: one per distinct
    /// (name, caller location), created on first use and kept for the program's life
    /// (names and locations are `'static`, so there are finitely many).
    pub(crate) fn for_location(
        name: &'static str,
        location: &'static Location<'static>,
    ) -> &'static Callsite {
        type Key = (usize, usize, usize);
        static BY_LOCATION: Mutex<Option<FxHashMap<Key, &'static Callsite>>> = Mutex::new(None);
        let key = (
            name.as_ptr() as usize,
            name.len(),
            location as *const _ as usize,
        );
        let mut map = super::shim::lock(&BY_LOCATION);
        map.get_or_insert_with(FxHashMap::default)
            .entry(key)
            .or_insert_with(|| {
                Box::leak(Box::new(Callsite::new(
                    name,
                    Function::Path(""),
                    location.file(),
                    location.line(),
                    &[],
                )))
            })
    }
}

/// A registered static.
type Entry = &'static (dyn Any + Sync);

static REGISTRY: Mutex<Vec<Entry>> = Mutex::new(Vec::new());

/// Registers `entry` unless another thread just did; returns its id.
#[cold]
pub(crate) fn register(id: &AtomicU32, entry: &'static (dyn Any + Sync)) -> u32 {
    let mut all = super::shim::lock(&REGISTRY);
    match id.load(Ordering::Acquire) {
        0 => {
            all.push(entry);
            let new = all.len() as u32;
            id.store(new, Ordering::Release);
            new
        }
        existing => existing,
    }
}

/// The writer's copy of the registry, refreshed when it meets an id it does not know.
#[derive(Default)]
pub(crate) struct RegistryView {
    entries: Vec<Entry>,
}

impl RegistryView {
    /// The static registered as `id`, if it is a `T`.
    pub(crate) fn get<T: Any>(&mut self, id: u32) -> Option<&'static T> {
        let i = (id as usize).checked_sub(1)?;
        if i >= self.entries.len() {
            let all = super::shim::lock(&REGISTRY);
            self.entries.extend_from_slice(&all[self.entries.len()..]);
        }
        let entry: &'static (dyn Any + Sync) = *self.entries.get(i)?;
        (entry as &dyn Any).downcast_ref::<T>()
    }
}
