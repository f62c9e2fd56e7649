//! The transport-independent request path: one JSON-RPC message in, one
//! reply (or a tool call ready to run) out. HTTP and stdio both go through
//! here, so they share the protocol rules, the policy and the audit.

use std::sync::Arc;

use axum::http::HeaderMap;
use base64::Engine as _;
use serde_json::{Map, Value, json};

use crate::context::{Caller, LogLevel};
use crate::protocol::{self, Message, RpcError, code, meta};
use crate::registry::Tools;
use crate::server::McpServer;

mod call;

use call::{Decision, decide, prepare_call, unauthenticated};
pub(crate) use call::{ToolCall, auth_error};

/// How long clients may cache discovery and tool lists: they change only
/// when the server is redeployed.
const TTL_MS: u64 = 300_000;

/// One message as a transport received it.
pub(crate) struct Incoming<'a> {
    /// The raw body (HTTP) or line (stdio).
    pub(crate) body: &'a [u8],
    /// HTTP request headers; `None` on stdio.
    pub(crate) headers: Option<&'a HeaderMap>,
    /// The authenticated caller; `None` when no credential was presented.
    pub(crate) caller: Option<Caller>,
    /// `http` or `stdio`, for the audit trail.
    pub(crate) transport: &'static str,
}

/// An answer to send now.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Reply {
    /// HTTP status.
    pub(crate) status: u16,
    /// The JSON-RPC response; `None` for an accepted notification.
    pub(crate) body: Option<Body>,
    /// `WWW-Authenticate`, for 401 and 403.
    pub(crate) challenge: Option<String>,
    /// `Retry-After` seconds, for 429.
    pub(crate) retry_after: Option<u64>,
}

/// A response: a JSON value, or one serialized already (`tools/list`,
/// whose entries are serialized once at startup).
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Body {
    Json(Value),
    Serialized(String),
}

impl Body {
    /// As a JSON value (parses a serialized body).
    pub(crate) fn into_value(self) -> Value {
        match self {
            Body::Json(v) => v,
            Body::Serialized(s) => serde_json::from_str(&s).unwrap_or_default(),
        }
    }

    /// As JSON text, without copying a serialized body.
    pub(crate) fn into_json_string(self) -> String {
        match self {
            Body::Json(v) => serde_json::to_string(&v).unwrap_or_default(),
            Body::Serialized(s) => s,
        }
    }

    /// As JSON text.
    pub(crate) fn to_json_string(&self) -> String {
        match self {
            Body::Json(v) => serde_json::to_string(v).unwrap_or_default(),
            Body::Serialized(s) => s.clone(),
        }
    }
}

impl Reply {
    pub(super) fn ok(body: Value) -> Self {
        Self {
            status: 200,
            body: Some(Body::Json(body)),
            challenge: None,
            retry_after: None,
        }
    }

    fn accepted() -> Self {
        Self {
            status: 202,
            body: None,
            challenge: None,
            retry_after: None,
        }
    }

    pub(crate) fn error(err: &RpcError, id: &Value) -> Self {
        Self {
            status: err.status,
            body: Some(Body::Json(err.response(id))),
            challenge: err.challenge.clone(),
            retry_after: err.retry_after,
        }
    }
}

/// What [`prepare`] decided.
pub(crate) enum Outcome<S: Tools> {
    /// Answer now.
    Reply(Reply),
    /// A permitted, validated tool call: run it (streaming or not).
    Call(Box<ToolCall<S>>),
}

/// Which revision a request is served under.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) enum Era {
    Modern,
    Legacy,
}

/// Decide what to do with one message.
pub(crate) fn prepare<S: Tools>(server: &Arc<McpServer<S>>, incoming: Incoming<'_>) -> Outcome<S> {
    let msg = match protocol::parse(incoming.body) {
        Ok(m) => m,
        Err(r) => return Outcome::Reply(Reply::error(&r.error, &r.id)),
    };
    let id = msg.id.clone().unwrap_or(Value::Null);
    let era = match check_protocol(&msg, incoming.headers) {
        Ok(era) => era,
        Err(e) => return Outcome::Reply(Reply::error(&e, &id)),
    };
    if msg.id.is_none() {
        // Notifications (initialized, cancelled, ...) need no answer.
        return Outcome::Reply(Reply::accepted());
    }
    if msg.method == "tools/call" {
        // The call takes the message: its arguments go to the handler
        // without a copy.
        return match prepare_call(server, msg, incoming.caller, era, incoming.transport) {
            Ok(call) => call,
            Err(e) => Outcome::Reply(Reply::error(&e, &id)),
        };
    }
    let result = match (era.clone(), msg.method.as_str()) {
        (Era::Legacy, "initialize") => Ok(initialize(server, &msg)),
        (Era::Legacy, "ping") => Ok(json!({})),
        (Era::Legacy, "logging/setLevel") => set_level(&msg),
        (Era::Modern, "server/discover") => Ok(discover(server)),
        (_, "tools/list") => {
            return Outcome::Reply(
                match list_tools(server, &msg, incoming.caller.as_ref(), &era) {
                    Ok(reply) => reply,
                    Err(e) => Reply::error(&e, &id),
                },
            );
        }
        (era, method) => Err(RpcError::new(
            code::METHOD_NOT_FOUND,
            if era == Era::Modern { 404 } else { 200 },
            format!("method not found: {method}"),
        )),
    };
    Outcome::Reply(match result {
        Ok(r) => Reply::ok(msg.result(finish(server, r, &era))),
        Err(e) => Reply::error(&e, &id),
    })
}

/// Pick the era and enforce its header and `_meta` rules.
fn check_protocol(msg: &Message, headers: Option<&HeaderMap>) -> Result<Era, RpcError> {
    let header =
        |name: &'static str| headers.map(|h| h.get(name).map(|v| v.to_str().map_err(|_| name)));
    let version_header = header("mcp-protocol-version");
    let header_says_modern = matches!(version_header, Some(Some(Ok(v))) if v == protocol::MODERN);
    let modern =
        msg.meta_version().is_some() || header_says_modern || msg.method == "server/discover";
    if !modern {
        if let Some(Some(v)) = &version_header
            && msg.method != "initialize"
        {
            let v = v.as_deref().unwrap_or("");
            if !protocol::LEGACY.contains(&v) && v != protocol::LEGACY_DEFAULT {
                return Err(RpcError::new(
                    code::INVALID_REQUEST,
                    400,
                    format!("bad request: unsupported MCP-Protocol-Version {v:?}"),
                )
                .with_data(json!({"supported": protocol::supported_versions(), "requested": v})));
            }
        }
        return Ok(Era::Legacy);
    }

    let missing = |what: &str| {
        RpcError::new(
            code::INVALID_PARAMS,
            400,
            format!(
                "invalid params: `_meta` must carry `{what}` (protocol revision {})",
                protocol::MODERN
            ),
        )
    };
    let requested = match msg.meta_version() {
        Some(Value::String(v)) => v.clone(),
        Some(_) => return Err(missing(meta::PROTOCOL_VERSION)),
        None => return Err(missing(meta::PROTOCOL_VERSION)),
    };
    if requested != protocol::MODERN {
        return Err(RpcError::new(
            code::UNSUPPORTED_VERSION,
            400,
            "Unsupported protocol version",
        )
        .with_data(json!({"supported": protocol::supported_versions(), "requested": requested})));
    }
    if !msg
        .meta()
        .and_then(|m| m.get(meta::CLIENT_CAPABILITIES))
        .is_some_and(Value::is_object)
    {
        return Err(missing(meta::CLIENT_CAPABILITIES));
    }
    if headers.is_some() {
        let mismatch = |m: String| RpcError::new(code::HEADER_MISMATCH, 400, m);
        match version_header.flatten() {
            Some(Ok(v)) if v == requested => {}
            Some(Ok(v)) => {
                return Err(mismatch(format!(
                    "Header mismatch: MCP-Protocol-Version header value '{v}' does not match body value '{requested}'"
                )));
            }
            _ => {
                return Err(mismatch(
                    "Header mismatch: MCP-Protocol-Version header is missing".into(),
                ));
            }
        }
        match header("mcp-method").flatten() {
            Some(Ok(v)) if v == msg.method => {}
            Some(Ok(v)) => {
                return Err(mismatch(format!(
                    "Header mismatch: Mcp-Method header value '{v}' does not match body value '{}'",
                    msg.method
                )));
            }
            _ => {
                return Err(mismatch(
                    "Header mismatch: Mcp-Method header is missing".into(),
                ));
            }
        }
        let name_key = match msg.method.as_str() {
            "tools/call" | "prompts/get" => Some("name"),
            "resources/read" => Some("uri"),
            _ => None,
        };
        if let Some(key) = name_key {
            let body = msg
                .params
                .get(key)
                .and_then(Value::as_str)
                .unwrap_or_default();
            match header("mcp-name").flatten() {
                Some(Ok(raw)) => match protocol::decode_header_value(raw) {
                    Some(v) if v == body => {}
                    Some(v) => {
                        return Err(mismatch(format!(
                            "Header mismatch: Mcp-Name header value '{v}' does not match body value '{body}'"
                        )));
                    }
                    None => {
                        return Err(mismatch(
                            "Header mismatch: Mcp-Name header is not valid base64 UTF-8".into(),
                        ));
                    }
                },
                _ => {
                    return Err(mismatch(
                        "Header mismatch: Mcp-Name header is missing".into(),
                    ));
                }
            }
        }
    }
    Ok(Era::Modern)
}

/// Add what every result of the era carries.
pub(super) fn finish<S: Tools>(server: &McpServer<S>, mut result: Value, era: &Era) -> Value {
    if *era == Era::Modern
        && let Some(obj) = result.as_object_mut()
    {
        obj.insert("resultType".into(), "complete".into());
        let meta = obj
            .entry("_meta")
            .or_insert_with(|| Value::Object(Map::new()));
        if let Some(m) = meta.as_object_mut() {
            m.insert(meta::SERVER_INFO.into(), server_info(server));
        }
    }
    result
}

/// This server's `Implementation` (name, version, title).
fn server_info<S: Tools>(server: &McpServer<S>) -> Value {
    modern_extra(server)["_meta"][meta::SERVER_INFO].clone()
}

/// What every 2026-07-28 result carries besides its own fields
/// (`resultType`, and `_meta` with this server's `serverInfo`): the same
/// for every result, so built once per server.
fn modern_extra<S: Tools>(server: &McpServer<S>) -> &Value {
    server.modern_result_extra.get_or_init(|| {
        let m = S::manifest();
        let mut info = json!({"name": m.server.name, "version": server.options.version});
        if let Some(t) = m.server.title {
            info["title"] = t.into();
        }
        json!({"resultType": "complete", "_meta": {meta::SERVER_INFO: info}})
    })
}

fn capabilities() -> Value {
    json!({"tools": {"listChanged": false}, "logging": {}})
}

fn initialize<S: Tools>(server: &McpServer<S>, msg: &Message) -> Value {
    let requested = msg
        .params
        .get("protocolVersion")
        .and_then(Value::as_str)
        .unwrap_or_default();
    let version = if protocol::LEGACY.contains(&requested) {
        requested
    } else {
        protocol::LEGACY[0]
    };
    let mut result = json!({
        "protocolVersion": version,
        "capabilities": capabilities(),
        "serverInfo": server_info(server),
    });
    if let Some(i) = S::manifest().server.instructions {
        result["instructions"] = i.into();
    }
    result
}

fn discover<S: Tools>(server: &McpServer<S>) -> Value {
    let mut result = json!({
        "supportedVersions": protocol::supported_versions(),
        "capabilities": capabilities(),
        "ttlMs": TTL_MS,
        "cacheScope": "public",
    });
    if let Some(i) = S::manifest().server.instructions {
        result["instructions"] = i.into();
    }
    let _ = server;
    result
}

fn set_level(msg: &Message) -> Result<Value, RpcError> {
    match msg
        .params
        .get("level")
        .and_then(Value::as_str)
        .and_then(LogLevel::parse)
    {
        // Stateless: the level cannot outlive this request, so log
        // notifications follow each request's own `_meta` instead.
        Some(_) => Ok(json!({})),
        None => Err(RpcError::new(
            code::INVALID_PARAMS,
            200,
            "invalid params: `level` must be one of debug, info, notice, warning, error, critical, alert, emergency",
        )),
    }
}

fn list_tools<S: Tools>(
    server: &McpServer<S>,
    msg: &Message,
    caller: Option<&Caller>,
    era: &Era,
) -> Result<Reply, RpcError> {
    let tools = server.registry.tools();
    let any_private = tools.iter().any(|t| !t.def().public);
    if caller.is_none() && tools.iter().all(|t| !t.def().public) {
        return Err(unauthenticated(server, &[]));
    }
    let after = match msg.params.get("cursor") {
        None | Some(Value::Null) => None,
        Some(Value::String(c)) => Some(decode_cursor(c).ok_or_else(|| {
            RpcError::new(
                code::INVALID_PARAMS,
                200,
                "invalid params: unknown `cursor`",
            )
        })?),
        Some(_) => {
            return Err(RpcError::new(
                code::INVALID_PARAMS,
                200,
                "invalid params: `cursor` must be a string",
            ));
        }
    };
    let visible = tools
        .iter()
        .filter(|t| decide(server, t, caller) == Decision::Granted)
        .filter(|t| after.as_deref().is_none_or(|a| t.def().name > a));
    let mut page = Vec::new();
    let mut next = None;
    for t in visible {
        if page.len() == server.options.page_size {
            next = page
                .last()
                .map(|p: &&crate::registry::Tool<S>| encode_cursor(p.def().name));
            break;
        }
        page.push(t);
    }
    // Everything but the entries, as for any result...
    let mut rest = Value::Object(Map::new());
    if let Some(n) = next {
        rest["nextCursor"] = n.into();
    }
    if *era == Era::Modern {
        rest["ttlMs"] = TTL_MS.into();
        rest["cacheScope"] = if any_private { "private" } else { "public" }.into();
    }
    let rest = finish(server, rest, era);
    // ...and the entries as serialized at startup, not copied per request.
    #[derive(serde::Serialize)]
    struct Listing<'a> {
        jsonrpc: &'static str,
        id: &'a Value,
        result: ListResult<'a>,
    }
    #[derive(serde::Serialize)]
    struct ListResult<'a> {
        tools: Vec<&'a serde_json::value::RawValue>,
        #[serde(flatten)]
        rest: &'a Value,
    }
    let listing = Listing {
        jsonrpc: "2.0",
        id: msg.id.as_ref().unwrap_or(&Value::Null),
        result: ListResult {
            tools: page.iter().map(|t| t.listing_json()).collect(),
            rest: &rest,
        },
    };
    let text = serde_json::to_string(&listing)
        .map_err(|_| RpcError::new(code::INTERNAL_ERROR, 500, "internal error: tools/list"))?;
    Ok(Reply {
        status: 200,
        body: Some(Body::Serialized(text)),
        challenge: None,
        retry_after: None,
    })
}

/// The response to a `tools/call` that ran: serialized in one pass, the
/// structured content written out as the handler's result serialized it.
pub(super) fn call_reply<S: Tools>(
    server: &McpServer<S>,
    id: &Value,
    result: &crate::content::CallToolResult,
    era: &Era,
) -> Reply {
    #[derive(serde::Serialize)]
    struct Response<'a> {
        jsonrpc: &'static str,
        id: &'a Value,
        result: crate::content::WireResult<'a>,
    }
    let extra = (*era == Era::Modern).then(|| modern_extra(server));
    let response = Response {
        jsonrpc: "2.0",
        id,
        result: result.wire(extra),
    };
    match serde_json::to_string(&response) {
        Ok(text) => Reply {
            status: 200,
            body: Some(Body::Serialized(text)),
            challenge: None,
            retry_after: None,
        },
        Err(_) => Reply::error(
            &RpcError::new(
                code::INTERNAL_ERROR,
                500,
                "internal error: the result could not be sent",
            ),
            id,
        ),
    }
}

fn encode_cursor(name: &str) -> String {
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(format!("after:{name}"))
}

fn decode_cursor(cursor: &str) -> Option<String> {
    let bytes = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(cursor)
        .ok()?;
    String::from_utf8(bytes)
        .ok()?
        .strip_prefix("after:")
        .map(str::to_owned)
}
