//! `#[derive(mcpgen::Record)]`: a record kind from its manifest entry. The
//! struct's fields are the columns a query selects; the `[records.<kind>]`
//! entry says which one is the id (and so the id's type). Generated: the
//! kind, the column list, a decoder by position for the runtime's own
//! queries, and `FromRow` by name for hand-written ones.

use proc_macro2::{Span, TokenStream};
use quote::quote;
use syn::{DeriveInput, LitStr};

use crate::Env;
use crate::ctxt::Ctxt;
use crate::manifest;

/// `#[record(kind = "...", manifest = "...")]`.
#[derive(Default)]
struct RecordArgs {
    kind: Option<LitStr>,
    manifest: Option<LitStr>,
}

/// The derive's expansion, or its errors.
pub fn derive(input: TokenStream, env: &Env) -> TokenStream {
    let input: DeriveInput = match syn::parse2(input) {
        Ok(i) => i,
        Err(e) => return e.to_compile_error(),
    };
    let cx = Ctxt::new();
    let out = expand(&cx, &input, env);
    match cx.check() {
        Ok(()) => out,
        Err(e) => e.to_compile_error(),
    }
}

fn expand(cx: &Ctxt, input: &DeriveInput, env: &Env) -> TokenStream {
    let ty = &input.ident;
    let mut args = RecordArgs::default();
    for attr in input.attrs.iter().filter(|a| a.path().is_ident("record")) {
        let parsed = attr.parse_nested_meta(|meta| {
            if meta.path.is_ident("kind") {
                args.kind = Some(meta.value()?.parse()?);
            } else if meta.path.is_ident("manifest") {
                args.manifest = Some(meta.value()?.parse()?);
            } else {
                return Err(meta.error(
                    "unknown `#[record]` option; the options are `kind = \"note\"` and `manifest = \"mcp-manifest.toml\"`",
                ));
            }
            Ok(())
        });
        if let Err(e) = parsed {
            cx.syn_error(e);
        }
    }
    if !input.generics.params.is_empty() {
        cx.error_spanned_by(
            &input.generics,
            "a record cannot be generic: derive `Record` on a concrete struct",
        );
        return TokenStream::new();
    }
    let fields = match &input.data {
        syn::Data::Struct(s) => match &s.fields {
            syn::Fields::Named(named) => &named.named,
            _ => {
                cx.error_spanned_by(
                    ty,
                    "a record is a struct with named fields, one per column: `struct Note { id: String, title: String }`",
                );
                return TokenStream::new();
            }
        },
        _ => {
            cx.error_spanned_by(ty, "a record is a struct with named fields, one per column");
            return TokenStream::new();
        }
    };
    let kind = args
        .kind
        .as_ref()
        .map_or_else(|| snake_case(&ty.to_string()), LitStr::value);
    let kind_span = args.kind.as_ref().map_or(ty.span(), LitStr::span);
    let path = args
        .manifest
        .clone()
        .unwrap_or_else(|| LitStr::new("mcp-manifest.toml", Span::call_site()));
    let (text, source) = match crate::load(&path, env) {
        Ok(loaded) => loaded,
        Err(e) => {
            cx.syn_error(e);
            return TokenStream::new();
        }
    };
    let model = match manifest::parse(&text) {
        Ok(m) => m,
        Err(_) => {
            cx.error_at(
                path.span(),
                format!(
                    "{} has mistakes: `#[mcpgen::tools]` (or `mcpgen check`) names them",
                    source.label
                ),
            );
            return TokenStream::new();
        }
    };
    let Some(rule) = model.record(&kind) else {
        let declared: Vec<&str> = model
            .records
            .iter()
            .map(|r| r.kind.value.as_str())
            .collect();
        cx.error_at(
            kind_span,
            format!(
                "`{ty}` is record kind `{kind}`, which {} does not declare{}: add `[records.{kind}]` with \
                 `table`, `id` and `owner`, or name the kind with `#[record(kind = \"...\")]`",
                source.label,
                if declared.is_empty() {
                    String::new()
                } else {
                    format!(" (it declares {})", declared.join(", "))
                }
            ),
        );
        return TokenStream::new();
    };
    let id_column = &rule.id.value;
    let Some(id_field) = fields
        .iter()
        .find(|f| f.ident.as_ref().is_some_and(|i| i == id_column))
    else {
        cx.error_spanned_by(
            ty,
            format!(
                "[records.{kind}] says the id column is `{id_column}` ({}:{}), but `{ty}` has no field `{id_column}`: \
                 add it (its type is the id's type)",
                source.label, rule.id.loc
            ),
        );
        return TokenStream::new();
    };
    let id_ty = &id_field.ty;
    let names: Vec<&syn::Ident> = fields.iter().filter_map(|f| f.ident.as_ref()).collect();
    let columns: Vec<String> = names.iter().map(|n| n.to_string()).collect();
    let select = columns.join(", ");
    let positions = (0..names.len()).map(|i| quote!(#i));
    let include = source.include_path.as_ref().map(|p| {
        quote!(
            const _: &str = ::core::include_str!(#p);
        )
    });
    quote! {
        const _: () = {
            #include

            impl ::mcpgen::Record for #ty {
                const KIND: &'static str = #kind;
                type Id = #id_ty;
                const SELECT: &'static str = #select;

                fn from_columns(
                    row: &::mcpgen::sqlx::any::AnyRow,
                ) -> ::core::result::Result<Self, ::mcpgen::sqlx::Error> {
                    use ::mcpgen::sqlx::Row as _;
                    ::core::result::Result::Ok(Self {
                        #(#names: row.try_get(#positions)?,)*
                    })
                }
            }

            impl<'r> ::mcpgen::sqlx::FromRow<'r, ::mcpgen::sqlx::any::AnyRow> for #ty {
                fn from_row(
                    row: &'r ::mcpgen::sqlx::any::AnyRow,
                ) -> ::core::result::Result<Self, ::mcpgen::sqlx::Error> {
                    use ::mcpgen::sqlx::Row as _;
                    ::core::result::Result::Ok(Self {
                        #(#names: row.try_get(#columns)?,)*
                    })
                }
            }
        };
    }
}

/// `CamelCase` as `camel_case`.
fn snake_case(name: &str) -> String {
    let mut out = String::new();
    for (i, c) in name.chars().enumerate() {
        if c.is_uppercase() {
            if i > 0 {
                out.push('_');
            }
            out.extend(c.to_lowercase());
        } else {
            out.push(c);
        }
    }
    out
}

#[cfg(test)]
mod tests {
    #[test]
    fn kinds_are_snake_case_type_names() {
        assert_eq!(super::snake_case("Note"), "note");
        assert_eq!(super::snake_case("TaskList"), "task_list");
    }
}
