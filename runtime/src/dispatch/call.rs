//! `tools/call`, in two steps. [`prepare`] opens the call's audit entry,
//! finds the tool, asks the policy, counts the call against its budgets and
//! validates the arguments against the advertised schema: any refusal
//! closes the entry there. [`ToolCall::run`] runs the permitted call in its
//! transaction under its timeout, and closes the entry with the outcome.

use std::panic::AssertUnwindSafe;
use std::sync::Arc;
use std::time::Duration;

use futures_util::FutureExt as _;
use serde_json::{Map, Value};
use tokio::sync::mpsc;

use crate::audit::{Entry, Verdict};
use crate::caller::Caller;
use crate::dispatch::ask::{self, Resume, Stop};
use crate::dispatch::era::Era;
use crate::dispatch::incoming::Incoming;
use crate::dispatch::reply::Reply;
use crate::error::ToolError;
use crate::handler::LogLevel;
use crate::handler::context::Invocation;
use crate::handler::context::Notifier;
use crate::handler::output::CallToolResult;
use crate::policy::{InvalidParams, Rejection};
use crate::protocol::{Message, meta};
use crate::registry::Tools;
use crate::server::McpServer;
use mcpgen_spec::Access;

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
    /// What the call brought to go on with an earlier round.
    resume: Resume,
    audit: Entry,
    /// The request's trace span, when tracing.
    pub(super) span: Option<crate::trace::RequestSpan>,
}

/// Decide on a `tools/call`: a call ready to run, or the answer now.
pub(super) fn prepare<S: Tools>(
    server: &Arc<McpServer<S>>,
    mut msg: Message,
    era: Era,
    incoming: Incoming<'_>,
) -> Result<ToolCall<S>, Reply> {
    let caller = incoming.caller;
    let id = msg.id.take().unwrap_or(Value::Null);
    let name = match msg.params.remove("name") {
        Some(Value::String(n)) => n,
        _ => {
            return Err(server.refuse(
                &Rejection::InvalidParams(InvalidParams::ToolName),
                &id,
                era,
            ));
        }
    };
    let peer = incoming.peer.map(|p| p.to_string()).unwrap_or_default();
    let mut audit = server
        .audit
        .open(incoming.transport, &peer, &name, caller.as_ref());
    match admit(server, &name, &mut msg, caller.as_ref(), &mut audit) {
        Ok((index, arguments)) => {
            let legacy_asks = incoming.legacy_asks
                || incoming
                    .headers
                    .as_ref()
                    .is_some_and(|h| super::session::can_ask(h.session));
            let resume = Resume::take(&mut msg.params, era, legacy_asks);
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
            Ok(ToolCall {
                server: Arc::clone(server),
                index,
                id,
                arguments,
                caller,
                era,
                progress_token,
                log_level,
                resume,
                audit,
                span: None,
            })
        }
        Err(why) => {
            audit.close(why.verdict());
            Err(server.refuse(&why, &id, era))
        }
    }
}

/// Every check a call passes before its handler runs, in order: the tool
/// exists, the policy permits it, the budgets allow it, its arguments are
/// an object that fits the schema.
fn admit<S: Tools>(
    server: &McpServer<S>,
    name: &str,
    msg: &mut Message,
    caller: Option<&Caller>,
    audit: &mut Entry,
) -> Result<(usize, Value), Rejection> {
    let Some(index) = server.registry.position(name) else {
        // Without a credential an unknown tool answers like a known one
        // that needs one: nothing to enumerate.
        return Err(match caller {
            None => server.policy.unauthenticated(),
            Some(_) => Rejection::UnknownTool {
                name: name.to_owned(),
            },
        });
    };
    let tool = &server.registry.tools()[index];
    let spec = tool.spec();
    audit.scopes(&spec.scopes);
    // The policy first: a caller who may not call the tool learns nothing
    // more about it.
    server.policy.permits(spec, caller)?;
    server.policy.within_budget(index, spec, caller)?;
    let arguments = match msg.params.remove("arguments") {
        None | Some(Value::Null) => Value::Object(Map::new()),
        Some(a @ Value::Object(_)) => a,
        Some(_) => return Err(Rejection::InvalidParams(InvalidParams::ArgumentsNotObject)),
    };
    tool.validate(&arguments)
        .map_err(|problems| Rejection::InvalidArguments {
            tool: spec.name.clone(),
            problems,
        })?;
    Ok((index, arguments))
}

impl<S: Tools> ToolCall<S> {
    /// Whether the call may send messages while it runs: notifications
    /// the client asked for, or (2025-11-25) questions to the person.
    pub(crate) fn wants_stream(&self) -> bool {
        self.progress_token.is_some()
            || self.log_level.is_some()
            || (self.era == Era::Legacy && self.resume.can_ask)
    }

    /// Run the handler under the call timeout, in the call's transaction.
    /// Notifications go to `tx`.
    pub(crate) async fn run(mut self, tx: Option<mpsc::UnboundedSender<Value>>) -> Reply {
        // The handler takes the arguments; nothing after it reads them.
        let arguments = std::mem::take(&mut self.arguments);
        let server = Arc::clone(&self.server);
        let def = server.registry.tools()[self.index].def();
        let spec = &def.spec;
        let span = self.span.take();
        if let Some(span) = &span {
            span.arguments(&arguments);
        }
        let conversation = ask::Call {
            server: &server,
            spec,
            arguments: &arguments,
            caller: self.caller.as_ref(),
            era: self.era,
            audit: &self.audit,
        };
        let resume = std::mem::take(&mut self.resume);
        let asker = match ask::settle(conversation, resume, tx.clone()).await {
            Ok(asker) => asker,
            Err(stop) => return self.stop(stop, &arguments).await,
        };
        let notifier = tx.map(|tx| {
            Notifier::new(
                tx,
                self.progress_token.clone(),
                self.log_level,
                &S::manifest().server.name,
            )
        });
        let db = server.store.as_ref().map(|s| s.begin(spec.access));
        let mut inv = Invocation::new(self.caller.as_ref(), spec.access, notifier.as_ref())
            .with_facts(&server.facts);
        if let Some(db) = &db {
            inv = inv.with_tx(db);
        }
        if let Some(asker) = &asker {
            inv = inv.with_asker(asker);
        }
        // A handler that panics fails its own call, like any internal
        // error: the caller gets an error result, the transaction rolls
        // back, the audit says so, and the connection (HTTP) or the session
        // (stdio) goes on. The panic's message is for the operator only.
        // The handler takes the arguments; a call that asks again needs
        // them for its request state.
        let kept = asker.is_some().then(|| arguments.clone());
        let run = AssertUnwindSafe((def.call)(&server.app, inv, arguments)).catch_unwind();
        let timeout = spec
            .timeout_ms
            .or(S::manifest().limits.timeout_ms)
            .map_or(server.options.call_timeout, Duration::from_millis);
        let began = crate::trace::now();
        let outcome = match tokio::time::timeout(timeout, run).await {
            Ok(Ok(Ok(result))) => Ok(result),
            Ok(Ok(Err(e))) => Err(Failure::Tool(e)),
            Ok(Err(panic)) => {
                let message = panic
                    .downcast_ref::<&str>()
                    .copied()
                    .or_else(|| panic.downcast_ref::<String>().map(String::as_str))
                    .unwrap_or("(no message)");
                tracing::error!(
                    tool = &*spec.name,
                    panic = message,
                    "the tool's handler panicked"
                );
                Err(Failure::Panicked)
            }
            Err(_) => Err(Failure::Timeout),
        };
        if let (Some(span), Some(began)) = (&span, began) {
            span.child(
                "handler",
                (began, std::time::SystemTime::now()),
                vec![opentelemetry::KeyValue::new(
                    "gen_ai.tool.name",
                    spec.name.to_string(),
                )],
            );
        }
        let ending = crate::trace::now();
        let committing = outcome.is_ok() && spec.access == Access::Write;
        // Commit only a write that succeeded; everything else rolls back,
        // so a failed or stopped write leaves nothing behind.
        let outcome = match (outcome, &db) {
            (Ok(result), Some(db)) if spec.access == Access::Write => match db.commit().await {
                Ok(()) => Ok(result),
                Err(e) => {
                    tracing::error!(error = %crate::store::DbError::from(e), "commit failed");
                    Err(Failure::Commit)
                }
            },
            (outcome, Some(db)) => {
                // A timeout or a database failure may have left the
                // connection mid-statement or broken: it is not reused.
                let clean = !matches!(
                    outcome,
                    Err(Failure::Timeout
                        | Failure::Panicked
                        | Failure::Tool(ToolError::Unavailable | ToolError::Internal(_)))
                );
                db.rollback(clean).await;
                outcome
            }
            (outcome, None) => outcome,
        };
        // The handler's database work: from its first query to the end of
        // its transaction (committed, or rolled back and released).
        if let (Some(span), Some(ending), Some(db)) = (&span, ending, &db)
            && let Some(first) = db.first_use()
        {
            let system = match server.facts.database {
                Some("postgres") => "postgresql",
                _ => "sqlite",
            };
            span.child(
                "database",
                (first.min(ending), std::time::SystemTime::now()),
                vec![
                    opentelemetry::KeyValue::new("db.system.name", system),
                    opentelemetry::KeyValue::new(
                        "mcpgen.transaction.end",
                        if committing { "commit" } else { "rollback" },
                    ),
                ],
            );
        }
        drop(notifier);
        // The handler asked a question (2026-07-28): its work so far is
        // rolled back, and the call ends with the question.
        if let (Err(Failure::Tool(ToolError::InputRequired)), Some(asker), Some(args)) =
            (&outcome, &asker, &kept)
            && let Some((asked, answers)) = asker.unanswered()
        {
            let stop = Stop::Ask {
                asked,
                answers,
                verdict: Verdict::QuestionAsked,
            };
            return self.stop(stop, args).await;
        }
        let (verdict, answer) = match outcome {
            Ok(result) => (Verdict::Allowed, Ok(result)),
            Err(failure) => failure.answer(timeout),
        };
        self.audit.close(verdict);
        if let Some(span) = &span {
            match &answer {
                Ok(r) if r.is_error => span.fail("tool_error".to_owned()),
                Ok(_) => {}
                Err(why) => span.fail(why.code().to_string()),
            }
        }
        match answer {
            Ok(result) => server.call_reply(&self.id, &result, self.era),
            Err(why) => server.refuse(&why, &self.id, self.era),
        }
    }
}

impl<S: Tools> ToolCall<S> {
    /// End the call without (or before) its handler's result.
    async fn stop(self, stop: Stop, arguments: &Value) -> Reply {
        let server = Arc::clone(&self.server);
        match stop {
            Stop::Ask {
                asked,
                answers,
                verdict,
            } => {
                let spec = &server.registry.tools()[self.index].def().spec;
                let call = ask::Call {
                    server: &server,
                    spec,
                    arguments,
                    caller: self.caller.as_ref(),
                    era: self.era,
                    audit: &self.audit,
                };
                match ask::input_required(call, asked, answers).await {
                    Ok(result) => {
                        self.audit.close(verdict);
                        Reply::ok(
                            serde_json::json!({"jsonrpc": "2.0", "id": self.id, "result": result}),
                        )
                    }
                    Err(why) => {
                        self.audit.close(Verdict::DatabaseUnavailable);
                        server.refuse(&why, &self.id, self.era)
                    }
                }
            }
            Stop::Result(verdict, result) => {
                self.audit.close(verdict);
                server.call_reply(&self.id, &result, self.era)
            }
            Stop::Refuse(verdict, why) => {
                self.audit.close(verdict);
                server.refuse(&why, &self.id, self.era)
            }
        }
    }
}

/// How a permitted call failed.
enum Failure {
    /// The handler returned an error.
    Tool(ToolError),
    /// The handler panicked.
    Panicked,
    /// The handler overran its timeout.
    Timeout,
    /// The write's commit failed in flight.
    Commit,
}

impl Failure {
    /// What the audit records, and what the caller gets: an error result
    /// the model can read, or (the database could not be used) a 503.
    fn answer(self, timeout: Duration) -> (Verdict, Result<CallToolResult, Rejection>) {
        let result = |verdict, e: ToolError| (verdict, Ok(CallToolResult::error(e.to_string())));
        match self {
            Failure::Tool(ToolError::Unavailable) => {
                (Verdict::DatabaseUnavailable, Err(Rejection::Unavailable))
            }
            Failure::Commit => (Verdict::CommitFailed, Err(Rejection::CommitUnknown)),
            Failure::Tool(e @ ToolError::NotFound { .. }) => result(Verdict::NotFound, e),
            Failure::Tool(e @ ToolError::InvalidArguments(_)) => {
                result(Verdict::HandlerInvalidArguments, e)
            }
            Failure::Tool(e @ ToolError::Internal(_)) => result(Verdict::InternalError, e),
            Failure::Tool(e) => result(Verdict::Rejected, e),
            Failure::Panicked => result(
                Verdict::Panicked,
                ToolError::Internal("the tool failed".into()),
            ),
            Failure::Timeout => (
                Verdict::Timeout,
                Ok(CallToolResult::error(format!(
                    "the tool did not finish within {} ms and was stopped",
                    timeout.as_millis()
                ))),
            ),
        }
    }
}
