//! Python threads on named thread tracks (a stopgap).
//!
//! tg4p names a thread's track when the thread records its first event of a
//! session, from the Rust thread name or else the OS thread name. Python's
//! `threading` names its threads only for Python, so before a thread's first event
//! its OS name is set to the Python name, through `/proc/thread-self/comm` (Linux;
//! safe code, no FFI). Linux keeps 15 bytes of it: `Thread-1 (merge_sort_wrapper)`
//! shows as `Thread-1 (merge`. The main thread is left alone, since its OS name is
//! the process's name (`ps`, `pkill`): its track keeps the interpreter's name.
//!
//! What replaces this: a runtime call naming the calling thread's track, e.g.
//! `tg4p::set_thread_name(&str)`, taking any length.

use pyo3::prelude::*;
use pyo3::sync::PyOnceLock;
use std::cell::Cell;

thread_local! {
    static NAMED: Cell<bool> = const { Cell::new(false) };
}

/// Linux's limit of a thread name, in bytes (without the NUL).
const OS_NAME_BYTES: usize = 15;

/// Gives the calling thread its Python name before it records, once per thread.
#[inline]
pub(crate) fn ensure_named(py: Python<'_>) {
    if NAMED.with(Cell::get) {
        return;
    }
    NAMED.with(|n| n.set(true));
    if let Some(name) = python_name(py) {
        set_os_name(&name);
    }
}

/// The Python name of the calling thread, `None` for the main thread.
fn python_name(py: Python<'_>) -> Option<String> {
    static THREADING: PyOnceLock<Py<PyModule>> = PyOnceLock::new();
    let threading = THREADING
        .get_or_try_init(py, || py.import("threading").map(Bound::unbind))
        .ok()?
        .bind(py);
    let current = threading.call_method0("current_thread").ok()?;
    let main = threading.call_method0("main_thread").ok()?;
    if current.is(&main) {
        return None;
    }
    current.getattr("name").ok()?.extract::<String>().ok()
}

#[cfg(target_os = "linux")]
fn set_os_name(name: &str) {
    let mut cut = name.len().min(OS_NAME_BYTES);
    while !name.is_char_boundary(cut) {
        cut -= 1;
    }
    // Best effort: without it the track is named by the OS's default thread name.
    let _ = std::fs::write("/proc/thread-self/comm", &name[..cut]);
}

#[cfg(not(target_os = "linux"))]
fn set_os_name(_name: &str) {
    let _ = OS_NAME_BYTES;
}
