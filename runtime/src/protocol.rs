//! JSON-RPC 2.0 messages and MCP protocol revisions.

use serde_json::{Map, Value, json};

/// The current revision: stateless, `server/discover`, per-request `_meta`.
pub(crate) const MODERN: &str = "2026-07-28";
/// Earlier revisions served with the `initialize` handshake, newest first.
pub(crate) const LEGACY: &[&str] = &["2025-11-25", "2025-06-18"];
/// The revision assumed for a legacy request without `MCP-Protocol-Version`.
pub(crate) const LEGACY_DEFAULT: &str = "2025-03-26";

/// Every revision this server speaks, newest first.
pub(crate) fn supported_versions() -> Vec<&'static str> {
    std::iter::once(MODERN)
        .chain(LEGACY.iter().copied())
        .collect()
}

/// `_meta` keys of the 2026-07-28 revision.
pub(crate) mod meta {
    /// The request's protocol version.
    pub(crate) const PROTOCOL_VERSION: &str = "io.modelcontextprotocol/protocolVersion";
    /// The client's capabilities.
    pub(crate) const CLIENT_CAPABILITIES: &str = "io.modelcontextprotocol/clientCapabilities";
    /// The requested log level.
    pub(crate) const LOG_LEVEL: &str = "io.modelcontextprotocol/logLevel";
    /// The server's identity, on every result.
    pub(crate) const SERVER_INFO: &str = "io.modelcontextprotocol/serverInfo";
}

/// JSON-RPC and MCP error codes.
pub(crate) mod code {
    /// Invalid JSON.
    pub(crate) const PARSE_ERROR: i64 = -32700;
    /// Not a valid JSON-RPC request.
    pub(crate) const INVALID_REQUEST: i64 = -32600;
    /// Unknown method.
    pub(crate) const METHOD_NOT_FOUND: i64 = -32601;
    /// Invalid params, unknown tool, bad cursor.
    pub(crate) const INVALID_PARAMS: i64 = -32602;
    /// Internal error.
    pub(crate) const INTERNAL_ERROR: i64 = -32603;
    /// A header disagrees with the body, or is missing (2026-07-28).
    pub(crate) const HEADER_MISMATCH: i64 = -32020;
    /// Resource not found (2025-11-25 and earlier only).
    pub(crate) const RESOURCE_NOT_FOUND: i64 = -32002;
    /// The requested protocol version is not supported (2026-07-28).
    pub(crate) const UNSUPPORTED_VERSION: i64 = -32022;
    /// mcpgen: a credential is required, or the one presented is invalid.
    /// (Application codes live outside the JSON-RPC reserved range.)
    pub(crate) const UNAUTHORIZED: i64 = -31401;
    /// mcpgen: the credential is valid but not allowed to do this.
    pub(crate) const FORBIDDEN: i64 = -31403;
    /// mcpgen: too many requests.
    pub(crate) const RATE_LIMITED: i64 = -31429;
    /// mcpgen: a dependency (e.g. the database) is unavailable.
    pub(crate) const UNAVAILABLE: i64 = -31503;
}

/// A whole JSON-RPC error response for request `id` (`Null` when unknown).
pub(crate) fn error_response(id: &Value, code: i64, message: &str, data: Option<Value>) -> Value {
    let mut error = json!({"code": code, "message": message});
    if let Some(d) = data {
        error["data"] = d;
    }
    json!({"jsonrpc": "2.0", "id": id, "error": error})
}

/// A parsed JSON-RPC request or notification.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Message {
    /// `None` for a notification.
    pub(crate) id: Option<Value>,
    /// The method.
    pub(crate) method: String,
    /// The params object (empty when absent).
    pub(crate) params: Map<String, Value>,
}

impl Message {
    /// `params._meta`, if present.
    pub(crate) fn meta(&self) -> Option<&Map<String, Value>> {
        self.params.get("_meta").and_then(Value::as_object)
    }

    /// The protocol version the request names in `_meta` (2026-07-28 style).
    pub(crate) fn meta_version(&self) -> Option<&Value> {
        self.meta().and_then(|m| m.get(meta::PROTOCOL_VERSION))
    }

    /// A success response to this request.
    pub(crate) fn result(&self, result: Value) -> Value {
        // Built by hand: `json!` would copy `result` through the serializer.
        let mut response = serde_json::Map::new();
        response.insert("jsonrpc".into(), "2.0".into());
        response.insert("id".into(), self.id.clone().unwrap_or(Value::Null));
        response.insert("result".into(), result);
        Value::Object(response)
    }
}

/// Why a body is not a JSON-RPC message this server accepts. (What each
/// costs the caller, status and code, is the policy's to say:
/// [`crate::policy::Rejection::Malformed`].)
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub(crate) enum Malformed {
    /// Not JSON, or not UTF-8.
    #[error("parse error: the body is not valid JSON ({0})")]
    NotJson(String),
    /// A JSON array: a batch.
    #[error(
        "invalid request: batches (JSON arrays) are not supported; send one message per request"
    )]
    Batch,
    /// JSON, but not an object.
    #[error("invalid request: a JSON-RPC message is a JSON object")]
    NotAnObject,
    /// `id` is null, fractional, or not a string or number.
    #[error("invalid request: `id` must be a string or an integer")]
    BadId,
    /// `jsonrpc` is not `"2.0"`.
    #[error("invalid request: `jsonrpc` must be \"2.0\"")]
    NotJsonRpc2,
    /// `method` is not a string.
    #[error("invalid request: `method` must be a string")]
    MethodNotString,
    /// A JSON-RPC response that answers no question of this server's.
    #[error(
        "invalid request: this JSON-RPC response answers no question this server is waiting on \
         (answered already, timed out, asked of another caller or by another instance)"
    )]
    Response,
    /// No `method`.
    #[error("invalid request: `method` is missing")]
    NoMethod,
    /// `params` is not an object.
    #[error("invalid params: `params` must be an object")]
    ParamsNotObject,
    /// `params._meta` is not an object.
    #[error("invalid params: `_meta` must be an object")]
    MetaNotObject,
}

/// Parse one JSON-RPC message from bytes. On failure, the reason and the
/// request id to answer with (`Null` when it could not be read).
pub(crate) fn parse(bytes: &[u8]) -> Result<Message, (Malformed, Value)> {
    let value: Value = serde_json::from_slice(bytes)
        .map_err(|e| (Malformed::NotJson(e.to_string()), Value::Null))?;
    let obj = match value {
        Value::Object(o) => o,
        Value::Array(_) => return Err((Malformed::Batch, Value::Null)),
        _ => return Err((Malformed::NotAnObject, Value::Null)),
    };
    let id = match obj.get("id") {
        None => None,
        Some(id @ Value::String(_)) => Some(id.clone()),
        Some(Value::Number(n)) if n.is_i64() || n.is_u64() => Some(Value::Number(n.clone())),
        Some(_) => return Err((Malformed::BadId, Value::Null)),
    };
    let echo = || id.clone().unwrap_or(Value::Null);
    if obj.get("jsonrpc") != Some(&Value::String("2.0".into())) {
        return Err((Malformed::NotJsonRpc2, echo()));
    }
    let method = match obj.get("method") {
        Some(Value::String(m)) => m.clone(),
        Some(_) => return Err((Malformed::MethodNotString, echo())),
        None if obj.contains_key("result") || obj.contains_key("error") => {
            return Err((Malformed::Response, echo()));
        }
        None => return Err((Malformed::NoMethod, echo())),
    };
    let params = match obj.get("params") {
        None | Some(Value::Null) => Map::new(),
        Some(Value::Object(p)) => p.clone(),
        Some(_) => return Err((Malformed::ParamsNotObject, echo())),
    };
    if let Some(m) = params.get("_meta")
        && !m.is_object()
    {
        return Err((Malformed::MetaNotObject, echo()));
    }
    Ok(Message { id, method, params })
}

/// Decode a header value in the `=?base64?...?=` sentinel form, if it is one.
pub(crate) fn decode_header_value(raw: &str) -> Option<String> {
    use base64::Engine as _;
    match raw
        .strip_prefix("=?base64?")
        .and_then(|r| r.strip_suffix("?="))
    {
        Some(b64) => base64::engine::general_purpose::STANDARD
            .decode(b64)
            .ok()
            .and_then(|b| String::from_utf8(b).ok()),
        None => Some(raw.to_owned()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_must_be_strings_or_integers() {
        for ok in [
            r#"{"jsonrpc":"2.0","id":1,"method":"m"}"#,
            r#"{"jsonrpc":"2.0","id":"a","method":"m"}"#,
        ] {
            assert!(parse(ok.as_bytes()).is_ok(), "{ok}");
        }
        for bad in [
            r#"{"jsonrpc":"2.0","id":null,"method":"m"}"#,
            r#"{"jsonrpc":"2.0","id":1.5,"method":"m"}"#,
            r#"{"jsonrpc":"2.0","id":{},"method":"m"}"#,
            r#"{"jsonrpc":"2.0","id":true,"method":"m"}"#,
        ] {
            let (err, id) = parse(bad.as_bytes()).unwrap_err();
            assert_eq!(err, Malformed::BadId, "{bad}");
            assert_eq!(id, Value::Null);
        }
    }

    #[test]
    fn base64_sentinel_values_are_decoded() {
        assert_eq!(decode_header_value("plain").as_deref(), Some("plain"));
        assert_eq!(
            decode_header_value("=?base64?IHNwYWNlZCA=?=").as_deref(),
            Some(" spaced ")
        );
        assert_eq!(decode_header_value("=?base64?***?="), None);
    }
}
