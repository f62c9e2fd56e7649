//! mcpgen-macros: the switchboard. Each entry point parses, calls
//! `mcpgen-codegen`, and returns its tokens; every decision lives there.

use proc_macro::TokenStream;

/// Generate an MCP tool registry from an impl block and the manifest.
///
/// ```ignore
/// #[mcpgen::tools(manifest = "mcp-manifest.toml")]
/// impl Notes {
///     #[tool]
///     async fn search_owned_notes(&self, cx: ReadCx<'_>, input: Search) -> ToolResult<Found> { .. }
/// }
/// ```
///
/// The path is relative to the crate root. The build fails, naming the
/// manifest line or the offending token, when the impl block and the
/// manifest disagree or the manifest breaks a policy rule.
#[proc_macro_attribute]
pub fn tools(attr: TokenStream, item: TokenStream) -> TokenStream {
    mcpgen_codegen::tools(attr.into(), item.into(), &env()).into()
}

/// A record kind declared under `[records.<kind>]` in the manifest: its
/// fields are its columns, the manifest's `id` column is its id.
///
/// ```ignore
/// #[derive(mcpgen::Record)]
/// #[record(kind = "note", manifest = "mcp-manifest.toml")] // both optional
/// struct Note { id: String, title: String, created_at: i64 }
/// ```
#[proc_macro_derive(Record, attributes(record))]
pub fn record(input: TokenStream) -> TokenStream {
    mcpgen_codegen::record(input.into(), &env()).into()
}

/// A tool input: derives `Deserialize` and `JsonSchema` (through mcpgen),
/// refusing unknown fields.
#[proc_macro_attribute]
pub fn input(attr: TokenStream, item: TokenStream) -> TokenStream {
    mcpgen_codegen::types::input(attr.into(), item.into()).into()
}

/// A tool output: derives `Serialize` and `JsonSchema` (through mcpgen).
#[proc_macro_attribute]
pub fn output(attr: TokenStream, item: TokenStream) -> TokenStream {
    mcpgen_codegen::types::output(attr.into(), item.into()).into()
}

/// Where the macro runs.
fn env() -> mcpgen_codegen::Env {
    mcpgen_codegen::Env {
        crate_dir: std::env::var_os("CARGO_MANIFEST_DIR")
            .map(Into::into)
            .unwrap_or_default(),
        source_dir: proc_macro::Span::call_site()
            .local_file()
            .and_then(|f| f.parent().map(Into::into)),
    }
}
