//! Code generation for `select!` and `select_blocking!`, as specified in
//! `docs/design/select-expansion.md` (the contract with the engine in
//! `goro-chan`, re-exported as `::goro::__private::select`).
//!
//! The generated code evaluates every operand once, in source order, turns
//! each into a case with the engine's `into_case!`, hands the cases to the
//! engine, drops every case (ending their borrows) and only then binds the
//! chosen case's output to its pattern and runs its body. Internal names use
//! `Span::mixed_site()` hygiene, so they can never clash with user names;
//! spans of the user's operands are kept on the code generated for them so
//! that type errors point at the offending case.
//!
//! # Differences from the contract's example expansion
//!
//! - Index expressions rooted at a place (`chans[i]`) are taken by reference,
//!   like paths and fields: moving a channel out of an index never compiles.
//! - A path operand is taken by reference even when it names a future (the
//!   contract's example shows `into_case!(fut)`, its rule says `&fut`): the
//!   rule wins, and a future in a variable is written `&mut fut` or `(fut)`.
//! - The unreachable indices share one `_ => unreachable!()` arm (which also
//!   covers `None` when there is no `default`).
//! - Each `drop` of a case allows `clippy::drop_non_drop` and rustc's
//!   `dropping_*` lints, which would otherwise fire in the user's crate for
//!   case types without drop glue.
//! - A `default` body that is a block is emitted as is (not wrapped in a
//!   second block, which rustc's `unused_braces` would flag).
//! - The `select` call is wrapped in `unsafe { }` (the engine's entry point is
//!   an `unsafe fn`: its future must never be leaked); the block holds no
//!   user code, and lints such as `unsafe_code` do not fire in the user's
//!   crate for code from an external macro.
//!
//! Go: the compiler's lowering of a `select` statement into a `selectgo` call
//! and a switch on its result (`cmd/compile/internal/walk/select.go`).

use proc_macro2::{Span, TokenStream};
use quote::{format_ident, quote, quote_spanned};
use syn::spanned::Spanned;
use syn::{Expr, Ident};

use super::parse::{Case, SelectInput};

/// Which flavour of select to generate.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub(crate) enum Flavor {
    /// `select!`: an expression to `.await` inside async code.
    Async,
    /// `select_blocking!`: blocks the current thread.
    Blocking,
}

/// Expands a parsed select into its code.
pub(crate) fn expand(input: SelectInput, flavor: Flavor) -> TokenStream {
    let SelectInput { cases, default } = input;
    if cases.is_empty() {
        return match (default, flavor) {
            (Some(default), _) => match default.body {
                body @ Expr::Block(_) => quote! { #body },
                body => quote! { { #body } },
            },
            (None, Flavor::Async) => {
                let never = Ident::new("__goro_never", Span::mixed_site());
                quote! {
                    {
                        let #never: ::core::convert::Infallible =
                            ::goro::__private::select::block_forever().await;
                        match #never {}
                    }
                }
            }
            (None, Flavor::Blocking) => quote! {
                ::goro::__private::select::block_forever_blocking()
            },
        };
    }

    let names: Vec<Ident> = cases
        .iter()
        .enumerate()
        .map(|(i, case)| case_ident(i, case.operand.span()))
        .collect();

    let lets = cases.iter().zip(&names).map(|(case, name)| {
        let span = case.operand.span();
        let operand = operand_tokens(&case.operand);
        quote_spanned! {span=>
            let mut #name = ::goro::__private::select::into_case!(#operand);
        }
    });

    let case_trait = match flavor {
        Flavor::Async => quote!(SelectCase),
        Flavor::Blocking => quote!(BlockingCase),
    };
    let refs = cases.iter().zip(&names).map(|(case, name)| {
        let span = case.operand.span();
        quote_spanned! {span=>
            &mut #name as &mut dyn ::goro::__private::select::#case_trait
        }
    });

    let has_default = default.is_some();
    let index = Ident::new("__goro_i", Span::mixed_site());
    let call = match flavor {
        // SAFETY (of the generated `unsafe` block): `select`'s contract is that
        // its future is completed or dropped, never leaked, before a case is
        // moved or dropped. The expansion owns both: the cases are locals of
        // this block and the future is a temporary awaited right here, so it
        // is either run to completion or dropped with the enclosing future
        // (cancellation) before the cases are; nothing can `mem::forget` it.
        // No user code is inside the block (operands are evaluated in the
        // `let`s above).
        Flavor::Async => quote! {
            unsafe { ::goro::__private::select::select(&mut [#(#refs),*], #has_default) }.await
        },
        Flavor::Blocking => quote! {
            ::goro::__private::select::select_blocking(&mut [#(#refs),*], #has_default)
        },
    };

    // The drops end the cases' borrows before the body runs. A case type need
    // not implement `Drop` itself, which the allowed lints would point out in
    // the user's crate.
    let drops = quote! {
        #(
            #[allow(clippy::drop_non_drop, dropping_copy_types, dropping_references)]
            ::core::mem::drop(#names);
        )*
    };
    let out = Ident::new("__goro_out", Span::mixed_site());
    let arms = cases
        .iter()
        .zip(&names)
        .enumerate()
        .map(|(i, (case, name))| {
            let Case { pat, body, .. } = case;
            let bind = match pat {
                Some(pat) => quote! { let #pat = #out; },
                None => quote! { let _ = #out; },
            };
            quote! {
                ::core::option::Option::Some(#i) => {
                    let #out = ::goro::__private::select::CaseOutput::take_output(&mut #name);
                    #drops
                    #bind
                    #body
                }
            }
        });
    let default_arm = default.map(|default| {
        let body = default.body;
        quote! {
            ::core::option::Option::None => {
                #drops
                #body
            }
        }
    });

    quote! {
        {
            #(#lets)*
            let #index: ::core::option::Option<usize> = #call;
            match #index {
                #(#arms)*
                #default_arm
                _ => ::core::unreachable!(),
            }
        }
    }
}

/// The hygienic name of case `i`, located at its operand so that errors about
/// the case (a missing trait impl, say) point at the user's code.
fn case_ident(i: usize, operand: Span) -> Ident {
    format_ident!(
        "__goro_c{}",
        i,
        span = Span::mixed_site().located_at(operand)
    )
}

/// The operand as handed to `into_case!`: a place (a path like `rx` or a field
/// like `self.rx`) by reference, anything else by value.
fn operand_tokens(operand: &Expr) -> TokenStream {
    if is_place(operand) {
        let span = operand.span();
        quote_spanned!(span=> &#operand)
    } else {
        quote!(#operand)
    }
}

/// True for `rx`, `self.rx`, `st.inner.ch`, `chans[i]`: a path, or a chain
/// of fields and indexing rooted at a path. Invisible groups (from `$e:expr`
/// in a `macro_rules!`) are looked through.
///
/// Indexing goes beyond the contract's "path or field": moving a channel out
/// of `chans[i]` never compiles, while borrowing it is Go's `<-c[i]`.
fn is_place(expr: &Expr) -> bool {
    match expr {
        Expr::Path(_) => true,
        Expr::Field(field) => is_place(&field.base),
        Expr::Index(index) => is_place(&index.expr),
        Expr::Group(group) => is_place(&group.expr),
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use quote::quote;

    fn expand_str(tokens: TokenStream, flavor: Flavor) -> String {
        expand(syn::parse2(tokens).unwrap(), flavor).to_string()
    }

    fn norm(tokens: TokenStream) -> String {
        tokens.to_string()
    }

    #[test]
    fn empty_select_blocks_forever() {
        assert_eq!(
            expand_str(quote! {}, Flavor::Async),
            norm(quote! {
                {
                    let __goro_never: ::core::convert::Infallible =
                        ::goro::__private::select::block_forever().await;
                    match __goro_never {}
                }
            })
        );
        assert_eq!(
            expand_str(quote! {}, Flavor::Blocking),
            norm(quote! { ::goro::__private::select::block_forever_blocking() })
        );
    }

    #[test]
    fn only_default_is_its_body() {
        assert_eq!(
            expand_str(quote! { default => { x() } }, Flavor::Async),
            norm(quote! { { x() } })
        );
        assert_eq!(
            expand_str(quote! { default => y() }, Flavor::Blocking),
            norm(quote! { { y() } })
        );
    }

    #[test]
    fn contract_example() {
        let got = expand_str(
            quote! {
                v = ch.recv() => B0,
                ch2.send(x) => B1,
                r = fut => B2,
                default => B3,
            },
            Flavor::Async,
        );
        let want = norm(quote! {
            {
                let mut __goro_c0 = ::goro::__private::select::into_case!(ch.recv());
                let mut __goro_c1 = ::goro::__private::select::into_case!(ch2.send(x));
                let mut __goro_c2 = ::goro::__private::select::into_case!(&fut);
                let __goro_i: ::core::option::Option<usize> = unsafe {
                    ::goro::__private::select::select(
                        &mut [
                            &mut __goro_c0 as &mut dyn ::goro::__private::select::SelectCase,
                            &mut __goro_c1 as &mut dyn ::goro::__private::select::SelectCase,
                            &mut __goro_c2 as &mut dyn ::goro::__private::select::SelectCase
                        ],
                        true
                    )
                }.await;
                match __goro_i {
                    ::core::option::Option::Some(0usize) => {
                        let __goro_out = ::goro::__private::select::CaseOutput::take_output(&mut __goro_c0);
                        #[allow(clippy::drop_non_drop, dropping_copy_types, dropping_references)]
                        ::core::mem::drop(__goro_c0);
                        #[allow(clippy::drop_non_drop, dropping_copy_types, dropping_references)]
                        ::core::mem::drop(__goro_c1);
                        #[allow(clippy::drop_non_drop, dropping_copy_types, dropping_references)]
                        ::core::mem::drop(__goro_c2);
                        let v = __goro_out;
                        B0
                    }
                    ::core::option::Option::Some(1usize) => {
                        let __goro_out = ::goro::__private::select::CaseOutput::take_output(&mut __goro_c1);
                        #[allow(clippy::drop_non_drop, dropping_copy_types, dropping_references)]
                        ::core::mem::drop(__goro_c0);
                        #[allow(clippy::drop_non_drop, dropping_copy_types, dropping_references)]
                        ::core::mem::drop(__goro_c1);
                        #[allow(clippy::drop_non_drop, dropping_copy_types, dropping_references)]
                        ::core::mem::drop(__goro_c2);
                        let _ = __goro_out;
                        B1
                    }
                    ::core::option::Option::Some(2usize) => {
                        let __goro_out = ::goro::__private::select::CaseOutput::take_output(&mut __goro_c2);
                        #[allow(clippy::drop_non_drop, dropping_copy_types, dropping_references)]
                        ::core::mem::drop(__goro_c0);
                        #[allow(clippy::drop_non_drop, dropping_copy_types, dropping_references)]
                        ::core::mem::drop(__goro_c1);
                        #[allow(clippy::drop_non_drop, dropping_copy_types, dropping_references)]
                        ::core::mem::drop(__goro_c2);
                        let r = __goro_out;
                        B2
                    }
                    ::core::option::Option::None => {
                        #[allow(clippy::drop_non_drop, dropping_copy_types, dropping_references)]
                        ::core::mem::drop(__goro_c0);
                        #[allow(clippy::drop_non_drop, dropping_copy_types, dropping_references)]
                        ::core::mem::drop(__goro_c1);
                        #[allow(clippy::drop_non_drop, dropping_copy_types, dropping_references)]
                        ::core::mem::drop(__goro_c2);
                        B3
                    }
                    _ => ::core::unreachable!(),
                }
            }
        });
        assert_eq!(got, want);
    }

    #[test]
    fn blocking_form_uses_blocking_engine() {
        let got = expand_str(quote! { v = rx => { v } }, Flavor::Blocking);
        let want = norm(quote! {
            {
                let mut __goro_c0 = ::goro::__private::select::into_case!(&rx);
                let __goro_i: ::core::option::Option<usize> =
                    ::goro::__private::select::select_blocking(
                        &mut [&mut __goro_c0 as &mut dyn ::goro::__private::select::BlockingCase],
                        false
                    );
                match __goro_i {
                    ::core::option::Option::Some(0usize) => {
                        let __goro_out = ::goro::__private::select::CaseOutput::take_output(&mut __goro_c0);
                        #[allow(clippy::drop_non_drop, dropping_copy_types, dropping_references)]
                        ::core::mem::drop(__goro_c0);
                        let v = __goro_out;
                        { v }
                    }
                    _ => ::core::unreachable!(),
                }
            }
        });
        assert_eq!(got, want);
    }

    #[test]
    fn places_by_reference_values_by_value() {
        let place = |e: TokenStream| is_place(&syn::parse2(e).unwrap());
        assert!(place(quote!(rx)));
        assert!(place(quote!(self.rx)));
        assert!(place(quote!(st.inner.0)));
        assert!(place(quote!(crate::RX)));
        assert!(!place(quote!(rx.recv())));
        assert!(!place(quote!((rx))));
        assert!(!place(quote!(&mut fut)));
        assert!(!place(quote!(make().rx)));
        assert!(!place(quote!({ rx })));
        assert!(place(quote!(chans[0])));
        assert!(place(quote!(self.chans[i].rx)));
        assert!(!place(quote!(make()[0])));
    }
}
