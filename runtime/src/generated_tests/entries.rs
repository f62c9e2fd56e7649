//! The policy tests `#[mcpgen::tools]` generates for every resource and
//! prompt, the same rules as for a tool: 401 without a credential, with a
//! challenge naming its scopes; 403 `insufficient_scope` naming them all
//! without them; listed only for callers who may use it; an owned resource
//! of another subject answers exactly like a missing one; a read or get
//! leaves the database as it was.

use serde_json::{Value, json};

use super::policy::{arguments_for, challenge_scopes, dump, scratch_server, send};
use crate::caller::Caller;
use crate::dispatch::Reply;
use crate::registry::Tools;
use mcpgen_spec::{Access, Guarded, UriTemplate};

/// An id no record has: it parses as an integer and as text.
const MISSING_ID: &str = "987654321";

fn body(r: &Reply) -> Value {
    r.body
        .clone()
        .map(|b| b.into_value())
        .unwrap_or(Value::Null)
}

/// The same rules for any entry: `use_it` is its read or get, `listing`
/// the list that shows it (with the key of its entries and of its name).
async fn check_guarded<S: Tools, G: Guarded>(
    server: &std::sync::Arc<crate::server::McpServer<S>>,
    db: &crate::store::Db,
    spec: &G,
    use_it: Value,
    listing: (Value, &str, &str),
) {
    let kind = G::KIND;
    let name = spec.name().to_string();
    let listed = |r: &Reply| {
        body(r)["result"][listing.1]
            .as_array()
            .is_some_and(|es| es.iter().any(|e| e[listing.2] == name))
    };
    let all_scopes: Vec<&str> = S::manifest().scopes.iter().map(|s| &*s.name).collect();
    let subject = "policy-test-subject";
    if spec.public() {
        let r = send(server, None, use_it).await;
        assert_ne!(
            r.status, 401,
            "public {kind} `{name}` must answer an anonymous caller"
        );
        return;
    }
    let r = send(server, None, use_it.clone()).await;
    assert_eq!(
        r.status, 401,
        "{kind} `{name}` without a credential must answer 401, got {r:?}"
    );
    let challenge = r.challenge.clone().unwrap_or_default();
    let named = challenge_scopes(&challenge);
    assert!(
        spec.scopes().iter().all(|s| named.iter().any(|n| n == s)),
        "{kind} `{name}`: the 401 challenge must name its scopes, got {challenge:?}"
    );
    let lacking: Vec<&str> = all_scopes
        .iter()
        .copied()
        .filter(|s| !spec.scopes().iter().any(|d| d == s))
        .collect();
    let caller = Caller::new(subject, lacking, None);
    let r = send(server, Some(caller.clone()), use_it.clone()).await;
    assert_eq!(
        r.status, 403,
        "{kind} `{name}` without its scopes must answer 403, got {r:?}"
    );
    let challenge = r.challenge.clone().unwrap_or_default();
    assert!(
        challenge.starts_with("Bearer error=\"insufficient_scope\"")
            && challenge.contains(&format!("scope=\"{}\"", spec.scopes().join(" "))),
        "{kind} `{name}`: the 403 must be insufficient_scope naming {:?}, got {challenge:?}",
        spec.scopes()
    );
    assert!(
        !listed(&send(server, Some(caller), listing.0.clone()).await),
        "{kind} `{name}` is listed for a caller without its scopes"
    );
    let allowed = Caller::new(subject, spec.scopes().iter().map(|s| s.to_string()), None);
    assert!(
        listed(&send(server, Some(allowed.clone()), listing.0).await),
        "{kind} `{name}` is not listed for a caller with its scopes"
    );
    let before = dump(db).await;
    let r = send(server, Some(allowed), use_it).await;
    assert_eq!(
        r.status, 200,
        "{kind} `{name}` with its scopes must answer 200, got {r:?}"
    );
    server.audit().flush().await;
    assert_eq!(
        before,
        dump(db).await,
        "{kind} `{name}` changed the database"
    );
}

/// Check resource `name` of `S`, made by `app`, against its manifest
/// policy; panics with a message naming the resource and the broken rule.
pub fn check_resource<S: Tools>(name: &str, app: impl FnOnce() -> S) {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("a runtime");
    runtime.block_on(async {
        let (server, db, dir) = scratch_server(app()).await;
        let resource = server
            .registry()
            .resources()
            .iter()
            .find(|r| r.spec().name == name)
            .unwrap_or_else(|| panic!("no resource `{name}`"));
        let spec = resource.spec().clone();
        let template = UriTemplate::parse(&spec.uri).expect("checked at build time");
        let uri_with = |value: &str| {
            let values: Vec<(&str, &str)> = template.variables().map(|v| (v, value)).collect();
            template.expand(&values).expect("every variable has a value")
        };
        let read = |uri: &str| json!({"jsonrpc": "2.0", "id": 1, "method": "resources/read", "params": {"uri": uri}});
        let list_method = if spec.templated { "resources/templates/list" } else { "resources/list" };
        let list = json!({"jsonrpc": "2.0", "id": 2, "method": list_method});
        let key = if spec.templated { "resourceTemplates" } else { "resources" };
        let missing = uri_with(MISSING_ID);
        check_guarded(&server, &db, &spec, read(&missing), (list, key, "name")).await;

        // An owned resource of another subject answers exactly like a
        // missing one: the record is made through the server's own write
        // tool for its kind.
        if let Some(kind) = spec.record.as_deref()
            && let Some(rule) = S::manifest().record(kind)
        {
            let all: Vec<&str> = S::manifest().scopes.iter().map(|s| &*s.name).collect();
            let writer = server.registry().tools().iter().find(|t| {
                let t = t.spec();
                t.access == Access::Write && t.record.as_deref() == Some(kind) && !t.is_builtin()
            });
            if let Some(w) = writer {
                let owner = Caller::new("policy-test-owner", all.iter().copied(), None);
                super::policy::call_answering(
                    &server,
                    Some(owner),
                    &w.spec().name,
                    &arguments_for(w),
                    super::policy::confirmed(),
                )
                .await;
                let foreign: Option<String> = sqlx::query_scalar(sqlx::AssertSqlSafe(format!(
                    "SELECT CAST({} AS TEXT) FROM {} WHERE {} = $1",
                    rule.id, rule.table, rule.owner
                )))
                .bind("policy-test-owner")
                .fetch_optional(db.pool())
                .await
                .ok()
                .flatten();
                let foreign = foreign.unwrap_or_else(|| {
                    panic!(
                        "resource `{name}`: the ownership check needs a {kind} of another subject, made by `{}`, \
                         which made none: give it an `example` under [tools.{}] in the manifest",
                        w.spec().name,
                        w.spec().name
                    )
                });
                let reader = Caller::new("policy-test-subject", all.iter().copied(), None);
                let theirs = send(&server, Some(reader.clone()), read(&uri_with(&foreign))).await;
                let none = send(&server, Some(reader), read(&missing)).await;
                let (theirs, none) = (body(&theirs), body(&none));
                assert_eq!(
                    (&theirs["error"]["code"], &theirs["error"]["message"]),
                    (&none["error"]["code"], &none["error"]["message"]),
                    "resource `{name}` answers another subject's {kind} differently from a missing one: \
                     {theirs} vs {none}"
                );
                assert!(theirs.get("result").is_none(), "resource `{name}` showed another subject's {kind}");
            }
        }
        let _ = std::fs::remove_dir_all(&dir);
    });
}

/// Check prompt `name` of `S`, made by `app`, against its manifest policy.
pub fn check_prompt<S: Tools>(name: &str, app: impl FnOnce() -> S) {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("a runtime");
    runtime.block_on(async {
        let (server, db, dir) = scratch_server(app()).await;
        let prompt = server
            .registry()
            .prompt(name)
            .unwrap_or_else(|| panic!("no prompt `{name}`"));
        let spec = prompt.spec().clone();
        let arguments = super::policy::example_arguments(&(prompt.def().arguments)().to_value());
        let get = json!({"jsonrpc": "2.0", "id": 1, "method": "prompts/get",
                         "params": {"name": name, "arguments": arguments}});
        let list = json!({"jsonrpc": "2.0", "id": 2, "method": "prompts/list"});
        check_guarded(&server, &db, &spec, get, (list, "prompts", "name")).await;
        let _ = std::fs::remove_dir_all(&dir);
    });
}
