//! Generator objects kept to the thread that made them.
//!
//! tg4p's generator and its handles share state through `Rc`, so they must stay
//! on one thread, while a Python object may be used (and freed) on any. Each
//! Python handle therefore holds its tg4p object in an [`Owned`], marked with
//! the id of the Python thread state that made it: [`Owned::get`] hands the object
//! only to that thread (another one gets `RuntimeError`), a comparison of two
//! integers per call (no thread-local lookup, no lock). An `Owned` freed on
//! another thread is handed back to its own: kept in a list that its thread
//! empties on its next `TraceGenerator` call, or when it ends; once its thread
//! has ended, it is dropped where it is freed (a generator made on a thread that
//! ended is finished when its last reference goes, wherever that is).

use pyo3::exceptions::PyRuntimeError;
use pyo3::{PyErr, PyResult, Python, ffi};
use std::any::Any;
use std::cell::RefCell;
use std::mem::ManuallyDrop;
use std::sync::Mutex;

pub(crate) fn elsewhere() -> PyErr {
    PyRuntimeError::new_err(
        "a TraceGenerator and its tracks can only be used on the thread that created them",
    )
}

/// The calling thread's Python thread state id: unique among the interpreter's
/// thread states, never reused (pyo3 modules run in the main interpreter only).
#[inline]
fn thread_id(_py: Python<'_>) -> i64 {
    // SAFETY: `_py` proves the thread is attached, so it has a current thread
    // state (`PyThreadState_Get` does not fail) that lives during the call.
    unsafe { ffi::PyThreadState_GetID(ffi::PyThreadState_Get()) }
}

/// The id of the calling thread's state, if it has one (a drop may run detached).
fn thread_id_if_attached() -> Option<i64> {
    // SAFETY: `PyThreadState_GetUnchecked` may be called without a thread state
    // (it returns null then); a non-null state is the calling thread's own.
    unsafe {
        let state = ffi::compat::PyThreadState_GetUnchecked();
        (!state.is_null()).then(|| ffi::PyThreadState_GetID(state))
    }
}

/// A value reached only from the thread that made it (see the module docs).
pub(crate) struct Owned<T: 'static> {
    owner: i64,
    value: ManuallyDrop<T>,
}

// SAFETY: the value is touched only on its owner thread: `get` and `into_inner`
// check the caller's thread state id (unique per thread, see `thread_id`), and
// `Drop` drops it only there, else hands it to `ORPHANS` for the owner thread to
// drop (`reap`), or, once the owner thread has ended, drops it on the freeing
// thread, attached: then all the values that thread made are dropped that way,
// one at a time under the GIL (the module does not declare itself free of it).
// So the `Rc`s inside are never used by two threads at once.
unsafe impl<T: 'static> Send for Owned<T> {}
// SAFETY: as for `Send`: a shared `Owned` gives access only to its owner thread.
unsafe impl<T: 'static> Sync for Owned<T> {}

impl<T: 'static> Owned<T> {
    /// Keeps `value` for the calling thread.
    pub(crate) fn new(py: Python<'_>, value: T) -> Owned<T> {
        let owner = thread_id(py);
        reap(owner);
        // Not there while the thread's own values are being destroyed (its end):
        // orphans then wait for the thread's next `TraceGenerator` call, if any.
        let _ = REAPER.try_with(|r| r.watch(owner));
        Owned {
            owner,
            value: ManuallyDrop::new(value),
        }
    }

    /// The value, on its own thread; else `RuntimeError`.
    #[inline]
    pub(crate) fn get(&self, py: Python<'_>) -> PyResult<&T> {
        if thread_id(py) == self.owner {
            Ok(&self.value)
        } else {
            Err(elsewhere())
        }
    }

    /// The value itself, on its own thread; else `RuntimeError` (and `self` back).
    pub(crate) fn into_inner(mut self, py: Python<'_>) -> Result<T, (PyErr, Owned<T>)> {
        if thread_id(py) != self.owner {
            return Err((elsewhere(), self));
        }
        // SAFETY: taken once; `forget` then keeps `Drop` from touching it again.
        let value = unsafe { ManuallyDrop::take(&mut self.value) };
        std::mem::forget(self);
        Ok(value)
    }
}

impl<T: 'static> Drop for Owned<T> {
    fn drop(&mut self) {
        // SAFETY: taken once, here (`into_inner` forgets `self` instead).
        let value = unsafe { ManuallyDrop::take(&mut self.value) };
        let here = thread_id_if_attached();
        if here == Some(self.owner) {
            drop(value);
            return;
        }
        let mut orphans = ORPHANS.lock().unwrap_or_else(|p| p.into_inner());
        if here.is_some() && orphans.ended.contains(&self.owner) {
            // Its thread has ended: no other thread can touch it at once, since
            // every other value of that thread is dropped the same way, attached
            // (this module holds the GIL for all of them). Dropped outside the
            // lock (dropping a generator finishes its trace).
            drop(orphans);
            drop(value);
            return;
        }
        orphans.waiting.push(Orphan {
            owner: self.owner,
            _value: Box::new(value),
        });
    }
}

/// A value freed on another thread than its owner's, waiting for its owner.
struct Orphan {
    owner: i64,
    /// Held only to be dropped (by `reap`).
    _value: Box<dyn Any>,
}

// SAFETY: an orphan's value is only dropped, by its owner thread (`reap`): the
// other threads move the box without touching what it holds.
unsafe impl Send for Orphan {}

/// Values waiting for their threads, and the threads that ended (their values
/// freed elsewhere are dropped there, see `Drop for Owned`).
struct Orphans {
    waiting: Vec<Orphan>,
    ended: Vec<i64>,
}

static ORPHANS: Mutex<Orphans> = Mutex::new(Orphans {
    waiting: Vec::new(),
    ended: Vec::new(),
});

/// Drops the orphans of thread state `owner` (call it on that thread), and
/// marks the thread ended if `ended`. They are dropped outside the lock:
/// dropping a generator finishes its trace.
fn reap_orphans(owner: i64, ended: bool) {
    let mine: Vec<Orphan> = {
        let mut orphans = ORPHANS.lock().unwrap_or_else(|p| p.into_inner());
        if ended {
            orphans.ended.push(owner);
        }
        if orphans.waiting.is_empty() {
            return;
        }
        let (mine, others) = orphans.waiting.drain(..).partition(|o| o.owner == owner);
        orphans.waiting = others;
        mine
    };
    drop(mine);
}

/// Drops the orphans of thread state `owner` (call it on that thread).
fn reap(owner: i64) {
    reap_orphans(owner, false);
}

/// Drops the orphans of the calling thread (on a `TraceGenerator` call).
pub(crate) fn reap_here(py: Python<'_>) {
    reap(thread_id(py));
}

/// Drops a thread's orphans when the thread ends.
struct Reaper {
    owners: RefCell<Vec<i64>>,
}

impl Reaper {
    fn watch(&self, owner: i64) {
        let mut owners = self.owners.borrow_mut();
        if !owners.contains(&owner) {
            owners.push(owner);
        }
    }
}

impl Drop for Reaper {
    /// Drops the thread's orphans; values of it freed later (on other threads)
    /// are dropped where they are freed.
    fn drop(&mut self) {
        for &owner in self.owners.borrow().iter() {
            reap_orphans(owner, true);
        }
    }
}

thread_local! {
    static REAPER: Reaper = const {
        Reaper {
            owners: RefCell::new(Vec::new()),
        }
    };
}
