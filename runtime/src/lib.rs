//! mcpgen: the runtime for MCP servers generated from a declarative manifest.
//!
//! A product declares its tools, scopes, ownership rules and environments in
//! `mcp-manifest.toml`, and writes one annotated impl block of async handlers:
//!
//! ```ignore
//! #[mcpgen::tools(manifest = "mcp-manifest.toml")]
//! impl Notes {
//!     #[tool]
//!     async fn search_owned_notes(&self, cx: ReadCx<'_>, input: Search) -> ToolResult<Found> { .. }
//! }
//! ```
//!
//! The macro checks the impl block against the manifest when the crate
//! compiles and generates a [`Registry`]; this crate holds the types handlers
//! name ([`ReadCx`], [`WriteCx`], [`Owned`], [`ToolResult`], [`ToolError`]) and
//! the registry they are collected into.

pub mod artifacts;
pub mod audit;
pub mod auth;
pub mod builtin;
pub mod cli;
mod content;
mod context;
pub mod db;
mod dispatch;
mod error;
pub mod http;
mod input;
pub mod protocol;
mod server;
pub mod stdio;
pub mod store;
pub use input::BoxFuture;
mod policy_check;
mod read_pool;
mod record;
mod registry;
pub mod spec;
mod sqlite_reads;

#[doc(hidden)]
pub mod __private;

pub use content::{CallToolResult, Content, ContentBlock, EmbeddedResource, IntoCallResult};
pub use context::{
    AuthMethod, Caller, Invocation, LogLevel, Notifier, ReadCx, ToolContext, WriteCx,
};
pub use error::{ToolError, ToolResult};
pub use input::{NoArguments, ToolInput, ToolOutput};
pub use mcpgen_macros::tools;
pub use record::{Owned, Record};
pub use registry::{Permission, Registry, RegistryError, Tool, ToolDef, Tools};
pub use server::{
    AuthError, Authenticator, McpServer, ServerOptions, StartError, select_environment,
};
pub use spec::Access;

/// A new random id, `<prefix>_<24 hex digits>` (96 random bits): stable,
/// unguessable record ids without a database sequence.
pub fn random_id(prefix: &str) -> String {
    let mut bytes = [0u8; 12];
    aws_lc_rs::rand::fill(&mut bytes).expect("the system random number generator is unavailable");
    let hex: String = bytes.iter().map(|b| format!("{b:02x}")).collect();
    format!("{prefix}_{hex}")
}
