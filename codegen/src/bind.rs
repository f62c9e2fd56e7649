//! The handler side: `#[tool]` methods of the impl block, their signatures,
//! and the bijection between handlers and manifest tools.

use proc_macro2::Span;
use syn::spanned::Spanned;
use syn::visit_mut::VisitMut;
use syn::{FnArg, ImplItem, ItemImpl, LitStr, Pat, ReturnType, Type};

use crate::check::{BUILT_IN_TOOLS, is_valid_tool_name, suggest};
use crate::ctxt::Ctxt;
use crate::model::{Access, Model};

/// One `#[tool]` method.
#[derive(Debug, Clone)]
pub struct Handler {
    /// The method name.
    pub fn_ident: syn::Ident,
    /// The tool name: the method name, or `#[tool(name = "...")]`.
    pub name: String,
    /// Where the tool name is written.
    pub name_span: Span,
    /// The context parameter's type, as written.
    pub cx_ty: Type,
    /// The input parameter's type, if the handler takes one.
    pub input_ty: Option<Type>,
    /// The return type, as written.
    pub output_ty: Type,
}

/// The `#[tool]` methods of an impl block.
#[derive(Debug, Clone, Default)]
pub struct Handlers {
    /// Methods whose signatures are acceptable.
    pub ok: Vec<Handler>,
    /// Tool names of `#[tool]` methods rejected for their signature: they
    /// exist, so the manifest entry is not reported as lacking a handler.
    pub rejected: Vec<String>,
}

/// Collect the `#[tool]` methods, removing the attribute, and check their
/// signatures. Methods without `#[tool]` are left alone.
pub fn handlers(cx: &Ctxt, item: &mut ItemImpl) -> Handlers {
    if !item.generics.params.is_empty() {
        cx.error_spanned_by(
            &item.generics,
            "a `#[mcpgen::tools]` impl block cannot be generic: implement the tools on a concrete server type",
        );
    }
    if let Some((_, path, _)) = &item.trait_ {
        cx.error_spanned_by(
            path,
            "`#[mcpgen::tools]` goes on an inherent impl block (`impl Notes { .. }`), not a trait impl",
        );
    }
    let mut out = Handlers::default();
    for impl_item in &mut item.items {
        let ImplItem::Fn(method) = impl_item else {
            continue;
        };
        let mut tool_attr = None;
        method.attrs.retain(|a| {
            if a.path().is_ident("tool") {
                tool_attr = Some(a.clone());
                false
            } else {
                true
            }
        });
        let Some(attr) = tool_attr else { continue };
        match handler(cx, &attr, method) {
            Ok(h) => {
                if let Some(prev) = out.ok.iter().find(|p| p.name == h.name) {
                    cx.error_at(
                        h.name_span,
                        format!(
                            "tool `{}` already has a handler, the method `{}`: each tool has exactly one",
                            h.name, prev.fn_ident
                        ),
                    );
                    continue;
                }
                out.ok.push(h);
            }
            Err(name) => out.rejected.push(name),
        }
    }
    out
}

/// A checked handler, or the tool name of a rejected one.
fn handler(cx: &Ctxt, attr: &syn::Attribute, method: &syn::ImplItemFn) -> Result<Handler, String> {
    let sig = &method.sig;
    let mut name: Option<LitStr> = None;
    if !matches!(attr.meta, syn::Meta::Path(_)) {
        let parsed = attr.parse_nested_meta(|meta| {
            if meta.path.is_ident("name") {
                name = Some(meta.value()?.parse()?);
                Ok(())
            } else {
                Err(meta
                    .error("unknown `#[tool]` option; the only option is `name = \"tool.name\"`"))
            }
        });
        if let Err(e) = parsed {
            cx.syn_error(e);
        }
    }
    let (tool_name, name_span) = match &name {
        Some(lit) => (lit.value(), lit.span()),
        None => (sig.ident.to_string(), sig.ident.span()),
    };
    if !is_valid_tool_name(&tool_name) {
        cx.error_at(
            name_span,
            format!(
                "tool name {tool_name:?} breaks the MCP naming rule: 1 to 128 characters from A-Z a-z 0-9 `_` `-` `.`"
            ),
        );
    }

    let mut ok = true;
    if sig.asyncness.is_none() {
        cx.error_spanned_by(
            sig.fn_token,
            format!("tool handler `{}` must be `async fn`", sig.ident),
        );
        ok = false;
    }
    if !sig.generics.params.is_empty() {
        cx.error_spanned_by(
            &sig.generics,
            format!(
                "tool handler `{}` cannot have generic parameters; write `ReadCx<'_>` / `WriteCx<'_>` with an elided lifetime",
                sig.ident
            ),
        );
        ok = false;
    }
    let mut inputs = sig.inputs.iter();
    match inputs.next() {
        Some(FnArg::Receiver(r)) if r.reference.is_some() && r.mutability.is_none() => {}
        Some(other @ FnArg::Receiver(_)) => {
            cx.error_spanned_by(
                other,
                format!(
                    "tool handler `{}` takes `&self`: the server is shared by concurrent calls",
                    sig.ident
                ),
            );
            ok = false;
        }
        _ => {
            cx.error_spanned_by(
                &sig.ident,
                format!(
                    "tool handler `{}` needs `&self` first: `async fn {}(&self, cx: ReadCx<'_>, input: Input)`",
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
    let cx_ty = match typed.first() {
        Some(t) => (*t.ty).clone(),
        None => {
            cx.error_spanned_by(
                &sig.ident,
                format!(
                    "tool handler `{}` needs a context after `&self`: `cx: ReadCx<'_>` for a read tool, `cx: WriteCx<'_>` for a write tool",
                    sig.ident
                ),
            );
            return Err(tool_name);
        }
    };
    for extra in typed.iter().skip(2) {
        cx.error_spanned_by(
            extra,
            format!(
                "tool handler `{}` takes a context and at most one input: put every argument in one input struct",
                sig.ident
            ),
        );
        ok = false;
    }
    for t in &typed {
        if !matches!(*t.pat, Pat::Ident(_) | Pat::Wild(_)) {
            cx.error_spanned_by(&t.pat, "bind tool handler arguments to a plain name");
            ok = false;
        }
    }
    let input_ty = typed.get(1).map(|t| (*t.ty).clone());
    let output_ty = match &sig.output {
        ReturnType::Type(_, ty) => (**ty).clone(),
        ReturnType::Default => {
            cx.error_spanned_by(
                &sig.ident,
                format!(
                    "tool handler `{}` must return `ToolResult<T>`, where `T` is the structured result",
                    sig.ident
                ),
            );
            return Err(tool_name);
        }
    };
    if !ok {
        return Err(tool_name);
    }
    Ok(Handler {
        fn_ident: sig.ident.clone(),
        name: tool_name,
        name_span,
        cx_ty,
        input_ty,
        output_ty,
    })
}

/// Check that every manifest tool has a handler and every handler a
/// manifest tool.
pub fn bijection(
    cx: &Ctxt,
    model: &Model,
    unreadable: &[&str],
    handlers: &Handlers,
    manifest_file: &str,
    impl_span: Span,
) {
    for h in &handlers.ok {
        // An entry that could not be read is reported as such already.
        if model.tool(&h.name).is_some() || unreadable.contains(&h.name.as_str()) {
            continue;
        }
        if BUILT_IN_TOOLS.contains(&h.name.as_str()) {
            cx.error_at(
                h.name_span,
                format!(
                    "`{}` is built into every mcpgen server; rename this handler",
                    h.name
                ),
            );
            continue;
        }
        // A hint only: the access is enforced by type checks once declared.
        let access = if last_segment_is(&h.cx_ty, "WriteCx") {
            Access::Write
        } else {
            Access::Read
        };
        cx.error_at(
            h.name_span,
            format!(
                "handler `{name}` has no entry in {manifest_file}{hint}: declare it there, e.g.\n\n\
                 [tools.{key}]\n\
                 description = \"What it does, for the model\"\n\
                 access = \"{access}\"\n\
                 scopes = [{scope}]\n",
                name = h.name,
                key = toml_key(&h.name),
                access = access.as_str(),
                hint = suggest(&h.name, model.tools.iter().map(|t| t.name.value.as_str())),
                scope = model
                    .scopes
                    .iter()
                    .find(|s| s.access.value == access)
                    .map_or("\"<scope>\"".to_owned(), |s| format!(
                        "\"{}\"",
                        s.name.value
                    )),
            ),
        );
    }
    for tool in &model.tools {
        if handlers.ok.iter().any(|h| h.name == tool.name.value)
            || handlers.rejected.contains(&tool.name.value)
        {
            continue;
        }
        let cx_ty = match tool.access.value {
            Access::Read => "ReadCx<'_>",
            Access::Write => "WriteCx<'_>",
        };
        let attr = if tool.name.value.contains(['.', '-']) {
            format!("#[tool(name = \"{}\")]", tool.name.value)
        } else {
            "#[tool]".to_owned()
        };
        let fn_name = tool.name.value.replace(['.', '-'], "_");
        cx.error_at(
            impl_span,
            format!(
                "{manifest_file}:{loc}: tool `{name}` has no handler{hint}: add to this impl block\n\n    \
                 {attr}\n    async fn {fn_name}(&self, cx: {cx_ty}, input: Input) -> ToolResult<Output> {{ .. }}\n",
                loc = tool.name.loc,
                name = tool.name.value,
                hint = suggest(&tool.name.value, handlers.ok.iter().map(|h| h.name.as_str())),
            ),
        );
    }
}

/// `ty` with every lifetime replaced by `'static`, for compile-time checks
/// in const items (where elided lifetimes are not allowed).
pub fn with_static_lifetimes(ty: &Type) -> Type {
    with_lifetimes(ty, "'static")
}

/// A type as a person would write it, for messages.
pub fn type_to_string(ty: &Type) -> String {
    let raw = quote::quote!(#ty).to_string();
    let mut s = raw
        .replace(" < ", "<")
        .replace("< ", "<")
        .replace(" <", "<")
        .replace(" >", ">")
        .replace(" :: ", "::")
        .replace(" , ", ", ")
        .replace("& ", "&")
        .replace("' ", "'");
    if s.ends_with(" ") {
        s.pop();
    }
    s
}

fn last_segment_is(ty: &Type, name: &str) -> bool {
    matches!(ty, Type::Path(p) if p.path.segments.last().is_some_and(|s| s.ident == name))
}

/// A tool name as a TOML table key: bare when it can be, quoted otherwise.
fn toml_key(name: &str) -> String {
    if name
        .bytes()
        .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-')
    {
        name.to_owned()
    } else {
        format!("{name:?}")
    }
}

/// `ty` with every lifetime replaced by `lifetime`.
pub fn with_lifetimes(ty: &Type, lifetime: &str) -> Type {
    struct Replace<'l>(&'l str);
    impl VisitMut for Replace<'_> {
        fn visit_lifetime_mut(&mut self, l: &mut syn::Lifetime) {
            *l = syn::Lifetime::new(self.0, l.span());
        }
        fn visit_type_reference_mut(&mut self, r: &mut syn::TypeReference) {
            if r.lifetime.is_none() {
                r.lifetime = Some(syn::Lifetime::new(self.0, r.and_token.span()));
            }
            syn::visit_mut::visit_type_reference_mut(self, r);
        }
    }
    let mut ty = ty.clone();
    Replace(lifetime).visit_type_mut(&mut ty);
    ty
}
