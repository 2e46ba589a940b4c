//! Compile-time checks that generated code routes through, so that a misuse is
//! reported at the user's token with a message saying what to do.

use super::track::Track;
use std::fmt::Debug;

/// An argument `#[trace_args]` can record: any `Debug` value. The generated call is
/// spanned at the argument, so a non-`Debug` one is reported there.
#[diagnostic::on_unimplemented(
    message = "`{Self}` is not `Debug`, so `#[trace_args]` cannot record this argument",
    label = "not `Debug`: skip it with `#[trace_args(skip(..))]`",
    note = "`#[trace_args(skip(name))]` leaves an argument out; `skip_all` records none"
)]
pub trait ArgDebug {
    /// The argument as a `Debug` trait object.
    fn __tg4p_as_debug(&self) -> &dyn Debug;
}

impl<T: Debug> ArgDebug for T {
    #[inline(always)]
    fn __tg4p_as_debug(&self) -> &dyn Debug {
        self
    }
}

/// What `track = ..` accepts: a `static` [`Track`].
#[diagnostic::on_unimplemented(
    message = "`track = ..` needs a `static` `tg4p::Track`, not `{Self}`",
    label = "not a `tg4p::Track`",
    note = "declare one with `static NAME: tg4p::Track = tg4p::Track::new(\"NAME\");`"
)]
pub trait AsTrack {
    /// The track.
    fn __tg4p_track(&'static self) -> &'static Track;
}

impl AsTrack for Track {
    #[inline(always)]
    fn __tg4p_track(&'static self) -> &'static Track {
        self
    }
}

/// A return value `ret` can record: any `Debug` value. The generated call is
/// spanned at the function's return type, so a non-`Debug` one is reported there.
#[diagnostic::on_unimplemented(
    message = "`{Self}` is not `Debug`, so `ret` cannot record this function's return value",
    label = "not `Debug`: remove `ret` from the attribute",
    note = "`ret` records the return value with `Debug`; without it the slice is recorded as usual"
)]
pub trait RetDebug {
    /// The return value as a `Debug` trait object.
    fn __tg4p_ret_debug(&self) -> &dyn Debug;
}

impl<T: Debug> RetDebug for T {
    #[inline(always)]
    fn __tg4p_ret_debug(&self) -> &dyn Debug {
        self
    }
}

/// Runs a function's body, moved into `body`, for `ret`: with `T` the declared
/// return type, the closure's return type is inferred from it (so `?`, `.into()`
/// and `collect()` still see the signature's type), and `return` leaves the body
/// with the value to record.
#[inline(always)]
pub fn returning<T, F: FnOnce() -> T>(body: F) -> T {
    body()
}

/// As [`returning`], for an `async fn`'s body as an `async` block: fixes its
/// output type to the declared one.
#[inline(always)]
pub fn returning_future<T, F: Future<Output = T>>(body: F) -> F {
    body
}
