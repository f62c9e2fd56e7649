//! What dispatch answers: a [`Reply`] (status, JSON-RPC body, challenge,
//! `Retry-After`), which each transport frames its own way. Results carry
//! what their protocol era requires; refusals are rendered from their
//! [`Rejection`].

use serde_json::{Map, Value};

use crate::dispatch::era::Era;
use crate::handler::output::CallToolResult;
use crate::policy::Rejection;
use crate::registry::Tools;
use crate::server::McpServer;

/// An answer to send now.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Reply {
    /// HTTP status.
    pub(crate) status: u16,
    /// The JSON-RPC response; `None` for an accepted notification.
    pub(crate) body: Option<Body>,
    /// `WWW-Authenticate` value for 401/403 answers.
    pub(crate) challenge: Option<String>,
    /// `Retry-After` seconds.
    pub(crate) retry_after: Option<u64>,
    /// `Mcp-Session-Id` (the answer to a 2025-11-25 `initialize` over
    /// HTTP).
    pub(crate) session: Option<String>,
}

/// A JSON-RPC response, as a value or already serialized.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Body {
    /// A response built as a value.
    Json(Value),
    /// A response serialized in one pass (tool results, tool lists).
    Serialized(String),
}

impl Body {
    /// As a JSON value.
    pub(crate) fn into_value(self) -> Value {
        match self {
            Body::Json(v) => v,
            Body::Serialized(s) => serde_json::from_str(&s).unwrap_or_default(),
        }
    }

    /// As JSON text.
    pub(crate) fn into_json_string(self) -> String {
        match self {
            Body::Json(v) => serde_json::to_string(&v).unwrap_or_default(),
            Body::Serialized(s) => s,
        }
    }

    /// As JSON text, keeping the body.
    pub(crate) fn to_json_string(&self) -> String {
        match self {
            Body::Json(v) => serde_json::to_string(v).unwrap_or_default(),
            Body::Serialized(s) => s.clone(),
        }
    }
}

impl Reply {
    /// A 200 with `body`.
    pub(crate) fn ok(body: Value) -> Self {
        Self::with_body(Body::Json(body))
    }

    /// A 200 with a response serialized whole (a tool list).
    pub(crate) fn serialized(text: String) -> Self {
        Self::with_body(Body::Serialized(text))
    }

    fn with_body(body: Body) -> Self {
        Self {
            status: 200,
            body: Some(body),
            challenge: None,
            retry_after: None,
            session: None,
        }
    }

    /// A notification, accepted: 202 and no body.
    pub(crate) fn accepted() -> Self {
        Self {
            status: 202,
            body: None,
            challenge: None,
            retry_after: None,
            session: None,
        }
    }

    /// `error` for a JSON-RPC error or an HTTP refusal, else `ok` (a
    /// metrics label).
    pub(crate) fn outcome(&self) -> &'static str {
        match &self.body {
            _ if self.status >= 400 => "error",
            Some(Body::Json(v)) if v.get("error").is_some() => "error",
            _ => "ok",
        }
    }

    /// `error.type` of a failed answer: its JSON-RPC error code, or
    /// `tool_error` for a tool result with `isError`; `None` when it
    /// succeeded.
    pub(crate) fn error_type(&self) -> Option<String> {
        match &self.body {
            Some(Body::Json(v)) => match v.get("error") {
                Some(e) => Some(
                    e["code"]
                        .as_i64()
                        .map_or_else(|| "error".to_owned(), |c| c.to_string()),
                ),
                None => (v["result"]["isError"] == true).then(|| "tool_error".to_owned()),
            },
            Some(Body::Serialized(s)) => {
                // Skimmed, not built: only `result.isError` is kept.
                #[derive(serde::Deserialize)]
                struct Skim {
                    result: Option<SkimResult>,
                }
                #[derive(serde::Deserialize)]
                struct SkimResult {
                    #[serde(rename = "isError", default)]
                    is_error: bool,
                }
                let skim = serde_json::from_str::<Skim>(s).ok()?;
                skim.result
                    .is_some_and(|r| r.is_error)
                    .then(|| "tool_error".to_owned())
            }
            None if self.status >= 400 => Some(self.status.to_string()),
            None => None,
        }
    }

    /// The JSON-RPC error answer to request `id` refused for `why`, its
    /// challenge naming the metadata at `metadata_url`.
    pub(crate) fn refused(why: &Rejection, id: &Value, metadata_url: &str) -> Self {
        Self {
            status: why.status(),
            body: Some(Body::Json(why.response(id))),
            challenge: why.challenge(metadata_url),
            retry_after: why.retry_after(),
            session: None,
        }
    }
}

impl<S: Tools> McpServer<S> {
    /// Add what every result of `era` carries: in 2026-07-28, `resultType`
    /// and this server's `serverInfo` in `_meta`.
    pub(super) fn finish_result(&self, mut result: Value, era: Era) -> Value {
        if era == Era::Modern
            && let Some(obj) = result.as_object_mut()
        {
            obj.insert("resultType".into(), "complete".into());
            let meta = obj
                .entry("_meta")
                .or_insert_with(|| Value::Object(Map::new()));
            if let Some(m) = meta.as_object_mut() {
                m.insert(
                    crate::protocol::meta::SERVER_INFO.into(),
                    self.server_info.clone(),
                );
            }
        }
        result
    }

    /// The answer to request `id` refused for `why`: a tool result with
    /// `isError` where the model should see it, a JSON-RPC error otherwise.
    pub(super) fn refuse(&self, why: &Rejection, id: &Value, era: Era) -> Reply {
        if why.is_tool_result() {
            self.call_reply(id, &CallToolResult::error(why.to_string()), era)
        } else {
            Reply::refused(why, id, &self.metadata_url)
        }
    }

    /// The response to a `tools/call` that ran: serialized in one pass, the
    /// structured content written out as the handler's result serialized it.
    pub(super) fn call_reply(&self, id: &Value, result: &CallToolResult, era: Era) -> Reply {
        #[derive(serde::Serialize)]
        struct Response<'a> {
            jsonrpc: &'static str,
            id: &'a Value,
            result: crate::handler::output::WireResult<'a>,
        }
        let extra = (era == Era::Modern).then_some(&self.modern_extra);
        let response = Response {
            jsonrpc: "2.0",
            id,
            result: result.wire(extra),
        };
        match serde_json::to_string(&response) {
            Ok(text) => Reply::serialized(text),
            Err(_) => Reply::refused(
                &Rejection::Internal("the result could not be sent"),
                id,
                &self.metadata_url,
            ),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn error_type_reads_is_error_of_a_serialized_result_and_nothing_else() {
        let failed = Reply::serialized(
            r#"{"jsonrpc":"2.0","id":1,"result":{"content":[{"type":"text","text":"{\"isError\":false}"}],"isError":true}}"#.into(),
        );
        assert_eq!(failed.error_type().as_deref(), Some("tool_error"));
        let listed = Reply::serialized(
            r#"{"jsonrpc":"2.0","id":1,"result":{"tools":[{"name":"isError","inputSchema":{"isError":true}}]}}"#.into(),
        );
        assert_eq!(listed.error_type(), None);
        let refused = Reply::ok(
            serde_json::json!({"jsonrpc":"2.0","id":1,"error":{"code":-32602,"message":"m"}}),
        );
        assert_eq!(refused.error_type().as_deref(), Some("-32602"));
    }
}
