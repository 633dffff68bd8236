//! `select!` and `select_blocking!`: parsing ([`parse`]) and code generation
//! ([`expand`]).
//!
//! Go: the `select` statement.

pub(crate) mod expand;
pub(crate) mod parse;

use proc_macro2::TokenStream;

pub(crate) use expand::Flavor;

/// Parses and expands a select body; a parse error becomes a `compile_error!`.
pub(crate) fn select(input: TokenStream, flavor: Flavor) -> TokenStream {
    match syn::parse2::<parse::SelectInput>(input) {
        Ok(parsed) => expand::expand(parsed, flavor),
        Err(err) => err.to_compile_error(),
    }
}
