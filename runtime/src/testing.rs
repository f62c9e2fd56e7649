//! Testing a product: what its own tests call.
//!
//! The policy of each tool and the migrations the binary embeds are
//! checked by tests `#[mcpgen::tools]` generates; the review of the
//! artifacts is one line in a test file of the product:
//!
//! ```no_run
//! # #[derive(Default)] struct Tasks;
//! # fn demo<Tasks: mcpgen::Tools>() {
//! // tests/artifacts.rs
//! #[test]
//! fn artifacts_are_reviewed() {
//!     mcpgen::testing::review_artifacts::<Tasks>(concat!(env!("CARGO_MANIFEST_DIR"), "/snapshots"));
//! }
//! # }
//! ```

pub use crate::generated_tests::review::review_artifacts;

use std::sync::Arc;

use serde_json::Value;

use crate::caller::Caller;
use crate::registry::Tools;
use crate::server::McpServer;

/// Call tool `name` with `arguments` as `caller`, the way a client that can
/// ask a person does (2026-07-28, the elicitation capability declared),
/// whose person answers every question the call asks with `answer` (e.g.
/// [`yes`] to a tool's `confirm`): through the whole request path, each
/// round as a client would send it. Returns the last round's JSON-RPC
/// response.
///
/// ```no_run
/// # async fn demo<S: mcpgen::Tools>(server: std::sync::Arc<mcpgen::McpServer<S>>) {
/// use mcpgen::testing::{call_answering, yes};
/// let alice = mcpgen::Caller::new("alice", ["notes:write"], None);
/// let created = call_answering(&server, Some(alice), "create_text_note",
///     serde_json::json!({"title": "Groceries", "body": "milk"}), yes()).await;
/// assert_eq!(created["result"]["isError"], false);
/// # }
/// ```
pub async fn call_answering<S: Tools>(
    server: &Arc<McpServer<S>>,
    caller: Option<Caller>,
    name: &str,
    arguments: Value,
    answer: Value,
) -> Value {
    crate::generated_tests::policy::call_answering(server, caller, name, &arguments, answer)
        .await
        .body
        .map(crate::dispatch::Body::into_value)
        .unwrap_or_default()
}

/// A person's "yes" to a tool's confirmation (`confirm` in the manifest).
pub fn yes() -> Value {
    crate::generated_tests::policy::confirmed()
}
