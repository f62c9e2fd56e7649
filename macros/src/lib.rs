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
    let env = mcpgen_codegen::Env {
        crate_dir: std::env::var_os("CARGO_MANIFEST_DIR")
            .map(Into::into)
            .unwrap_or_default(),
        source_dir: proc_macro::Span::call_site()
            .local_file()
            .and_then(|f| f.parent().map(Into::into)),
    };
    mcpgen_codegen::tools(attr.into(), item.into(), &env).into()
}
