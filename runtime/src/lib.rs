//! mcpgen: the runtime for MCP servers generated from a declarative
//! manifest.
//!
//! A product declares its tools, scopes, ownership rules and environments
//! in `mcp-manifest.toml`, and writes one annotated impl block of async
//! handlers:
//!
//! ```ignore
//! #[mcpgen::tools(manifest = "mcp-manifest.toml")]
//! impl Notes {
//!     #[tool]
//!     async fn search_owned_notes(&self, cx: ReadCx<'_>, input: Search) -> ToolResult<Found> { .. }
//!     #[tool]
//!     async fn get_owned_note(&self, cx: ReadCx<'_>, note: Owned<Note>) -> ToolResult<Note> { .. }
//! }
//! ```
//!
//! The macro checks the impl block against the manifest when the crate
//! compiles, and implements [`Tools`] for the type; [`cli::run`] serves it
//! (or assemble a [`McpServer`] and hand it to [`http::router`] or
//! [`stdio::serve`]).
//!
//! A handler names a context ([`ReadCx`] or [`WriteCx`], matching the
//! tool's declared access), at most one input (a `Deserialize +
//! JsonSchema` type, or an [`Owned`] record), and returns a
//! [`ToolResult`].
//!
//! # How a request flows, and where each rule lives
//!
//! Imports run one way, down this list; nothing imports what is above it
//! (a test in the repository fails if a module imports one that imports
//! it back).
//!
//! - **Transport**: [`http`] (axum; `Host`/`Origin`, headers and body
//!   checked by extractors), [`stdio`], and [`cli`].
//! - **Dispatch** (`dispatch/`): the protocol era of each request, the
//!   methods, and the `tools/call` path; one reply per message.
//! - **The server** ([`McpServer`]): the registry, the app, the policy
//!   and the options, assembled once.
//! - **Policy** (`policy/`): may this caller see and call this tool
//!   (scopes, `[clients]`, environment, budgets); every refusal is a
//!   `Rejection` that knows its HTTP status, JSON-RPC code, challenge and
//!   audit reason. Credentials are verified by [`auth`].
//! - **Registry and handlers** ([`registry`], [`handler`], the built-in
//!   tools, [`artifacts`]).
//! - **Storage** ([`store`]: the owner condition is written once, in
//!   `store/owned.rs`) and the audit trail ([`audit`]: one record per
//!   call, written exactly once).

#![cfg_attr(docsrs, feature(doc_cfg))]

// Transport.
pub mod admin;
#[cfg(feature = "cli")]
pub mod cli;
mod generated_tests;
pub mod http;
pub mod stdio;
pub mod testing;

// Dispatch and the assembled server.
mod dispatch;
mod server;

// Policy.
pub mod auth;
pub mod oauth;
mod policy;

// Registry and handlers.
pub mod artifacts;
mod builtin;
pub mod handler;
pub mod registry;

// Storage and the audit trail.
pub mod audit;
pub mod store;

// Foundations.
mod caller;
mod endpoint;
mod environment;
mod error;
mod html;
mod protocol;
mod schema;
pub mod telemetry;
pub mod trace;

#[doc(hidden)]
pub mod __private;

/// The crates a product reaches through mcpgen, so that their versions
/// are mcpgen's own: tokio (the runtime), sqlx (queries in handlers),
/// serde and schemars (what `#[mcpgen::input]` and `#[mcpgen::output]`
/// derive), serde_json.
#[doc(no_inline)]
pub use {schemars, serde, serde_json, sqlx, tokio};

pub use caller::Caller;
pub use environment::EnvironmentError;
pub use error::{ToolError, ToolResult};
pub use handler::{
    Answer, Content, ContentBlock, Elicitation, LogLevel, Owned, PromptMessage, ReadCx, Record,
    ResourceContents, WriteCx,
};
pub use mcpgen_macros::{Record, input, output, tools};
/// The manifest's vocabulary, as the generated code hands it over.
pub use mcpgen_spec as spec;
pub use registry::Tools;
pub use server::{McpServer, ServerOptions, StartError};

/// A new random id, `<prefix>_<24 hex digits>` (96 random bits): stable,
/// unguessable record ids without a database sequence.
///
/// ```
/// let id = mcpgen::random_id("note");
/// assert!(id.starts_with("note_") && id.len() == 29);
/// ```
pub fn random_id(prefix: &str) -> String {
    let mut bytes = [0u8; 12];
    aws_lc_rs::rand::fill(&mut bytes).expect("the system random number generator is unavailable");
    let hex: String = bytes.iter().map(|b| format!("{b:02x}")).collect();
    format!("{prefix}_{hex}")
}
