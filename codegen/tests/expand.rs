//! The generated code for a small manifest, pretty-printed and snapshotted,
//! so a reviewer sees exactly what the macro emits.

use mcpgen_codegen::expand::ManifestSource;
use proc_macro2::Span;
use quote::quote;

const MANIFEST: &str = r#"
[server]
name = "mini"

[resource]
uri = "https://mcp.example.com/mcp"
authorization_servers = ["https://auth.example.com"]

[scopes]
"items:read" = { description = "Read items", access = "read" }
"items:write" = { description = "Change items", access = "write" }

[records.item]
table = "items"
id = "id"
owner = "owner_id"

[environments.local]
runtime = "local"
data = "local"

[tools.get_item]
description = "Get one of your items."
access = "read"
scopes = ["items:read"]
records = "item"

[tools.add_item]
description = "Add an item."
access = "write"
scopes = ["items:write"]
annotations = { idempotent = true }
"#;

fn expand(manifest: &str, item: proc_macro2::TokenStream) -> String {
    let item = syn::parse2(item).expect("an impl block");
    let source = ManifestSource {
        span: Span::call_site(),
        ..ManifestSource::default()
    };
    let tokens = mcpgen_codegen::expand_with(item, Ok((manifest.to_owned(), source)));
    let file = syn::parse2(tokens).expect("the expansion parses as a file");
    prettyplease::unparse(&file)
}

fn settings() -> insta::Settings {
    let mut s = insta::Settings::clone_current();
    s.set_snapshot_path("../../snapshots");
    s.set_prepend_module_to_snapshot(false);
    s
}

#[test]
fn small_manifest_expansion() {
    let out = expand(
        MANIFEST,
        quote! {
            impl Mini {
                #[tool]
                async fn get_item(&self, cx: ReadCx<'_>, item: Owned<Item>) -> ToolResult<Item> {
                    Ok(item.into_inner())
                }
                #[tool]
                async fn add_item(&self, cx: WriteCx<'_>, input: NewItem) -> ToolResult<Item> {
                    todo!()
                }
            }
        },
    );
    settings().bind(|| insta::assert_snapshot!("codegen_expand_small_manifest", out));
}

#[test]
fn failed_checks_emit_errors_and_a_stub_not_a_registry() {
    let out = expand(
        MANIFEST,
        quote! {
            impl Mini {
                #[tool]
                async fn get_item(&self, cx: ReadCx<'_>, item: Owned<Item>) -> ToolResult<Item> {
                    Ok(item.into_inner())
                }
            }
        },
    );
    settings().bind(|| insta::assert_snapshot!("codegen_expand_missing_handler", out));
}
