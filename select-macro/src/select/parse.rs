//! Parsing of a `select!` / `select_blocking!` body into cases.
//!
//! Grammar (commas between cases are optional):
//!
//! ```text
//! input   := case*
//! case    := "default" "=>" body
//!          | pat (":" type)? "=" operand "=>" body  // binds the case's output
//!          | operand "=>" body                      // ignores it (a send case, usually)
//! operand := expr                                   // a struct literal only if `=>` follows it
//! body    := block-like ","?                        // `{ .. }`, `if`, `match`, `loop`, `while`, `for`, `unsafe { .. }`
//!          | expr ("," | end of input)
//! ```
//!
//! A case with a pattern is recognised by parsing a pattern on a fork of the
//! input and finding a single `=` (not `==`, not `=>`) after it; otherwise the
//! head is an operand expression. This is the same split a human reader makes:
//! `v = rx => ..` binds `v`, `ch.send(x) => ..` binds nothing.
//!
//! Go: the `case v := <-c:` / `case c <- x:` / `default:` clauses of a select
//! statement.

use syn::parse::{discouraged::Speculative, Parse, ParseStream};
use syn::spanned::Spanned;
use syn::{token, Expr, ExprBlock, Ident, Pat, PatType, Token, Type};

/// A parsed `select!` input: its channel/future cases in source order and the
/// optional `default` case.
pub(crate) struct SelectInput {
    /// The non-default cases, in source order (their index is the engine's case index).
    pub cases: Vec<Case>,
    /// The `default` case, if any (at most one).
    pub default: Option<DefaultCase>,
}

/// One `pat = operand => body` or `operand => body` case.
pub(crate) struct Case {
    /// The pattern the case's output is bound to; `None` when the case has none.
    pub pat: Option<Pat>,
    /// The case operand: a channel, a `recv()`/`send(x)` future or any future.
    pub operand: Expr,
    /// The code run when this case is chosen.
    pub body: Expr,
}

/// The `default => body` case.
pub(crate) struct DefaultCase {
    /// The `default` keyword, for spans.
    pub keyword: Ident,
    /// The code run when no other case is ready.
    pub body: Expr,
}

impl Parse for SelectInput {
    fn parse(input: ParseStream<'_>) -> syn::Result<Self> {
        let mut cases = Vec::new();
        let mut default: Option<DefaultCase> = None;
        while !input.is_empty() {
            if is_default_keyword(input) {
                let case = parse_default(input)?;
                if let Some(first) = &default {
                    let mut err = syn::Error::new(
                        case.keyword.span(),
                        "a `select!` may have at most one `default` case",
                    );
                    err.combine(syn::Error::new(
                        first.keyword.span(),
                        "the first `default` case is here",
                    ));
                    return Err(err);
                }
                default = Some(case);
            } else {
                cases.push(parse_case(input)?);
            }
        }
        Ok(SelectInput { cases, default })
    }
}

/// True when the next token is the identifier `default` used as the default
/// case (not, say, a variable named `default` whose method is called).
fn is_default_keyword(input: ParseStream<'_>) -> bool {
    let fork = input.fork();
    match fork.parse::<Ident>() {
        Ok(ident) if ident == "default" => {
            // `default.send(x) =>` or `default::X` is an operand that merely
            // starts with an identifier named `default`.
            !(fork.peek(Token![.]) || fork.peek(Token![::]) || fork.peek(Token![?]))
        }
        _ => false,
    }
}

fn parse_default(input: ParseStream<'_>) -> syn::Result<DefaultCase> {
    let keyword: Ident = input.parse()?;
    if input.peek(Token![=>]) {
        let arrow = input.parse::<Token![=>]>()?;
        let body = parse_body(input, &arrow)?;
        return Ok(DefaultCase { keyword, body });
    }
    if input.peek(Token![=]) && !input.peek(Token![==]) {
        return Err(syn::Error::new(
            keyword.span(),
            "the `default` case has no value to bind: write `default => ...`",
        ));
    }
    if input.peek(token::Brace) {
        return Err(syn::Error::new(
            input.span(),
            "expected `=>` after `default`: write `default => { ... }`",
        ));
    }
    Err(syn::Error::new(
        keyword.span(),
        "the `default` case takes no pattern or operand: write `default => ...`",
    ))
}

fn parse_case(input: ParseStream<'_>) -> syn::Result<Case> {
    let pat = parse_pattern_head(input)?;
    if let Some(pat) = &pat {
        if is_default_keyword(input) {
            let keyword: Ident = input.fork().parse()?;
            let span = pat.span().join(keyword.span()).unwrap_or(keyword.span());
            return Err(syn::Error::new(
                span,
                "the `default` case has no value to bind: write `default => ...`",
            ));
        }
    }
    if input.is_empty() || input.peek(Token![=>]) {
        return Err(input
            .error("expected a case operand: a channel, `ch.recv()`, `ch.send(v)` or a future"));
    }
    // A struct literal is a fine operand when `=>` follows it; otherwise parse
    // as `match` does, so that `v = rx { .. }` reports the missing `=>`.
    let fork = input.fork();
    let operand = match fork.parse::<Expr>() {
        Ok(operand) if fork.peek(Token![=>]) => {
            input.advance_to(&fork);
            operand
        }
        _ => Expr::parse_without_eager_brace(input)?,
    };
    if !input.peek(Token![=>]) {
        let msg = "expected `=>` after the case operand";
        return Err(if input.is_empty() {
            syn::Error::new_spanned(&operand, msg)
        } else {
            syn::Error::new(input.span(), msg)
        });
    }
    let arrow = input.parse::<Token![=>]>()?;
    let body = parse_body(input, &arrow)?;
    Ok(Case { pat, operand, body })
}

/// Parses `pat =` or `pat: Type =` if the input starts with a pattern (and
/// an optional type, as in `let`) followed by a single `=`.
fn parse_pattern_head(input: ParseStream<'_>) -> syn::Result<Option<Pat>> {
    let fork = input.fork();
    match pattern_with_type(&fork) {
        Ok(pat) if fork.peek(Token![=]) && !fork.peek(Token![==]) && !fork.peek(Token![=>]) => {
            input.advance_to(&fork);
            input.parse::<Token![=]>()?;
            Ok(Some(pat))
        }
        _ => Ok(None),
    }
}

fn pattern_with_type(input: ParseStream<'_>) -> syn::Result<Pat> {
    let pat = Pat::parse_multi_with_leading_vert(input)?;
    if input.peek(Token![:]) && !input.peek(Token![::]) {
        return Ok(Pat::Type(PatType {
            attrs: Vec::new(),
            pat: Box::new(pat),
            colon_token: input.parse()?,
            ty: Box::new(input.parse::<Type>()?),
        }));
    }
    Ok(pat)
}

/// Parses a case body and the comma after it (optional after a block-like body,
/// required after any other expression unless it is the last case).
fn parse_body(input: ParseStream<'_>, arrow: &Token![=>]) -> syn::Result<Expr> {
    if input.is_empty() {
        return Err(syn::Error::new_spanned(
            arrow,
            "expected the case body after `=>`",
        ));
    }
    let (body, block_like) = if input.peek(token::Brace) {
        let block = input.parse()?;
        let body = Expr::Block(ExprBlock {
            attrs: Vec::new(),
            label: None,
            block,
        });
        (body, true)
    } else if input.peek(Token![if]) {
        (Expr::If(input.parse()?), true)
    } else if input.peek(Token![match]) {
        (Expr::Match(input.parse()?), true)
    } else if input.peek(Token![loop]) {
        (Expr::Loop(input.parse()?), true)
    } else if input.peek(Token![while]) {
        (Expr::While(input.parse()?), true)
    } else if input.peek(Token![for]) {
        (Expr::ForLoop(input.parse()?), true)
    } else if input.peek(Token![unsafe]) && input.peek2(token::Brace) {
        (Expr::Unsafe(input.parse()?), true)
    } else {
        (input.parse::<Expr>()?, false)
    };
    if input.peek(Token![,]) {
        input.parse::<Token![,]>()?;
    } else if !block_like && !input.is_empty() {
        return Err(syn::Error::new(
            input.span(),
            "expected `,` before this case: a case body that is not a block must end with a comma",
        ));
    }
    Ok(body)
}

#[cfg(test)]
mod tests {
    use super::*;
    use quote::quote;

    fn parse(tokens: proc_macro2::TokenStream) -> syn::Result<SelectInput> {
        syn::parse2(tokens)
    }

    fn err(tokens: proc_macro2::TokenStream) -> String {
        match parse(tokens) {
            Ok(_) => panic!("expected a parse error"),
            Err(e) => e.to_string(),
        }
    }

    #[test]
    fn all_case_forms() {
        let input = parse(quote! {
            v = ch.recv() => { a(v) }
            v = rx => b(v),
            ch2.send(x) => {}
            r = fut => { c(r) },
            (a, b) = pair => d(a, b),
            _ = ctx.done() => return,
            default => e()
        })
        .unwrap();
        assert_eq!(input.cases.len(), 6);
        assert!(input.default.is_some());
        let pats: Vec<bool> = input.cases.iter().map(|c| c.pat.is_some()).collect();
        assert_eq!(pats, [true, true, false, true, true, true]);
    }

    #[test]
    fn empty_input() {
        let input = parse(quote! {}).unwrap();
        assert!(input.cases.is_empty());
        assert!(input.default.is_none());
    }

    #[test]
    fn default_anywhere() {
        let input = parse(quote! { default => {} v = rx => {} }).unwrap();
        assert_eq!(input.cases.len(), 1);
        assert!(input.default.is_some());
    }

    #[test]
    fn block_like_bodies_need_no_comma() {
        let input = parse(quote! {
            v = a => if v.is_some() { 1 } else { 2 }
            w = b => match w { _ => 3 }
            c.send(1) => loop { break 4 }
            default => unsafe { f() }
        })
        .unwrap();
        assert_eq!(input.cases.len(), 3);
    }

    #[test]
    fn typed_pattern() {
        let input =
            parse(quote! { v: Option<u8> = rx => {} (a, b): (u8, u8) = fut => {} }).unwrap();
        assert!(matches!(input.cases[0].pat, Some(Pat::Type(_))));
        assert!(matches!(input.cases[1].pat, Some(Pat::Type(_))));
    }

    #[test]
    fn struct_literal_operand() {
        let input = parse(quote! { v = Wrap { rx } => {} }).unwrap();
        assert!(matches!(input.cases[0].operand, Expr::Struct(_)));
    }

    #[test]
    fn operand_named_default() {
        let input = parse(quote! { default.send(1) => {} v = default.recv() => {} }).unwrap();
        assert_eq!(input.cases.len(), 2);
        assert!(input.default.is_none());
    }

    #[test]
    fn errors() {
        assert!(err(quote! { default => {} default => {} }).contains("at most one `default`"));
        assert!(err(quote! { v = default => {} }).contains("no value to bind"));
        assert!(err(quote! { default = x => {} }).contains("no value to bind"));
        assert!(err(quote! { default(v) => {} }).contains("takes no pattern"));
        assert!(err(quote! { default {} }).contains("expected `=>` after `default`"));
        assert!(err(quote! { v = rx {} }).contains("expected `=>`"));
        assert!(err(quote! { v = rx }).contains("expected `=>`"));
        assert!(err(quote! { v = rx => a() w = ry => {} }).contains("expected `,`"));
        assert!(err(quote! { v = rx => }).contains("expected the case body"));
        assert!(err(quote! { v = => {} }).contains("expected a case operand"));
    }
}
