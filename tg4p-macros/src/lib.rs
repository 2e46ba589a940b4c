//! Attribute macros of tg4p. Use them through the facade: `#[tg4p::trace]`,
//! `#[tg4p::trace_args]`.
//!
//! The generated code names only `tg4p::__private` (or the path given with
//! `crate = ...`), so the runtime can change behind it.

use proc_macro::TokenStream;
use proc_macro2::{Span, TokenStream as TokenStream2};
use quote::{quote, quote_spanned};
use syn::parse::Parser;
use syn::{FnArg, ItemFn, LitStr, Pat, Path};

/// Records a slice for every call of the function: on the calling thread's track,
/// or on a `static` [`Track`] with `track = PATH`; named after the function, or
/// `name = "..."`. The slice also ends if the function unwinds.
///
/// ```ignore
/// #[tg4p::trace]
/// fn merge_sort(x: Vec<u32>) -> Vec<u32> { x }
/// #[tg4p::trace(track = TOP, name = "validate all")]
/// fn validate(x: &[u32]) {}
/// ```
#[proc_macro_attribute]
pub fn trace(attr: TokenStream, item: TokenStream) -> TokenStream {
    expand(attr.into(), item.into(), false).into()
}

/// As [`trace`], and records each argument's `Debug` text (bounded to
/// `tg4p::ARG_VALUE_LIMIT` bytes per value) as an argument of the slice.
#[proc_macro_attribute]
pub fn trace_args(attr: TokenStream, item: TokenStream) -> TokenStream {
    expand(attr.into(), item.into(), true).into()
}

#[derive(Default)]
struct Options {
    track: Option<Path>,
    name: Option<LitStr>,
    krate: Option<Path>,
}

fn parse_options(attr: TokenStream2) -> syn::Result<Options> {
    let mut opts = Options::default();
    let parser = syn::meta::parser(|meta| {
        if meta.path.is_ident("track") {
            opts.track = Some(meta.value()?.parse()?);
        } else if meta.path.is_ident("name") {
            opts.name = Some(meta.value()?.parse()?);
        } else if meta.path.is_ident("crate") {
            opts.krate = Some(meta.value()?.parse()?);
        } else {
            return Err(meta.error(
                "unknown tg4p option; expected `track = PATH`, `name = \"...\"` or `crate = PATH`",
            ));
        }
        Ok(())
    });
    parser.parse2(attr)?;
    Ok(opts)
}

fn expand(attr: TokenStream2, item: TokenStream2, with_args: bool) -> TokenStream2 {
    let opts = match parse_options(attr) {
        Ok(o) => o,
        Err(e) => return e.to_compile_error(),
    };
    let mut func: ItemFn = match syn::parse2(item) {
        Ok(f) => f,
        Err(e) => return e.to_compile_error(),
    };
    if let Some(asyncness) = &func.sig.asyncness {
        return syn::Error::new_spanned(
            asyncness,
            "tg4p: tracing `async fn` is not supported yet (a slice per poll would be wrong)",
        )
        .to_compile_error();
    }
    let krate = opts.krate.map_or_else(|| quote!(::tg4p), |p| quote!(#p));
    let ident = &func.sig.ident;
    let fn_name = ident.to_string();
    let name = opts
        .name
        .unwrap_or_else(|| LitStr::new(&fn_name, ident.span()));
    let line = quote_spanned!(ident.span()=> ::core::line!());

    let mut arg_names = Vec::new();
    let mut arg_values = Vec::new();
    if with_args {
        for input in &func.sig.inputs {
            match input {
                FnArg::Receiver(r) => {
                    arg_names.push(LitStr::new("self", Span::call_site()));
                    let tok = &r.self_token;
                    arg_values.push(quote!(&#tok));
                }
                FnArg::Typed(pt) => match &*pt.pat {
                    Pat::Ident(pi) => {
                        let id = &pi.ident;
                        arg_names.push(LitStr::new(&id.to_string(), id.span()));
                        arg_values.push(quote!(&#id));
                    }
                    other => {
                        return syn::Error::new_spanned(
                            other,
                            "tg4p::trace_args records arguments bound to a plain name; \
                             bind this one to a name",
                        )
                        .to_compile_error();
                    }
                },
            }
        }
    }
    let values = quote!(&[#(#arg_values as &dyn ::core::fmt::Debug),*]);
    let guard = match (&opts.track, with_args) {
        (None, false) => quote!(#krate::__private::enter(&__TG4P_CALLSITE)),
        (None, true) => quote!(#krate::__private::enter_args(&__TG4P_CALLSITE, #values)),
        (Some(track), false) => {
            quote!(#krate::__private::enter_span(&__TG4P_CALLSITE, ::core::option::Option::Some(&#track), &[]))
        }
        (Some(track), true) => {
            quote!(#krate::__private::enter_span(&__TG4P_CALLSITE, ::core::option::Option::Some(&#track), #values))
        }
    };
    let block = &func.block;
    let body = quote! {{
        static __TG4P_CALLSITE: #krate::__private::Callsite = #krate::__private::Callsite::new(
            #name,
            #krate::__private::Function::Path(::core::concat!(::core::module_path!(), "::", #fn_name)),
            ::core::file!(),
            #line,
            &[#(#arg_names),*],
        );
        let __tg4p_guard = #guard;
        #block
    }};
    func.block = match syn::parse2(body) {
        Ok(b) => Box::new(b),
        Err(e) => return e.to_compile_error(),
    };
    quote!(#func)
}
