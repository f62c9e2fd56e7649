//! The policy tests `#[mcpgen::tools]` generates for every tool: without a
//! credential the tool answers 401 with a challenge naming its scopes; with
//! a credential lacking them, 403 `insufficient_scope` naming all of them;
//! it is listed only for callers who may call it; a tool that loads an owned
//! record answers another subject's id exactly like a missing one (the
//! record is made through the server's own write tool for that kind); a read
//! tool leaves the database as it was. They run in-process on a scratch
//! SQLite database.

use std::sync::Arc;

use serde_json::{Map, Value, json};

use crate::caller::Caller;
use crate::dispatch::Reply;
use crate::registry::{Tool, Tools};
use crate::server::{McpServer, ServerOptions};
use crate::store::{Db, Store};
use mcpgen_spec::Access;

/// An input the tool's schema accepts, as far as one can be made from the
/// schema alone: required properties with their smallest valid values.
pub fn example_arguments(schema: &Value) -> Value {
    fn resolve<'a>(root: &'a Value, s: &'a Value) -> &'a Value {
        match s.get("$ref").and_then(Value::as_str) {
            Some(r) => r
                .strip_prefix("#/$defs/")
                .and_then(|name| root.get("$defs").and_then(|d| d.get(name)))
                .unwrap_or(s),
            None => s,
        }
    }
    fn value(root: &Value, s: &Value) -> Value {
        let s = resolve(root, s);
        if let Some(first) = s.get("enum").and_then(|e| e.get(0)) {
            return first.clone();
        }
        let ty = match s.get("type") {
            Some(Value::String(t)) => t.as_str(),
            Some(Value::Array(ts)) => ts
                .iter()
                .filter_map(Value::as_str)
                .find(|t| *t != "null")
                .unwrap_or("null"),
            _ => "object",
        };
        match ty {
            "string" => {
                let n = s
                    .get("minLength")
                    .and_then(Value::as_u64)
                    .unwrap_or(1)
                    .max(1);
                Value::String("x".repeat(n as usize))
            }
            "integer" | "number" => s.get("minimum").cloned().unwrap_or(json!(1)),
            "boolean" => json!(false),
            "array" => json!([]),
            "null" => Value::Null,
            _ => {
                let mut out = Map::new();
                let required: Vec<&str> = s
                    .get("required")
                    .and_then(Value::as_array)
                    .map(|r| r.iter().filter_map(Value::as_str).collect())
                    .unwrap_or_default();
                for name in required {
                    if let Some(p) = s.get("properties").and_then(|p| p.get(name)) {
                        out.insert(name.to_owned(), value(root, p));
                    }
                }
                Value::Object(out)
            }
        }
    }
    value(schema, schema)
}

pub(super) async fn send<S: Tools>(
    server: &Arc<McpServer<S>>,
    caller: Option<Caller>,
    body: Value,
) -> Reply {
    server
        .handle(body.to_string().as_bytes(), caller, "policy-test")
        .await
}

/// Call tool `name` with `arguments` as `caller` the way a client that can
/// ask a person does (2026-07-28, elicitation declared): a confirmation the
/// tool asks for is answered with `answer` (`{"action": "accept",
/// "content": {"confirm": true}}` confirms).
pub(crate) async fn call_answering<S: Tools>(
    server: &Arc<McpServer<S>>,
    caller: Option<Caller>,
    name: &str,
    arguments: &Value,
    answer: Value,
) -> Reply {
    let request = |more: Value| {
        let mut params = json!({
            "name": name,
            "arguments": arguments,
            "_meta": {
                "io.modelcontextprotocol/protocolVersion": "2026-07-28",
                "io.modelcontextprotocol/clientCapabilities": {"elicitation": {}},
            },
        });
        if let (Some(p), Value::Object(more)) = (params.as_object_mut(), more) {
            p.extend(more);
        }
        json!({"jsonrpc": "2.0", "id": 5, "method": "tools/call", "params": params})
    };
    let first = send(server, caller.clone(), request(Value::Null)).await;
    let result = first
        .body
        .clone()
        .map(|b| b.into_value()["result"].clone())
        .unwrap_or_default();
    if result["resultType"] != "input_required" {
        return first;
    }
    let state = result["requestState"].clone();
    let responses: serde_json::Map<String, Value> = result["inputRequests"]
        .as_object()
        .map(|asked| asked.keys().map(|k| (k.clone(), answer.clone())).collect())
        .unwrap_or_default();
    send(
        server,
        caller,
        request(json!({"requestState": state, "inputResponses": responses})),
    )
    .await
}

/// The confirmation a person gives.
pub(crate) fn confirmed() -> Value {
    json!({"action": "accept", "content": {"confirm": true}})
}

pub(super) async fn dump(db: &Db) -> Vec<String> {
    let tables: Vec<String> = sqlx::query_scalar(
        "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%' ORDER BY name",
    )
    .fetch_all(db.pool())
    .await
    .expect("list tables");
    let mut out = Vec::new();
    for t in tables {
        let count: i64 =
            sqlx::query_scalar(sqlx::AssertSqlSafe(format!("SELECT COUNT(*) FROM \"{t}\"")))
                .fetch_one(db.pool())
                .await
                .expect("count");
        out.push(format!("{t}: {count} rows"));
    }
    out
}

/// Create a record of `kind` as another subject through the server's own
/// write tool for that kind, then ask for it (and for an id that never
/// existed) as this subject: the two answers must be identical.
async fn check_foreign_id<S: Tools>(
    server: &Arc<McpServer<S>>,
    db: &Db,
    name: &str,
    kind: &str,
    all_scopes: &[&str],
) {
    let Some(spec) = S::manifest().record(kind) else {
        return;
    };
    let everything = || Caller::new("policy-test-owner", all_scopes.iter().copied(), None);
    let writer = server.registry().tools().iter().find(|t| {
        let t = t.spec();
        t.access == Access::Write && t.record.as_deref() == Some(kind) && !t.is_builtin()
    });
    let mut written = None;
    let foreign_id = match writer {
        Some(w) => {
            let args = arguments_for(w);
            let body = json!({"jsonrpc": "2.0", "id": 3, "method": "tools/call",
                              "params": {"name": w.spec().name, "arguments": args}});
            let _ = body;
            let reply = call_answering(
                server,
                Some(everything()),
                &w.spec().name,
                &args,
                confirmed(),
            )
            .await;
            written = Some((w.spec().name.to_string(), args, reply));
            sqlx::query_scalar::<_, String>(sqlx::AssertSqlSafe(format!(
                "SELECT CAST({} AS TEXT) FROM {} WHERE {} = $1",
                spec.id, spec.table, spec.owner
            )))
            .bind("policy-test-owner")
            .fetch_optional(db.pool())
            .await
            .ok()
            .flatten()
        }
        None => None,
    };
    let ask = |id: Value| {
        let body = json!({"jsonrpc": "2.0", "id": 4, "method": "tools/call",
                          "params": {"name": name, "arguments": {"id": id}}});
        let caller = Caller::new("policy-test-subject", all_scopes.iter().copied(), None);
        send(server, Some(caller), body)
    };
    let id_schema = &server
        .registry()
        .get(name)
        .map(|t| t.input_schema()["properties"]["id"].clone());
    let missing_id = match id_schema.as_ref().and_then(|s| s["type"].as_str()) {
        Some("integer") => json!(987_654_321),
        _ => json!("policy-test-missing-id"),
    };
    let missing = ask(missing_id).await;
    assert_eq!(
        missing.status, 200,
        "tool `{name}`: a missing id must answer 200, got {missing:?}"
    );
    if let (Some((writer, args, reply)), None) = (&written, &foreign_id) {
        panic!(
            "tool `{name}`: the ownership check needs a {kind} of another subject, made by calling `{writer}` \
             with {args}, which made none; it answered {}. Give `{writer}` arguments that pass its validation: \
             `example = {{ ... }}` under [tools.{writer}] in the manifest",
            reply
                .body
                .as_ref()
                .map_or_else(|| "nothing".to_owned(), |b| b.to_json_string())
        );
    }
    if let Some(id) = foreign_id {
        let id = match id_schema.as_ref().and_then(|s| s["type"].as_str()) {
            Some("integer") => id.parse::<i64>().map_or(json!(id), |n| json!(n)),
            _ => json!(id),
        };
        let foreign = ask(id).await;
        assert_eq!(
            foreign.body, missing.body,
            "tool `{name}` answers another subject's {kind} differently from a missing one"
        );
    }
}

/// The scopes a `WWW-Authenticate` challenge names.
pub(super) fn challenge_scopes(challenge: &str) -> Vec<String> {
    challenge
        .split_once("scope=\"")
        .and_then(|(_, rest)| rest.split_once('"'))
        .map(|(scopes, _)| scopes.split(' ').map(str::to_owned).collect())
        .unwrap_or_default()
}

/// The arguments the generated tests call `tool` with: its manifest
/// `example`, checked against its input schema, or the smallest the schema
/// takes.
pub(super) fn arguments_for<S>(tool: &Tool<S>) -> Value {
    let spec = tool.spec();
    let Some(example) = &spec.example else {
        return example_arguments(tool.input_schema());
    };
    let value: Value = serde_json::from_str(example).expect("codegen writes JSON");
    if let Err(problems) = tool.validate(&value) {
        panic!(
            "tool `{}`: its manifest `example` ({}) does not fit its input schema: {}",
            spec.name,
            spec.declared_at,
            problems.join("; ")
        );
    }
    value
}

/// Check tool `name` of `S`, made by `app`, against its manifest policy;
/// panics with a message naming the tool and the broken rule.
pub fn check_tool<S: Tools>(name: &str, app: impl FnOnce() -> S) {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("a runtime");
    runtime.block_on(check_tool_async::<S>(name, app()));
}

/// A server made of `app` on a scratch SQLite database (migrated), in an
/// environment that allows writes: what the generated tests call.
pub(super) async fn scratch_server<S: Tools>(
    app: S,
) -> (Arc<McpServer<S>>, Db, std::path::PathBuf) {
    use std::sync::atomic::{AtomicU32, Ordering};
    static N: AtomicU32 = AtomicU32::new(0);
    let dir = std::env::temp_dir().join(format!(
        "mcpgen-policy-{}-{}",
        std::process::id(),
        N.fetch_add(1, Ordering::Relaxed)
    ));
    let _ = std::fs::remove_dir_all(&dir);
    let db = Db::open(None, &dir).await.expect("scratch SQLite");
    db.migrate_runtime().await.expect("runtime migrations");
    if !S::migrations().is_empty() {
        db.migrate("app_migrations", S::migrations())
            .await
            .expect("app migrations");
    }
    let writable = S::manifest()
        .environments
        .iter()
        .find(|e| e.enabled && e.writes)
        .map_or("local", |e| &*e.name);
    let options = ServerOptions {
        environment: writable.to_owned(),
        ..ServerOptions::default()
    };
    let server = Arc::new(
        McpServer::new(app, options)
            .expect("the server starts")
            .with_store(Store::new(db.clone()).await.expect("store")),
    );
    (server, db, dir)
}

async fn check_tool_async<S: Tools>(name: &str, app: S) {
    let (server, db, dir) = scratch_server(app).await;
    let tool = server
        .registry()
        .get(name)
        .unwrap_or_else(|| panic!("no tool `{name}`"));
    let def = tool.spec().clone();
    let arguments = arguments_for(tool);
    let call = json!({"jsonrpc": "2.0", "id": 1, "method": "tools/call",
                      "params": {"name": name, "arguments": arguments}});
    let list = json!({"jsonrpc": "2.0", "id": 2, "method": "tools/list"});
    let listed = |r: &Reply| {
        r.body.clone().map(|b| b.into_value()).is_some_and(|b| {
            b["result"]["tools"]
                .as_array()
                .is_some_and(|ts| ts.iter().any(|t| t["name"] == name))
        })
    };
    let all_scopes: Vec<&str> = S::manifest().scopes.iter().map(|s| &*s.name).collect();
    let subject = "policy-test-subject";

    if def.public {
        let r = send(&server, None, call.clone()).await;
        assert_eq!(
            r.status, 200,
            "public tool `{name}` must answer an anonymous caller"
        );
        return;
    }
    // 1. No credential: 401 with a challenge that names the tool's scopes
    //    (among the server's: an anonymous caller learns nothing of which
    //    tools exist).
    let r = send(&server, None, call.clone()).await;
    assert_eq!(
        r.status, 401,
        "tool `{name}` without a credential must answer 401, got {r:?}"
    );
    let challenge = r.challenge.clone().unwrap_or_default();
    assert!(
        challenge.starts_with("Bearer resource_metadata=\""),
        "tool `{name}`: the 401 must carry a resource_metadata challenge, got {challenge:?}"
    );
    if !def.scopes.is_empty() {
        let named = challenge_scopes(&challenge);
        assert!(
            def.scopes.iter().all(|s| named.iter().any(|n| n == s)),
            "tool `{name}`: the 401 challenge must name its scopes, got {challenge:?}"
        );
        // 2. Every declared scope but the tool's: 403 naming all of them.
        let lacking: Vec<&str> = all_scopes
            .iter()
            .copied()
            .filter(|s| !def.scopes.iter().any(|d| d == s))
            .collect();
        let caller = Caller::new(subject, lacking, None);
        let r = send(&server, Some(caller.clone()), call.clone()).await;
        assert_eq!(
            r.status, 403,
            "tool `{name}` without its scopes must answer 403, got {r:?}"
        );
        let challenge = r.challenge.clone().unwrap_or_default();
        assert!(
            challenge.starts_with("Bearer error=\"insufficient_scope\"")
                && challenge.contains(&format!("scope=\"{}\"", def.scopes.join(" "))),
            "tool `{name}`: the 403 must be insufficient_scope naming {:?}, got {challenge:?}",
            def.scopes
        );
        // 3. Listed only for callers who may call it.
        assert!(
            !listed(&send(&server, Some(caller), list.clone()).await),
            "tool `{name}` is listed for a caller without its scopes"
        );
    }
    let allowed = Caller::new(subject, def.scopes.iter().map(|s| s.to_string()), None);
    assert!(
        listed(&send(&server, Some(allowed.clone()), list.clone()).await),
        "tool `{name}` is not listed for a caller with its scopes"
    );

    // 4. A tool that loads an owned record answers another subject's id
    //    exactly like an id that does not exist.
    if let Some(kind) = def.record.as_deref()
        && tool.input_schema()["required"] == json!(["id"])
    {
        check_foreign_id::<S>(&server, &db, name, kind, &all_scopes).await;
    }

    // 5. A read tool leaves the database as it was.
    if def.access == Access::Read {
        let before = dump(&db).await;
        let r = send(&server, Some(allowed.clone()), call).await;
        assert_eq!(
            r.status, 200,
            "tool `{name}` with its scopes must answer 200, got {r:?}"
        );
        server.audit().flush().await;
        let after = dump(&db).await;
        assert_eq!(before, after, "read tool `{name}` changed the database");
    }

    // 6. A tool that asks a person to confirm does not run unconfirmed: not
    //    for a client that cannot ask (unless the manifest allows it), not
    //    before the answer, not when the person declines.
    if let Some(confirm) = &def.confirm {
        check_confirmation::<S>(&server, &db, name, &arguments, allowed, confirm).await;
    }
    let _ = std::fs::remove_dir_all(&dir);
}

/// Step 6 of [`check_tool`]: the confirmation of tool `name` holds.
async fn check_confirmation<S: Tools>(
    server: &Arc<McpServer<S>>,
    db: &Db,
    name: &str,
    arguments: &Value,
    allowed: Caller,
    confirm: &mcpgen_spec::Confirm,
) {
    // What the tool's data is; the runtime's bookkeeping of questions (the
    // sealing key, spent request states) does not count.
    let data = || async {
        dump(db)
            .await
            .into_iter()
            .filter(|t| {
                !t.starts_with("mcpgen_request_states:") && !t.starts_with("mcpgen_oauth_secrets:")
            })
            .collect::<Vec<_>>()
    };
    let text = |r: &Reply| r.body.clone().map(|b| b.into_value()).unwrap_or_default();
    let before = data().await;
    let call = json!({"jsonrpc": "2.0", "id": 6, "method": "tools/call",
                      "params": {"name": name, "arguments": arguments}});
    let unasked = send(server, Some(allowed.clone()), call).await;
    if confirm.without_elicitation == mcpgen_spec::WithoutElicitation::Refuse {
        assert_eq!(
            text(&unasked)["result"]["isError"],
            true,
            "tool `{name}` must be refused to a client that cannot confirm, got {unasked:?}"
        );
        assert_eq!(
            before,
            data().await,
            "tool `{name}` changed the database for a client that cannot confirm"
        );
    }
    let before = data().await;
    let declined = call_answering(
        server,
        Some(allowed),
        name,
        arguments,
        json!({"action": "decline"}),
    )
    .await;
    assert_eq!(
        text(&declined)["result"]["isError"],
        true,
        "tool `{name}`: a declined confirmation must end the call with an error result, got {declined:?}"
    );
    assert_eq!(
        before,
        data().await,
        "tool `{name}` changed the database although the person declined"
    );
}
