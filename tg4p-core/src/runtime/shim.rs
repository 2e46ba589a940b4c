//! The synchronisation primitives of the recorder's hand-off, in one place.
//!
//! Everything the recording threads and the writer share through a [`Chunk`]
//! (`super::buffer::Chunk`) or a thread `Slot` (`super::handoff`) goes through these
//! names, so that the hand-off can be model-checked with `loom`: compiled with
//! `RUSTFLAGS="--cfg tg4p_loom"`, the same code uses loom's atomics, mutex and `Arc`.
//! (The process-wide gate and registries are plain `std` statics: they are not part
//! of the hand-off protocol and loom types cannot be `const`-constructed.)

#[cfg(not(tg4p_loom))]
pub(crate) use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
#[cfg(not(tg4p_loom))]
pub(crate) use std::sync::{Arc, Mutex, MutexGuard};

#[cfg(tg4p_loom)]
pub(crate) use loom::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
#[cfg(tg4p_loom)]
pub(crate) use loom::sync::{Arc, Mutex, MutexGuard};

/// Locks `m`, ignoring poisoning: every critical section of the recorder leaves its
/// data consistent at each step, so a panic elsewhere does not invalidate it.
pub(crate) fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    match m.lock() {
        Ok(g) => g,
        Err(poisoned) => poisoned.into_inner(),
    }
}

/// The channels between recording threads and the writer: crossbeam's in normal
/// builds. (Under loom, a model supplies its own channel built on loom's
/// primitives; only `unbounded`, `bounded`, `send`, `try_recv` and `recv_timeout`
/// are used.)
#[cfg(not(tg4p_loom))]
pub(crate) mod channel {
    pub(crate) use crossbeam_channel::{Receiver, RecvTimeoutError, Sender, bounded, unbounded};
}
