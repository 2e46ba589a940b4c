//! Python's vectorcall protocol for pyo3 classes, which pyo3 does not offer:
//! calls without a tuple and a dict made for the arguments.
//!
//! A class that takes it holds its `vectorcallfunc` in a field; [`enable`] points
//! the type's vectorcall offset at that field and sets the type's vectorcall flag.
//! Calls from Python then go to the function; callers that use `tp_call` (a
//! tuple and a dict) still reach the class's `__call__`.

use pyo3::prelude::*;
use pyo3::{PyClass, ffi};
use std::sync::Once;

/// Makes `T`'s instances callable through the function in their field `field`
/// (`field` in `obj`, an instance), once (`once`, one per class).
///
/// `T` must not be subclassable (its layout is the same in every instance) and
/// every instance must hold a valid `vectorcallfunc` in that field from its
/// construction on.
pub(crate) fn enable<T: PyClass>(
    obj: &Bound<'_, T>,
    field: &ffi::vectorcallfunc,
    once: &'static Once,
) {
    once.call_once(|| {
        let offset = std::ptr::from_ref(field) as isize - obj.as_ptr() as isize;
        let ty = obj.as_any().get_type().as_type_ptr();
        // SAFETY: `ty` is the ready type of `obj` (bound: the GIL is held).
        let size = unsafe { (*ty).tp_basicsize };
        if offset <= 0 || offset + size_of::<ffi::vectorcallfunc>() as isize > size {
            return; // not in the object: calls keep taking `tp_call`
        }
        // SAFETY: the type is the heap type pyo3 made for `T`, ready; every
        // instance holds a `vectorcallfunc` at `offset` (the same in each: `T` is
        // not subclassable), the caller's promise; the GIL is held. The flag and
        // the offset are read at each call; `PyType_Modified` drops what the
        // interpreter cached about the type.
        unsafe {
            (*ty).tp_vectorcall_offset = offset;
            (*ty).tp_flags |= ffi::Py_TPFLAGS_HAVE_VECTORCALL;
            ffi::PyType_Modified(ty);
        }
    });
}
