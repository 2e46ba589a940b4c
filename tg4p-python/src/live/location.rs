//! Where events come from: the calling Python frame, a function's definition,
//! or what `set_caller` is given.

use super::seam::Location;
use crate::names::intern;
use pyo3::intern;
use pyo3::prelude::*;
use pyo3::sync::PyOnceLock;
use pyo3::types::PyTuple;

/// The Python code calling into this module (an unknown place if the frame cannot
/// be read: tracing does not raise for it).
pub(super) fn caller(py: Python<'_>) -> Location {
    frame_location(py).unwrap_or(Location {
        file: intern("<unknown>"),
        line: 0,
        function: intern("<unknown>"),
    })
}

fn frame_location(py: Python<'_>) -> PyResult<Location> {
    static GETFRAME: PyOnceLock<Py<PyAny>> = PyOnceLock::new();
    let getframe = GETFRAME.get_or_try_init(py, || {
        py.import("sys")?.getattr("_getframe").map(Bound::unbind)
    })?;
    // A native function has no frame of its own: frame 0 is its caller's.
    let frame = getframe.bind(py).call0()?;
    let line = frame
        .getattr(intern!(py, "f_lineno"))?
        .extract::<u32>()
        .unwrap_or(0);
    code_location(&frame.getattr(intern!(py, "f_code"))?, line)
}

/// The location of a code object's function, at `line`.
fn code_location(code: &Bound<'_, PyAny>, line: u32) -> PyResult<Location> {
    let py = code.py();
    let function = match code.getattr(intern!(py, "co_qualname")) {
        Ok(q) => q,
        Err(_) => code.getattr(intern!(py, "co_name"))?,
    };
    Ok(Location {
        file: intern(
            &code
                .getattr(intern!(py, "co_filename"))?
                .extract::<String>()?,
        ),
        line,
        function: intern(&function.extract::<String>()?),
    })
}

/// Where a function is defined (`__code__` for Python functions, else its name).
pub(super) fn function_location(func: &Bound<'_, PyAny>) -> PyResult<Location> {
    let py = func.py();
    if let Ok(code) = func.getattr(intern!(py, "__code__")) {
        let line = code
            .getattr(intern!(py, "co_firstlineno"))?
            .extract::<u32>()?;
        return code_location(&code, line);
    }
    Ok(Location {
        file: intern("<unknown>"),
        line: 0,
        function: intern(&function_name(func)?),
    })
}

pub(super) fn function_name(func: &Bound<'_, PyAny>) -> PyResult<String> {
    let py = func.py();
    match func.getattr(intern!(py, "__name__")) {
        Ok(n) => n.extract(),
        Err(_) => Ok(func.repr()?.to_string_lossy().into_owned()),
    }
}

/// `set_caller`'s argument: a `(file, line, function)` tuple or a function.
pub(super) fn location_of(caller: &Bound<'_, PyAny>) -> PyResult<Location> {
    if let Ok(t) = caller.cast::<PyTuple>() {
        let (file, line, function) = t.extract::<(String, u32, String)>()?;
        return Ok(Location {
            file: intern(&file),
            line,
            function: intern(&function),
        });
    }
    function_location(caller)
}
