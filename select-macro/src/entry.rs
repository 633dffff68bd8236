//! `#[goro::main]` and `#[goro::test]`: turn an `async fn` into a plain `fn`
//! that runs the body as the main goroutine of a fresh goro runtime.
//!
//! ```text
//! #[goro::main] async fn main() -> R { body }
//!   => fn main() -> R { ::goro::__private::main_entry(async move { body }) }
//! #[goro::test] async fn t() -> R { body }
//!   => #[test] fn t() -> R { ::goro::__private::test_entry(async move { body }) }
//! ```
//!
//! Other attributes, the visibility and the return type are kept. The entry
//! points themselves live in `goro-runtime` (`main_entry`, `test_entry`).
//!
//! Arguments are the runtime builder's knobs, `name = value` each:
//!
//! ```text
//! #[goro::main(workers = 4, rng_seed = 7)] async fn main() { body }
//!   => fn main() { ::goro::__private::main_entry_with(
//!          ::goro::runtime::Runtime::builder().workers(4).rng_seed(7), async move { body }) }
//! ```
//!
//! Go: `func main()` run by `runtime.main`; a `testing` test function.

use proc_macro2::TokenStream;
use quote::quote;
use syn::spanned::Spanned;
use syn::ItemFn;

/// Which attribute is being expanded.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub(crate) enum Entry {
    /// `#[goro::main]`.
    Main,
    /// `#[goro::test]`.
    Test,
}

impl Entry {
    fn attr_name(self) -> &'static str {
        match self {
            Entry::Main => "#[goro::main]",
            Entry::Test => "#[goro::test]",
        }
    }
}

/// Expands the attribute; errors become `compile_error!`s.
pub(crate) fn entry(entry: Entry, args: TokenStream, item: TokenStream) -> TokenStream {
    match expand(entry, args, item.clone()) {
        Ok(tokens) => tokens,
        Err(err) => {
            let err = err.to_compile_error();
            // Keep the function so that the rest of the crate still resolves,
            // except an `async fn main`: kept as is, it would add rustc's own
            // "`main` function is not allowed to be `async`" to the real error.
            let is_async_main = entry == Entry::Main
                && syn::parse2::<ItemFn>(item.clone()).is_ok_and(|f| f.sig.asyncness.is_some());
            if is_async_main {
                err
            } else {
                quote! { #err #item }
            }
        }
    }
}

/// The builder knobs an entry attribute accepts, as `name = value`.
const KNOBS: &[&str] = &[
    "workers",
    "rng_seed",
    "on_goroutine_panic",
    "detect_deadlocks",
    "thread_keep_alive",
];

/// Parses `workers = 4, rng_seed = 7` into builder calls
/// (`.workers(4).rng_seed(7)`); `None` for no arguments.
fn builder_calls(name: &str, args: TokenStream) -> syn::Result<Option<TokenStream>> {
    if args.is_empty() {
        return Ok(None);
    }
    let parser =
        syn::punctuated::Punctuated::<syn::MetaNameValue, syn::Token![,]>::parse_terminated;
    let args = syn::parse::Parser::parse2(parser, args).map_err(|e| {
        syn::Error::new(
            e.span(),
            format!("{name} takes `knob = value` arguments, e.g. `workers = 4`"),
        )
    })?;
    let mut seen: Vec<String> = Vec::new();
    let mut calls = TokenStream::new();
    for arg in args {
        let Some(knob) = arg.path.get_ident() else {
            return Err(syn::Error::new(arg.path.span(), unknown_knob(name, "")));
        };
        let knob_name = knob.to_string();
        if !KNOBS.contains(&knob_name.as_str()) {
            return Err(syn::Error::new(knob.span(), unknown_knob(name, &knob_name)));
        }
        if seen.contains(&knob_name) {
            return Err(syn::Error::new(
                knob.span(),
                format!("{name}: `{knob_name}` given twice"),
            ));
        }
        seen.push(knob_name);
        let value = &arg.value;
        calls.extend(quote! { .#knob(#value) });
    }
    Ok(Some(calls))
}

fn unknown_knob(name: &str, knob: &str) -> String {
    format!(
        "{name}: unknown argument `{knob}`; the arguments are the runtime builder's knobs: {}",
        KNOBS.join(", ")
    )
}

fn expand(entry: Entry, args: TokenStream, item: TokenStream) -> syn::Result<TokenStream> {
    let name = entry.attr_name();
    let builder = builder_calls(name, args)?;
    let mut func: ItemFn = syn::parse2(item)?;
    let sig = &func.sig;
    if sig.asyncness.is_none() {
        return Err(syn::Error::new(
            sig.fn_token.span,
            format!("{name} needs an `async fn`: add `async` before `fn`"),
        ));
    }
    if !sig.inputs.is_empty() {
        return Err(syn::Error::new(
            sig.inputs.span(),
            format!("{name} functions take no arguments"),
        ));
    }
    if !sig.generics.params.is_empty() || sig.generics.where_clause.is_some() {
        return Err(syn::Error::new(
            sig.generics.span(),
            format!("{name} functions cannot be generic"),
        ));
    }
    if entry == Entry::Test {
        if let Some(test) = func.attrs.iter().find(|a| a.path().is_ident("test")) {
            return Err(syn::Error::new(
                test.span(),
                "#[goro::test] already marks the function as a test: remove this #[test]",
            ));
        }
    }

    func.sig.asyncness = None;
    let attrs = &func.attrs;
    let vis = &func.vis;
    let sig = &func.sig;
    let block = &func.block;
    let run = match (entry, builder) {
        (Entry::Main, None) => quote! { ::goro::__private::main_entry(async move #block) },
        (Entry::Test, None) => quote! { ::goro::__private::test_entry(async move #block) },
        (Entry::Main, Some(calls)) => quote! {
            ::goro::__private::main_entry_with(
                ::goro::runtime::Runtime::builder() #calls,
                async move #block,
            )
        },
        (Entry::Test, Some(calls)) => quote! {
            ::goro::__private::test_entry_with(
                ::goro::runtime::Runtime::builder() #calls,
                async move #block,
            )
        },
    };
    let tokens = match entry {
        Entry::Main => quote! {
            #(#attrs)*
            #vis #sig {
                #run
            }
        },
        Entry::Test => quote! {
            #[::core::prelude::v1::test]
            #(#attrs)*
            #vis #sig {
                #run
            }
        },
    };
    Ok(tokens)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn expand_ok(entry: Entry, item: TokenStream) -> String {
        expand(entry, TokenStream::new(), item).unwrap().to_string()
    }

    fn expand_err(entry: Entry, args: TokenStream, item: TokenStream) -> String {
        expand(entry, args, item).unwrap_err().to_string()
    }

    #[test]
    fn main_keeps_signature() {
        assert_eq!(
            expand_ok(
                Entry::Main,
                quote! { #[allow(unused)] async fn main() -> Result<(), E> { run().await?; Ok(()) } }
            ),
            quote! {
                #[allow(unused)]
                fn main() -> Result<(), E> {
                    ::goro::__private::main_entry(async move { run().await?; Ok(()) })
                }
            }
            .to_string()
        );
    }

    #[test]
    fn test_adds_test_attribute() {
        assert_eq!(
            expand_ok(
                Entry::Test,
                quote! { #[should_panic] async fn t() { f().await } }
            ),
            quote! {
                #[::core::prelude::v1::test]
                #[should_panic]
                fn t() {
                    ::goro::__private::test_entry(async move { f().await })
                }
            }
            .to_string()
        );
    }

    #[test]
    fn rejections() {
        let none = TokenStream::new();
        assert!(
            expand_err(Entry::Main, none.clone(), quote! { fn main() {} })
                .contains("needs an `async fn`")
        );
        assert!(
            expand_err(Entry::Test, none.clone(), quote! { async fn t(x: u8) {} })
                .contains("take no arguments")
        );
        assert!(
            expand_err(Entry::Test, none.clone(), quote! { async fn t<T>() {} })
                .contains("cannot be generic")
        );
        assert!(
            expand_err(Entry::Test, none, quote! { #[test] async fn t() {} })
                .contains("remove this #[test]")
        );
        assert!(expand_err(
            Entry::Main,
            quote!(threads = 2),
            quote! { async fn main() {} }
        )
        .contains("unknown argument `threads`"));
        assert!(expand_err(
            Entry::Test,
            quote!(workers = 2, workers = 3),
            quote! { async fn t() {} }
        )
        .contains("given twice"));
        assert!(
            expand_err(Entry::Test, quote!(workers), quote! { async fn t() {} })
                .contains("`knob = value`")
        );
    }

    #[test]
    fn arguments_become_builder_calls() {
        assert_eq!(
            expand(
                Entry::Test,
                quote!(workers = 2, rng_seed = 7),
                quote! { async fn t() { f().await } }
            )
            .unwrap()
            .to_string(),
            quote! {
                #[::core::prelude::v1::test]
                fn t() {
                    ::goro::__private::test_entry_with(
                        ::goro::runtime::Runtime::builder().workers(2).rng_seed(7),
                        async move { f().await },
                    )
                }
            }
            .to_string()
        );
        assert!(expand(
            Entry::Main,
            quote!(workers = 4),
            quote! { async fn main() {} }
        )
        .unwrap()
        .to_string()
        .contains("main_entry_with"));
    }
}
