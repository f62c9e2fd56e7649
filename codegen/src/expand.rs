//! Token generation: the registry, the manifest as static data, the
//! compile-time checks that need rustc's type knowledge, and the generated
//! tests.

use proc_macro2::{Span, TokenStream};
use quote::{format_ident, quote, quote_spanned};
use syn::spanned::Spanned;
use syn::{ItemImpl, Type};

use crate::bind::{Handler, type_to_string, with_lifetimes, with_static_lifetimes};
use crate::entries::{EntryExpansion, EntryHandler};
use crate::model::*;

/// Where the manifest came from, for messages and rebuild tracking, and
/// the other options of the attribute.
#[derive(Debug, Clone)]
pub struct ManifestSource {
    /// The file name used in messages, e.g. `mcp-manifest.toml`.
    pub label: String,
    /// The absolute path emitted in `include_str!`, so editing the manifest
    /// rebuilds the crate. `None` in tests that have no file.
    pub include_path: Option<String>,
    /// The `manifest = "..."` literal, where manifest errors are reported.
    pub span: Span,
    /// `(version, description, absolute path)` of each migration file.
    pub migrations: Vec<(i64, String, String)>,
    /// The migrations directory, relative to the crate root
    /// (`migrations = "..."`).
    pub migrations_dir: Option<String>,
    /// The expression that makes the app for the generated tests
    /// (`test_app = "..."`); `Default::default()` when absent.
    pub test_app: Option<syn::Expr>,
}

impl Default for ManifestSource {
    fn default() -> Self {
        Self {
            label: "mcp-manifest.toml".to_owned(),
            include_path: None,
            span: Span::call_site(),
            migrations: Vec::new(),
            migrations_dir: None,
            test_app: None,
        }
    }
}

/// Everything the generated code needs.
pub struct Expansion<'a> {
    /// The impl block, `#[tool]` attributes removed.
    pub item: &'a ItemImpl,
    /// The checked manifest.
    pub model: &'a Model,
    /// The checked handlers, one per manifest tool.
    pub handlers: &'a [Handler],
    /// The checked resource and prompt handlers.
    pub entries: &'a [EntryHandler],
    /// The manifest file.
    pub source: &'a ManifestSource,
}

impl Expansion<'_> {
    /// Generate the code.
    pub fn expand(&self) -> TokenStream {
        let item = self.item;
        let self_ty = &item.self_ty;
        let include = self.include();
        let manifest = self.model.spec();
        let tools = self.pairs();
        let checks = self.all_checks();
        let shims = tools.iter().map(|(_, h)| self.shim(h));
        let defs = tools.iter().map(|(t, h)| self.def(t, h));
        let count = tools.len();
        let tests = self.tests();
        let migrations = self.migrations();
        let (entry_statics, entry_methods) = self.entry_expansion().expand();
        quote! {
            #item

            const _: () = {
                #include
                #checks
                #(#shims)*

                static __MCPGEN_MANIFEST: ::mcpgen::__private::spec::ManifestSpec = #manifest;
                static __MCPGEN_TOOLS: [::mcpgen::__private::ToolDef<#self_ty>; #count] = [#(#defs),*];
                #entry_statics

                impl ::mcpgen::__private::Tools for #self_ty {
                    fn manifest() -> &'static ::mcpgen::__private::spec::ManifestSpec {
                        &__MCPGEN_MANIFEST
                    }
                    fn definitions() -> &'static [::mcpgen::__private::ToolDef<Self>] {
                        &__MCPGEN_TOOLS
                    }
                    #entry_methods
                    #migrations
                }
            };

            #tests
        }
    }

    /// Manifest tools joined to their handlers, sorted by tool name.
    fn pairs(&self) -> Vec<(&Tool, &Handler)> {
        let mut tools: Vec<(&Tool, &Handler)> = self
            .model
            .tools
            .iter()
            .filter_map(|t| {
                let h = self.handlers.iter().find(|h| h.name == t.name.value)?;
                Some((t, h))
            })
            .collect();
        tools.sort_by(|a, b| a.0.name.value.cmp(&b.0.name.value));
        tools
    }

    /// The compile-time type checks of every tool that has a handler. Also
    /// emitted when other checks failed, so one build reports everything.
    pub fn all_checks(&self) -> TokenStream {
        let mut out: TokenStream = self
            .pairs()
            .iter()
            .map(|(t, h)| self.checks(t, h))
            .collect();
        out.extend(self.entry_expansion().checks());
        out
    }

    fn entry_expansion(&self) -> EntryExpansion<'_> {
        EntryExpansion {
            item: self.item,
            model: self.model,
            handlers: self.entries,
            label: &self.source.label,
        }
    }

    fn migrations(&self) -> TokenStream {
        if self.source.migrations.is_empty() {
            return TokenStream::new();
        }
        let entries = self.source.migrations.iter().map(|(version, description, path)| {
            quote!((#version, #description, ::core::include_str!(#path)))
        });
        quote! {
            fn migrations() -> &'static [(i64, &'static str, &'static str)] {
                &[#(#entries),*]
            }
        }
    }

    fn include(&self) -> TokenStream {
        match &self.source.include_path {
            Some(path) => quote! { const _: &str = ::core::include_str!(#path); },
            None => TokenStream::new(),
        }
    }

    /// Compile-time checks spanned on the user's tokens, so rustc points at
    /// the parameter that disagrees with the manifest.
    fn checks(&self, tool: &Tool, h: &Handler) -> TokenStream {
        let name = &tool.name.value;
        let at = tool.declared_at(&self.source.label);
        let cx_ty = with_static_lifetimes(&h.cx_ty);
        let declared = tool.access.value;
        let (wanted, other) = match declared {
            Access::Read => ("ReadCx<'_>", "write"),
            Access::Write => ("WriteCx<'_>", "read"),
        };
        let access = tool.access.value.as_str();
        let cx_msg = format!(
            "tool `{name}` is declared `access = \"{access}\"` ({at}) but its handler takes `{}`: \
             write `cx: {wanted}`, or declare the tool `access = \"{other}\"` with a {other} scope",
            type_to_string(&h.cx_ty)
        );
        let span = h.cx_ty.span();
        let mut out = quote_spanned! {span=>
            const _: () = if !::mcpgen::__private::context_grants::<#cx_ty>(#declared) {
                ::core::panic!(#cx_msg)
            };
        };
        if let Some(input) = &h.input_ty {
            let input_static = with_static_lifetimes(input);
            let span = input.span();
            let written = type_to_string(input);
            match &tool.records {
                None => {
                    let msg = format!(
                        "tool `{name}` takes an owned record (`{written}`) but [tools.{name}] ({at}) has no record rule: \
                         add `records = \"<kind>\"` naming the [records] entry for it, so the owner check applies"
                    );
                    out.extend(quote_spanned! {span=>
                        const _: () = if ::mcpgen::__private::loads_record::<#input_static>() {
                            ::core::panic!(#msg)
                        };
                    });
                }
                // An undeclared kind is already reported against the manifest.
                Some(kind) if self.model.record(&kind.value).is_none() => {}
                Some(kind) => {
                    let kind = &kind.value;
                    let msg = format!(
                        "tool `{name}` is declared `records = \"{kind}\"` ({at}) but its handler takes `{written}`, \
                         a record of another kind: take `Owned<R>` where `R: Record<KIND = \"{kind}\">`, or fix `records`"
                    );
                    out.extend(quote_spanned! {span=>
                        const _: () = if !::mcpgen::__private::record_kind_is::<#input_static>(#kind) {
                            ::core::panic!(#msg)
                        };
                    });
                }
            }
        }
        out
    }

    fn shim_ident(h: &Handler) -> syn::Ident {
        format_ident!("__mcpgen_call_{}", h.fn_ident)
    }

    fn shim(&self, h: &Handler) -> TokenStream {
        let self_ty = &self.item.self_ty;
        let shim = Self::shim_ident(h);
        let method = &h.fn_ident;
        let cx_ty = with_lifetimes(&h.cx_ty, "'a");
        let cx = quote_spanned! {h.cx_ty.span()=>
            let cx: #cx_ty = ::mcpgen::__private::ToolContext::from_invocation(inv)?;
        };
        let call = match &h.input_ty {
            Some(input) => {
                let input = with_static_lifetimes(input);
                quote! {
                    let input = <#input as ::mcpgen::__private::ToolInput>::from_arguments(arguments, inv).await?;
                    ::mcpgen::__private::output(<#self_ty>::#method(this, cx, input).await)
                }
            }
            None => quote! {
                let _: ::mcpgen::__private::NoArguments =
                    <::mcpgen::__private::NoArguments as ::mcpgen::__private::ToolInput>::from_arguments(arguments, inv).await?;
                ::mcpgen::__private::output(<#self_ty>::#method(this, cx).await)
            },
        };
        quote! {
            fn #shim<'a>(
                this: &'a #self_ty,
                inv: ::mcpgen::__private::Invocation<'a>,
                arguments: ::mcpgen::__private::Value,
            ) -> ::mcpgen::__private::BoxFuture<
                'a,
                ::core::result::Result<::mcpgen::__private::CallToolResult, ::mcpgen::__private::ToolError>,
            > {
                ::std::boxed::Box::pin(async move {
                    #cx
                    #call
                })
            }
        }
    }

    fn def(&self, tool: &Tool, h: &Handler) -> TokenStream {
        let spec = tool.spec(&self.source.label);
        let input: Type = match &h.input_ty {
            Some(t) => with_static_lifetimes(t),
            None => syn::parse_quote!(::mcpgen::__private::NoArguments),
        };
        let input_name = match &h.input_ty {
            Some(t) => type_to_string(t),
            None => "(no input)".to_owned(),
        };
        let output = with_static_lifetimes(&h.output_ty);
        let shim = Self::shim_ident(h);
        quote! {
            ::mcpgen::__private::ToolDef {
                spec: #spec,
                input_type: #input_name,
                input_schema: ::mcpgen::__private::input_schema::<#input>,
                output_schema: ::mcpgen::__private::output_schema::<#output>,
                call: #shim,
            }
        }
    }

    fn tests(&self) -> TokenStream {
        let self_ty = &self.item.self_ty;
        let app = match &self.source.test_app {
            Some(expr) => quote!(#expr),
            None => quote!(<#self_ty as ::mcpgen::__private::TestApp>::make()),
        };
        let policy = self.pairs().into_iter().map(|(t, _)| {
            let name = &t.name.value;
            let test = format_ident!(
                "mcpgen_policy_{}",
                name.chars()
                    .map(|c| if c.is_ascii_alphanumeric() { c } else { '_' })
                    .collect::<String>()
            );
            quote! {
                /// Generated: the tool's manifest policy holds (401 without a
                /// credential, 403 naming its scopes without them, listed only
                /// for allowed callers, another subject's record answers like a
                /// missing one, a read tool leaves the database as it was).
                #[test]
                fn #test() {
                    ::mcpgen::__private::check_tool::<#self_ty>(#name, || #app);
                }
            }
        });
        let entry_tests = self
            .entries
            .iter()
            .filter(|h| match h.kind {
                crate::entries::Kind::Resource => self.model.mcp_resource(&h.name).is_some(),
                crate::entries::Kind::Prompt => self.model.prompt(&h.name).is_some(),
            })
            .map(|h| {
                let (word, check) = match h.kind {
                    crate::entries::Kind::Resource => ("resource", quote!(check_resource)),
                    crate::entries::Kind::Prompt => ("prompt", quote!(check_prompt)),
                };
                let name = &h.name;
                let test = format_ident!(
                    "mcpgen_policy_{word}_{}",
                    name.chars()
                        .map(|c| if c.is_ascii_alphanumeric() { c } else { '_' })
                        .collect::<String>()
                );
                quote! {
                    /// Generated: the manifest policy holds (401 without a
                    /// credential, 403 naming its scopes without them, listed
                    /// only for allowed callers, another subject's record
                    /// answers like a missing one, the database unchanged).
                    #[test]
                    fn #test() {
                        ::mcpgen::__private::#check::<#self_ty>(#name, || #app);
                    }
                }
            })
            .collect::<Vec<_>>();
        let migrations = self.source.migrations_dir.as_ref().map(|dir| {
            quote! {
                /// Generated: the binary embeds the migrations the directory
                /// holds (a file added, removed or renamed since the last build
                /// fails here: rebuild).
                #[test]
                fn mcpgen_migrations_are_current() {
                    ::mcpgen::__private::check_migrations::<#self_ty>(
                        ::core::concat!(::core::env!("CARGO_MANIFEST_DIR"), "/", #dir),
                    );
                }
            }
        });
        let module = format_ident!(
            "__mcpgen_generated_tests_{}",
            type_to_string(self_ty)
                .chars()
                .map(|c| if c.is_ascii_alphanumeric() { c } else { '_' })
                .collect::<String>()
        );
        quote! {
            #[cfg(test)]
            #[allow(non_snake_case)]
            mod #module {
                #[allow(unused_imports)]
                use super::*;

                /// Every tool's input and output schema can be served: the
                /// failure message names the tool and what to change.
                #[test]
                fn mcpgen_registry_is_servable() {
                    if let ::core::result::Result::Err(e) = <#self_ty as ::mcpgen::__private::Tools>::registry() {
                        ::core::panic!("{e}");
                    }
                }

                #(#policy)*
                #(#entry_tests)*
                #migrations
            }
        }
    }
}

/// What to emit when checks failed: the user's impl block unchanged (minus
/// `#[tool]`), so the real errors are not buried under follow-on ones about
/// a missing `Tools` impl.
pub fn fallback(item: &ItemImpl, checks: TokenStream) -> TokenStream {
    let self_ty = &item.self_ty;
    quote! {
        #item
        const _: () = { #checks };
        impl ::mcpgen::__private::Tools for #self_ty {
            fn manifest() -> &'static ::mcpgen::__private::spec::ManifestSpec {
                ::core::unimplemented!("the #[mcpgen::tools] checks failed")
            }
            fn definitions() -> &'static [::mcpgen::__private::ToolDef<Self>] {
                ::core::unimplemented!("the #[mcpgen::tools] checks failed")
            }
        }
    }
}

/// The span to blame for errors about the impl block as a whole.
pub fn impl_span(item: &ItemImpl) -> Span {
    item.self_ty.span()
}
