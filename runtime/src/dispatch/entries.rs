//! Resources and prompts: `resources/list`, `resources/templates/list`,
//! `prompts/list`, filtered by the policy for each caller as `tools/list`
//! is; and `resources/read` and `prompts/get`, admitted exactly as a tool
//! call is (the entry exists, the policy permits it, the budget allows it,
//! an audit record), then run in a read-only transaction under the call
//! timeout. A resource of another subject answers exactly like a missing
//! one.

use std::panic::AssertUnwindSafe;
use std::sync::Arc;
use std::time::Duration;

use futures_util::FutureExt as _;
use serde_json::{Map, Value, json};

use crate::audit::{Entry, Verdict};
use crate::caller::Caller;
use crate::dispatch::era::Era;
use crate::dispatch::incoming::Incoming;
use crate::dispatch::reply::Reply;
use crate::error::ToolError;
use crate::handler::context::Invocation;
use crate::policy::{InvalidParams, Rejection};
use crate::protocol::Message;
use crate::registry::Tools;
use crate::server::McpServer;
use mcpgen_spec::{Access, EntryKind};

/// How long clients may cache these lists: they change only when the
/// server is redeployed.
const TTL_MS: u64 = 300_000;

/// Which list.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum List {
    Resources,
    Templates,
    Prompts,
}

/// `resources/list`, `resources/templates/list` or `prompts/list`: what
/// this caller may use, a page at a time.
pub(super) fn list<S: Tools>(
    server: &McpServer<S>,
    msg: &Message,
    caller: Option<&Caller>,
    era: Era,
    which: List,
) -> Result<Reply, Rejection> {
    let registry = &server.registry;
    // (name, public, permitted, listing)
    let entries: Vec<(&str, bool, bool, &Value)> = match which {
        List::Resources | List::Templates => registry
            .resources()
            .iter()
            .filter(|r| r.spec().templated == (which == List::Templates))
            .map(|r| {
                let s = r.spec();
                (
                    &*s.name,
                    s.public,
                    server.policy.permits(s, caller).is_ok(),
                    r.to_listing(),
                )
            })
            .collect(),
        List::Prompts => registry
            .prompts()
            .iter()
            .map(|p| {
                let s = p.spec();
                (
                    &*s.name,
                    s.public,
                    server.policy.permits(s, caller).is_ok(),
                    p.to_listing(),
                )
            })
            .collect(),
    };
    if caller.is_none() {
        match which {
            List::Prompts => server
                .policy
                .may_list_anonymously(registry.prompts().iter().map(|p| p.spec()))?,
            _ => server
                .policy
                .may_list_anonymously(registry.resources().iter().map(|r| r.spec()))?,
        }
    }
    let after = match msg.params.get("cursor") {
        None | Some(Value::Null) => None,
        Some(Value::String(c)) => Some(
            super::methods::decode_cursor(c)
                .ok_or(Rejection::InvalidParams(InvalidParams::UnknownCursor))?,
        ),
        Some(_) => return Err(Rejection::InvalidParams(InvalidParams::CursorNotString)),
    };
    let mut visible = entries
        .iter()
        .filter(|e| e.2)
        .filter(|e| after.as_deref().is_none_or(|a| e.0 > a));
    let page: Vec<_> = visible.by_ref().take(server.options.page_size).collect();
    let mut result = Map::new();
    let key = match which {
        List::Resources => "resources",
        List::Templates => "resourceTemplates",
        List::Prompts => "prompts",
    };
    result.insert(key.into(), page.iter().map(|e| e.3.clone()).collect());
    if let (Some(_), Some(last)) = (visible.next(), page.last()) {
        result.insert(
            "nextCursor".into(),
            super::methods::encode_cursor(last.0).into(),
        );
    }
    if era == Era::Modern {
        let any_private = entries.iter().any(|e| !e.1);
        result.insert("ttlMs".into(), TTL_MS.into());
        result.insert(
            "cacheScope".into(),
            if any_private { "private" } else { "public" }.into(),
        );
    }
    let id = msg.id.clone().unwrap_or(Value::Null);
    Ok(Reply::ok(json!({
        "jsonrpc": "2.0",
        "id": id,
        "result": server.finish_result(Value::Object(result), era),
    })))
}

/// A permitted read of a resource or get of a prompt, ready to run.
pub(crate) struct EntryCall<S: Tools> {
    server: Arc<McpServer<S>>,
    id: Value,
    era: Era,
    caller: Option<Caller>,
    audit: Entry,
    job: Job,
    /// The request's trace span, when tracing.
    pub(super) span: Option<crate::trace::RequestSpan>,
}

enum Job {
    /// Resource `index`, read at `uri` with its template's `values`.
    Read {
        index: usize,
        uri: String,
        values: Vec<String>,
    },
    /// Prompt `index` with its `arguments`.
    Get { index: usize, arguments: Value },
    /// Values for argument `argument` of resource `resource` (a template)
    /// or of a prompt, beginning with `value`.
    Complete {
        resource: Option<usize>,
        argument: String,
        value: String,
    },
}

/// Completion values offered at most (the rest: `hasMore`).
const COMPLETIONS: usize = 100;

/// Decide on a `resources/read` or `prompts/get`: a call ready to run, or
/// the answer now.
pub(super) fn prepare<S: Tools>(
    server: &Arc<McpServer<S>>,
    mut msg: Message,
    era: Era,
    incoming: Incoming<'_>,
) -> Result<EntryCall<S>, Reply> {
    let caller = incoming.caller;
    let id = msg.id.take().unwrap_or(Value::Null);
    let peer = incoming.peer.map(|p| p.to_string()).unwrap_or_default();
    if msg.method == "completion/complete" {
        let mut audit = server.audit.open(
            incoming.transport,
            &peer,
            "completion/complete",
            caller.as_ref(),
        );
        return match admit_complete(server, &msg, caller.as_ref(), &mut audit) {
            Ok(job) => Ok(EntryCall {
                server: Arc::clone(server),
                id,
                era,
                caller,
                audit,
                job,
                span: None,
            }),
            Err(why) => {
                audit.close(why.verdict());
                Err(server.refuse(&why, &id, era))
            }
        };
    }
    let read = msg.method == "resources/read";
    let key = if read { "uri" } else { "name" };
    let Some(Value::String(target)) = msg.params.remove(key) else {
        let why = if read {
            InvalidParams::ResourceUri
        } else {
            InvalidParams::PromptName
        };
        return Err(server.refuse(&Rejection::InvalidParams(why), &id, era));
    };
    let kind = if read {
        EntryKind::Resource
    } else {
        EntryKind::Prompt
    };
    let mut audit = server.audit.open(
        incoming.transport,
        &peer,
        &format!("{kind}:{target}"),
        caller.as_ref(),
    );
    let admitted = if read {
        admit_read(server, &target, caller.as_ref(), era, &mut audit)
    } else {
        admit_get(server, &target, &mut msg, caller.as_ref(), &mut audit)
    };
    match admitted {
        Ok(job) => Ok(EntryCall {
            server: Arc::clone(server),
            id,
            era,
            caller,
            audit,
            job,
            span: None,
        }),
        Err(why) => {
            audit.close(why.verdict());
            Err(server.refuse(&why, &id, era))
        }
    }
}

fn admit_read<S: Tools>(
    server: &McpServer<S>,
    uri: &str,
    caller: Option<&Caller>,
    era: Era,
    audit: &mut Entry,
) -> Result<Job, Rejection> {
    let not_found = || Rejection::ResourceNotFound {
        uri: uri.to_owned(),
        modern: era == Era::Modern,
    };
    let Some((resource, values)) = server.registry.resolve(uri) else {
        // Without a credential an unknown URI answers like a known one
        // that needs one: nothing to enumerate.
        return Err(match caller {
            None => server.policy.unauthenticated(),
            Some(_) => not_found(),
        });
    };
    let spec = resource.spec();
    audit.scopes(&spec.scopes);
    server.policy.permits(spec, caller)?;
    server.policy.within_entry_budget(spec, caller)?;
    let index = server
        .registry
        .resources()
        .iter()
        .position(|r| std::ptr::eq(r, resource))
        .ok_or_else(not_found)?;
    Ok(Job::Read {
        index,
        uri: uri.to_owned(),
        values,
    })
}

fn admit_get<S: Tools>(
    server: &McpServer<S>,
    name: &str,
    msg: &mut Message,
    caller: Option<&Caller>,
    audit: &mut Entry,
) -> Result<Job, Rejection> {
    let Some(index) = server
        .registry
        .prompts()
        .iter()
        .position(|p| p.spec().name == name)
    else {
        return Err(match caller {
            None => server.policy.unauthenticated(),
            Some(_) => Rejection::UnknownPrompt {
                name: name.to_owned(),
            },
        });
    };
    let spec = server.registry.prompts()[index].spec();
    audit.scopes(&spec.scopes);
    server.policy.permits(spec, caller)?;
    server.policy.within_entry_budget(spec, caller)?;
    let arguments = match msg.params.remove("arguments") {
        None | Some(Value::Null) => Value::Object(Map::new()),
        Some(a @ Value::Object(_)) => a,
        Some(_) => return Err(Rejection::InvalidParams(InvalidParams::ArgumentsNotObject)),
    };
    Ok(Job::Get { index, arguments })
}

/// `completion/complete`: the reference must name a resource template or a
/// prompt the caller may use; the answer is computed when it runs.
fn admit_complete<S: Tools>(
    server: &McpServer<S>,
    msg: &Message,
    caller: Option<&Caller>,
    audit: &mut Entry,
) -> Result<Job, Rejection> {
    let bad = || Rejection::InvalidParams(InvalidParams::CompletionReference);
    let reference = msg.params.get("ref").ok_or_else(bad)?;
    let argument = msg.params.get("argument").ok_or_else(bad)?;
    let (Some(name), Some(value)) = (
        argument.get("name").and_then(Value::as_str),
        argument.get("value").and_then(Value::as_str),
    ) else {
        return Err(bad());
    };
    let unknown = |kind: EntryKind, what: String| match caller {
        None => server.policy.unauthenticated(),
        Some(_) => Rejection::EntryFailed {
            kind,
            name: what.into(),
            message: "no such resource template or prompt".into(),
            invalid_params: true,
        },
    };
    let resource = match reference.get("type").and_then(Value::as_str) {
        Some("ref/resource") => {
            let uri = reference
                .get("uri")
                .and_then(Value::as_str)
                .ok_or_else(bad)?;
            let index = server
                .registry
                .resources()
                .iter()
                .position(|r| r.spec().templated && r.spec().uri == uri)
                .ok_or_else(|| unknown(EntryKind::Resource, uri.to_owned()))?;
            let spec = server.registry.resources()[index].spec();
            audit.scopes(&spec.scopes);
            server.policy.permits(spec, caller)?;
            server.policy.within_entry_budget(spec, caller)?;
            Some(index)
        }
        Some("ref/prompt") => {
            let prompt = reference
                .get("name")
                .and_then(Value::as_str)
                .ok_or_else(bad)?;
            let p = server
                .registry
                .prompt(prompt)
                .ok_or_else(|| unknown(EntryKind::Prompt, prompt.to_owned()))?;
            audit.scopes(&p.spec().scopes);
            server.policy.permits(p.spec(), caller)?;
            server.policy.within_entry_budget(p.spec(), caller)?;
            None
        }
        _ => return Err(bad()),
    };
    Ok(Job::Complete {
        resource,
        argument: name.to_owned(),
        value: value.to_owned(),
    })
}

impl<S: Tools> EntryCall<S> {
    /// Run the handler in a read-only transaction under the call timeout.
    pub(crate) async fn run(mut self) -> Reply {
        let span = self.span.take();
        let began = crate::trace::now();
        let reply = self.answer().await;
        if let Some(span) = &span {
            if let Some(began) = began {
                span.child("handler", (began, std::time::SystemTime::now()), Vec::new());
            }
            if let Some(error) = reply.error_type() {
                span.fail(error);
            }
        }
        reply
    }

    async fn answer(self) -> Reply {
        let Self {
            server,
            id,
            era,
            caller,
            audit,
            job,
            span: _,
        } = self;
        let db = server.store.as_ref().map(|s| s.begin(Access::Read));
        let mut inv =
            Invocation::new(caller.as_ref(), Access::Read, None).with_facts(&server.facts);
        if let Some(db) = &db {
            inv = inv.with_tx(db);
        }
        let own_timeout = match &job {
            Job::Read { index, .. } => server.registry.resources()[*index].spec().timeout_ms,
            Job::Get { index, .. } => server.registry.prompts()[*index].spec().timeout_ms,
            Job::Complete { resource, .. } => {
                resource.and_then(|i| server.registry.resources()[i].spec().timeout_ms)
            }
        };
        let timeout = own_timeout
            .or(S::manifest().limits.timeout_ms)
            .map_or(server.options.call_timeout, Duration::from_millis);
        if let Job::Complete {
            resource,
            argument,
            value,
        } = &job
        {
            let values = match (resource, &db, caller.as_ref()) {
                (Some(index), Some(db), Some(caller)) => {
                    let r = &server.registry.resources()[*index];
                    let record = r
                        .spec()
                        .record
                        .as_deref()
                        .and_then(|k| S::manifest().record(k));
                    let owned_variable = r.template().variables().any(|v| v == argument);
                    match record.filter(|_| owned_variable) {
                        Some(rule) => {
                            let limit = i64::try_from(COMPLETIONS + 1).unwrap_or(i64::MAX);
                            let fetched = tokio::time::timeout(
                                timeout,
                                crate::store::owned_ids(db, rule, caller.subject(), value, limit),
                            )
                            .await;
                            match fetched {
                                Ok(Ok(v)) => Ok(v),
                                Ok(Err(ToolError::Unavailable)) | Err(_) => {
                                    Err(Rejection::Unavailable)
                                }
                                Ok(Err(_)) => Err(Rejection::Internal("completion")),
                            }
                        }
                        None => Ok(Vec::new()),
                    }
                }
                _ => Ok(Vec::new()),
            };
            if let Some(db) = &db {
                db.rollback(values.is_ok()).await;
            }
            return match values {
                Ok(mut values) => {
                    let more = values.len() > COMPLETIONS;
                    values.truncate(COMPLETIONS);
                    audit.close(Verdict::Allowed);
                    let result = json!({"completion": {"values": values, "hasMore": more}});
                    Reply::ok(
                        json!({"jsonrpc": "2.0", "id": id, "result": server.finish_result(result, era)}),
                    )
                }
                Err(why) => {
                    audit.close(why.verdict());
                    server.refuse(&why, &id, era)
                }
            };
        }
        let (kind, name, run): (EntryKind, &mcpgen_spec::Text, _) = match &job {
            Job::Read { index, uri, values } => {
                let r = &server.registry.resources()[*index];
                let def = r.def();
                let mime = def.spec.mime_type.as_deref();
                let fut = (def.read)(&server.app, inv, values.clone());
                let uri = uri.clone();
                let run = async move {
                    fut.await
                        .map(|contents| json!({"contents": [contents.to_json(&uri, mime)]}))
                }
                .boxed();
                (EntryKind::Resource, &def.spec.name, run)
            }
            Job::Get { index, arguments } => {
                let def = server.registry.prompts()[*index].def();
                let fut = (def.get)(&server.app, inv, arguments.clone());
                let description = def.spec.description.clone();
                let run = async move {
                    fut.await
                        .map(|messages| json!({"description": description, "messages": messages}))
                }
                .boxed();
                (EntryKind::Prompt, &def.spec.name, run)
            }
            Job::Complete { .. } => unreachable!("answered above"),
        };
        let outcome =
            match tokio::time::timeout(timeout, AssertUnwindSafe(run).catch_unwind()).await {
                Ok(Ok(r)) => r.map_err(Some),
                Ok(Err(_)) => {
                    tracing::error!(entry = &**name, "the {kind}'s handler panicked");
                    Err(None)
                }
                Err(_) => Err(Some(ToolError::Internal(
                    format!(
                        "it did not finish within {} ms and was stopped",
                        timeout.as_millis()
                    )
                    .into(),
                ))),
            };
        if let Some(db) = &db {
            // Nothing is ever committed: a resource or prompt only reads.
            let clean = !matches!(
                outcome,
                Err(None | Some(ToolError::Unavailable | ToolError::Internal(_)))
            );
            db.rollback(clean).await;
        }
        let not_found_uri = match &job {
            Job::Read { uri, .. } => Some(uri.clone()),
            Job::Get { .. } | Job::Complete { .. } => None,
        };
        let (verdict, answer) = match outcome {
            Ok(result) => (Verdict::Allowed, Ok(result)),
            Err(None) => (
                Verdict::Panicked,
                Err(Rejection::EntryFailed {
                    kind,
                    name: name.clone(),
                    message: "internal error".into(),
                    invalid_params: false,
                }),
            ),
            Err(Some(e)) => failure(kind, name, e, not_found_uri, era),
        };
        audit.close(verdict);
        match answer {
            Ok(result) => Reply::ok(json!({
                "jsonrpc": "2.0",
                "id": id,
                "result": server.finish_result(result, era),
            })),
            Err(why) => server.refuse(&why, &id, era),
        }
    }
}

/// What the audit records of a handler's error, and what the caller gets.
fn failure(
    kind: EntryKind,
    name: &mcpgen_spec::Text,
    e: ToolError,
    uri: Option<String>,
    era: Era,
) -> (Verdict, Result<Value, Rejection>) {
    let failed = |message: String, invalid_params: bool| Rejection::EntryFailed {
        kind,
        name: name.clone(),
        message,
        invalid_params,
    };
    match e {
        ToolError::Unavailable => (Verdict::DatabaseUnavailable, Err(Rejection::Unavailable)),
        ToolError::NotFound { .. } => match uri {
            // A record of another subject, or none: "not found", the same.
            Some(uri) => (
                Verdict::NotFound,
                Err(Rejection::ResourceNotFound {
                    uri,
                    modern: era == Era::Modern,
                }),
            ),
            None => (Verdict::NotFound, Err(failed(e.to_string(), true))),
        },
        ToolError::InvalidArguments(_) => (
            Verdict::HandlerInvalidArguments,
            Err(failed(e.to_string(), true)),
        ),
        ToolError::Internal(ref m) if m.starts_with("it did not finish") => {
            (Verdict::Timeout, Err(failed(e.to_string(), false)))
        }
        ToolError::Internal(_) => (Verdict::InternalError, Err(failed(e.to_string(), false))),
        // Resources and prompts put no questions (they have no asker).
        ToolError::Rejected(_) | ToolError::InputRequired => {
            (Verdict::Rejected, Err(failed(e.to_string(), false)))
        }
    }
}

impl<S: Tools> McpServer<S> {
    /// The resource kinds this server has, for its capabilities.
    pub(super) fn entry_capabilities(&self) -> Map<String, Value> {
        let mut caps = Map::new();
        if !self.registry.resources().is_empty() {
            caps.insert(
                "resources".into(),
                json!({"subscribe": false, "listChanged": false}),
            );
        }
        if !self.registry.prompts().is_empty() {
            caps.insert("prompts".into(), json!({"listChanged": false}));
        }
        if !self.registry.resources().is_empty() || !self.registry.prompts().is_empty() {
            caps.insert("completions".into(), json!({}));
        }
        caps
    }
}
