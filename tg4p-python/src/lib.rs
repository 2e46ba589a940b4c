//! `tg4perfetto` for Python, on tg4p: the pure-Python library's API (same names,
//! same call shapes), tg4p's engine underneath.
//!
//! This crate is the native half of the Python package `tg4perfetto`
//! (distribution `tg4p-perfetto`, built by maturin from `pyproject.toml`); the
//! package's `__init__.py` re-exports everything defined here. Its API is the
//! Python one, documented in the README and tested by `tests/` (pytest).
//!
//! - `live`: tracing a running Python program (`open`, `trace_func`, `track`,
//!   `count`, `instant`, ...) on tg4p's live recorder.
//! - `generator`: `TraceGenerator` and its handles, on tg4p's generator.
//! - `values`: Python objects to annotation values, the one conversion both use.
//! - `names`: runtime strings made `&'static`, interned once each.
//! - `floor`: no-op classes shaped like the real ones, the benchmark's floor.
//! - `vectorcall`: Python's vectorcall protocol for pyo3 classes.

mod floor;
mod generator;
mod live;
mod names;
mod values;
mod vectorcall;

use pyo3::prelude::*;

/// The native module `tg4perfetto._tg4p`.
#[pymodule]
fn _tg4p(m: &Bound<'_, PyModule>) -> PyResult<()> {
    live::register(m)?;
    generator::register(m)?;
    floor::register(m)?;
    Ok(())
}
