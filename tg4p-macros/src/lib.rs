//! Attribute macros of tg4p. Use them through the facade: `#[tg4p::trace]`,
//! `#[tg4p::trace_args]`.
//!
//! The generated code names only `tg4p::__private` (or the path given with
//! `crate = ...`), so the runtime can change behind it.
//!
//! Without the `enable` feature (which the facade's default `enable` feature turns
//! on) the options are still checked, but the function is returned as written,
//! except that the arguments `#[trace_args]` would record and the `track = X` static
//! are used (`let _ = &arg;`), so that they are not `unused` only in that build.
//!
//! # Expansion
//! The function keeps its attributes and signature (generics, `where` clauses,
//! receivers, `unsafe`, `impl Trait`); only its body changes, to
//!
//! ```text
//! { static __TG4P_CALLSITE: Callsite = ..; let __tg4p_guard = <begin>; <original body> }
//! ```
//!
//! The original body stays the block's tail expression, so its type is still
//! inferred from the declared return type, and `return` and `?` keep their meaning.
//! With `ret`, the body runs as `returning::<RetTy, _>(move || <body>)` (an `async
//! move` block through `returning_future` in an `async fn`), so that `return` and
//! `?` leave it with the value to record while its type is still the declared one;
//! the guard then ends the slice with that value (`end_value`: typed if its type is one of the recorded types, else its `Debug` text).
//! - A plain function: the guard is a slice on the calling thread's track (or on
//!   `track = X`), ended when the guard drops, also on unwinding.
//! - An `async fn`: becomes `fn .. -> impl Future<Output = R>` whose body creates
//!   the slice (`FutureSlice::new`, where the future is created, so that a spawned
//!   future knows its creator) and returns the original body as an `async move`
//!   block wrapped by it (`instrument`), which begins the slice at the first poll,
//!   nests it in the traced future polling it (or puts it on the function's pool,
//!   or `track = X`, as a task) and ends it at completion or drop. The arguments
//!   move into the block as the `async fn` moved them into its future. If another
//!   attribute macro follows (`#[tokio::main]`, ...), the function stays an
//!   `async fn` whose body does the same, from its first poll.
//! - A function returning a future, with `future` (opt-in for `impl Future`,
//!   automatic for `Pin<Box<dyn Future ..>>` as `async-trait` produces): the body
//!   runs at the call as before, and the future it returns is wrapped the same
//!   way (boxed again for `Pin<Box<..>>`).
//!   Without `future` (and not boxed), the slice times the call only, and the
//!   expansion uses a `#[deprecated]` item, spanned at the return type, to warn.
//!
//! The body's braces get the macro's hygiene (at their own location), so rustc's
//! `unused_braces` lint does not call a one-expression body's braces unnecessary.

#![deny(missing_docs)]
#![doc(test(attr(deny(warnings))))]

use proc_macro::TokenStream;
use proc_macro2::{Span, TokenStream as TokenStream2};
use quote::{ToTokens, quote, quote_spanned};
use syn::parse::Parser;
use syn::spanned::Spanned;
use syn::{FnArg, Ident, ItemFn, LitStr, Pat, Path, ReturnType, Type, TypeParamBound};

/// Records a slice for every call of the function: on the calling thread's track,
/// or on a `static` `Track` with `track = PATH`; named after the function, or
/// `name = "..."`. The slice also ends if the function unwinds.
///
/// On an `async fn` (also a method), the slice spans the future, from its first poll
/// to its completion or drop: nested in the traced future that awaits it, else on a
/// track of the function's pool (see the facade's docs on async programs). A function
/// returning `impl Future` gets the same with `#[trace(future)]`; one returning
/// `Pin<Box<dyn Future ..>>` (as `async-trait` writes them) gets it automatically.
///
/// With `ret`, the slice also records the function's return value (the future's
/// output for an async one) with `Debug`, bounded like an argument (see
/// [`trace_args`]), as the `return` arg of the slice's end; a call that unwinds
/// ends its slice without it. The return type must be `Debug`; `()` is recorded
/// as `()`.
///
/// Options: `name = ".."`, `category = ".."`, `track = PATH`, `ret`, `future`,
/// `crate = PATH` (where the facade is, for re-exports).
///
/// With `category = "db"` (a string literal), the slice is in that Perfetto category
/// and is recorded only while the session's category pattern enables it (see
/// `SessionBuilder::categories`); while it does not, a call costs one load and one
/// branch.
///
/// A function returning `impl Future` without `future` gets a compile-time warning
/// (its slice would time only the call that builds the future): add `future`.
///
/// ```
/// static TOP: tg4p::Track = tg4p::Track::new("TOP");
///
/// #[tg4p::trace]
/// fn merge_sort(x: Vec<u32>) -> Vec<u32> { x }
///
/// #[tg4p::trace(track = TOP, name = "validate all")]
/// fn validate(x: &[u32]) -> bool { x.is_sorted() }
///
/// #[tg4p::trace(ret)]
/// async fn fetch(id: u32) -> u32 { id }
///
/// #[tg4p::trace(future)]
/// fn later(id: u32) -> impl Future<Output = u32> { async move { id } }
///
/// let session = tg4p::open(std::env::temp_dir().join("tg4p-trace-doc.pftrace"))?;
/// assert!(validate(&merge_sort(vec![1, 2])));
/// drop(fetch(1)); // a future that is never polled records nothing
/// drop(later(2));
/// let report = session.finish()?;
/// assert_eq!(report.events_dropped, 0);
/// # Ok::<(), tg4p::SessionError>(())
/// ```
#[proc_macro_attribute]
pub fn trace(attr: TokenStream, item: TokenStream) -> TokenStream {
    expand(attr.into(), item.into(), false).into()
}

/// As [`trace`], and records each argument's `Debug` text (bounded to
/// `tg4p::ARG_VALUE_LIMIT` bytes per value) as an argument of the slice.
/// `skip(a, b)` leaves arguments out, `skip_all` all of them; an argument that is
/// not `Debug` must be skipped. `serde(a, b)` records those arguments through their
/// `serde::Serialize` impl, as nested dicts and arrays (needs tg4p's `serde`
/// feature; see `tg4p::serde`). `ret` records the return value as [`trace`] does.
/// The other options are [`trace`]'s. Without the `enable` feature, an argument it
/// would record counts as used, so it never gets an `unused variable` warning.
///
/// ```
/// #[derive(Debug)]
/// struct Key(u32);
/// struct Conn; // not `Debug`: must be skipped
///
/// #[tg4p::trace_args]
/// fn merge(x: &mut [u32], a: &[u32], b: &[u32]) {}
///
/// #[tg4p::trace_args(skip(conn), ret, name = "lookup key")]
/// fn lookup(key: Key, conn: &Conn) -> Option<u32> {
///     let _ = conn;
///     (key.0 > 3).then_some(key.0)
/// }
///
/// let session = tg4p::open(std::env::temp_dir().join("tg4p-trace-args-doc.pftrace"))?;
/// merge(&mut [0; 2], &[1], &[2]);
/// assert_eq!(lookup(Key(7), &Conn), Some(7));
/// session.finish()?;
/// # Ok::<(), tg4p::SessionError>(())
/// ```
#[proc_macro_attribute]
pub fn trace_args(attr: TokenStream, item: TokenStream) -> TokenStream {
    expand(attr.into(), item.into(), true).into()
}

#[derive(Default)]
struct Options {
    track: Option<Path>,
    name: Option<LitStr>,
    krate: Option<Path>,
    skip: Vec<Ident>,
    skip_all: bool,
    /// Arguments recorded through serde, as nested dicts/arrays.
    serde: Vec<Ident>,
    future: Option<Span>,
    ret: bool,
    category: Option<LitStr>,
}

fn parse_options(attr: TokenStream2, with_args: bool) -> syn::Result<Options> {
    let mut opts = Options::default();
    let parser = syn::meta::parser(|meta| {
        if meta.path.is_ident("track") {
            opts.track = Some(meta.value()?.parse()?);
        } else if meta.path.is_ident("name") {
            opts.name = Some(meta.value()?.parse()?);
        } else if meta.path.is_ident("crate") {
            opts.krate = Some(meta.value()?.parse()?);
        } else if meta.path.is_ident("future") {
            opts.future = Some(meta.path.span());
        } else if meta.path.is_ident("ret") {
            opts.ret = true;
        } else if meta.path.is_ident("category") {
            let value: syn::Expr = meta.value()?.parse()?;
            match value {
                syn::Expr::Lit(syn::ExprLit {
                    lit: syn::Lit::Str(lit),
                    ..
                }) => opts.category = Some(lit),
                other => {
                    return Err(syn::Error::new_spanned(
                        other,
                        "`category` takes a string literal, known at compile time: \
                         `category = \"db\"`",
                    ));
                }
            }
        } else if with_args && meta.path.is_ident("skip") {
            meta.parse_nested_meta(|inner| {
                match inner.path.get_ident() {
                    Some(id) => opts.skip.push(id.clone()),
                    None => return Err(inner.error("expected an argument name")),
                }
                Ok(())
            })?;
        } else if with_args && meta.path.is_ident("skip_all") {
            opts.skip_all = true;
        } else if with_args && meta.path.is_ident("serde") {
            meta.parse_nested_meta(|inner| {
                match inner.path.get_ident() {
                    Some(id) => opts.serde.push(id.clone()),
                    None => return Err(inner.error("expected an argument name")),
                }
                Ok(())
            })?;
        } else if !with_args && (meta.path.is_ident("skip") || meta.path.is_ident("skip_all")) {
            return Err(meta.error(
                "`#[trace]` records no arguments, so there is nothing to skip; \
                 use `#[trace_args(..)]` to record them",
            ));
        } else {
            let expected = if with_args {
                "`name = \"..\"`, `category = \"..\"`, `track = PATH`, `skip(a, b)`, `skip_all`, `serde(a, b)`, `ret`, `future` or `crate = PATH`"
            } else {
                "`name = \"..\"`, `category = \"..\"`, `track = PATH`, `ret`, `future` or `crate = PATH`"
            };
            return Err(meta.error(format!("unknown tg4p option; expected {expected}")));
        }
        Ok(())
    });
    parser.parse2(attr)?;
    Ok(opts)
}

/// How the function's slice is recorded.
#[derive(Clone, Copy, PartialEq)]
enum Mode {
    /// A slice per call, on the thread's track (or `track = X`).
    Sync,
    /// `async fn`: the body is the future.
    Async,
    /// Returns a future built by the body: wrap it.
    WrapFuture { boxed: bool },
}

fn expand(attr: TokenStream2, item: TokenStream2, with_args: bool) -> TokenStream2 {
    let mut errors: Vec<syn::Error> = Vec::new();
    let opts = parse_options(attr, with_args).unwrap_or_else(|e| {
        errors.push(e);
        Options::default()
    });
    let mut func: ItemFn = match syn::parse2(item.clone()) {
        Ok(f) => f,
        Err(e) => {
            // A trait method without a default body parses as no `ItemFn`.
            if let Ok(m) = syn::parse2::<syn::TraitItemFn>(item.clone()) {
                return syn::Error::new_spanned(
                    &m.sig,
                    "tg4p: a function without a body records nothing; put the attribute \
                     on the implementations (or on a default body)",
                )
                .to_compile_error();
            }
            return e.to_compile_error();
        }
    };
    if let Some(constness) = &func.sig.constness {
        errors.push(syn::Error::new_spanned(
            constness,
            "tg4p cannot trace a `const fn`: recording happens at run time; \
             remove `const` or the attribute",
        ));
    }

    // Which arguments are recorded, and the skips that name none.
    let mut recorded: Vec<(String, TokenStream2, Span)> = Vec::new();
    let mut names: Vec<String> = Vec::new();
    for input in &func.sig.inputs {
        match input {
            FnArg::Receiver(r) => {
                names.push("self".into());
                let tok = &r.self_token;
                recorded.push(("self".into(), quote!(#tok), r.self_token.span));
            }
            FnArg::Typed(pt) => match &*pt.pat {
                Pat::Ident(pi) => {
                    let id = &pi.ident;
                    names.push(id.to_string());
                    recorded.push((id.to_string(), quote!(#id), id.span()));
                }
                other => {
                    if with_args && !opts.skip_all {
                        errors.push(syn::Error::new_spanned(
                            other,
                            "`#[trace_args]` records arguments bound to a plain name; \
                             bind this one to a name, or use `skip_all`",
                        ));
                    }
                }
            },
        }
    }
    for (option, s) in opts
        .skip
        .iter()
        .map(|s| ("skip", s))
        .chain(opts.serde.iter().map(|s| ("serde", s)))
    {
        if !names.iter().any(|n| s == n) {
            errors.push(syn::Error::new_spanned(
                s,
                format!(
                    "`{option}({s})`: this function has no argument named `{s}` (it has: {})",
                    if names.is_empty() {
                        "none".to_string()
                    } else {
                        names.join(", ")
                    }
                ),
            ));
        }
    }
    if !with_args || opts.skip_all {
        recorded.clear();
    }
    recorded.retain(|(n, _, _)| !opts.skip.iter().any(|s| s == n));

    // A function returning `impl Future` without `future`: its slice times only the
    // call that builds the future, which is rarely what is meant; warn at the type.
    let mut times_only_the_call: Option<Span> = None;
    let mode = if func.sig.asyncness.is_some() {
        Mode::Async
    } else if let Some(boxed) = returns_future(&func.sig.output) {
        if boxed || opts.future.is_some() {
            Mode::WrapFuture { boxed }
        } else {
            if let ReturnType::Type(_, ty) = &func.sig.output {
                times_only_the_call = Some(ty.span());
            }
            Mode::Sync
        }
    } else {
        if let Some(span) = opts.future {
            errors.push(syn::Error::new(
                span,
                "`future`: this function does not return `impl Future<..>` or \
                 `Pin<Box<dyn Future<..>>>`",
            ));
        }
        Mode::Sync
    };
    if let (Mode::WrapFuture { .. }, false) = (mode, recorded.is_empty()) {
        errors.push(syn::Error::new(
            func.sig.ident.span(),
            "`#[trace_args]` cannot record the arguments of a function returning a future \
             (they are moved into it before it runs); use `skip_all`, or `#[trace]`",
        ));
    }

    if let Some(first) = errors.pop() {
        let mut all = first;
        for e in errors {
            all.combine(e);
        }
        let mut out = all.to_compile_error();
        // The item as written too, so its uses do not add errors of their own.
        out.extend(item);
        return out;
    }

    let krate = opts
        .krate
        .as_ref()
        .map_or_else(|| quote!(::tg4p), |p| quote!(#p));
    let p = quote!(#krate::__private);
    let ident = &func.sig.ident;
    let name = opts
        .name
        .clone()
        .unwrap_or_else(|| LitStr::new(&ident.to_string(), ident.span()));
    let line = quote_spanned!(ident.span()=> ::core::line!());
    let arg_names: Vec<LitStr> = recorded
        .iter()
        .map(|(n, _, s)| LitStr::new(n, *s))
        .collect();
    let values: Vec<TokenStream2> = recorded
        .iter()
        .map(|(n, v, s)| {
            if opts.serde.iter().any(|x| x == n) {
                return quote_spanned!(*s=> #p::ArgRef::serde(&#v));
            }
            quote_spanned!(*s=> #p::ArgRef::pick(
                #p::Probe::new(&#v).__tg4p_typed(),
                #p::ArgDebug::__tg4p_as_debug(&#v),
            ))
        })
        .collect();
    let values = quote!(&[#(#values),*]);
    let track = opts
        .track
        .as_ref()
        .map(|t| quote_spanned!(t.span()=> #p::AsTrack::__tg4p_track(&#t)));

    if !cfg!(feature = "enable") {
        // The function as written, except that what the attribute would use is
        // used: arguments `#[trace_args]` would record, and the `track = X` static
        // (type-checked, too), so that neither is reported `unused` here when it is
        // used with instrumentation on.
        if recorded.is_empty() && track.is_none() {
            return item;
        }
        let used = recorded
            .iter()
            .map(|(_, v, s)| quote_spanned!(*s=> let _ = &#v;));
        let track = track.map(|t| quote!(let _ = #t;));
        // As below: the user's body re-spanned, inside the user's braces.
        let block = respanned_block(&func.block);
        if let Ok(mut body) = syn::parse2::<syn::Block>(quote! {{ #(#used)* #track #block }}) {
            body.brace_token = func.block.brace_token;
            func.block = Box::new(body);
        }
        return func.into_token_stream();
    }

    let with_category = opts.category.as_ref().map(|c| quote!(.with_category(#c)));
    let callsite = quote! {
        static __TG4P_CALLSITE: #p::Callsite = #p::Callsite::new(
            #name,
            #p::Function::Lazy({
                // The function's path, type of a method included, as the writer
                // computes it on first use; an async fn's body adds `{{closure}}`.
                fn __tg4p_function() -> &'static str {
                    let path = ::core::any::type_name_of_val(&__tg4p_function);
                    let mut path = match path.find("::__TG4P_CALLSITE") {
                        ::core::option::Option::Some(end) => &path[..end],
                        ::core::option::Option::None => path,
                    };
                    while let ::core::option::Option::Some(p) = path.strip_suffix("::{{closure}}") {
                        path = p;
                    }
                    path
                }
                __tg4p_function
            }),
            ::core::file!(),
            #line,
            &[#(#arg_names),*],
        ) #with_category;
    };
    // With `ret`: the declared return type for `returning::<T, _>` (`T, `, or
    // `_, ` when it names an `impl Trait`, which cannot be written in the body),
    // and the return value as `&dyn Debug`, its check spanned at the return type.
    let ret = opts.ret.then(|| {
        let (ty, span) = match &func.sig.output {
            ReturnType::Default => (quote!(()), ident.span()),
            ReturnType::Type(_, ty) => (quote!(#ty), ty.span()),
        };
        let ty = if mentions_impl(ty.clone()) {
            quote!(_,)
        } else {
            quote!(#ty,)
        };
        let record = quote_spanned!(span=> #p::ArgRef::pick(
            #p::Probe::new(&__tg4p_ret).__tg4p_typed(),
            #p::RetDebug::__tg4p_ret_debug(&__tg4p_ret),
        ));
        (ty, record, span)
    });
    // The function's body is the tail of the generated block. Its braces are
    // re-spanned as the macro's (same location), so that rustc does not call a
    // one-expression body's braces unnecessary: they are the user's.
    let block = &respanned_block(&func.block);
    let warning = times_only_the_call.map(|span| {
        let call = quote_spanned!(span=> trace_on_a_fn_returning_impl_future_times_only_the_call());
        quote! {
            #[deprecated(note = "`#[tg4p::trace]` on a function returning `impl Future` \
                records the call, which only builds the future, not the future's run; \
                add `future` (`#[tg4p::trace(future)]`) to record a slice from its first \
                poll to its completion")]
            fn trace_on_a_fn_returning_impl_future_times_only_the_call() {}
            #call;
        }
    });
    let body = match mode {
        Mode::Sync => {
            let guard = match (&track, recorded.is_empty()) {
                (None, true) => quote!(#p::enter(&__TG4P_CALLSITE)),
                (None, false) => quote!(#p::enter_values(&__TG4P_CALLSITE, #values)),
                (Some(track), _) => quote!(#p::span_values(
                    &__TG4P_CALLSITE,
                    ::core::option::Option::Some(#track),
                    ::core::option::Option::None,
                    #values
                )),
            };
            // A category: its gate first (one load and one branch when off).
            let guard = match (&opts.category, &track) {
                (None, _) => guard,
                (Some(_), None) => quote! {
                    if __TG4P_CALLSITE.category_on() { #guard } else { #p::FnSpan::off() }
                },
                (Some(_), Some(_)) => quote! {
                    if __TG4P_CALLSITE.category_on() { #guard } else { #p::Span::off() }
                },
            };
            match &ret {
                None => quote! {{
                    #warning
                    #callsite
                    let __tg4p_guard = #guard;
                    #block
                }},
                Some((ty, record, _)) => quote! {{
                    #warning
                    #callsite
                    let __tg4p_guard = #guard;
                    let __tg4p_ret = #p::returning::<#ty _>(move || #block);
                    __tg4p_guard.end_value(#record);
                    __tg4p_ret
                }},
            }
        }
        Mode::Async | Mode::WrapFuture { .. } => {
            let pool = match &track {
                Some(track) => quote!(#track),
                None => quote!({
                    static __TG4P_POOL: #p::Track = #p::Track::pool(#name);
                    &__TG4P_POOL
                }),
            };
            let slice = quote! {
                let __tg4p_slice = #p::FutureSlice::new(&__TG4P_CALLSITE, #pool, #values);
            };
            // `instrument(future)`, or `instrument_ret(future, |output| ..)` with the
            // output's `Debug` check spanned at the return type.
            let instrument = |future: TokenStream2| match &ret {
                None => quote!(__tg4p_slice.instrument(#future)),
                Some((_, _, span)) => {
                    let check = quote_spanned!(*span=>
                        |__tg4p_ret| #p::ArgRef::pick(
                            #p::Probe::new(__tg4p_ret).__tg4p_typed(),
                            #p::RetDebug::__tg4p_ret_debug(__tg4p_ret),
                        )
                    );
                    quote!(__tg4p_slice.instrument_ret(#future, #check))
                }
            };
            match mode {
                Mode::Async => {
                    let output = match &ret {
                        Some((ty, _, _)) => quote!(#ty),
                        None => match &func.sig.output {
                            ReturnType::Type(_, ty) if !mentions_impl(quote!(#ty)) => quote!(#ty,),
                            _ => quote!(_,),
                        },
                    };
                    let body = quote!(#p::returning_future::<#output _>(async move #block));
                    if let Some(rewritten) = rewrite_async(&mut func) {
                        // A plain fn returning the future: the slice is created
                        // at the call, where the future is.
                        let instrumented = instrument(quote! {
                            #p::returning_future::<#output _>(async move { #rewritten #block })
                        });
                        quote! {{
                            #callsite
                            #slice
                            #instrumented
                        }}
                    } else {
                        let instrumented = instrument(body);
                        quote! {{
                            #callsite
                            #slice
                            #instrumented.await
                        }}
                    }
                }
                Mode::WrapFuture { boxed } => {
                    let wrapped = instrument(quote!(__tg4p_future));
                    let wrapped = if boxed {
                        quote!(::std::boxed::Box::pin(#wrapped))
                    } else {
                        wrapped
                    };
                    quote! {{
                        #callsite
                        let __tg4p_future = #block;
                        #slice
                        #wrapped
                    }}
                }
                Mode::Sync => unreachable!(),
            }
        }
    };
    let user_braces = func.block.brace_token;
    func.block = match syn::parse2(body) {
        Ok(b) => Box::new(b),
        Err(e) => return e.to_compile_error(),
    };
    // The new body has the user's braces, so that the function's span is all the
    // user's (rustc's `dead_code` lint reports an unused function only then).
    func.block.brace_token = user_braces;
    func.into_token_stream()
}

/// Attributes that change nothing about a function's signature or body: with
/// only these (after `#[trace]`), an `async fn` can become a plain function
/// returning its future, so that the slice is created where the future is.
const INERT_ATTRIBUTES: &[&str] = &[
    "doc",
    "allow",
    "warn",
    "deny",
    "forbid",
    "expect",
    "must_use",
    "deprecated",
    "inline",
    "cold",
    "cfg_attr",
    "cfg",
];

/// Turns `async fn f(args) -> R` into `fn f(args) -> impl Future<Output = R>`
/// (whose body then returns an `async move` block), and returns the statements
/// that start that block: they move the arguments into it as the `async fn` did.
/// `None` (nothing changed) if another attribute macro follows, which may expect
/// an `async fn` (`#[tokio::main]`, `#[tokio::test]`, ...).
///
/// The `impl Future` is the macro's token, so it captures every lifetime in scope
/// (edition 2024 rules) in any edition, as the `async fn`'s future does.
/// Arguments: `mut x` becomes `x` moved into `let mut x = x;`; other patterns
/// (`(a, b)`, `_`, `ref x`) become `__tg4p_argN` moved into `let PAT = __tg4p_argN;`
/// (a `_` kept alive until the future ends, as in the `async fn`); an argument
/// named `_x` is moved in even if unused; other plain names are moved in by use
/// (an unused one is dropped at the call, and rustc still reports it unused).
fn rewrite_async(func: &mut ItemFn) -> Option<TokenStream2> {
    let foreign = func.attrs.iter().any(|a| {
        !INERT_ATTRIBUTES
            .iter()
            .any(|inert| a.path().is_ident(inert))
            && !a
                .path()
                .segments
                .first()
                .is_some_and(|s| s.ident == "clippy" || s.ident == "rustfmt")
    });
    if foreign || func.sig.asyncness.is_none() || func.sig.variadic.is_some() {
        return None;
    }
    let mut moves = TokenStream2::new();
    for (i, input) in func.sig.inputs.iter_mut().enumerate() {
        match input {
            FnArg::Receiver(r) => {
                let tok = &r.self_token;
                moves.extend(quote!(let _ = &#tok;));
            }
            FnArg::Typed(pt) => match &mut *pt.pat {
                Pat::Ident(pi) if pi.by_ref.is_none() && pi.subpat.is_none() => {
                    let id = pi.ident.clone();
                    if let Some(m) = pi.mutability.take() {
                        moves.extend(quote!(let #m #id = #id;));
                    } else if id.to_string().starts_with('_') {
                        moves.extend(quote!(let _ = &#id;));
                    }
                }
                other => {
                    let arg = Ident::new(&format!("__tg4p_arg{i}"), other.span());
                    let pat = std::mem::replace(
                        other,
                        Pat::Ident(syn::PatIdent {
                            attrs: Vec::new(),
                            by_ref: None,
                            mutability: None,
                            ident: arg.clone(),
                            subpat: None,
                        }),
                    );
                    if matches!(pat, Pat::Wild(_)) {
                        moves.extend(quote!(let _ = &#arg;));
                    } else {
                        moves.extend(quote!(let #pat = #arg;));
                    }
                }
            },
        }
    }
    let output = match &func.sig.output {
        ReturnType::Default => quote!(()),
        ReturnType::Type(_, ty) => quote!(#ty),
    };
    func.sig.asyncness = None;
    func.sig.output = syn::parse_quote!(-> impl ::core::future::Future<Output = #output>);
    Some(moves)
}

/// `original` with braces that have its braces' location but the macro's hygiene,
/// so that rustc knows they come from the expansion.
fn respanned_block(original: &syn::Block) -> syn::Block {
    let mut block = original.clone();
    block.brace_token =
        syn::token::Brace(Span::call_site().located_at(original.brace_token.span.join()));
    block
}

/// Whether a type names an `impl Trait` somewhere.
fn mentions_impl(ty: TokenStream2) -> bool {
    ty.into_iter().any(|t| match t {
        proc_macro2::TokenTree::Ident(i) => i == "impl",
        proc_macro2::TokenTree::Group(g) => mentions_impl(g.stream()),
        _ => false,
    })
}

/// `Some(boxed)` if `output` is `impl Future<..>` (`false`) or
/// `Pin<Box<dyn Future<..> ..>>` (`true`).
fn returns_future(output: &ReturnType) -> Option<bool> {
    let ReturnType::Type(_, ty) = output else {
        return None;
    };
    let is_future = |bounds: &syn::punctuated::Punctuated<TypeParamBound, _>| {
        bounds.iter().any(|b| match b {
            TypeParamBound::Trait(t) => t.path.segments.last().is_some_and(|s| s.ident == "Future"),
            _ => false,
        })
    };
    match &**ty {
        Type::ImplTrait(it) if is_future(&it.bounds) => Some(false),
        Type::Path(tp) => {
            let pin = tp.path.segments.last()?;
            if pin.ident != "Pin" {
                return None;
            }
            let inner = single_type_arg(&pin.arguments)?;
            let Type::Path(bp) = inner else { return None };
            let boxed = bp.path.segments.last()?;
            if boxed.ident != "Box" {
                return None;
            }
            match single_type_arg(&boxed.arguments)? {
                Type::TraitObject(obj) if is_future(&obj.bounds) => Some(true),
                _ => None,
            }
        }
        _ => None,
    }
}

fn single_type_arg(args: &syn::PathArguments) -> Option<&Type> {
    let syn::PathArguments::AngleBracketed(a) = args else {
        return None;
    };
    a.args.iter().find_map(|a| match a {
        syn::GenericArgument::Type(t) => Some(t),
        _ => None,
    })
}
