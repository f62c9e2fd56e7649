//! The transport-independent request path: one JSON-RPC message in, one
//! reply (or a tool call ready to run) out. HTTP and stdio both come
//! through here, so they share the protocol rules, the policy and the
//! audit.
//!
//! [`decide`] parses the message (`protocol`), settles its protocol era
//! (`era.rs`), then routes by method: `tools/call` to `call.rs`,
//! resources and prompts to `entries.rs`, the rest to `methods.rs`. Every answer is a [`Reply`] (`reply.rs`).

use std::sync::Arc;

use serde_json::{Value, json};

use crate::caller::Caller;
use crate::policy::Rejection;
use crate::protocol;
use crate::registry::Tools;
use crate::server::McpServer;

mod ask;
mod call;
mod entries;
mod era;
mod incoming;
mod methods;
mod reply;
pub(crate) mod session;

pub(crate) use call::ToolCall;
pub(crate) use entries::EntryCall;
pub(crate) use era::{Header, ProtocolHeaders};
pub(crate) use incoming::{Incoming, Timing};
pub(crate) use reply::{Body, Reply};

use era::Era;

/// What [`decide`] decided.
pub(crate) enum Outcome<S: Tools> {
    /// Answer now.
    Reply(Reply),
    /// A permitted, validated tool call: run it (streaming or not).
    Call(Box<ToolCall<S>>),
    /// A permitted resource read or prompt get: run it.
    Entry(Box<EntryCall<S>>),
}

/// Decide what to do with one message. When metrics are on, its duration
/// is measured here for the methods answered at once; calls of tools,
/// resources and prompts are measured when their audit entry closes.
pub(crate) fn decide<S: Tools>(server: &Arc<McpServer<S>>, incoming: Incoming<'_>) -> Outcome<S> {
    let started = crate::telemetry::start();
    let msg = match protocol::parse(incoming.body) {
        Ok(m) => m,
        Err((protocol::Malformed::Response, id)) => {
            // The client's answer to a question this server sent it.
            let subject = incoming.caller.as_ref().map_or("", Caller::subject);
            return Outcome::Reply(answer(server, incoming.body, subject).unwrap_or_else(|| {
                Reply::refused(
                    &Rejection::Malformed(protocol::Malformed::Response),
                    &id,
                    &server.metadata_url,
                )
            }));
        }
        Err((why, id)) => {
            crate::telemetry::operation(started, "other", "", "error");
            return Outcome::Reply(Reply::refused(
                &Rejection::Malformed(why),
                &id,
                &server.metadata_url,
            ));
        }
    };
    let method = crate::telemetry::method_label(&msg.method);
    let span = crate::trace::enabled()
        .then(|| request_span(server, &msg, method, &incoming))
        .flatten();
    let mut outcome = route(server, msg, incoming);
    match &mut outcome {
        Outcome::Reply(r) => {
            if started.is_some()
                && !matches!(
                    method,
                    "tools/call" | "resources/read" | "prompts/get" | "completion/complete"
                )
            {
                crate::telemetry::operation(started, method, "", r.outcome());
            }
            // Only with a span: `error_type` reads the reply back.
            if let Some(span) = &span
                && let Some(error) = r.error_type()
            {
                span.fail(error);
            }
        }
        Outcome::Call(call) => call.span = span,
        Outcome::Entry(call) => call.span = span,
    }
    outcome
}

/// Hand a JSON-RPC response to the question of `subject` it answers:
/// 202 when one waited for it (on this instance).
fn answer<S: Tools>(server: &McpServer<S>, body: &[u8], subject: &str) -> Option<Reply> {
    let mut response: serde_json::Map<String, Value> = serde_json::from_slice(body).ok()?;
    let id = response.get("id")?.as_str()?.to_owned();
    let outcome = match (response.remove("result"), response.remove("error")) {
        (Some(result), None) => Ok(result),
        (None, Some(error)) => Err(error),
        _ => return None,
    };
    server
        .pending
        .answer(&id, subject, outcome)
        .then(Reply::accepted)
}

/// The request's trace span: what it calls (only names the registry has),
/// its id, protocol revision and transport, its caller's trace context.
fn request_span<S: Tools>(
    server: &McpServer<S>,
    msg: &protocol::Message,
    method: &'static str,
    incoming: &Incoming<'_>,
) -> Option<crate::trace::RequestSpan> {
    let name = msg.params.get("name").and_then(Value::as_str);
    let tool = name.filter(|n| method == "tools/call" && server.registry.position(n).is_some());
    let prompt = name.filter(|n| method == "prompts/get" && server.registry.prompt(n).is_some());
    let resource_uri = (method == "resources/read")
        .then(|| msg.params.get("uri").and_then(Value::as_str))
        .flatten();
    let protocol_version = if msg.meta_version().is_some() || method == "server/discover" {
        Some(protocol::MODERN)
    } else {
        incoming
            .headers
            .as_ref()
            .and_then(|h| h.version.text())
            .or_else(|| msg.params.get("protocolVersion").and_then(Value::as_str))
    };
    crate::trace::request(&crate::trace::RequestFacts {
        method,
        tool,
        prompt,
        resource_uri,
        id: msg.id.as_ref(),
        protocol_version,
        transport: incoming.transport,
        meta: msg.meta(),
        started: incoming.timing.started,
        authenticated: incoming.timing.authenticated,
    })
}

fn route<S: Tools>(
    server: &Arc<McpServer<S>>,
    msg: protocol::Message,
    incoming: Incoming<'_>,
) -> Outcome<S> {
    let id = msg.id.clone().unwrap_or(Value::Null);
    let era = match era::negotiate(&msg, incoming.headers.as_ref()) {
        Ok(era) => era,
        Err(why) => return Outcome::Reply(Reply::refused(&why, &id, &server.metadata_url)),
    };
    if msg.id.is_none() {
        // Notifications (initialized, cancelled, ...) need no answer.
        return Outcome::Reply(Reply::accepted());
    }
    let caller = incoming.caller.as_ref();
    let result = match (era, msg.method.as_str()) {
        // The call takes the message: its arguments go to the handler
        // without a copy.
        (_, "tools/call") => {
            return match call::prepare(server, msg, era, incoming) {
                Ok(call) => Outcome::Call(Box::new(call)),
                Err(reply) => Outcome::Reply(reply),
            };
        }
        // A capability the server does not have is a method it does not
        // have (it is not advertised either).
        (era, method @ ("resources/read" | "resources/list" | "resources/templates/list"))
            if server.registry.resources().is_empty() =>
        {
            Err(Rejection::MethodNotFound {
                method: method.to_owned(),
                modern: era == Era::Modern,
            })
        }
        (era, method @ ("prompts/get" | "prompts/list"))
            if server.registry.prompts().is_empty() =>
        {
            Err(Rejection::MethodNotFound {
                method: method.to_owned(),
                modern: era == Era::Modern,
            })
        }
        (era, "completion/complete")
            if server.registry.resources().is_empty() && server.registry.prompts().is_empty() =>
        {
            Err(Rejection::MethodNotFound {
                method: "completion/complete".to_owned(),
                modern: era == Era::Modern,
            })
        }
        (_, "resources/read" | "prompts/get" | "completion/complete") => {
            return match entries::prepare(server, msg, era, incoming) {
                Ok(call) => Outcome::Entry(Box::new(call)),
                Err(reply) => Outcome::Reply(reply),
            };
        }
        (_, "resources/list" | "resources/templates/list" | "prompts/list") => {
            let which = match msg.method.as_str() {
                "resources/list" => entries::List::Resources,
                "resources/templates/list" => entries::List::Templates,
                _ => entries::List::Prompts,
            };
            return Outcome::Reply(
                entries::list(server, &msg, caller, era, which)
                    .unwrap_or_else(|why| server.refuse(&why, &id, era)),
            );
        }
        (_, "tools/list") => {
            return Outcome::Reply(
                methods::list_tools(server, &msg, caller, era)
                    .unwrap_or_else(|why| server.refuse(&why, &id, era)),
            );
        }
        // Over HTTP, a server with nothing public answers the handshake
        // with the 401 challenge: a client without a token learns at once
        // that it must authorize (the MCP authorization flow begins with
        // this 401), not at its first call. stdio has no challenge to give:
        // its credential comes from the environment.
        (_, "initialize" | "server/discover")
            if caller.is_none() && incoming.transport == "http" && {
                let tools = server.registry.tools().iter().map(|t| t.spec());
                server.policy.may_list_anonymously(tools).is_err()
            } =>
        {
            Err(server.policy.unauthenticated())
        }
        (Era::Legacy, "initialize") => {
            let result = server.finish_result(methods::initialize(server, &msg), era);
            let mut reply = Reply::ok(msg.result(result));
            if incoming.transport == "http" {
                reply.session = Some(session::issue(&msg));
            }
            return Outcome::Reply(reply);
        }
        (Era::Legacy, "ping") => Ok(json!({})),
        (Era::Legacy, "logging/setLevel") => methods::set_level(&msg),
        (Era::Modern, "server/discover") => Ok(methods::discover(server)),
        (era, method) => Err(Rejection::MethodNotFound {
            method: method.to_owned(),
            modern: era == Era::Modern,
        }),
    };
    Outcome::Reply(match result {
        Ok(r) => Reply::ok(msg.result(server.finish_result(r, era))),
        Err(why) => server.refuse(&why, &id, era),
    })
}

impl<S: Tools> McpServer<S> {
    /// Call a tool as `caller` through the whole request path (policy,
    /// validation, transaction, audit), without a transport. Returns the
    /// JSON-RPC response.
    ///
    /// ```no_run
    /// # async fn demo<S: mcpgen::Tools>(server: std::sync::Arc<mcpgen::McpServer<S>>) {
    /// let alice = mcpgen::Caller::new("alice", ["notes:read"], None);
    /// let response = server
    ///     .call_tool(Some(alice), "search_owned_notes", serde_json::json!({"query": ""}))
    ///     .await;
    /// assert!(response["result"]["isError"] == false);
    /// # }
    /// ```
    pub async fn call_tool(
        self: &Arc<Self>,
        caller: Option<Caller>,
        name: &str,
        arguments: Value,
    ) -> Value {
        let body = json!({"jsonrpc": "2.0", "id": 1, "method": "tools/call",
            "params": {"name": name, "arguments": arguments}});
        let bytes = body.to_string();
        self.handle(bytes.as_bytes(), caller, "embedded")
            .await
            .body
            .map(Body::into_value)
            .unwrap_or_default()
    }

    /// One message through the whole request path, without a transport or
    /// notifications.
    pub(crate) async fn handle(
        self: &Arc<Self>,
        body: &[u8],
        caller: Option<Caller>,
        transport: &'static str,
    ) -> Reply {
        let incoming = Incoming {
            body,
            headers: None,
            caller,
            transport,
            peer: None,
            legacy_asks: false,
            timing: Timing::default(),
        };
        match decide(self, incoming) {
            Outcome::Reply(r) => r,
            Outcome::Call(call) => call.run(None).await,
            Outcome::Entry(call) => call.run().await,
        }
    }
}
