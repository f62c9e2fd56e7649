//! `#[mcpgen::input]` and `#[mcpgen::output]`: the derives a tool's input
//! and output types need, reached through mcpgen, so a product depends on
//! mcpgen alone (not on serde or schemars of a version of its own).

use proc_macro2::TokenStream;
use quote::quote;

/// What a tool input derives: `Deserialize` and `JsonSchema`, refusing
/// unknown fields (so the advertised schema says `additionalProperties:
/// false` and means it).
pub fn input(attr: TokenStream, item: TokenStream) -> TokenStream {
    if let Some(e) = no_options(&attr, "input") {
        return e;
    }
    quote! {
        #[derive(::mcpgen::serde::Deserialize, ::mcpgen::schemars::JsonSchema)]
        #[serde(crate = "::mcpgen::serde", deny_unknown_fields)]
        #[schemars(crate = "::mcpgen::schemars")]
        #item
    }
}

/// What a tool output derives: `Serialize` and `JsonSchema`.
pub fn output(attr: TokenStream, item: TokenStream) -> TokenStream {
    if let Some(e) = no_options(&attr, "output") {
        return e;
    }
    quote! {
        #[derive(::mcpgen::serde::Serialize, ::mcpgen::schemars::JsonSchema)]
        #[serde(crate = "::mcpgen::serde")]
        #[schemars(crate = "::mcpgen::schemars")]
        #item
    }
}

fn no_options(attr: &TokenStream, name: &str) -> Option<TokenStream> {
    (!attr.is_empty()).then(|| {
        syn::Error::new_spanned(
            attr,
            format!(
                "`#[mcpgen::{name}]` takes no options: add serde and schemars attributes to the type and its fields"
            ),
        )
        .to_compile_error()
    })
}
