//! Generator objects kept on the thread that made them.
//!
//! tg4p's generator and its handles share state through `Rc`, so they must stay
//! on one thread, while a Python object may be used (and freed) on any. Each
//! Python handle therefore holds only a [`Handle`] (a slot and a unique id, plain
//! data) and the tg4p object lives in its thread's table here. A call from another
//! thread finds no such object there and raises `RuntimeError`; a handle freed on
//! another thread leaves its object to be freed when its own thread ends. Looking
//! an object up is a thread-local access and an index, cheaper than pyo3's
//! thread check of an `unsendable` class.

use pyo3::PyResult;
use pyo3::exceptions::PyRuntimeError;
use std::cell::RefCell;
use std::sync::atomic::{AtomicU64, Ordering};
use tg4p::generator::{CounterTrack, Group, TraceGenerator};

/// The generator's slice track type.
pub(crate) use tg4p::generator::SliceTrack;

/// A tg4p generator object.
pub(crate) enum Object {
    Generator(TraceGenerator),
    Group(Group),
    Track(SliceTrack),
    Counter(CounterTrack),
}

struct Table {
    slots: Vec<Option<(u64, Object)>>,
    free: Vec<usize>,
}

thread_local! {
    static TABLE: RefCell<Table> = const {
        RefCell::new(Table {
            slots: Vec::new(),
            free: Vec::new(),
        })
    };
}

static NEXT_ID: AtomicU64 = AtomicU64::new(1);

/// Names an [`Object`] in the table of the thread that made it.
#[derive(Debug)]
pub(crate) struct Handle {
    slot: usize,
    id: u64,
}

pub(crate) fn elsewhere() -> pyo3::PyErr {
    PyRuntimeError::new_err(
        "a TraceGenerator and its tracks can only be used on the thread that created them",
    )
}

impl Handle {
    /// Keeps `object` in this thread's table.
    pub(crate) fn new(object: Object) -> Handle {
        let id = NEXT_ID.fetch_add(1, Ordering::Relaxed);
        TABLE.with(|t| {
            let mut t = t.borrow_mut();
            let slot = match t.free.pop() {
                Some(slot) => {
                    t.slots[slot] = Some((id, object));
                    slot
                }
                None => {
                    t.slots.push(Some((id, object)));
                    t.slots.len() - 1
                }
            };
            Handle { slot, id }
        })
    }

    /// Runs `f` on the object. `f` must not run Python code that could come back
    /// here (convert arguments before).
    #[inline]
    pub(crate) fn with<R>(&self, f: impl FnOnce(&Object) -> PyResult<R>) -> PyResult<R> {
        TABLE.with(|t| {
            let t = t.borrow();
            match t.slots.get(self.slot) {
                Some(Some((id, object))) if *id == self.id => f(object),
                _ => Err(elsewhere()),
            }
        })
    }

    /// Takes the object out of the table (on its own thread).
    pub(crate) fn take(&self) -> Option<Object> {
        TABLE
            .try_with(|t| {
                // Busy only if this runs inside `with` (a deferred free that Python
                // runs there): the object then stays until the thread ends.
                let mut t = t.try_borrow_mut().ok()?;
                let entry = t.slots.get_mut(self.slot)?;
                if entry.as_ref().is_some_and(|(id, _)| *id == self.id) {
                    let (_, object) = entry.take()?;
                    t.free.push(self.slot);
                    return Some(object);
                }
                None
            })
            .ok()
            .flatten()
    }
}

impl Drop for Handle {
    /// Frees the object if on its thread (dropped outside the table's borrow:
    /// dropping a generator finishes its trace).
    fn drop(&mut self) {
        drop(self.take());
    }
}
