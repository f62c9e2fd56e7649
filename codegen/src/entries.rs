//! Resource and prompt handlers: the `#[resource]` and `#[prompt]` methods
//! of the impl block, their bijection with `[resources]` and `[prompts]`,
//! the binding of a template's variables to a resource handler's
//! parameters (by name), and the code generated for them: definitions,
//! shims, and the type checks rustc makes on the user's tokens (a read
//! context only; an owned record only where the entry names its kind).

use proc_macro2::{Span, TokenStream};
use quote::{format_ident, quote, quote_spanned};
use syn::spanned::Spanned;
use syn::{FnArg, ImplItem, ItemImpl, LitStr, Pat, ReturnType, Type};

use crate::bind::{type_to_string, with_lifetimes, with_static_lifetimes};
use crate::check::suggest;
use crate::ctxt::Ctxt;
use crate::model::{McpResource, Model, Prompt};

/// Resource or prompt.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// `#[resource]`.
    Resource,
    /// `#[prompt]`.
    Prompt,
}

impl Kind {
    fn word(self) -> &'static str {
        match self {
            Kind::Resource => "resource",
            Kind::Prompt => "prompt",
        }
    }
}

/// One `#[resource]` or `#[prompt]` method.
#[derive(Debug, Clone)]
pub struct EntryHandler {
    /// Which attribute.
    pub kind: Kind,
    /// The method name.
    pub fn_ident: syn::Ident,
    /// The entry name: the method name, or `name = "..."`.
    pub name: String,
    /// Where the name is written.
    pub name_span: Span,
    /// The context parameter's type.
    pub cx_ty: Type,
    /// The parameters after the context: a resource's template variables
    /// (by name), or a prompt's one arguments type.
    pub params: Vec<(syn::Ident, Type)>,
    /// The return type.
    pub output_ty: Type,
}

/// The `#[resource]` and `#[prompt]` methods of an impl block.
#[derive(Debug, Clone, Default)]
pub struct EntryHandlers {
    /// Methods whose signatures are acceptable.
    pub ok: Vec<EntryHandler>,
    /// Entries whose method was rejected for its signature.
    pub rejected: Vec<(Kind, String)>,
}

/// Collect the `#[resource]` and `#[prompt]` methods, removing the
/// attributes, and check their signatures.
pub fn handlers(cx: &Ctxt, item: &mut ItemImpl) -> EntryHandlers {
    let mut out = EntryHandlers::default();
    for impl_item in &mut item.items {
        let ImplItem::Fn(method) = impl_item else {
            continue;
        };
        let mut found: Option<(Kind, syn::Attribute)> = None;
        let mut also_tool = false;
        method.attrs.retain(|a| {
            let kind = if a.path().is_ident("resource") {
                Kind::Resource
            } else if a.path().is_ident("prompt") {
                Kind::Prompt
            } else {
                also_tool |= a.path().is_ident("tool");
                return true;
            };
            if found.is_some() {
                cx.error_spanned_by(a, "a method is one resource or one prompt, not both");
            } else {
                found = Some((kind, a.clone()));
            }
            false
        });
        let Some((kind, attr)) = found else { continue };
        if also_tool {
            cx.error_spanned_by(
                &attr,
                format!("a method is a tool or a {}, not both", kind.word()),
            );
        }
        match handler(cx, kind, &attr, method) {
            Ok(h) => {
                if let Some(prev) = out.ok.iter().find(|p| p.kind == kind && p.name == h.name) {
                    cx.error_at(
                        h.name_span,
                        format!(
                            "{} `{}` already has a handler, the method `{}`",
                            kind.word(),
                            h.name,
                            prev.fn_ident
                        ),
                    );
                    continue;
                }
                out.ok.push(h);
            }
            Err(name) => out.rejected.push((kind, name)),
        }
    }
    out
}

fn handler(
    cx: &Ctxt,
    kind: Kind,
    attr: &syn::Attribute,
    method: &syn::ImplItemFn,
) -> Result<EntryHandler, String> {
    let sig = &method.sig;
    let word = kind.word();
    let mut name: Option<LitStr> = None;
    if !matches!(attr.meta, syn::Meta::Path(_)) {
        let parsed = attr.parse_nested_meta(|meta| {
            if meta.path.is_ident("name") {
                name = Some(meta.value()?.parse()?);
                Ok(())
            } else {
                Err(meta.error(format!(
                    "unknown `#[{word}]` option; the only option is `name = \"...\"`"
                )))
            }
        });
        if let Err(e) = parsed {
            cx.syn_error(e);
        }
    }
    let (entry_name, name_span) = match &name {
        Some(lit) => (lit.value(), lit.span()),
        None => (sig.ident.to_string(), sig.ident.span()),
    };
    let mut ok = true;
    if sig.asyncness.is_none() {
        cx.error_spanned_by(
            sig.fn_token,
            format!("{word} handler `{}` must be `async fn`", sig.ident),
        );
        ok = false;
    }
    if !sig.generics.params.is_empty() {
        cx.error_spanned_by(
            &sig.generics,
            format!(
                "{word} handler `{}` cannot have generic parameters; write `ReadCx<'_>` with an elided lifetime",
                sig.ident
            ),
        );
        ok = false;
    }
    let mut inputs = sig.inputs.iter();
    match inputs.next() {
        Some(FnArg::Receiver(r)) if r.reference.is_some() && r.mutability.is_none() => {}
        _ => {
            cx.error_spanned_by(
                &sig.ident,
                format!(
                    "{word} handler `{}` takes `&self` first: `async fn {}(&self, cx: ReadCx<'_>, ..)`",
                    sig.ident, sig.ident
                ),
            );
            ok = false;
        }
    }
    let typed: Vec<&syn::PatType> = inputs
        .filter_map(|a| match a {
            FnArg::Typed(t) => Some(t),
            FnArg::Receiver(_) => None,
        })
        .collect();
    let Some(first) = typed.first() else {
        cx.error_spanned_by(
            &sig.ident,
            format!(
                "{word} handler `{}` needs a context after `&self`: `cx: ReadCx<'_>` (resources and prompts only read)",
                sig.ident
            ),
        );
        return Err(entry_name);
    };
    let mut params = Vec::new();
    for t in typed.iter().skip(1) {
        match &*t.pat {
            Pat::Ident(p) => params.push((p.ident.clone(), (*t.ty).clone())),
            other => {
                cx.error_spanned_by(
                    other,
                    format!("bind {word} handler parameters to a plain name"),
                );
                ok = false;
            }
        }
    }
    if kind == Kind::Prompt && params.len() > 1 {
        cx.error_spanned_by(
            &params[1].0,
            format!(
                "prompt handler `{}` takes a context and at most one arguments type: put every argument in one struct",
                sig.ident
            ),
        );
        ok = false;
    }
    let output_ty = match &sig.output {
        ReturnType::Type(_, ty) => (**ty).clone(),
        ReturnType::Default => {
            let wanted = match kind {
                Kind::Resource => "ToolResult<ResourceContents>",
                Kind::Prompt => "ToolResult<Vec<PromptMessage>>",
            };
            cx.error_spanned_by(
                &sig.ident,
                format!("{word} handler `{}` must return `{wanted}`", sig.ident),
            );
            return Err(entry_name);
        }
    };
    if !ok {
        return Err(entry_name);
    }
    Ok(EntryHandler {
        kind,
        fn_ident: sig.ident.clone(),
        name: entry_name,
        name_span,
        cx_ty: (*first.ty).clone(),
        params,
        output_ty,
    })
}

/// Every `[resources]` and `[prompts]` entry has a handler and every
/// handler an entry; a resource handler's parameters are exactly its
/// template's variables.
pub fn bijection(
    cx: &Ctxt,
    model: &Model,
    left_out: &[(String, String)],
    handlers: &EntryHandlers,
    manifest_file: &str,
    impl_span: Span,
) {
    let unreadable =
        |section: &str, name: &str| left_out.iter().any(|(s, n)| s == section && n == name);
    for h in &handlers.ok {
        let (section, declared) = match h.kind {
            Kind::Resource => ("resources", model.mcp_resource(&h.name).is_some()),
            Kind::Prompt => ("prompts", model.prompt(&h.name).is_some()),
        };
        if declared || unreadable(section, &h.name) {
            if let Some(r) = model
                .mcp_resource(&h.name)
                .filter(|_| h.kind == Kind::Resource)
            {
                variables(cx, r, h, manifest_file);
            }
            continue;
        }
        let names: Vec<&str> = match h.kind {
            Kind::Resource => model
                .resources
                .iter()
                .map(|r| r.name.value.as_str())
                .collect(),
            Kind::Prompt => model
                .prompts
                .iter()
                .map(|p| p.name.value.as_str())
                .collect(),
        };
        let example = match h.kind {
            Kind::Resource => {
                let vars: Vec<String> = h.params.iter().map(|(p, _)| format!("{{{p}}}")).collect();
                if vars.is_empty() {
                    format!("uri = \"{}://{}\"", model.server.name.value, h.name)
                } else {
                    format!("uri_template = \"{}://{}\"", h.name, vars.join("/"))
                }
            }
            Kind::Prompt => String::new(),
        };
        cx.error_at(
            h.name_span,
            format!(
                "handler `{name}` has no entry in {manifest_file}{hint}: declare it there, e.g.\n\n\
                 [{section}.{name}]\n\
                 description = \"What it is, for the model\"\n\
                 {example}{nl}scopes = [{scope}]\n",
                name = h.name,
                hint = suggest(&h.name, names.iter().copied()),
                nl = if example.is_empty() { "" } else { "\n" },
                scope = model
                    .scopes
                    .iter()
                    .find(|s| s.access.value == crate::model::Access::Read)
                    .map_or("\"<scope>\"".to_owned(), |s| format!(
                        "\"{}\"",
                        s.name.value
                    )),
            ),
        );
    }
    let has = |kind: Kind, name: &str| {
        handlers.ok.iter().any(|h| h.kind == kind && h.name == name)
            || handlers
                .rejected
                .iter()
                .any(|(k, n)| *k == kind && n == name)
    };
    for r in &model.resources {
        if has(Kind::Resource, &r.name.value) {
            continue;
        }
        let params: String = r
            .variables()
            .iter()
            .map(|v| format!(", {v}: String"))
            .collect();
        cx.error_at(
            impl_span,
            format!(
                "{manifest_file}:{loc}: resource `{name}` has no handler: add to this impl block\n\n    \
                 #[resource]\n    async fn {fn_name}(&self, cx: ReadCx<'_>{params}) -> ToolResult<ResourceContents> {{ .. }}\n",
                loc = r.name.loc,
                name = r.name.value,
                fn_name = r.name.value.replace(['.', '-'], "_"),
            ),
        );
    }
    for p in &model.prompts {
        if has(Kind::Prompt, &p.name.value) {
            continue;
        }
        cx.error_at(
            impl_span,
            format!(
                "{manifest_file}:{loc}: prompt `{name}` has no handler: add to this impl block\n\n    \
                 #[prompt]\n    async fn {fn_name}(&self, cx: ReadCx<'_>, args: Arguments) -> ToolResult<Vec<PromptMessage>> {{ .. }}\n",
                loc = p.name.loc,
                name = p.name.value,
                fn_name = p.name.value.replace(['.', '-'], "_"),
            ),
        );
    }
}

/// A resource handler's parameters are its template's variables, by name.
fn variables(cx: &Ctxt, r: &McpResource, h: &EntryHandler, manifest_file: &str) {
    // An invalid URI or template is reported against the manifest; its
    // variables are unknown, so nothing more is said about them.
    if r.uri_text()
        .is_none_or(|u| mcpgen_spec::UriTemplate::parse(&u.value).is_err())
    {
        return;
    }
    let vars = r.variables();
    let at = r.uri_text().map_or(r.name.loc, |u| u.loc);
    for (param, _) in &h.params {
        if !vars.iter().any(|v| param == v) {
            let shown = r.uri_text().map_or("", |u| u.value.as_str());
            cx.error_spanned_by(
                param,
                if vars.is_empty() {
                    format!(
                        "resource `{}` has the fixed URI {shown:?} ({manifest_file}:{at}), so its handler takes no parameter \
                         after the context: remove `{param}`, or make it a template variable (`uri_template`)",
                        r.name.value
                    )
                } else {
                    format!(
                        "parameter `{param}` is not a variable of the URI template {shown:?} ({manifest_file}:{at}), \
                         which has {}: name each parameter after a variable",
                        vars.iter().map(|v| format!("`{v}`")).collect::<Vec<_>>().join(", ")
                    )
                },
            );
        }
    }
    for v in &vars {
        if !h.params.iter().any(|(p, _)| p == v) {
            cx.error_at(
                h.name_span,
                format!(
                    "the URI template of resource `{}` ({manifest_file}:{at}) has the variable `{v}`, which the handler \
                     does not take: add a parameter `{v}: String` (or `{v}: Owned<R>` for a record)",
                    r.name.value
                ),
            );
        }
    }
}

/// The code for the resource and prompt handlers that have entries.
pub(crate) struct EntryExpansion<'a> {
    pub(crate) item: &'a ItemImpl,
    pub(crate) model: &'a Model,
    pub(crate) handlers: &'a [EntryHandler],
    pub(crate) label: &'a str,
}

impl EntryExpansion<'_> {
    fn resources(&self) -> Vec<(&McpResource, &EntryHandler)> {
        self.model
            .resources
            .iter()
            .filter_map(|r| {
                let h = self
                    .handlers
                    .iter()
                    .find(|h| h.kind == Kind::Resource && h.name == r.name.value)?;
                Some((r, h))
            })
            .collect()
    }

    fn prompts(&self) -> Vec<(&Prompt, &EntryHandler)> {
        self.model
            .prompts
            .iter()
            .filter_map(|p| {
                let h = self
                    .handlers
                    .iter()
                    .find(|h| h.kind == Kind::Prompt && h.name == p.name.value)?;
                Some((p, h))
            })
            .collect()
    }

    /// The type checks of every entry that has a handler (emitted also
    /// when other checks failed).
    pub(crate) fn checks(&self) -> TokenStream {
        let mut out = TokenStream::new();
        for (r, h) in self.resources() {
            out.extend(self.context_check(
                "resource",
                &r.name.value,
                &r.declared_at(self.label),
                h,
            ));
            for (param, ty) in &h.params {
                out.extend(self.record_check(r, param, ty));
            }
        }
        for (p, h) in self.prompts() {
            out.extend(self.context_check("prompt", &p.name.value, &p.declared_at(self.label), h));
        }
        out
    }

    fn context_check(&self, word: &str, name: &str, at: &str, h: &EntryHandler) -> TokenStream {
        let cx_ty = with_static_lifetimes(&h.cx_ty);
        let msg = format!(
            "{word} `{name}` ({at}) only reads, but its handler takes `{}`: write `cx: ReadCx<'_>` \
             (a write belongs in a tool with a write scope)",
            type_to_string(&h.cx_ty)
        );
        quote_spanned! {h.cx_ty.span()=>
            const _: () = if !::mcpgen::__private::context_grants::<#cx_ty>(::mcpgen::__private::spec::Access::Read) {
                ::core::panic!(#msg)
            };
        }
    }

    fn record_check(&self, r: &McpResource, param: &syn::Ident, ty: &Type) -> TokenStream {
        let name = &r.name.value;
        let at = r.declared_at(self.label);
        let ty_static = with_static_lifetimes(ty);
        let written = type_to_string(ty);
        let span = ty.span();
        match &r.records {
            None => {
                let msg = format!(
                    "resource `{name}` takes an owned record (`{param}: {written}`) but [resources.{name}] ({at}) has no \
                     record rule: add `records = \"<kind>\"` naming the [records] entry for it, so the owner check applies"
                );
                quote_spanned! {span=>
                    const _: () = if ::mcpgen::__private::template_loads_record::<#ty_static>() {
                        ::core::panic!(#msg)
                    };
                }
            }
            Some(kind) if self.model.record(&kind.value).is_none() => TokenStream::new(),
            Some(kind) => {
                let kind = &kind.value;
                let msg = format!(
                    "resource `{name}` is declared `records = \"{kind}\"` ({at}) but its handler takes `{written}`, \
                     a record of another kind: take `Owned<R>` where `R: Record<KIND = \"{kind}\">`, or fix `records`"
                );
                quote_spanned! {span=>
                    const _: () = if !::mcpgen::__private::template_record_kind_is::<#ty_static>(#kind) {
                        ::core::panic!(#msg)
                    };
                }
            }
        }
    }

    /// The shims, the definitions, and the `Tools` methods that list them.
    pub(crate) fn expand(&self) -> (TokenStream, TokenStream) {
        let self_ty = &self.item.self_ty;
        let resources = self.resources();
        let prompts = self.prompts();
        let mut shims = TokenStream::new();
        let mut resource_defs = Vec::new();
        for (r, h) in &resources {
            let shim = format_ident!("__mcpgen_read_{}", h.fn_ident);
            let method = &h.fn_ident;
            let cx_ty = with_lifetimes(&h.cx_ty, "'a");
            let vars = r.variables();
            let binds = h.params.iter().map(|(param, ty)| {
                let index = vars.iter().position(|v| param == v).unwrap_or(usize::MAX);
                let ty = with_static_lifetimes(ty);
                quote_spanned! {ty.span()=>
                    let #param = <#ty as ::mcpgen::__private::TemplateArg>::from_variable(
                        values.get_mut(#index).map(::core::mem::take).unwrap_or_default(),
                        inv,
                    )
                    .await?;
                }
            });
            let args = h.params.iter().map(|(p, _)| p);
            let output = &h.output_ty;
            shims.extend(quote! {
                #[allow(unused_mut)]
                fn #shim<'a>(
                    this: &'a #self_ty,
                    inv: ::mcpgen::__private::Invocation<'a>,
                    mut values: ::std::vec::Vec<::std::string::String>,
                ) -> ::mcpgen::__private::BoxFuture<
                    'a,
                    ::core::result::Result<::mcpgen::ResourceContents, ::mcpgen::__private::ToolError>,
                > {
                    ::std::boxed::Box::pin(async move {
                        let cx: #cx_ty = ::mcpgen::__private::ToolContext::from_invocation(inv)?;
                        #(#binds)*
                        let result: #output = <#self_ty>::#method(this, cx #(, #args)*).await;
                        result
                    })
                }
            });
            let spec = r.spec(self.label);
            resource_defs.push(quote! {
                ::mcpgen::__private::ResourceDef { spec: #spec, read: #shim }
            });
        }
        let mut prompt_defs = Vec::new();
        for (p, h) in &prompts {
            let shim = format_ident!("__mcpgen_get_{}", h.fn_ident);
            let method = &h.fn_ident;
            let cx_ty = with_lifetimes(&h.cx_ty, "'a");
            let output = &h.output_ty;
            let (args_ty, call): (Type, TokenStream) = match h.params.first() {
                Some((_, ty)) => {
                    let ty = with_static_lifetimes(ty);
                    (
                        ty.clone(),
                        quote_spanned! {ty.span()=>
                            let args = <#ty as ::mcpgen::__private::PromptArguments>::from_arguments(arguments)?;
                            let result: #output = <#self_ty>::#method(this, cx, args).await;
                        },
                    )
                }
                None => (
                    syn::parse_quote!(::mcpgen::__private::NoArguments),
                    quote! {
                        let _: ::mcpgen::__private::NoArguments =
                            <::mcpgen::__private::NoArguments as ::mcpgen::__private::PromptArguments>::from_arguments(arguments)?;
                        let result: #output = <#self_ty>::#method(this, cx).await;
                    },
                ),
            };
            shims.extend(quote! {
                fn #shim<'a>(
                    this: &'a #self_ty,
                    inv: ::mcpgen::__private::Invocation<'a>,
                    arguments: ::mcpgen::__private::Value,
                ) -> ::mcpgen::__private::BoxFuture<
                    'a,
                    ::core::result::Result<::std::vec::Vec<::mcpgen::PromptMessage>, ::mcpgen::__private::ToolError>,
                > {
                    ::std::boxed::Box::pin(async move {
                        let cx: #cx_ty = ::mcpgen::__private::ToolContext::from_invocation(inv)?;
                        #call
                        result
                    })
                }
            });
            let spec = p.spec(self.label);
            prompt_defs.push(quote! {
                ::mcpgen::__private::PromptDef {
                    spec: #spec,
                    arguments: ::mcpgen::__private::prompt_arguments_schema::<#args_ty>,
                    get: #shim,
                }
            });
        }
        // A server without resources (or prompts) keeps the runtime's
        // defaults: nothing to generate.
        let mut statics = shims;
        let mut methods = TokenStream::new();
        if !resource_defs.is_empty() {
            let n = resource_defs.len();
            statics.extend(quote! {
                static __MCPGEN_RESOURCES: [::mcpgen::__private::ResourceDef<#self_ty>; #n] = [#(#resource_defs),*];
            });
            methods.extend(quote! {
                fn resources() -> &'static [::mcpgen::__private::ResourceDef<Self>] {
                    &__MCPGEN_RESOURCES
                }
            });
        }
        if !prompt_defs.is_empty() {
            let n = prompt_defs.len();
            statics.extend(quote! {
                static __MCPGEN_PROMPTS: [::mcpgen::__private::PromptDef<#self_ty>; #n] = [#(#prompt_defs),*];
            });
            methods.extend(quote! {
                fn prompts() -> &'static [::mcpgen::__private::PromptDef<Self>] {
                    &__MCPGEN_PROMPTS
                }
            });
        }
        (statics, methods)
    }
}
