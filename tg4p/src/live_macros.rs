//! Live tracing: `macro_rules!` macros (`instant!`, `span!`, `async_span!`, `count!`) and the
//! private seam generated code calls.

/// Records an instant event on the calling thread's track (or on a `static`
/// [`Track`](crate::Track) given first), with optional flows and arguments, and
/// returns the ids of the `outgoing` flows: an array for a literal count, a `Vec`
/// for a count known at run time.
///
/// Arguments are `key = value`: integers, floats, bools, `char`s and strings
/// (`&str`, `String`, `Cow<str>`, and references to them) are recorded as
/// Perfetto's typed values (strings without quotes), anything else as its `Debug`
/// text. `key = %value` records `value`'s `Display` text, `key = ?value` its `Debug`
/// text, as in `tracing`. Dotted keys (`http.method = ..`) become nested arguments
/// (`http: {method: ..}`). The name is a string literal, or any expression giving
/// a string (`&str`, `String`, ...) known only at run time; with a track, a run-time
/// name goes in braces: `instant!(TOP, {name}, ..)`. Each distinct name is interned
/// once per thread's sequence.
///
/// ```
/// let session = tg4p::open(std::env::temp_dir().join("instant-doc.pftrace"))?;
/// let [a, b] = tg4p::instant!("INVOKE_THREAD", outgoing = 2);
/// tg4p::instant!("START_THREAD", incoming = [a]);
/// static TOP: tg4p::Track = tg4p::Track::new("TOP_TRACK");
/// tg4p::instant!(TOP, "START_THREAD", incoming = [b]);
/// let result = vec![1, 2, 3];
/// tg4p::instant!("CHECKING", final_result = ?result, size = result.len(), ok = true);
/// let route = String::from("/users");
/// tg4p::instant!("request", http.method = "GET", http.route = &route, took = %1.5);
/// let fan_out = result.len();
/// let flows: Vec<tg4p::FlowId> = tg4p::instant!(route.as_str(), outgoing = fan_out);
/// tg4p::instant!(TOP, { format!("{route} done") }, incoming = flows);
/// session.finish()?;
/// # Ok::<(), tg4p::SessionError>(())
/// ```
#[macro_export]
macro_rules! instant {
    ($name:literal $(, $($rest:tt)*)?) => {
        $crate::__tg4p_fields!(__instant_emit ((::core::option::Option::None) (lit $name)) [] [] [] []; $($($rest)*)?)
    };
    ($track:path, $name:literal $(, $($rest:tt)*)?) => {
        $crate::__tg4p_fields!(__instant_emit ((::core::option::Option::Some(&$track)) (lit $name)) [] [] [] []; $($($rest)*)?)
    };
    ($track:path, $name:block $(, $($rest:tt)*)?) => {
        $crate::__tg4p_fields!(__instant_emit ((::core::option::Option::Some(&$track)) (expr $name)) [] [] [] []; $($($rest)*)?)
    };
    ($name:expr $(, $($rest:tt)*)?) => {
        $crate::__tg4p_fields!(__instant_emit ((::core::option::Option::None) (expr $name)) [] [] [] []; $($($rest)*)?)
    };
}

/// Reads the fields of `instant!` and `span!` (flows, then `key = value` args in any
/// order) and calls `$cb` with the event (`$head`), the outgoing count (`[]`,
/// `[lit N]` or `[expr n]`), the incoming ids, the keys and the values.
#[doc(hidden)]
#[macro_export]
macro_rules! __tg4p_fields {
    ($cb:ident ($($head:tt)*) $o:tt $inc:tt $k:tt $v:tt;
        category = $c:literal $(, $($rest:tt)*)?) => {
        $crate::__tg4p_fields!($cb ($($head)* (category $c)) $o $inc $k $v; $($($rest)*)?)
    };
    ($cb:ident $head:tt $o:tt $inc:tt $k:tt $v:tt;
        category = $other:expr $(, $($rest:tt)*)?) => {
        ::core::compile_error!(::core::concat!(
            "`category` takes a string literal, known at compile time: `category = \"db\"`; found `",
            ::core::stringify!($other),
            "`"
        ))
    };
    ($cb:ident $head:tt $o:tt $inc:tt $k:tt $v:tt; category = $($other:tt)*) => {
        ::core::compile_error!(::core::concat!(
            "`category` takes a string literal, known at compile time: `category = \"db\"`; found `",
            ::core::stringify!($($other)*),
            "`"
        ))
    };
    ($cb:ident $head:tt [$($o:tt)*] [$($inc:expr)?] [$($k:expr),*] [$($v:expr),*];
        outgoing = $n:literal $(, $($rest:tt)*)?) => {
        $crate::__tg4p_fields!($cb $head [lit $n] [$($inc)?] [$($k),*] [$($v),*]; $($($rest)*)?)
    };
    ($cb:ident $head:tt [$($o:tt)*] [$($inc:expr)?] [$($k:expr),*] [$($v:expr),*];
        outgoing = $n:expr $(, $($rest:tt)*)?) => {
        $crate::__tg4p_fields!($cb $head [expr $n] [$($inc)?] [$($k),*] [$($v),*]; $($($rest)*)?)
    };
    ($cb:ident $head:tt [$($o:tt)*] [$($inc:expr)?] [$($k:expr),*] [$($v:expr),*];
        incoming = $i:expr $(, $($rest:tt)*)?) => {
        $crate::__tg4p_fields!($cb $head [$($o)*] [$i] [$($k),*] [$($v),*]; $($($rest)*)?)
    };
    ($cb:ident $head:tt [$($o:tt)*] [$($inc:expr)?] [$($k:expr),*] [$($v:expr),*];
        $($key:ident).+ = % $val:expr $(, $($rest:tt)*)?) => {
        $crate::__tg4p_fields!($cb $head [$($o)*] [$($inc)?]
            [$($k,)* $crate::__tg4p_key!($($key).+)]
            [$($v,)* $crate::__private::ArgRef::display(&$val)]; $($($rest)*)?)
    };
    ($cb:ident $head:tt [$($o:tt)*] [$($inc:expr)?] [$($k:expr),*] [$($v:expr),*];
        $($key:ident).+ = ? $val:expr $(, $($rest:tt)*)?) => {
        $crate::__tg4p_fields!($cb $head [$($o)*] [$($inc)?]
            [$($k,)* $crate::__tg4p_key!($($key).+)]
            [$($v,)* $crate::__private::ArgRef::debug(&$val)]; $($($rest)*)?)
    };
    // A negated literal (`-3`) is a literal; any other value after a `-` would make
    // the `literal` arm below fail hard (`-` may begin a literal), so its tokens are
    // gathered up to the next top-level comma and recorded as `-(..)`.
    ($cb:ident $head:tt [$($o:tt)*] [$($inc:expr)?] [$($k:expr),*] [$($v:expr),*];
        $($key:ident).+ = - $val:literal $(, $($rest:tt)*)?) => {
        $crate::__tg4p_fields!($cb $head [$($o)*] [$($inc)?]
            [$($k,)* $crate::__tg4p_key!($($key).+)]
            [$($v,)* $crate::__private::literal(&-$val)]; $($($rest)*)?)
    };
    ($cb:ident $head:tt $o:tt $inc:tt $k:tt $v:tt;
        $($key:ident).+ = - $($rest:tt)*) => {
        $crate::__tg4p_negated!($cb $head $o $inc $k $v ($($key).+) []; $($rest)*)
    };
    ($cb:ident $head:tt [$($o:tt)*] [$($inc:expr)?] [$($k:expr),*] [$($v:expr),*];
        $($key:ident).+ = $val:literal $(, $($rest:tt)*)?) => {
        $crate::__tg4p_fields!($cb $head [$($o)*] [$($inc)?]
            [$($k,)* $crate::__tg4p_key!($($key).+)]
            [$($v,)* $crate::__private::literal(&$val)]; $($($rest)*)?)
    };
    ($cb:ident $head:tt [$($o:tt)*] [$($inc:expr)?] [$($k:expr),*] [$($v:expr),*];
        $($key:ident).+ = $val:expr $(, $($rest:tt)*)?) => {
        $crate::__tg4p_fields!($cb $head [$($o)*] [$($inc)?]
            [$($k,)* $crate::__tg4p_key!($($key).+)]
            [$($v,)* $crate::__private::Probe::new(&$val).__tg4p_arg()]; $($($rest)*)?)
    };
    ($cb:ident $head:tt [$($o:tt)*] [$($inc:expr)?] [$($k:expr),*] [$($v:expr),*];) => {
        $crate::$cb!($head [$($o)*] [$($inc)?] [$($k),*] [$($v),*])
    };
    ($cb:ident $head:tt $o:tt $inc:tt $k:tt $v:tt; $($other:tt)*) => {
        ::core::compile_error!(::core::concat!(
            "expected `key = value`, `key = %value` (Display), `key = ?value` (Debug)",
            ", `category = \"..\"` or (`instant!` only) `outgoing = n`, `incoming = ids`; found `",
            ::core::stringify!($($other)*),
            "`. With a track, a name known at run time goes in braces: `(TRACK, {name}, ..)`"
        ))
    };
}

/// Gathers the tokens of a negated value up to the next top-level comma (see
/// `__tg4p_fields!`), then records `-(tokens)` and goes on with the rest.
#[doc(hidden)]
#[macro_export]
macro_rules! __tg4p_negated {
    ($cb:ident $head:tt [$($o:tt)*] [$($inc:expr)?] [$($k:expr),*] [$($v:expr),*]
        ($($key:tt)*) [$($acc:tt)+]; , $($rest:tt)*) => {
        $crate::__tg4p_fields!($cb $head [$($o)*] [$($inc)?]
            [$($k,)* $crate::__tg4p_key!($($key)*)]
            [$($v,)* $crate::__private::Probe::new(&(-($($acc)+))).__tg4p_arg()]; $($rest)*)
    };
    ($cb:ident $head:tt [$($o:tt)*] [$($inc:expr)?] [$($k:expr),*] [$($v:expr),*]
        ($($key:tt)*) [$($acc:tt)+];) => {
        $crate::__tg4p_fields!($cb $head [$($o)*] [$($inc)?]
            [$($k,)* $crate::__tg4p_key!($($key)*)]
            [$($v,)* $crate::__private::Probe::new(&(-($($acc)+))).__tg4p_arg()];)
    };
    ($cb:ident $head:tt $o:tt $inc:tt $k:tt $v:tt $key:tt [$($acc:tt)*]; $next:tt $($rest:tt)*) => {
        $crate::__tg4p_negated!($cb $head $o $inc $k $v $key [$($acc)* $next]; $($rest)*)
    };
}

/// An arg's key: its dotted parts joined.
#[doc(hidden)]
#[macro_export]
macro_rules! __tg4p_key {
    ($first:ident $(. $rest:ident)*) => {
        ::core::concat!(::core::stringify!($first) $(, ".", ::core::stringify!($rest))*)
    };
}

/// The pieces of an event's name: the callsite's, and the run-time one.
#[doc(hidden)]
#[macro_export]
macro_rules! __tg4p_name {
    (callsite lit $name:literal) => {
        $name
    };
    (callsite expr $name:expr) => {
        ::core::stringify!($name)
    };
    (runtime lit $name:literal) => {
        ::core::option::Option::None
    };
    (runtime expr $name:expr) => {
        ::core::option::Option::Some($crate::__private::runtime_name(&$name))
    };
    (check lit $name:literal) => {
        ()
    };
    (check expr $name:expr) => {
        let _: &str = $crate::__private::runtime_name(&$name);
    };
}

/// The callsite `static` of an event, in its category if it has one.
#[doc(hidden)]
#[macro_export]
macro_rules! __tg4p_callsite {
    ($name:expr, [$($k:expr),*] $(, $cat:literal)?) => {
        $crate::__private::Callsite::new(
            $name,
            $crate::__function!(),
            ::core::file!(),
            ::core::line!(),
            &[$($k),*],
        )
        $(.with_category($cat))?
    };
}

/// Whether a callsite's event is recorded as far as its category goes: one load
/// and one branch for a categorized one, nothing for one without a category.
#[doc(hidden)]
#[macro_export]
macro_rules! __tg4p_category_on {
    ($callsite:ident) => {
        true
    };
    ($callsite:ident $cat:literal) => {
        $callsite.category_on()
    };
}

#[doc(hidden)]
#[macro_export]
macro_rules! __tg4p_flow_ids {
    () => { $crate::__private::flow_ids::<0>() };
    (lit $n:literal) => { $crate::__private::flow_ids::<$n>() };
    (expr $n:expr) => { $crate::__private::flow_id_vec($n) };
    (off) => { [$crate::FlowId::from_raw(0); 0] };
    (off lit $n:literal) => { [$crate::FlowId::from_raw(0); $n] };
    (off expr $n:expr) => { ::std::vec![$crate::FlowId::from_raw(0); $n] };
}

#[cfg(feature = "enable")]
#[doc(hidden)]
#[macro_export]
macro_rules! __instant_emit {
    (($track:tt ($($name:tt)*) $((category $cat:literal))?) [$($o:tt)*] [$($inc:expr)?] [$($k:expr),*] [$($v:expr),*]) => {{
        static __TG4P_CALLSITE: $crate::__private::Callsite =
            $crate::__tg4p_callsite!($crate::__tg4p_name!(callsite $($name)*), [$($k),*] $(, $cat)?);
        let __tg4p_ids = $crate::__tg4p_flow_ids!($($o)*);
        if $crate::__tg4p_category_on!(__TG4P_CALLSITE $($cat)?) {
            $crate::__private::instant_values(
                &__TG4P_CALLSITE,
                $track,
                $crate::__tg4p_name!(runtime $($name)*),
                &[$($v),*],
                &__tg4p_ids,
                $crate::__instant!(@incoming $($inc)?),
            );
        }
        __tg4p_ids
    }};
}

/// Compiled out: the arguments are type-checked in a branch that never runs, and
/// the flow ids are all 0.
#[cfg(not(feature = "enable"))]
#[doc(hidden)]
#[macro_export]
macro_rules! __instant_emit {
    (($track:tt ($($name:tt)*) $((category $cat:literal))?) [$($o:tt)*] [$($inc:expr)?] [$($k:expr),*] [$($v:expr),*]) => {{
        if false {
            $(let _: &str = $cat;)?
            let _: ::core::option::Option<&$crate::Track> = $track;
            let _: &[$crate::FlowId] = $crate::__instant!(@incoming $($inc)?);
            $crate::__tg4p_name!(check $($name)*);
            let _: &[$crate::__private::ArgRef<'_>] = &[$($v),*];
        }
        $crate::__tg4p_flow_ids!(off $($o)*)
    }};
}

#[doc(hidden)]
#[macro_export]
macro_rules! __instant {
    (@incoming) => {
        &[]
    };
    (@incoming $inc:expr) => {
        &$inc
    };
}

/// Starts a slice on the calling thread's track (or on a `static`
/// [`Track`](crate::Track) given first), ended when the returned guard drops.
/// Unlike the `span` methods, it records the enclosing function's name.
///
/// Arguments and names as in [`instant!`]: typed values, `%value` for `Display`,
/// `?value` for `Debug`, dotted keys nested, and a name known at run time (in
/// braces after a track).
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
/// let _step = tg4p::span!("step", n = 3, kind = "merge", http.status = 200u16);
/// let route = String::from("/users");
/// let _request = tg4p::span!(route.as_str(), user = ?Some(7));
/// let _on_top = tg4p::span!(TOP, { &route });
/// ```
#[macro_export]
macro_rules! span {
    ($name:literal $(, $($rest:tt)*)?) => {
        $crate::__tg4p_fields!(__span_emit ((::core::option::Option::None) (lit $name)) [] [] [] []; $($($rest)*)?)
    };
    ($track:path, $name:literal $(, $($rest:tt)*)?) => {
        $crate::__tg4p_fields!(__span_emit ((::core::option::Option::Some(&$track)) (lit $name)) [] [] [] []; $($($rest)*)?)
    };
    ($track:path, $name:block $(, $($rest:tt)*)?) => {
        $crate::__tg4p_fields!(__span_emit ((::core::option::Option::Some(&$track)) (expr $name)) [] [] [] []; $($($rest)*)?)
    };
    ($name:expr $(, $($rest:tt)*)?) => {
        $crate::__tg4p_fields!(__span_emit ((::core::option::Option::None) (expr $name)) [] [] [] []; $($($rest)*)?)
    };
}

#[cfg(feature = "enable")]
#[doc(hidden)]
#[macro_export]
macro_rules! __span_emit {
    (($track:tt ($($name:tt)*) $((category $cat:literal))?) [] [] [$($k:expr),*] [$($v:expr),*]) => {{
        static __TG4P_CALLSITE: $crate::__private::Callsite =
            $crate::__tg4p_callsite!($crate::__tg4p_name!(callsite $($name)*), [$($k),*] $(, $cat)?);
        if $crate::__tg4p_category_on!(__TG4P_CALLSITE $($cat)?) {
            $crate::__private::span_values(
                &__TG4P_CALLSITE,
                $track,
                $crate::__tg4p_name!(runtime $($name)*),
                &[$($v),*],
            )
        } else {
            $crate::__private::Span::off()
        }
    }};
    ($head:tt $($flows:tt)*) => {
        ::core::compile_error!(
            "`span!` takes flows through its guard: `span!(..).incoming(&ids)`, `.outgoing(n)`"
        )
    };
}

/// Compiled out: an inert guard; the arguments are type-checked, never evaluated.
#[cfg(not(feature = "enable"))]
#[doc(hidden)]
#[macro_export]
macro_rules! __span_emit {
    (($track:tt ($($name:tt)*) $((category $cat:literal))?) [] [] [$($k:expr),*] [$($v:expr),*]) => {{
        if false {
            $(let _: &str = $cat;)?
            let _: ::core::option::Option<&$crate::Track> = $track;
            $crate::__tg4p_name!(check $($name)*);
            let _: &[$crate::__private::ArgRef<'_>] = &[$($v),*];
        }
        $crate::__private::Span::off()
    }};
    ($head:tt $($flows:tt)*) => {
        ::core::compile_error!(
            "`span!` takes flows through its guard: `span!(..).incoming(&ids)`, `.outgoing(n)`"
        )
    };
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
    ($name:literal $(, $($rest:tt)*)?) => {
        $crate::__tg4p_fields!(__async_span_emit ($name) [] [] [] []; $($($rest)*)?)
    };
}

#[cfg(feature = "enable")]
#[doc(hidden)]
#[macro_export]
macro_rules! __async_span_emit {
    (($name:literal $((category $cat:literal))?) [] [] [$($k:expr),*] [$($v:expr),*]) => {{
        static __TG4P_CALLSITE: $crate::__private::Callsite =
            $crate::__tg4p_callsite!($name, [$($k),*] $(, $cat)?);
        static __TG4P_POOL: $crate::__private::Track = $crate::__private::Track::pool($name);
        if $crate::__tg4p_category_on!(__TG4P_CALLSITE $($cat)?) {
            $crate::__private::AsyncSpan::enter(&__TG4P_CALLSITE, &__TG4P_POOL, &[$($v),*])
        } else {
            $crate::__private::AsyncSpan::off()
        }
    }};
    ($head:tt $($flows:tt)*) => {
        ::core::compile_error!("`async_span!` takes no flows")
    };
}

/// Compiled out: an inert guard; the arguments are type-checked, never evaluated.
#[cfg(not(feature = "enable"))]
#[doc(hidden)]
#[macro_export]
macro_rules! __async_span_emit {
    (($name:literal $((category $cat:literal))?) [] [] [$($k:expr),*] [$($v:expr),*]) => {{
        if false {
            $(let _: &str = $cat;)?
            let _ = [$($v),*];
        }
        $crate::__private::AsyncSpan::off()
    }};
    ($head:tt $($flows:tt)*) => {
        ::core::compile_error!("`async_span!` takes no flows")
    };
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
    ($name:literal = $v:expr, category = $cat:literal) => { $crate::__named_counter!($name, $cat).set($v) };
    ($name:literal += $v:expr, category = $cat:literal) => { $crate::__named_counter!($name, $cat).add($v) };
    ($name:literal -= $v:expr, category = $cat:literal) => { $crate::__named_counter!($name, $cat).sub($v) };
    ($name:literal = $v:expr) => { $crate::__named_counter!($name).set($v) };
    ($name:literal += $v:expr) => { $crate::__named_counter!($name).add($v) };
    ($name:literal -= $v:expr) => { $crate::__named_counter!($name).sub($v) };
    ($($c:ident)::+ = $v:expr) => { $crate::__counter!($($c)::+).set($v) };
    ($($c:ident)::+ += $v:expr) => { $crate::__counter!($($c)::+).add($v) };
    ($($c:ident)::+ -= $v:expr) => { $crate::__counter!($($c)::+).sub($v) };
    ($($any:tt)*) => { $crate::__count_misuse!($($any)*) };
}

/// Compiled out: the update is type-checked in a branch that never runs.
#[cfg(not(feature = "enable"))]
#[macro_export]
macro_rules! count {
    ($name:literal = $v:expr, category = $cat:literal) => { if false { $crate::__named_counter!($name, $cat).set($v) } };
    ($name:literal += $v:expr, category = $cat:literal) => { if false { $crate::__named_counter!($name, $cat).add($v) } };
    ($name:literal -= $v:expr, category = $cat:literal) => { if false { $crate::__named_counter!($name, $cat).sub($v) } };
    ($name:literal = $v:expr) => { if false { $crate::__named_counter!($name).set($v) } };
    ($name:literal += $v:expr) => { if false { $crate::__named_counter!($name).add($v) } };
    ($name:literal -= $v:expr) => { if false { $crate::__named_counter!($name).sub($v) } };
    ($($c:ident)::+ = $v:expr) => { if false { $crate::__counter!($($c)::+).set($v) } };
    ($($c:ident)::+ += $v:expr) => { if false { $crate::__counter!($($c)::+).add($v) } };
    ($($c:ident)::+ -= $v:expr) => { if false { $crate::__counter!($($c)::+).sub($v) } };
    ($($any:tt)*) => { $crate::__count_misuse!($($any)*) };
}

/// `count!` given something it does not take: a category that is not a literal, or
/// a category on a `static` counter (which has its own).
#[doc(hidden)]
#[macro_export]
macro_rules! __count_misuse {
    ($name:literal $op:tt $v:expr, category = $($other:tt)*) => {
        ::core::compile_error!(::core::concat!(
            "`category` takes a string literal, known at compile time: `category = \"db\"`; found `",
            ::core::stringify!($($other)*),
            "`"
        ))
    };
    ($($c:ident)::+ $op:tt $v:expr, category = $($other:tt)*) => {
        ::core::compile_error!(
            "a `static` counter has its category where it is declared: \
             `Counter::new(\"name\").category(\"db\")`"
        )
    };
    ($($other:tt)*) => {
        ::core::compile_error!(::core::concat!(
            "`count!` takes `COUNTER += n`, `COUNTER -= n`, `COUNTER = n` (a `static` \
             `tg4p::Counter`) or `\"name\" = n` (and `+=`, `-=`), optionally followed by \
             `, category = \"..\"` for a named counter; found `",
            ::core::stringify!($($other)*),
            "`"
        ))
    };
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
    ($name:literal, $cat:literal) => {{
        static __TG4P_COUNTER: ::std::sync::OnceLock<&'static $crate::__private::Counter> =
            ::std::sync::OnceLock::new();
        *__TG4P_COUNTER.get_or_init(|| $crate::__private::named_counter_in($name, $cat))
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
