//! Live tracing: `macro_rules!` macros (`instant!`, `span!`, `async_span!`, `count!`) and the
//! private seam generated code calls.

/// Records an instant event on the calling thread's track (or on a `static`
/// [`Track`](crate::Track) given first), with optional flows and `Debug`
/// arguments, and returns the ids of the `outgoing` flows as an array.
///
/// ```
/// let session = tg4p::open(std::env::temp_dir().join("instant-doc.pftrace"))?;
/// let [a, b] = tg4p::instant!("INVOKE_THREAD", outgoing = 2);
/// tg4p::instant!("START_THREAD", incoming = [a]);
/// static TOP: tg4p::Track = tg4p::Track::new("TOP_TRACK");
/// tg4p::instant!(TOP, "START_THREAD", incoming = [b]);
/// let result = vec![1, 2, 3];
/// tg4p::instant!("CHECKING", final_result = &result, size = result.len());
/// session.finish()?;
/// # Ok::<(), tg4p::SessionError>(())
/// ```
#[macro_export]
macro_rules! instant {
    ($name:literal $(, $($rest:tt)*)?) => {
        $crate::__instant!(@ (::core::option::Option::None) $name; [0]; []; []; []; $($($rest)*)?)
    };
    ($track:path, $name:literal $(, $($rest:tt)*)?) => {
        $crate::__instant!(@ (::core::option::Option::Some(&$track)) $name; [0]; []; []; []; $($($rest)*)?)
    };
}

#[doc(hidden)]
#[macro_export]
macro_rules! __instant {
    (@ $track:tt $name:literal; [$n:expr]; [$($inc:expr)?]; [$($k:ident)*]; [$($v:expr),*];
        outgoing = $n2:expr $(, $($rest:tt)*)?) => {
        $crate::__instant!(@ $track $name; [$n2]; [$($inc)?]; [$($k)*]; [$($v),*]; $($($rest)*)?)
    };
    (@ $track:tt $name:literal; [$n:expr]; [$($inc:expr)?]; [$($k:ident)*]; [$($v:expr),*];
        incoming = $inc2:expr $(, $($rest:tt)*)?) => {
        $crate::__instant!(@ $track $name; [$n]; [$inc2]; [$($k)*]; [$($v),*]; $($($rest)*)?)
    };
    (@ $track:tt $name:literal; [$n:expr]; [$($inc:expr)?]; [$($k:ident)*]; [$($v:expr),*];
        $key:ident = $val:expr $(, $($rest:tt)*)?) => {
        $crate::__instant!(@ $track $name; [$n]; [$($inc)?]; [$($k)* $key]; [$($v,)* $val]; $($($rest)*)?)
    };
    (@ $track:tt $name:literal; [$n:expr]; [$($inc:expr)?]; [$($k:ident)*]; [$($v:expr),*];) => {
        $crate::__instant_emit!($track $name; [$n]; [$($inc)?]; [$($k)*]; [$($v),*])
    };
    (@incoming) => { &[] };
    (@incoming $inc:expr) => { &$inc };
}

#[cfg(feature = "enable")]
#[doc(hidden)]
#[macro_export]
macro_rules! __instant_emit {
    ($track:tt $name:literal; [$n:expr]; [$($inc:expr)?]; [$($k:ident)*]; [$($v:expr),*]) => {{
        static __TG4P_CALLSITE: $crate::__private::Callsite = $crate::__private::Callsite::new(
            $name,
            $crate::__function!(),
            ::core::file!(),
            ::core::line!(),
            &[$(::core::stringify!($k)),*],
        );
        $crate::__private::instant::<{ $n }>(
            &__TG4P_CALLSITE,
            $track,
            &[$(&$v as &dyn ::core::fmt::Debug),*],
            $crate::__instant!(@incoming $($inc)?),
        )
    }};
}

/// Compiled out: the arguments are type-checked in a branch that never runs, and
/// the flow ids are all 0.
#[cfg(not(feature = "enable"))]
#[doc(hidden)]
#[macro_export]
macro_rules! __instant_emit {
    ($track:tt $name:literal; [$n:expr]; [$($inc:expr)?]; [$($k:ident)*]; [$($v:expr),*]) => {{
        if false {
            let _: ::core::option::Option<&$crate::Track> = $track;
            let _: &[$crate::FlowId] = $crate::__instant!(@incoming $($inc)?);
            $(let _: &dyn ::core::fmt::Debug = &$v;)*
        }
        [$crate::FlowId::from_raw(0); $n]
    }};
}

/// Starts a slice on the calling thread's track (or on a `static`
/// [`Track`](crate::Track) given first), ended when the returned guard drops.
/// Unlike the `span` methods, it records the enclosing function's name.
///
/// The guard is not `Send`: its slice belongs to the thread's track (or nests
/// with this thread's spans on the custom track). Holding it across an `.await`
/// makes the future not `Send` either, so `tokio::spawn` rejects it ("future
/// cannot be sent between threads safely"); in async code, use [`async_span!`](crate::async_span).
///
/// ```
/// static TOP: tg4p::Track = tg4p::Track::new("TOP_TRACK");
/// let sort = tg4p::span!(TOP, "SORT");
/// let out = sort.outgoing(1);
/// drop(sort);
/// let _validate = tg4p::span!(TOP, "VALIDATE").incoming(&out);
/// let _step = tg4p::span!("step", n = 3);
/// ```
#[macro_export]
macro_rules! span {
    ($name:literal $(, $key:ident = $val:expr)* $(,)?) => {
        $crate::__span!(::core::option::Option::None, $name $(, $key = $val)*)
    };
    ($track:path, $name:literal $(, $key:ident = $val:expr)* $(,)?) => {
        $crate::__span!(::core::option::Option::Some(&$track), $name $(, $key = $val)*)
    };
}

#[cfg(feature = "enable")]
#[doc(hidden)]
#[macro_export]
macro_rules! __span {
    ($track:expr, $name:literal $(, $key:ident = $val:expr)*) => {{
        static __TG4P_CALLSITE: $crate::__private::Callsite = $crate::__private::Callsite::new(
            $name,
            $crate::__function!(),
            ::core::file!(),
            ::core::line!(),
            &[$(::core::stringify!($key)),*],
        );
        $crate::__private::enter_span(
            &__TG4P_CALLSITE,
            $track,
            &[$(&$val as &dyn ::core::fmt::Debug),*],
        )
    }};
}

/// Compiled out: an inert guard; the arguments are type-checked, never evaluated.
#[cfg(not(feature = "enable"))]
#[doc(hidden)]
#[macro_export]
macro_rules! __span {
    ($track:expr, $name:literal $(, $key:ident = $val:expr)*) => {{
        if false {
            let _: ::core::option::Option<&$crate::Track> = $track;
            $(let _: &dyn ::core::fmt::Debug = &$val;)*
        }
        $crate::__private::Span::off()
    }};
}

/// Starts a slice inside the traced future being polled, ended when the returned
/// guard drops: a scope that can be held across `.await` in a `Send` future,
/// where [`span!`]'s guard (which belongs to the thread's track) cannot.
///
/// The slice nests in the future's innermost slice (on a lane beneath it if a
/// concurrent child holds that level), and the futures awaited while it is open
/// nest in it. With no traced future being polled, it goes on a pool of tracks
/// named after it, like a task. Arguments as for [`span!`].
///
/// ```
/// #[tg4p::trace]
/// async fn handle(request: u32) -> u32 {
///     let parse = tg4p::async_span!("parse", request = request);
///     let n = async { request + 1 }.await; // held across `.await`: still `Send`
///     drop(parse);
///     n
/// }
///
/// fn assert_send<T: Send>(_: T) {}
/// assert_send(handle(1));
/// ```
#[macro_export]
macro_rules! async_span {
    ($name:literal $(, $key:ident = $val:expr)* $(,)?) => {
        $crate::__async_span!($name $(, $key = $val)*)
    };
}

#[cfg(feature = "enable")]
#[doc(hidden)]
#[macro_export]
macro_rules! __async_span {
    ($name:literal $(, $key:ident = $val:expr)*) => {{
        static __TG4P_CALLSITE: $crate::__private::Callsite = $crate::__private::Callsite::new(
            $name,
            $crate::__function!(),
            ::core::file!(),
            ::core::line!(),
            &[$(::core::stringify!($key)),*],
        );
        static __TG4P_POOL: $crate::__private::Track = $crate::__private::Track::pool($name);
        $crate::__private::AsyncSpan::enter(
            &__TG4P_CALLSITE,
            &__TG4P_POOL,
            &[$(&$val as &dyn ::core::fmt::Debug),*],
        )
    }};
}

/// Compiled out: an inert guard; the arguments are type-checked, never evaluated.
#[cfg(not(feature = "enable"))]
#[doc(hidden)]
#[macro_export]
macro_rules! __async_span {
    ($name:literal $(, $key:ident = $val:expr)*) => {{
        if false {
            $(let _: &dyn ::core::fmt::Debug = &$val;)*
        }
        $crate::__private::AsyncSpan::off()
    }};
}

/// Updates a counter and records a sample: `count!(C += 1)`, `count!(C -= 1)`,
/// `count!(C = 3)` on a `static` [`Counter`](crate::Counter), or by name:
/// `count!("queue_depth" = 7.5)` (every counter with one name draws on one track).
/// Integers record integer samples, floats float samples.
///
/// ```
/// static ACTIVE: tg4p::Counter = tg4p::Counter::new("num_active_threads");
/// tg4p::count!(ACTIVE += 1);
/// tg4p::count!(ACTIVE -= 1);
/// tg4p::count!(ACTIVE = 3);
/// tg4p::count!("queue_depth" = 7.5);
/// ```
#[cfg(feature = "enable")]
#[macro_export]
macro_rules! count {
    ($name:literal = $v:expr) => { $crate::__named_counter!($name).set($v) };
    ($name:literal += $v:expr) => { $crate::__named_counter!($name).add($v) };
    ($name:literal -= $v:expr) => { $crate::__named_counter!($name).sub($v) };
    ($($c:ident)::+ = $v:expr) => { $crate::__counter!($($c)::+).set($v) };
    ($($c:ident)::+ += $v:expr) => { $crate::__counter!($($c)::+).add($v) };
    ($($c:ident)::+ -= $v:expr) => { $crate::__counter!($($c)::+).sub($v) };
}

/// Compiled out: the update is type-checked in a branch that never runs.
#[cfg(not(feature = "enable"))]
#[macro_export]
macro_rules! count {
    ($name:literal = $v:expr) => { if false { $crate::__named_counter!($name).set($v) } };
    ($name:literal += $v:expr) => { if false { $crate::__named_counter!($name).add($v) } };
    ($name:literal -= $v:expr) => { if false { $crate::__named_counter!($name).sub($v) } };
    ($($c:ident)::+ = $v:expr) => { if false { $crate::__counter!($($c)::+).set($v) } };
    ($($c:ident)::+ += $v:expr) => { if false { $crate::__counter!($($c)::+).add($v) } };
    ($($c:ident)::+ -= $v:expr) => { if false { $crate::__counter!($($c)::+).sub($v) } };
}

/// The `static` counter `count!` was given, through [`AsCounter`], so that anything
/// else is reported at the user's token with what `count!` accepts.
#[doc(hidden)]
#[macro_export]
macro_rules! __counter {
    ($($c:ident)::+) => { $crate::__private::AsCounter::__tg4p_counter(&$($c)::+) };
}

/// What `count!(NAME ..)` accepts: a `static` [`Counter`](crate::Counter).
#[doc(hidden)]
#[diagnostic::on_unimplemented(
    message = "`count!` updates a `static` `tg4p::Counter` or a counter named by a string literal, not a `{Self}`",
    label = "not a `tg4p::Counter`",
    note = "declare one with `static NAME: tg4p::Counter = tg4p::Counter::new(\"name\");`, \
            or name the counter with a literal: `tg4p::count!(\"queue_depth\" = 7)`"
)]
pub trait AsCounter {
    /// The counter.
    fn __tg4p_counter(&self) -> &crate::Counter;
}

impl AsCounter for crate::Counter {
    #[inline(always)]
    fn __tg4p_counter(&self) -> &crate::Counter {
        self
    }
}

#[doc(hidden)]
#[macro_export]
macro_rules! __named_counter {
    ($name:literal) => {{
        static __TG4P_COUNTER: ::std::sync::OnceLock<&'static $crate::__private::Counter> =
            ::std::sync::OnceLock::new();
        *__TG4P_COUNTER.get_or_init(|| $crate::__private::named_counter($name))
    }};
}

/// The enclosing function's path, computed on first use (`macro_rules!` cannot name
/// it at compile time).
#[doc(hidden)]
#[macro_export]
macro_rules! __function {
    () => {
        $crate::__private::Function::Lazy({
            fn __tg4p_function() -> &'static str {
                let path = ::core::any::type_name_of_val(&__tg4p_function);
                match path.find("::__TG4P_CALLSITE") {
                    ::core::option::Option::Some(end) => &path[..end],
                    ::core::option::Option::None => path,
                }
            }
            __tg4p_function
        })
    };
}
