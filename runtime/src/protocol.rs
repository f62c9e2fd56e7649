//! JSON-RPC 2.0 messages and MCP protocol revisions.

use serde_json::{Map, Value, json};

/// The current revision: stateless, `server/discover`, per-request `_meta`.
pub const MODERN: &str = "2026-07-28";
/// Earlier revisions served with the `initialize` handshake, newest first.
pub const LEGACY: &[&str] = &["2025-11-25", "2025-06-18"];
/// The revision assumed for a legacy request without `MCP-Protocol-Version`.
pub const LEGACY_DEFAULT: &str = "2025-03-26";

/// Every revision this server speaks, newest first.
pub fn supported_versions() -> Vec<&'static str> {
    std::iter::once(MODERN)
        .chain(LEGACY.iter().copied())
        .collect()
}

/// `_meta` keys of the 2026-07-28 revision.
pub mod meta {
    /// The request's protocol version.
    pub const PROTOCOL_VERSION: &str = "io.modelcontextprotocol/protocolVersion";
    /// The client's capabilities.
    pub const CLIENT_CAPABILITIES: &str = "io.modelcontextprotocol/clientCapabilities";
    /// The requested log level.
    pub const LOG_LEVEL: &str = "io.modelcontextprotocol/logLevel";
    /// The server's identity, on every result.
    pub const SERVER_INFO: &str = "io.modelcontextprotocol/serverInfo";
}

/// JSON-RPC and MCP error codes.
pub mod code {
    /// Invalid JSON.
    pub const PARSE_ERROR: i64 = -32700;
    /// Not a valid JSON-RPC request.
    pub const INVALID_REQUEST: i64 = -32600;
    /// Unknown method.
    pub const METHOD_NOT_FOUND: i64 = -32601;
    /// Invalid params, unknown tool, bad cursor.
    pub const INVALID_PARAMS: i64 = -32602;
    /// Internal error.
    pub const INTERNAL_ERROR: i64 = -32603;
    /// A header disagrees with the body, or is missing (2026-07-28).
    pub const HEADER_MISMATCH: i64 = -32020;
    /// A needed client capability was not declared (2026-07-28).
    pub const MISSING_CAPABILITY: i64 = -32021;
    /// The requested protocol version is not supported (2026-07-28).
    pub const UNSUPPORTED_VERSION: i64 = -32022;
    /// mcpgen: a credential is required, or the one presented is invalid.
    /// (Application codes live outside the JSON-RPC reserved range.)
    pub const UNAUTHORIZED: i64 = -31401;
    /// mcpgen: the credential is valid but not allowed to do this.
    pub const FORBIDDEN: i64 = -31403;
    /// mcpgen: too many requests.
    pub const RATE_LIMITED: i64 = -31429;
    /// mcpgen: a dependency (e.g. the database) is unavailable.
    pub const UNAVAILABLE: i64 = -31503;
}

/// A JSON-RPC error, with what the transport needs to answer it.
#[derive(Debug, Clone, PartialEq)]
pub struct RpcError {
    /// JSON-RPC error code.
    pub code: i64,
    /// Human message.
    pub message: String,
    /// Structured detail.
    pub data: Option<Value>,
    /// HTTP status for this error.
    pub status: u16,
    /// `WWW-Authenticate` value for 401/403 answers.
    pub challenge: Option<String>,
    /// `Retry-After` seconds for 429 answers.
    pub retry_after: Option<u64>,
}

impl RpcError {
    /// An error answered with HTTP `status`.
    pub fn new(code: i64, status: u16, message: impl Into<String>) -> Self {
        Self {
            code,
            message: message.into(),
            data: None,
            status,
            challenge: None,
            retry_after: None,
        }
    }

    /// Attach structured data.
    pub fn with_data(mut self, data: Value) -> Self {
        self.data = Some(data);
        self
    }

    /// The error object of a response.
    pub fn to_json(&self) -> Value {
        let mut e = json!({"code": self.code, "message": self.message});
        if let Some(d) = &self.data {
            e["data"] = d.clone();
        }
        e
    }

    /// A whole error response for request `id` (`Null` when unknown).
    pub fn response(&self, id: &Value) -> Value {
        json!({"jsonrpc": "2.0", "id": id, "error": self.to_json()})
    }
}

/// A parsed JSON-RPC request or notification.
#[derive(Debug, Clone, PartialEq)]
pub struct Message {
    /// `None` for a notification.
    pub id: Option<Value>,
    /// The method.
    pub method: String,
    /// The params object (empty when absent).
    pub params: Map<String, Value>,
}

impl Message {
    /// `params._meta`, if present.
    pub fn meta(&self) -> Option<&Map<String, Value>> {
        self.params.get("_meta").and_then(Value::as_object)
    }

    /// The protocol version the request names in `_meta` (2026-07-28 style).
    pub fn meta_version(&self) -> Option<&Value> {
        self.meta().and_then(|m| m.get(meta::PROTOCOL_VERSION))
    }

    /// A success response to this request.
    pub fn result(&self, result: Value) -> Value {
        // Built by hand: `json!` would copy `result` through the serializer.
        let mut response = serde_json::Map::new();
        response.insert("jsonrpc".into(), "2.0".into());
        response.insert("id".into(), self.id.clone().unwrap_or(Value::Null));
        response.insert("result".into(), result);
        Value::Object(response)
    }
}

/// Why a body is not a message we accept, and the id to answer with.
#[derive(Debug, Clone, PartialEq)]
pub struct Rejected {
    /// The error.
    pub error: RpcError,
    /// The request id, when it could be read.
    pub id: Value,
}

/// Parse one JSON-RPC message from bytes.
pub fn parse(bytes: &[u8]) -> Result<Message, Box<Rejected>> {
    let reject = |code, message: &str, id: Value| {
        Box::new(Rejected {
            error: RpcError::new(code, 400, message),
            id,
        })
    };
    let value: Value = serde_json::from_slice(bytes).map_err(|e| {
        reject(
            code::PARSE_ERROR,
            &format!("parse error: the body is not valid JSON ({e})"),
            Value::Null,
        )
    })?;
    let obj = match value {
        Value::Object(o) => o,
        Value::Array(_) => {
            return Err(reject(
                code::INVALID_REQUEST,
                "invalid request: batches (JSON arrays) are not supported; send one message per request",
                Value::Null,
            ));
        }
        _ => {
            return Err(reject(
                code::INVALID_REQUEST,
                "invalid request: a JSON-RPC message is a JSON object",
                Value::Null,
            ));
        }
    };
    let id = match obj.get("id") {
        None => None,
        Some(id @ Value::String(_)) => Some(id.clone()),
        Some(Value::Number(n)) if n.is_i64() || n.is_u64() => Some(Value::Number(n.clone())),
        Some(_) => {
            return Err(reject(
                code::INVALID_REQUEST,
                "invalid request: `id` must be a string or an integer",
                Value::Null,
            ));
        }
    };
    let echo = id.clone().unwrap_or(Value::Null);
    if obj.get("jsonrpc") != Some(&Value::String("2.0".into())) {
        return Err(reject(
            code::INVALID_REQUEST,
            "invalid request: `jsonrpc` must be \"2.0\"",
            echo,
        ));
    }
    let method = match obj.get("method") {
        Some(Value::String(m)) => m.clone(),
        Some(_) => {
            return Err(reject(
                code::INVALID_REQUEST,
                "invalid request: `method` must be a string",
                echo,
            ));
        }
        None if obj.contains_key("result") || obj.contains_key("error") => {
            return Err(reject(
                code::INVALID_REQUEST,
                "invalid request: this server sends no requests, so it accepts no JSON-RPC responses",
                echo,
            ));
        }
        None => {
            return Err(reject(
                code::INVALID_REQUEST,
                "invalid request: `method` is missing",
                echo,
            ));
        }
    };
    let params = match obj.get("params") {
        None | Some(Value::Null) => Map::new(),
        Some(Value::Object(p)) => p.clone(),
        Some(_) => {
            return Err(reject(
                code::INVALID_PARAMS,
                "invalid params: `params` must be an object",
                echo,
            ));
        }
    };
    if let Some(m) = params.get("_meta")
        && !m.is_object()
    {
        return Err(reject(
            code::INVALID_PARAMS,
            "invalid params: `_meta` must be an object",
            echo,
        ));
    }
    Ok(Message { id, method, params })
}

/// Decode a header value in the `=?base64?...?=` sentinel form, if it is one.
pub fn decode_header_value(raw: &str) -> Option<String> {
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
            let err = parse(bad.as_bytes()).unwrap_err();
            assert_eq!(err.error.code, code::INVALID_REQUEST, "{bad}");
            assert_eq!(err.id, Value::Null);
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
