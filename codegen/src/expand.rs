//! Token generation: the registry, the manifest as static data, the
//! compile-time checks that need rustc's type knowledge, and the generated
//! tests.

use proc_macro2::{Span, TokenStream};
use quote::{format_ident, quote, quote_spanned};
use syn::spanned::Spanned;
use syn::{ItemImpl, Type};

use crate::bind::{Handler, type_to_string, with_lifetimes, with_static_lifetimes};
use crate::model::*;

/// Where the manifest came from, for messages and rebuild tracking.
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
}

/// Everything the generated code needs.
pub struct Expansion<'a> {
    /// The impl block, `#[tool]` attributes removed.
    pub item: &'a ItemImpl,
    /// The checked manifest.
    pub model: &'a Model,
    /// The checked handlers, one per manifest tool.
    pub handlers: &'a [Handler],
    /// The manifest file.
    pub source: &'a ManifestSource,
}

impl Expansion<'_> {
    /// Generate the code.
    pub fn expand(&self) -> TokenStream {
        let item = self.item;
        let self_ty = &item.self_ty;
        let include = self.include();
        let manifest = self.manifest_spec();
        let tools = self.pairs();
        let checks = self.all_checks();
        let shims = tools.iter().map(|(_, h)| self.shim(h));
        let defs = tools.iter().map(|(t, h)| self.def(t, h));
        let count = tools.len();
        let tests = self.tests();
        let migrations = self.migrations();
        quote! {
            #item

            const _: () = {
                #include
                #checks
                #(#shims)*

                static __MCPGEN_MANIFEST: ::mcpgen::__private::ManifestSpec = #manifest;
                static __MCPGEN_TOOLS: [::mcpgen::ToolDef<#self_ty>; #count] = [#(#defs),*];

                impl ::mcpgen::Tools for #self_ty {
                    fn manifest() -> &'static ::mcpgen::__private::ManifestSpec {
                        &__MCPGEN_MANIFEST
                    }
                    fn definitions() -> &'static [::mcpgen::ToolDef<Self>] {
                        &__MCPGEN_TOOLS
                    }
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
        self.pairs()
            .iter()
            .map(|(t, h)| self.checks(t, h))
            .collect()
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

    fn declared_at(&self, tool: &Tool) -> String {
        format!("{}:{}", self.source.label, tool.name.loc)
    }

    /// Compile-time checks spanned on the user's tokens, so rustc points at
    /// the parameter that disagrees with the manifest.
    fn checks(&self, tool: &Tool, h: &Handler) -> TokenStream {
        let name = &tool.name.value;
        let at = self.declared_at(tool);
        let cx_ty = with_static_lifetimes(&h.cx_ty);
        let (declared, wanted, other) = match tool.access.value {
            Access::Read => (quote!(Read), "ReadCx<'_>", "write"),
            Access::Write => (quote!(Write), "WriteCx<'_>", "read"),
        };
        let access = tool.access.value.as_str();
        let cx_msg = format!(
            "tool `{name}` is declared `access = \"{access}\"` ({at}) but its handler takes `{}`: \
             write `cx: {wanted}`, or declare the tool `access = \"{other}\"` with a {other} scope",
            type_to_string(&h.cx_ty)
        );
        let span = h.cx_ty.span();
        let mut out = quote_spanned! {span=>
            const _: () = if !::mcpgen::__private::context_grants::<#cx_ty>(
                ::mcpgen::__private::Access::#declared,
            ) {
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
            let cx: #cx_ty = ::mcpgen::ToolContext::from_invocation(inv)?;
        };
        let call = match &h.input_ty {
            Some(input) => {
                let input = with_static_lifetimes(input);
                quote! {
                    let input = <#input as ::mcpgen::ToolInput>::from_arguments(arguments, inv).await?;
                    ::mcpgen::__private::output(<#self_ty>::#method(this, cx, input).await)
                }
            }
            None => quote! {
                let _: ::mcpgen::NoArguments =
                    <::mcpgen::NoArguments as ::mcpgen::ToolInput>::from_arguments(arguments, inv).await?;
                ::mcpgen::__private::output(<#self_ty>::#method(this, cx).await)
            },
        };
        quote! {
            fn #shim<'a>(
                this: &'a #self_ty,
                inv: ::mcpgen::Invocation<'a>,
                arguments: ::mcpgen::__private::Value,
            ) -> ::mcpgen::__private::BoxFuture<
                'a,
                ::core::result::Result<::mcpgen::CallToolResult, ::mcpgen::ToolError>,
            > {
                ::std::boxed::Box::pin(async move {
                    #cx
                    #call
                })
            }
        }
    }

    fn def(&self, tool: &Tool, h: &Handler) -> TokenStream {
        let name = &tool.name.value;
        let title = opt_str(tool.title.as_deref());
        let description = &tool.description.value;
        let access = access_tokens(tool.access.value);
        let scopes = tool.scope_names();
        let public = tool.is_public();
        let record = opt_str(tool.records.as_ref().map(|r| r.value.as_str()));
        let annotations = annotations(tool);
        let declared_at = self.declared_at(tool);
        let input: Type = match &h.input_ty {
            Some(t) => with_static_lifetimes(t),
            None => syn::parse_quote!(::mcpgen::NoArguments),
        };
        let input_name = match &h.input_ty {
            Some(t) => type_to_string(t),
            None => "(no input)".to_owned(),
        };
        let output = with_static_lifetimes(&h.output_ty);
        let shim = Self::shim_ident(h);
        let calls_per_minute = opt_u64(tool.calls_per_minute.as_ref().map(|c| u64::from(c.value)));
        let timeout_ms = opt_u64(tool.timeout_ms.as_ref().map(|t| t.value));
        quote! {
            ::mcpgen::ToolDef {
                name: #name,
                title: #title,
                description: #description,
                access: #access,
                scopes: &[#(#scopes),*],
                public: #public,
                record: #record,
                annotations: #annotations,
                declared_at: #declared_at,
                input_type: #input_name,
                input_schema: ::mcpgen::__private::input_schema::<#input>,
                output_schema: ::mcpgen::__private::output_schema::<#output>,
                calls_per_minute: #calls_per_minute,
                timeout_ms: #timeout_ms,
                call: #shim,
            }
        }
    }

    fn manifest_spec(&self) -> TokenStream {
        let m = self.model;
        let server_name = &m.server.name.value;
        let server_title = opt_str(m.server.title.as_deref());
        let instructions = opt_str(m.server.instructions.as_deref());
        let uri = &m.resource.uri.value;
        let auth = m
            .resource
            .authorization_servers
            .value
            .iter()
            .map(|s| &s.value);
        let doc = opt_str(m.resource.documentation.as_ref().map(|d| d.value.as_str()));
        let mut scopes: Vec<&Scope> = m.scopes.iter().collect();
        scopes.sort_by(|a, b| a.name.value.cmp(&b.name.value));
        let scopes = scopes.iter().map(|s| {
            let name = &s.name.value;
            let description = &s.description.value;
            let access = access_tokens(s.access.value);
            quote!(::mcpgen::__private::ScopeSpec { name: #name, description: #description, access: #access })
        });
        let records = m.records.iter().map(|r| {
            let (kind, table, id, owner) = (&r.kind.value, &r.table.value, &r.id.value, &r.owner.value);
            quote!(::mcpgen::__private::RecordSpec { kind: #kind, table: #table, id: #id, owner: #owner })
        });
        let environments = m.environments.iter().map(|e| {
            let name = &e.name.value;
            let runtime = format_ident!("{}", format!("{:?}", e.runtime.value));
            let data = format_ident!("{}", format!("{:?}", e.data.value));
            let writes = e.writes();
            let enabled = e.enabled;
            quote!(::mcpgen::__private::EnvironmentSpec {
                name: #name,
                runtime: ::mcpgen::__private::RuntimeKind::#runtime,
                data: ::mcpgen::__private::DataKind::#data,
                writes: #writes,
                enabled: #enabled,
            })
        });
        let clients = m.clients.iter().map(|c| {
            let id = &c.client_id.value;
            let tools = c.tools.iter().map(|t| &t.value);
            quote!(::mcpgen::__private::ClientSpec { client_id: #id, tools: &[#(#tools),*] })
        });
        let limit_calls = opt_u64(
            m.limits
                .calls_per_minute
                .as_ref()
                .map(|c| u64::from(c.value)),
        );
        let limit_timeout = opt_u64(m.limits.timeout_ms.as_ref().map(|t| t.value));
        quote! {
            ::mcpgen::__private::ManifestSpec {
                server: ::mcpgen::__private::ServerSpec {
                    name: #server_name,
                    title: #server_title,
                    instructions: #instructions,
                },
                resource: ::mcpgen::__private::ResourceSpec {
                    uri: #uri,
                    authorization_servers: &[#(#auth),*],
                    documentation: #doc,
                },
                scopes: &[#(#scopes),*],
                records: &[#(#records),*],
                environments: &[#(#environments),*],
                clients: &[#(#clients),*],
                limits: ::mcpgen::__private::LimitsSpec {
                    calls_per_minute: #limit_calls,
                    timeout_ms: #limit_timeout,
                },
            }
        }
    }

    fn tests(&self) -> TokenStream {
        let self_ty = &self.item.self_ty;
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
                    ::mcpgen::__private::check_tool::<#self_ty>(#name);
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
                    if let ::core::result::Result::Err(e) = <#self_ty as ::mcpgen::Tools>::registry() {
                        ::core::panic!("{e}");
                    }
                }

                #(#policy)*
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
        impl ::mcpgen::Tools for #self_ty {
            fn manifest() -> &'static ::mcpgen::__private::ManifestSpec {
                ::core::unimplemented!("the #[mcpgen::tools] checks failed")
            }
            fn definitions() -> &'static [::mcpgen::ToolDef<Self>] {
                ::core::unimplemented!("the #[mcpgen::tools] checks failed")
            }
        }
    }
}

fn opt_str(s: Option<&str>) -> TokenStream {
    match s {
        Some(s) => quote!(::core::option::Option::Some(#s)),
        None => quote!(::core::option::Option::None),
    }
}

fn opt_u64(v: Option<u64>) -> TokenStream {
    match v {
        Some(v) => quote!(::core::option::Option::Some(#v)),
        None => quote!(::core::option::Option::None),
    }
}

fn access_tokens(a: Access) -> TokenStream {
    match a {
        Access::Read => quote!(::mcpgen::__private::Access::Read),
        Access::Write => quote!(::mcpgen::__private::Access::Write),
    }
}

/// MCP hints, derived from the access: a read tool is read-only; a write
/// tool is destructive and not idempotent unless it says otherwise (the
/// spec's own defaults, which err on the side of caution).
fn annotations(tool: &Tool) -> TokenStream {
    let a = &tool.annotations;
    let open_world = a.open_world.as_ref().is_some_and(|v| v.value);
    let none = quote!(::core::option::Option::None);
    let (read_only, destructive, idempotent) = match tool.access.value {
        Access::Read => (true, none.clone(), none),
        Access::Write => {
            let d = a.destructive.as_ref().is_none_or(|v| v.value);
            let i = a.idempotent.as_ref().is_some_and(|v| v.value);
            (
                false,
                quote!(::core::option::Option::Some(#d)),
                quote!(::core::option::Option::Some(#i)),
            )
        }
    };
    quote! {
        ::mcpgen::__private::Annotations {
            read_only_hint: #read_only,
            destructive_hint: #destructive,
            idempotent_hint: #idempotent,
            open_world_hint: #open_world,
        }
    }
}

/// The span to blame for errors about the impl block as a whole.
pub fn impl_span(item: &ItemImpl) -> Span {
    item.self_ty.span()
}
