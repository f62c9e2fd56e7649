//! `tools/call`: the policy decision (credential, scopes, `[clients]`,
//! environment, rate limits), validation, the run in its transaction, and
//! the audit record.

use std::panic::AssertUnwindSafe;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use futures_util::FutureExt as _;
use serde_json::{Map, Value, json};
use tokio::sync::mpsc;

use crate::content::CallToolResult;
use crate::context::{Caller, Invocation, LogLevel, Notifier};
use crate::error::ToolError;
use crate::protocol::{Message, RpcError, code, meta};
use crate::registry::{Permission, Tool, Tools};
use crate::server::McpServer;
use crate::spec::Access;

use super::{Era, Outcome, Reply};

static REQUEST_IDS: AtomicU64 = AtomicU64::new(1);

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
        crate::server::AuthError::Unavailable => {
            let mut e = RpcError::new(
                code::UNAVAILABLE,
                503,
                "service unavailable: credentials cannot be verified right now; retry shortly",
            );
            e.retry_after = Some(1);
            e
        }
    }
}

pub(super) fn unauthenticated<S: Tools>(server: &McpServer<S>, scopes: &[&str]) -> RpcError {
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

/// What policy says about one caller and one tool.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Decision {
    Granted,
    Unauthenticated,
    MissingScopes,
    ClientNotAllowed,
    WritesDisabled,
}

/// The manifest's whole policy for `caller` on `tool`: credential and
/// scopes, the `[clients]` allowlist, and the environment's write switch.
pub(super) fn decide<S: Tools>(
    server: &McpServer<S>,
    tool: &Tool<S>,
    caller: Option<&Caller>,
) -> Decision {
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

/// A permitted, validated tool call, owning all it needs to run on its own
/// task or inside a response stream.
pub(crate) struct ToolCall<S: Tools> {
    server: Arc<McpServer<S>>,
    index: usize,
    /// The request's id, for the answer.
    id: Value,
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
    pub(crate) async fn run(mut self, tx: Option<mpsc::UnboundedSender<Value>>) -> Reply {
        // The handler takes the arguments; nothing after it reads them.
        let arguments = std::mem::take(&mut self.arguments);
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
        let tx = self.server.store.as_ref().map(|s| s.begin(def.access));
        let mut inv = Invocation::new(self.caller.as_ref(), def.access, notifier.as_ref())
            .with_facts(&self.server.facts);
        if let Some(tx) = &tx {
            inv = inv.with_tx(tx);
        }
        // A handler that panics fails its own call, like any internal
        // error: the caller gets an error result, the transaction rolls
        // back, the audit says so, and the connection (HTTP) or the session
        // (stdio) goes on. The panic's message is for the operator only.
        let run = AssertUnwindSafe((def.call)(&self.server.app, inv, arguments)).catch_unwind();
        let timeout = def
            .timeout_ms
            .or(S::manifest().limits.timeout_ms)
            .map_or(self.server.options.call_timeout, Duration::from_millis);
        let mut panicked = false;
        let outcome = match tokio::time::timeout(timeout, run).await {
            Ok(Ok(outcome)) => Ok(outcome),
            Ok(Err(panic)) => {
                panicked = true;
                let message = panic
                    .downcast_ref::<&str>()
                    .copied()
                    .or_else(|| panic.downcast_ref::<String>().map(String::as_str))
                    .unwrap_or("(no message)");
                tracing::error!(
                    tool = def.name,
                    panic = message,
                    "the tool's handler panicked"
                );
                Ok(Err(ToolError::Internal("the tool failed".into())))
            }
            Err(elapsed) => Err(elapsed),
        };
        // Commit only a write that succeeded; everything else rolls back,
        // so a failed or stopped write leaves nothing behind.
        let outcome = match (outcome, &tx) {
            (Ok(Ok(r)), Some(tx)) if def.access == Access::Write => match tx.commit().await {
                Ok(()) => Ok(Ok(r)),
                Err(e) => {
                    tracing::error!(error = %crate::db::DbError::from(e), "commit failed");
                    self.audit.finish("failed", "commit failed");
                    return self.unavailable(
                        "service unavailable: the database failed while saving; whether the change \
                         was saved is unknown, check before retrying",
                    );
                }
            },
            (outcome, Some(tx)) => {
                // A timeout or a database failure may have left the
                // connection mid-statement or broken: it is not reused.
                let clean = !matches!(
                    outcome,
                    Err(_) | Ok(Err(ToolError::Unavailable | ToolError::Internal(_)))
                );
                tx.rollback(clean).await;
                outcome
            }
            (outcome, None) => outcome,
        };
        let result = match outcome {
            Ok(Ok(r)) => {
                self.audit.finish("allowed", "ok");
                r
            }
            Ok(Err(ToolError::Unavailable)) => {
                self.audit.finish("failed", "database unavailable");
                return self.unavailable(NOTHING_CHANGED);
            }
            Ok(Err(e)) => {
                let reason = match &e {
                    ToolError::Internal(_) if panicked => "panicked",
                    ToolError::Internal(_) => "internal error",
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
        super::call_reply(&self.server, &self.id, &result, &self.era)
    }
}

/// The transaction was never begun, or was rolled back.
const NOTHING_CHANGED: &str =
    "service unavailable: the database cannot be reached; nothing was changed, retry shortly";

impl<S: Tools> ToolCall<S> {
    /// The database could not be used: a 503 with `Retry-After`, never a
    /// result.
    fn unavailable(&self, message: &str) -> Reply {
        let mut e = RpcError::new(code::UNAVAILABLE, 503, message);
        e.retry_after = Some(1);
        Reply::error(&e, &self.id)
    }
}

pub(super) fn prepare_call<S: Tools>(
    server: &Arc<McpServer<S>>,
    mut msg: Message,
    caller: Option<Caller>,
    era: Era,
    transport: &'static str,
) -> Result<Outcome<S>, RpcError> {
    let id = msg.id.take().unwrap_or(Value::Null);
    let name = match msg.params.remove("name") {
        Some(Value::String(n)) => n,
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
    let arguments = match msg.params.remove("arguments") {
        None | Some(Value::Null) => Value::Object(Map::new()),
        Some(a @ Value::Object(_)) => a,
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
            let result = CallToolResult::error(text);
            return Ok(Outcome::Reply(super::call_reply(
                server, &id, &result, &era,
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
        let result = CallToolResult::error(text);
        return Ok(Outcome::Reply(super::call_reply(
            server, &id, &result, &era,
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
        id,
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

/// This instance's next request id: its random prefix, then a counter of
/// fixed width, so an instance's ids sort in the order they were issued and
/// each audit row lands at the end of the table's primary-key index (with
/// a plain decimal counter, `-10` sorted before `-9`: rows went all over
/// the index, and under load its pages filled the writer's page cache).
fn next_request_id() -> String {
    format!(
        "{}-{:016x}",
        instance_prefix(),
        REQUEST_IDS.fetch_add(1, Ordering::Relaxed)
    )
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
            request_id: next_request_id(),
            transport,
            tool: crate::audit::field(tool),
            subject: caller.map_or_else(String::new, |c| crate::audit::field(c.subject())),
            client: crate::audit::field(caller.and_then(Caller::client_id).unwrap_or_default()),
            scopes: &[],
            started: Instant::now(),
        }
    }

    /// Record the call's outcome. Each call is finished once, so its
    /// fields move into the record instead of being copied.
    fn finish(&mut self, decision: &'static str, reason: &'static str) {
        self.sink.record(crate::audit::AuditRecord {
            request_id: std::mem::take(&mut self.request_id),
            at: crate::db::now(),
            transport: self.transport,
            subject: std::mem::take(&mut self.subject),
            client: std::mem::take(&mut self.client),
            tool: std::mem::take(&mut self.tool),
            scopes: self.scopes.join(" "),
            decision,
            reason,
            duration_us: self.started.elapsed().as_micros() as u64,
        });
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn request_ids_sort_in_the_order_they_were_issued() {
        // Across a change in the number of digits too (the tests of this
        // process issue far fewer ids).
        REQUEST_IDS.fetch_max(10_000_000 - 32, Ordering::Relaxed);
        let ids: Vec<String> = (0..64).map(|_| next_request_id()).collect();
        let mut sorted = ids.clone();
        sorted.sort();
        assert_eq!(sorted, ids);
        assert!(ids.iter().all(|id| id.starts_with(instance_prefix())));
    }
}
