//! 2025-11-25 over HTTP: what the `initialize` handshake said, carried by
//! the client itself. A stateless server cannot remember a client's
//! capabilities between requests, so its answer to `initialize` names a
//! session (`Mcp-Session-Id`) that says whether the client can ask a
//! person (it declared elicitation), and the client sends that session
//! with every request. Nothing is kept on the server: any instance reads
//! it. It is no credential and grants nothing a client could not claim in
//! its own `initialize`.

use serde_json::Value;

use crate::dispatch::era::Header;
use crate::protocol::Message;

/// Sessions of clients that declared elicitation (form mode).
const ASKS: &str = "mcpgen-e1-";
/// Sessions of clients that did not.
const SILENT: &str = "mcpgen-e0-";

/// Whether `capabilities` (a client's) declare form elicitation: an
/// `elicitation` object that is empty (form mode, as 2025-06-18 wrote it)
/// or names `form`.
pub(crate) fn declares_elicitation(capabilities: Option<&Value>) -> bool {
    capabilities
        .and_then(|c| c.get("elicitation"))
        .and_then(Value::as_object)
        .is_some_and(|e| e.is_empty() || e.contains_key("form"))
}

/// Whether the JSON-RPC message `line` is an `initialize` and, if so,
/// whether its client declared elicitation (stdio, where the process is
/// the session, remembers it).
pub(crate) fn initialize_declares_elicitation(line: &[u8]) -> Option<bool> {
    // Only lines that can be one are parsed.
    if !line.windows(12).any(|w| w == b"\"initialize\"") {
        return None;
    }
    let msg: Value = serde_json::from_slice(line).ok()?;
    (msg.get("method")? == "initialize")
        .then(|| declares_elicitation(msg.get("params").and_then(|p| p.get("capabilities"))))
}

/// The session for the client that sent `initialize` `msg`.
pub(crate) fn issue(msg: &Message) -> String {
    let asks = declares_elicitation(msg.params.get("capabilities"));
    let id = crate::auth::signer::random_token(16);
    format!("{}{id}", if asks { ASKS } else { SILENT })
}

/// Whether the session a request carries says its client can ask.
pub(crate) fn can_ask(session: Header<'_>) -> bool {
    session.text().is_some_and(|s| s.starts_with(ASKS))
}
