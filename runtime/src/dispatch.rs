//! The transport-independent request path: one JSON-RPC message in, one
//! reply (or a tool call ready to run) out. HTTP and stdio both go through
//! here, so they share the protocol rules, the policy and the audit.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use axum::http::HeaderMap;
use base64::Engine as _;
use serde_json::{Map, Value, json};
use tokio::sync::mpsc;

use crate::content::CallToolResult;
use crate::context::{Caller, Invocation, LogLevel, Notifier};
use crate::error::ToolError;
use crate::protocol::{self, Message, RpcError, code, meta};
use crate::registry::{Permission, Tool, Tools};
use crate::server::McpServer;
use crate::spec::Access;

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
    pub(crate) body: Option<Value>,
    /// `WWW-Authenticate`, for 401 and 403.
    pub(crate) challenge: Option<String>,
    /// `Retry-After` seconds, for 429.
    pub(crate) retry_after: Option<u64>,
}

impl Reply {
    fn ok(body: Value) -> Self {
        Self {
            status: 200,
            body: Some(body),
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
            body: Some(err.response(id)),
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
enum Era {
    Modern,
    Legacy,
}

static REQUEST_IDS: AtomicU64 = AtomicU64::new(1);

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
    let result = match (era.clone(), msg.method.as_str()) {
        (Era::Legacy, "initialize") => Ok(initialize(server, &msg)),
        (Era::Legacy, "ping") => Ok(json!({})),
        (Era::Legacy, "logging/setLevel") => set_level(&msg),
        (Era::Modern, "server/discover") => Ok(discover(server)),
        (_, "tools/list") => list_tools(server, &msg, incoming.caller.as_ref(), &era),
        (_, "tools/call") => {
            return match prepare_call(server, &msg, incoming.caller, era, incoming.transport) {
                Ok(call) => call,
                Err(e) => Outcome::Reply(Reply::error(&e, &id)),
            };
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
    let header = |name: &str| {
        headers.map(|h| {
            h.get(name)
                .map(|v| v.to_str().map(str::to_owned).map_err(|_| name.to_owned()))
        })
    };
    let version_header = header("mcp-protocol-version");
    let header_says_modern = matches!(&version_header, Some(Some(Ok(v))) if v == protocol::MODERN);
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
                Some(Ok(raw)) => match protocol::decode_header_value(&raw) {
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
fn finish<S: Tools>(server: &McpServer<S>, mut result: Value, era: &Era) -> Value {
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

fn server_info<S: Tools>(server: &McpServer<S>) -> Value {
    let m = S::manifest();
    let mut info = json!({"name": m.server.name, "version": server.options.version});
    if let Some(t) = m.server.title {
        info["title"] = t.into();
    }
    info
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

/// The answer to a credential that was presented but not accepted.
pub(crate) fn auth_error<S: Tools>(
    server: &McpServer<S>,
    e: &crate::server::AuthError,
) -> RpcError {
    match e {
        crate::server::AuthError::InvalidToken => {
            let mut err = RpcError::new(
                code::UNAUTHORIZED,
                401,
                "invalid credential: the bearer token or access key was not accepted",
            );
            err.challenge = Some(format!(
                "Bearer error=\"invalid_token\", error_description=\"the access token is invalid\", resource_metadata=\"{}\"",
                server.metadata_url()
            ));
            err
        }
        crate::server::AuthError::Unavailable => RpcError::new(
            code::UNAVAILABLE,
            503,
            "service unavailable: credentials cannot be verified right now; retry shortly",
        ),
    }
}

fn unauthenticated<S: Tools>(server: &McpServer<S>, scopes: &[&str]) -> RpcError {
    let mut challenge = format!("Bearer resource_metadata=\"{}\"", server.metadata_url());
    if !scopes.is_empty() {
        challenge.push_str(&format!(", scope=\"{}\"", scopes.join(" ")));
    }
    let mut e = RpcError::new(
        code::UNAUTHORIZED,
        401,
        "authentication required: present an OAuth bearer token or an access key",
    );
    e.challenge = Some(challenge);
    e
}

fn list_tools<S: Tools>(
    server: &McpServer<S>,
    msg: &Message,
    caller: Option<&Caller>,
    era: &Era,
) -> Result<Value, RpcError> {
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
    let mut page: Vec<Value> = Vec::new();
    let mut next = None;
    for t in visible {
        if page.len() == server.options.page_size {
            next = page
                .last()
                .and_then(|p| p["name"].as_str())
                .map(encode_cursor);
            break;
        }
        page.push(t.to_listing());
    }
    let mut result = json!({"tools": page});
    if let Some(n) = next {
        result["nextCursor"] = n.into();
    }
    if *era == Era::Modern {
        result["ttlMs"] = TTL_MS.into();
        result["cacheScope"] = if any_private { "private" } else { "public" }.into();
    }
    Ok(result)
}

/// What policy says about one caller and one tool.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Decision {
    Granted,
    Unauthenticated,
    MissingScopes,
    ClientNotAllowed,
    WritesDisabled,
}

/// The manifest's whole policy for `caller` on `tool`: credential and
/// scopes, the `[clients]` allowlist, and the environment's write switch.
fn decide<S: Tools>(server: &McpServer<S>, tool: &Tool<S>, caller: Option<&Caller>) -> Decision {
    match tool.allows(caller) {
        Permission::Granted => {}
        Permission::Unauthenticated => return Decision::Unauthenticated,
        Permission::MissingScopes => return Decision::MissingScopes,
    }
    // Built-ins only describe the caller and the server: every
    // authenticated client may use them.
    if !tool.def().is_builtin()
        && let Some(client) = caller.and_then(Caller::client_id)
        && let Some(entry) = S::manifest().clients.iter().find(|c| c.client_id == client)
        && !entry
            .tools
            .iter()
            .any(|t| *t == "*" || *t == tool.def().name)
    {
        return Decision::ClientNotAllowed;
    }
    if tool.def().access == Access::Write && !server.facts.environment.writes {
        return Decision::WritesDisabled;
    }
    Decision::Granted
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

/// A permitted, validated tool call, owning all it needs to run on its own
/// task or inside a response stream.
pub(crate) struct ToolCall<S: Tools> {
    server: Arc<McpServer<S>>,
    index: usize,
    msg: Message,
    arguments: Value,
    caller: Option<Caller>,
    era: Era,
    progress_token: Option<Value>,
    log_level: Option<LogLevel>,
    audit: Audit,
}

impl<S: Tools> ToolCall<S> {
    /// Whether the client asked for notifications while the call runs.
    pub(crate) fn wants_notifications(&self) -> bool {
        self.progress_token.is_some() || self.log_level.is_some()
    }

    /// Run the handler under the call timeout. Notifications go to `tx`.
    pub(crate) async fn run(self, tx: Option<mpsc::UnboundedSender<Value>>) -> Reply {
        let tool = &self.server.registry.tools()[self.index];
        let def = tool.def();
        let notifier = tx.map(|tx| {
            Notifier::new(
                tx,
                self.progress_token.clone(),
                self.log_level,
                S::manifest().server.name,
            )
        });
        let tx = match &self.server.store {
            Some(store) => match store.begin(def.access).await {
                Ok(tx) => Some(tx),
                Err(e) => {
                    self.audit.finish("failed", "database unavailable");
                    let result = CallToolResult::error(e.to_string());
                    return Reply::ok(self.msg.result(finish(
                        &self.server,
                        result.to_json(),
                        &self.era,
                    )));
                }
            },
            None => None,
        };
        let mut inv = Invocation::new(self.caller.as_ref(), def.access, notifier.as_ref())
            .with_facts(&self.server.facts);
        if let Some(tx) = &tx {
            inv = inv.with_tx(tx);
        }
        let run = (def.call)(&self.server.app, inv, self.arguments.clone());
        let timeout = def
            .timeout_ms
            .or(S::manifest().limits.timeout_ms)
            .map_or(self.server.options.call_timeout, Duration::from_millis);
        let outcome = tokio::time::timeout(timeout, run).await;
        // Commit only a write that succeeded; everything else rolls back,
        // so a failed or stopped write leaves nothing behind.
        let outcome = match (outcome, &tx) {
            (Ok(Ok(r)), Some(tx)) if def.access == Access::Write => match tx.commit().await {
                Ok(()) => Ok(Ok(r)),
                Err(e) => {
                    tracing::error!(error = %crate::db::DbError::from(e), "commit failed");
                    Ok(Err(ToolError::Unavailable))
                }
            },
            (outcome, Some(tx)) => {
                tx.rollback().await;
                outcome
            }
            (outcome, None) => outcome,
        };
        let result = match outcome {
            Ok(Ok(r)) => {
                self.audit.finish("allowed", "ok");
                r
            }
            Ok(Err(e)) => {
                let reason = match &e {
                    ToolError::Internal(_) => "internal error",
                    ToolError::Unavailable => "unavailable",
                    ToolError::NotFound { .. } => "not found",
                    ToolError::InvalidArguments(_) => "invalid arguments",
                    _ => "rejected",
                };
                self.audit.finish("failed", reason);
                CallToolResult::error(e.to_string())
            }
            Err(_) => {
                self.audit.finish("failed", "timeout");
                CallToolResult::error(format!(
                    "the tool did not finish within {} ms and was stopped",
                    timeout.as_millis()
                ))
            }
        };
        drop(notifier);
        Reply::ok(
            self.msg
                .result(finish(&self.server, result.to_json(), &self.era)),
        )
    }
}

fn prepare_call<S: Tools>(
    server: &Arc<McpServer<S>>,
    msg: &Message,
    caller: Option<Caller>,
    era: Era,
    transport: &'static str,
) -> Result<Outcome<S>, RpcError> {
    let name = match msg.params.get("name") {
        Some(Value::String(n)) => n.clone(),
        _ => {
            return Err(RpcError::new(
                code::INVALID_PARAMS,
                200,
                "invalid params: `name` (the tool to call) must be a string",
            ));
        }
    };
    let mut audit = Audit::start(server, transport, &name, caller.as_ref());
    let Some(index) = server
        .registry
        .tools()
        .iter()
        .position(|t| t.def().name == name)
    else {
        audit.finish("denied", "unknown tool");
        return Err(RpcError::new(
            code::INVALID_PARAMS,
            200,
            format!("Unknown tool: {name}"),
        ));
    };
    let tool = &server.registry.tools()[index];
    audit.scopes = tool.def().scopes;
    let arguments = match msg.params.get("arguments") {
        None | Some(Value::Null) => Value::Object(Map::new()),
        Some(a @ Value::Object(_)) => a.clone(),
        Some(_) => {
            audit.finish("denied", "arguments not an object");
            return Err(RpcError::new(
                code::INVALID_PARAMS,
                200,
                "invalid params: `arguments` must be an object",
            ));
        }
    };
    match decide(server, tool, caller.as_ref()) {
        Decision::Granted => {}
        Decision::Unauthenticated => {
            audit.finish("denied", "no credential");
            return Err(unauthenticated(server, tool.def().scopes));
        }
        Decision::ClientNotAllowed => {
            audit.finish("denied", "client not allowed");
            return Err(RpcError::new(
                code::FORBIDDEN,
                403,
                format!(
                    "forbidden: client `{}` may not call tool `{name}` ([clients] in the manifest)",
                    caller
                        .as_ref()
                        .and_then(Caller::client_id)
                        .unwrap_or_default()
                ),
            ));
        }
        Decision::WritesDisabled => {
            audit.finish("denied", "writes disabled");
            let env = &server.facts.environment;
            let text = format!(
                "tool `{name}` writes, and environment `{}` does not allow writes{}; nothing was changed",
                env.name,
                if env.data == crate::spec::DataKind::Production {
                    " (it runs on production data)"
                } else {
                    ""
                }
            );
            let result = CallToolResult::error(text).to_json();
            return Ok(Outcome::Reply(Reply::ok(
                msg.result(finish(server, result, &era)),
            )));
        }
        Decision::MissingScopes => {
            audit.finish("denied", "insufficient scope");
            let scopes = tool.def().scopes.join(" ");
            let mut e = RpcError::new(
                code::FORBIDDEN,
                403,
                format!("insufficient scope: tool `{name}` requires {scopes}"),
            )
            .with_data(json!({"requiredScopes": tool.def().scopes}));
            e.challenge = Some(format!(
                "Bearer error=\"insufficient_scope\", scope=\"{scopes}\", resource_metadata=\"{}\", error_description=\"tool {name} requires {scopes}\"",
                server.metadata_url()
            ));
            return Err(e);
        }
    }
    let subject = caller.as_ref().map_or("", Caller::subject).to_owned();
    let over_global = server
        .limits
        .global
        .as_ref()
        .and_then(|l| l.check_key(&subject).err());
    let over_tool = server.limits.per_tool[index]
        .as_ref()
        .and_then(|l| l.check_key(&subject).err());
    if let Some(not_until) = over_global.or(over_tool) {
        audit.finish("denied", "rate limited");
        let wait = not_until
            .wait_time_from(governor::clock::Clock::now(
                &governor::clock::DefaultClock::default(),
            ))
            .as_secs()
            + 1;
        let mut e = RpcError::new(
            code::RATE_LIMITED,
            429,
            format!("too many calls: retry `{name}` in {wait} s (limits in the manifest)"),
        );
        e.retry_after = Some(wait);
        return Err(e);
    }
    if let Err(problems) = tool.validate(&arguments) {
        audit.finish("denied", "invalid arguments");
        let text = format!(
            "invalid arguments for tool `{name}`: {}. The input schema is in tools/list.",
            problems.join("; ")
        );
        let result = CallToolResult::error(text).to_json();
        return Ok(Outcome::Reply(Reply::ok(
            msg.result(finish(server, result, &era)),
        )));
    }
    let meta = msg.meta();
    let progress_token = meta
        .and_then(|m| m.get("progressToken"))
        .filter(|t| t.is_string() || t.is_i64() || t.is_u64())
        .cloned();
    let log_level = match era {
        Era::Modern => meta
            .and_then(|m| m.get(meta::LOG_LEVEL))
            .and_then(Value::as_str)
            .and_then(LogLevel::parse),
        // Legacy clients set a level with logging/setLevel, which a
        // stateless server cannot remember: stream info and above.
        Era::Legacy => Some(LogLevel::Info),
    };
    Ok(Outcome::Call(Box::new(ToolCall {
        server: Arc::clone(server),
        index,
        msg: msg.clone(),
        arguments,
        caller,
        era,
        progress_token,
        log_level,
        audit,
    })))
}

/// One audit record in the making: every tools/call decision.
struct Audit {
    sink: crate::audit::AuditSink,
    request_id: String,
    transport: &'static str,
    tool: String,
    subject: String,
    client: String,
    scopes: &'static [&'static str],
    started: Instant,
}

/// A per-process prefix, so request ids are unique across instances that
/// share one audit table.
fn instance_prefix() -> &'static str {
    static PREFIX: std::sync::OnceLock<String> = std::sync::OnceLock::new();
    PREFIX.get_or_init(|| {
        let mut b = [0u8; 6];
        let _ = aws_lc_rs::rand::fill(&mut b);
        b.iter().map(|x| format!("{x:02x}")).collect()
    })
}

impl Audit {
    fn start<S: Tools>(
        server: &McpServer<S>,
        transport: &'static str,
        tool: &str,
        caller: Option<&Caller>,
    ) -> Self {
        Self {
            sink: server.audit.clone(),
            request_id: format!(
                "{}-{}",
                instance_prefix(),
                REQUEST_IDS.fetch_add(1, Ordering::Relaxed)
            ),
            transport,
            tool: tool.to_owned(),
            subject: caller.map_or_else(String::new, |c| c.subject().to_owned()),
            client: caller
                .and_then(Caller::client_id)
                .unwrap_or_default()
                .to_owned(),
            scopes: &[],
            started: Instant::now(),
        }
    }

    fn finish(&self, decision: &'static str, reason: &'static str) {
        self.sink.record(crate::audit::AuditRecord {
            request_id: self.request_id.clone(),
            at: crate::db::now(),
            transport: self.transport,
            subject: self.subject.clone(),
            client: self.client.clone(),
            tool: self.tool.clone(),
            scopes: self.scopes.join(" "),
            decision,
            reason,
            duration_us: self.started.elapsed().as_micros() as u64,
        });
    }
}
