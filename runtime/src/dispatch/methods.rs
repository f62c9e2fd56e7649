//! The methods other than `tools/call`: the legacy handshake (`initialize`,
//! `ping`, `logging/setLevel`), 2026-07-28 discovery (`server/discover`),
//! and `tools/list`, filtered by the policy for each caller.

use base64::Engine as _;
use serde_json::{Map, Value, json};

use crate::caller::Caller;
use crate::dispatch::era::Era;
use crate::dispatch::reply::Reply;
use crate::handler::LogLevel;
use crate::policy::{InvalidParams, Rejection};
use crate::protocol::{self, Message};
use crate::registry::{Tool, Tools};
use crate::server::McpServer;

/// How long clients may cache discovery and tool lists: they change only
/// when the server is redeployed.
const TTL_MS: u64 = 300_000;

fn capabilities<S: Tools>(server: &McpServer<S>) -> Value {
    let mut caps = server.entry_capabilities();
    caps.insert("tools".into(), json!({"listChanged": false}));
    caps.insert("logging".into(), json!({}));
    Value::Object(caps)
}

/// `initialize` (legacy): the client's revision if this server speaks it,
/// else the newest legacy one.
pub(super) fn initialize<S: Tools>(server: &McpServer<S>, msg: &Message) -> Value {
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
        "capabilities": capabilities(server),
        "serverInfo": server.server_info,
    });
    if let Some(i) = &S::manifest().server.instructions {
        result["instructions"] = i.as_ref().into();
    }
    result
}

/// `server/discover` (2026-07-28).
pub(super) fn discover<S: Tools>(server: &McpServer<S>) -> Value {
    let mut result = json!({
        "supportedVersions": protocol::supported_versions(),
        "capabilities": capabilities(server),
        "ttlMs": TTL_MS,
        "cacheScope": "public",
    });
    if let Some(i) = &S::manifest().server.instructions {
        result["instructions"] = i.as_ref().into();
    }
    result
}

/// `logging/setLevel` (legacy). Stateless: the level cannot outlive this
/// request, so log notifications follow each request's own `_meta`.
pub(super) fn set_level(msg: &Message) -> Result<Value, Rejection> {
    match msg
        .params
        .get("level")
        .and_then(Value::as_str)
        .and_then(LogLevel::parse)
    {
        Some(_) => Ok(json!({})),
        None => Err(Rejection::InvalidParams(InvalidParams::LogLevel)),
    }
}

/// `tools/list`: the tools this caller may call, a page at a time, each
/// entry as serialized at startup.
pub(super) fn list_tools<S: Tools>(
    server: &McpServer<S>,
    msg: &Message,
    caller: Option<&Caller>,
    era: Era,
) -> Result<Reply, Rejection> {
    let tools = server.registry.tools();
    if caller.is_none() {
        server
            .policy
            .may_list_anonymously(tools.iter().map(Tool::spec))?;
    }
    let after = match msg.params.get("cursor") {
        None | Some(Value::Null) => None,
        Some(Value::String(c)) => {
            Some(decode_cursor(c).ok_or(Rejection::InvalidParams(InvalidParams::UnknownCursor))?)
        }
        Some(_) => return Err(Rejection::InvalidParams(InvalidParams::CursorNotString)),
    };
    let mut visible = tools
        .iter()
        .filter(|t| server.policy.permits(t.spec(), caller).is_ok())
        .filter(|t| after.as_deref().is_none_or(|a| &*t.spec().name > a));
    let page: Vec<&Tool<S>> = visible.by_ref().take(server.options.page_size).collect();
    let next = match (visible.next(), page.last()) {
        (Some(_), Some(last)) => Some(encode_cursor(&last.spec().name)),
        _ => None,
    };
    // Everything but the entries, as for any result...
    let mut rest = Value::Object(Map::new());
    if let Some(n) = next {
        rest["nextCursor"] = n.into();
    }
    if era == Era::Modern {
        let any_private = tools.iter().any(|t| !t.spec().public);
        rest["ttlMs"] = TTL_MS.into();
        rest["cacheScope"] = if any_private { "private" } else { "public" }.into();
    }
    let rest = server.finish_result(rest, era);
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
    let text = serde_json::to_string(&listing).map_err(|_| Rejection::Internal("tools/list"))?;
    Ok(Reply::serialized(text))
}

pub(super) fn encode_cursor(name: &str) -> String {
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(format!("after:{name}"))
}

pub(super) fn decode_cursor(cursor: &str) -> Option<String> {
    let bytes = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(cursor)
        .ok()?;
    String::from_utf8(bytes)
        .ok()?
        .strip_prefix("after:")
        .map(str::to_owned)
}
