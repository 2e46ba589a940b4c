//! Live tracing of a Python program: the original's `open`, `stop`, `trace`,
//! `instant`, `trace_func`, `trace_func_args`, `track` and `count`, on tg4p's live
//! recorder (thread-local buffers, a background writer thread).
//!
//! - Sessions: `with open(path):` starts one and finishes it at the block's end,
//!   the GIL released while the writer drains and closes the file.
//! - Slices: traced functions and `with track.trace(name):` blocks; a call that
//!   raises still ends its slice (the guard drops), and the exception propagates.
//! - Tracks and counters are `static`s in tg4p: one is leaked per distinct name
//!   (two `track("X")` objects draw on one track "X").
//!
//! Modules: [`session`] (`open`, `stop`), [`track`] (`track`, `instant`, `trace`
//! blocks), [`decorators`] (`trace_func`, `trace_func_args`), [`counter`]
//! (`count`); beneath them [`args`] (arguments and flow ids from Python),
//! [`location`] (source locations), [`threads`] (thread names) and [`seam`], the
//! one module that records through tg4p's private seam.

mod args;
mod counter;
mod decorators;
mod location;
mod seam;
mod session;
mod threads;
mod track;

use pyo3::prelude::*;

pub(crate) fn register(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_function(wrap_pyfunction!(session::open, m)?)?;
    m.add_function(wrap_pyfunction!(session::stop, m)?)?;
    m.add_function(wrap_pyfunction!(track::trace, m)?)?;
    m.add_function(wrap_pyfunction!(track::instant, m)?)?;
    m.add_function(wrap_pyfunction!(decorators::trace_func, m)?)?;
    m.add_function(wrap_pyfunction!(decorators::trace_func_args, m)?)?;
    m.add_function(wrap_pyfunction!(seam::_kept_names, m)?)?;
    m.add_class::<track::PyTrack>()?;
    m.add_class::<counter::PyCount>()?;
    m.add_class::<track::TraceBlock>()?;
    m.add_class::<session::Opener>()?;
    m.add_class::<decorators::TracedFunction>()?;
    m.add_class::<decorators::TraceDecorator>()?;
    Ok(())
}
