//! Counters: a value over time, drawn as a graph on its own track.

use super::category::Gate;
use super::handoff::generation;
use super::local::with_local;
use super::record::{Event, Sample};
use super::registry;
use std::borrow::Cow;
use std::collections::HashMap;
use std::sync::Mutex;
use std::sync::atomic::{AtomicI64, AtomicU32, AtomicU64, Ordering};

/// A named counter; declare it as a `static`. Counters are keyed by name: every
/// `Counter` (and every `count!("name" = ..)`) with the same name draws on one track.
///
/// The counter keeps its current value whether or not a session is open; each
/// update records a sample while one is. Integer and float updates keep separate
/// values (a counter is meant to be used with one kind).
///
/// ```
/// static ACTIVE: tg4p_core::runtime::Counter = tg4p_core::runtime::Counter::new("active");
/// ACTIVE.add(1);
/// ACTIVE.add(-1);
/// ACTIVE.set(2.5);
/// ```
///
/// A `static` counter keeps its own value; `count!("name" += ..)` updates the one
/// shared value of that name.
#[derive(Debug)]
pub struct Counter {
    pub(crate) name: &'static str,
    /// The samples' category (`""`: none).
    pub(crate) category: &'static str,
    gate: Gate,
    id: AtomicU32,
    int: AtomicI64,
    float: AtomicU64,
}

/// A number a [`Counter`] takes: an integer (recorded as `i64`) or a float
/// (recorded as `f64`). Implemented for the primitive numbers.
///
/// ```
/// static QUEUE: tg4p_core::runtime::Counter = tg4p_core::runtime::Counter::new("queue");
/// QUEUE.set(3u8); // any integer type
/// QUEUE.set(0.5f32); // or float type
/// ```
#[diagnostic::on_unimplemented(
    message = "a counter takes a number (an integer or a float), not `{Self}`",
    label = "not a number",
    note = "counters record `i8`..`i64`, `u8`..`u64`, `isize`, `usize`, `f32` and `f64`"
)]
pub trait CounterNumber: Copy {
    #[doc(hidden)]
    fn to_sample(self) -> Sample;
}

macro_rules! int_value {
    ($($t:ty),*) => {$(
        impl CounterNumber for $t {
            #[inline]
            fn to_sample(self) -> Sample { Sample::Int(self as i64) }
        }
    )*};
}
int_value!(i8, i16, i32, i64, isize, u8, u16, u32, u64, usize);

impl CounterNumber for f64 {
    #[inline]
    fn to_sample(self) -> Sample {
        Sample::Float(self)
    }
}

impl CounterNumber for f32 {
    #[inline]
    fn to_sample(self) -> Sample {
        Sample::Float(self as f64)
    }
}

/// The process-wide counter named `name` used by `count!("name" ...)`: one per
/// name, so that every callsite updates the same value.
#[doc(hidden)]
pub fn named(name: &'static str) -> &'static Counter {
    Counter::named(name)
}

/// As [`named`], a counter made in category `category` if this is its first use
/// (`count!("name" = .., category = "..")`): a name's first use decides its category.
#[doc(hidden)]
pub fn named_in(name: &'static str, category: &'static str) -> &'static Counter {
    Counter::by_name(name.into(), category)
}

impl Counter {
    /// The process-wide counter named `name`, a name known at run time: one per
    /// distinct name (made on first use and kept for the program's life, so use it
    /// for a bounded set of names), shared with `count!("name" ..)`.
    ///
    /// ```
    /// use tg4p_core::runtime::Counter;
    /// let queue = format!("queue {}", 3);
    /// Counter::named(queue.clone()).add(2);
    /// assert!(std::ptr::eq(Counter::named(queue), Counter::named("queue 3")));
    /// ```
    pub fn named(name: impl Into<Cow<'static, str>>) -> &'static Counter {
        Counter::by_name(name.into(), "")
    }

    fn by_name(name: Cow<'static, str>, category: &'static str) -> &'static Counter {
        static BY_NAME: Mutex<Option<HashMap<Cow<'static, str>, &'static Counter>>> =
            Mutex::new(None);
        let mut map = super::shim::lock(&BY_NAME);
        let map = map.get_or_insert_with(HashMap::new);
        if let Some(c) = map.get(&name) {
            return c;
        }
        let name: &'static str = match name {
            Cow::Borrowed(s) => s,
            Cow::Owned(s) => Box::leak(s.into_boxed_str()),
        };
        let counter: &'static Counter = Box::leak(Box::new(Counter::new(name).category(category)));
        map.insert(Cow::Borrowed(name), counter);
        counter
    }
}

impl Counter {
    /// A counter named `name`, starting at 0.
    pub const fn new(name: &'static str) -> Counter {
        Counter {
            name,
            category: "",
            gate: Gate::new(),
            id: AtomicU32::new(0),
            int: AtomicI64::new(0),
            float: AtomicU64::new(0),
        }
    }

    /// The same counter, its samples in category `category`: recorded as their
    /// Perfetto category, and only while the session's category pattern enables
    /// it (see [`SessionBuilder::categories`](super::SessionBuilder::categories)).
    /// The value is kept either way.
    ///
    /// ```
    /// use tg4p_core::runtime::{Counter, Session};
    /// static POOL: Counter = Counter::new("db connections").category("db");
    /// let session = Session::builder().writer(std::io::sink()).categories("-db").start()?;
    /// POOL.add(1); // kept, not recorded
    /// assert_eq!(session.finish()?.events_written, 0);
    /// # Ok::<(), tg4p_core::runtime::SessionError>(())
    /// ```
    pub const fn category(self, category: &'static str) -> Counter {
        let mut counter = self;
        counter.category = category;
        counter
    }

    /// The counter's name.
    pub fn name(&self) -> &'static str {
        self.name
    }

    #[inline]
    pub(crate) fn id(&'static self) -> u32 {
        match self.id.load(Ordering::Acquire) {
            0 => registry::register(&self.id, self),
            id => id,
        }
    }

    /// Sets the value and records a sample.
    #[inline]
    pub fn set(&'static self, value: impl CounterNumber) {
        let sample = value.to_sample();
        match sample {
            Sample::Int(v) => self.int.store(v, Ordering::Relaxed),
            Sample::Float(v) => self.float.store(v.to_bits(), Ordering::Relaxed),
        }
        record_counter(self, sample);
    }

    /// Adds `delta` (negative to decrement) and records the new value.
    #[inline]
    pub fn add(&'static self, delta: impl CounterNumber) {
        let sample = match delta.to_sample() {
            Sample::Int(d) => Sample::Int(self.int.fetch_add(d, Ordering::Relaxed).wrapping_add(d)),
            Sample::Float(d) => {
                let mut cur = self.float.load(Ordering::Relaxed);
                loop {
                    let new = f64::from_bits(cur) + d;
                    match self.float.compare_exchange_weak(
                        cur,
                        new.to_bits(),
                        Ordering::Relaxed,
                        Ordering::Relaxed,
                    ) {
                        Ok(_) => break Sample::Float(new),
                        Err(actual) => cur = actual,
                    }
                }
            }
        };
        record_counter(self, sample);
    }

    /// Subtracts `delta` and records the new value.
    #[inline]
    pub fn sub(&'static self, delta: impl CounterNumber) {
        match delta.to_sample() {
            Sample::Int(d) => self.add(d.wrapping_neg()),
            Sample::Float(d) => self.add(-d),
        }
    }
}

/// Records a sample of `counter`.
#[inline]
fn record_counter(counter: &'static Counter, sample: Sample) {
    if !counter.category.is_empty() && !counter.gate.open(counter.category) {
        return;
    }
    let generation = generation();
    if generation == 0 {
        return;
    }
    let event = Event::sample(counter.id(), sample);
    with_local(generation, |l| l.write(&event, 0));
}
