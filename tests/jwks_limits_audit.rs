//! JWKS caching and rotation, per-subject rate limits, and the audit table.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use axum::routing::get;
use jsonwebtoken::DecodingKey;
use mcpgen::audit::AuditSink;
use mcpgen::auth::AuthError;
use mcpgen::auth::{Credentials, JwksSource, JwtConfig, JwtVerifier, Keys};
use mcpgen::store::Db;
use mcpgen::{McpServer, ServerOptions};
use mcpgen_tests::conformance::Fixture;
use mcpgen_tests::databases::{self, Backend};
use mcpgen_tests::process::scratch_dir;
use mcpgen_tests::tokens::{self, claims, sign_with, token};
use serde_json::{Value, json};
use sqlx::Row as _;
use tokio::sync::RwLock;

fn jwk(name: &str) -> Value {
    serde_json::from_slice(&std::fs::read(tokens::fixture(name)).unwrap()).unwrap()
}

#[tokio::test]
async fn jwks_is_cached_refetched_on_unknown_kid_with_a_cooldown() {
    let fetches = Arc::new(AtomicUsize::new(0));
    let document = Arc::new(RwLock::new(json!({"keys": [jwk("as-key.jwk.json")]})));
    let app = {
        let (fetches, document) = (Arc::clone(&fetches), Arc::clone(&document));
        axum::Router::new().route(
            "/jwks",
            get(move || {
                let (fetches, document) = (Arc::clone(&fetches), Arc::clone(&document));
                async move {
                    fetches.fetch_add(1, Ordering::SeqCst);
                    axum::Json(document.read().await.clone())
                }
            }),
        )
    };
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    let source = JwksSource::new(format!("http://{addr}/jwks"))
        .unwrap()
        .with_cooldown(Duration::from_millis(300));
    let verifier = JwtVerifier::new(
        JwtConfig::new(tokens::ISSUER, tokens::AUDIENCE),
        Keys::Jwks(Box::new(source)),
    );

    let good = token("alice", &["notes:read"]);
    for _ in 0..50 {
        assert_eq!(verifier.verify(&good).await.unwrap().subject(), "alice");
    }
    assert_eq!(
        fetches.load(Ordering::SeqCst),
        1,
        "fetched once, then cached"
    );

    let rotated = sign_with("other-key.pem", &claims("bob", &["notes:read"]), |h| {
        h.kid = Some("as-key-2".into())
    });
    // Within the cooldown of the first fetch an unknown kid fetches nothing.
    assert_eq!(
        verifier.verify(&rotated).await.err(),
        Some(AuthError::InvalidToken)
    );
    assert_eq!(fetches.load(Ordering::SeqCst), 1);
    tokio::time::sleep(Duration::from_millis(350)).await;
    assert_eq!(
        verifier.verify(&rotated).await.err(),
        Some(AuthError::InvalidToken)
    );
    assert_eq!(
        fetches.load(Ordering::SeqCst),
        2,
        "an unknown kid triggers one refetch"
    );
    for _ in 0..20 {
        assert_eq!(
            verifier.verify(&rotated).await.err(),
            Some(AuthError::InvalidToken)
        );
    }
    assert_eq!(
        fetches.load(Ordering::SeqCst),
        2,
        "not again within the cooldown"
    );

    // The authorization server rotates in the new key.
    document.write().await["keys"] = json!([jwk("as-key.jwk.json"), jwk("other-key.jwk.json")]);
    tokio::time::sleep(Duration::from_millis(350)).await;
    assert_eq!(verifier.verify(&rotated).await.unwrap().subject(), "bob");
    assert_eq!(fetches.load(Ordering::SeqCst), 3);
    assert_eq!(
        verifier.verify(&good).await.unwrap().subject(),
        "alice",
        "old key still valid"
    );
    assert_eq!(fetches.load(Ordering::SeqCst), 3);
}

#[tokio::test]
async fn an_unreachable_jwks_fails_closed() {
    // Bind and drop: nothing listens on this port any more.
    let port = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let verifier = JwtVerifier::new(
        JwtConfig::new(tokens::ISSUER, tokens::AUDIENCE),
        Keys::Jwks(Box::new(
            JwksSource::new(format!("http://127.0.0.1:{port}/jwks")).unwrap(),
        )),
    );
    let result = verifier.verify(&token("alice", &["notes:read"])).await;
    assert_eq!(result.err(), Some(AuthError::Unavailable));
    assert!(
        JwksSource::new("http://auth.example.com/jwks").is_err(),
        "https required off loopback"
    );
}

/// The fixture served over HTTP; its URL, and its audit sink (to flush).
async fn fixture_server(db: Option<Db>) -> (String, AuditSink) {
    let public = std::fs::read(tokens::fixture("as-key.pub.pem")).unwrap();
    let verifier = JwtVerifier::new(
        JwtConfig::new(tokens::ISSUER, tokens::AUDIENCE),
        Keys::Static(vec![(
            Some(tokens::KID.into()),
            DecodingKey::from_rsa_pem(&public).unwrap(),
        )]),
    );
    let credentials = Credentials {
        keys: None,
        oauth: Some(Arc::new(verifier)),
        dev: None,
        ..Credentials::default()
    };
    let mut server = McpServer::new(Fixture, ServerOptions::default())
        .unwrap()
        .with_authenticator(Arc::new(credentials));
    if let Some(db) = db {
        server = server.with_audit(AuditSink::to_database(db));
    }
    let audit = server.audit().clone();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        axum::serve(listener, mcpgen::http::router(Arc::new(server)))
            .await
            .unwrap();
    });
    (format!("http://{addr}/mcp"), audit)
}

async fn echo(url: &str, credential: Option<&str>, args: Value) -> reqwest::Response {
    let mut req = reqwest::Client::new()
        .post(url)
        .header("content-type", "application/json")
        .header("accept", "application/json, text/event-stream");
    if let Some(c) = credential {
        req = req.header("authorization", format!("Bearer {c}"));
    }
    req.body(
        json!({"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"echo_scoped","arguments":args}})
            .to_string(),
    )
    .send()
    .await
    .unwrap()
}

#[tokio::test]
async fn per_tool_rate_limits_apply_per_subject() {
    let (url, _) = fixture_server(None).await;
    let alice = token("alice", &["fixture:echo"]);
    for i in 0..3 {
        let res = echo(&url, Some(&alice), json!({"text": "hi"})).await;
        assert_eq!(res.status(), 200, "call {i} is within calls_per_minute = 3");
    }
    let res = echo(&url, Some(&alice), json!({"text": "hi"})).await;
    assert_eq!(res.status(), 429);
    let wait: u64 = res.headers()["retry-after"]
        .to_str()
        .unwrap()
        .parse()
        .unwrap();
    assert!((1..=61).contains(&wait), "{wait}");
    let body: Value = res.json().await.unwrap();
    assert_eq!(body["error"]["code"], -31429);
    assert!(
        body["error"]["message"]
            .as_str()
            .unwrap()
            .starts_with("too many calls: retry `echo_scoped` in ")
    );
    // Another subject has its own budget.
    let bob = token("bob", &["fixture:echo"]);
    assert_eq!(
        echo(&url, Some(&bob), json!({"text": "hi"})).await.status(),
        200
    );
}

#[tokio::test]
async fn every_decision_lands_in_the_audit_table_without_secrets() {
    let dir = scratch_dir("audit");
    let db = Db::open(None, &dir).await.unwrap();
    db.migrate_runtime().await.unwrap();
    let (url, _) = fixture_server(Some(db.clone())).await;
    let alice = token("alice", &["fixture:echo"]);
    let nobody = token("nobody", &[]);
    echo(&url, Some(&alice), json!({"text": "hi"})).await; // allowed
    echo(&url, Some(&alice), json!({"text": ""})).await; // invalid arguments
    echo(&url, Some(&nobody), json!({"text": "hi"})).await; // insufficient scope
    echo(&url, None, json!({"text": "hi"})).await; // no credential

    // Written off the request path: wait for the batch.
    let mut rows = Vec::new();
    for _ in 0..50 {
        rows = sqlx::query(
            "SELECT request_id, subject, tool, decision, reason, scopes, transport FROM mcpgen_audit ORDER BY at, request_id",
        )
        .fetch_all(db.pool())
        .await
        .unwrap();
        if rows.len() == 4 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let mut got: Vec<(String, String, String)> = rows
        .iter()
        .map(|r| {
            (
                r.get::<String, _>("subject"),
                r.get::<String, _>("decision"),
                r.get::<String, _>("reason"),
            )
        })
        .collect();
    got.sort();
    assert_eq!(
        got,
        [
            (
                "".to_owned(),
                "denied".to_owned(),
                "no credential".to_owned()
            ),
            ("alice".to_owned(), "allowed".to_owned(), "ok".to_owned()),
            (
                "alice".to_owned(),
                "denied".to_owned(),
                "invalid arguments".to_owned()
            ),
            (
                "nobody".to_owned(),
                "denied".to_owned(),
                "insufficient scope".to_owned()
            ),
        ]
    );
    for r in &rows {
        assert_eq!(r.get::<String, _>("tool"), "echo_scoped");
        assert_eq!(r.get::<String, _>("transport"), "http");
        let all: String = format!(
            "{}{}{}",
            r.get::<String, _>("request_id"),
            r.get::<String, _>("scopes"),
            r.get::<String, _>("subject")
        );
        assert!(
            !all.contains(&alice[..20]) && !all.contains("eyJ"),
            "no token material"
        );
    }
}

#[tokio::test]
async fn a_tool_that_overruns_its_timeout_is_stopped() {
    let (url, _) = fixture_server(None).await;
    let alice = token("alice", &["fixture:echo"]);
    let call = |ms: u64| json!({"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"sleep_scoped","arguments":{"ms":ms}}});
    let post = |body: Value| {
        reqwest::Client::new()
            .post(&url)
            .header("content-type", "application/json")
            .header("accept", "application/json, text/event-stream")
            .header("authorization", format!("Bearer {alice}"))
            .body(body.to_string())
            .send()
    };
    let started = std::time::Instant::now();
    let slow: Value = post(call(5000)).await.unwrap().json().await.unwrap();
    assert!(
        started.elapsed() < Duration::from_secs(4),
        "stopped, not waited out"
    );
    assert_eq!(slow["result"]["isError"], true);
    assert_eq!(
        slow["result"]["content"][0]["text"],
        "the tool did not finish within 100 ms and was stopped"
    );
    let fast: Value = post(call(1)).await.unwrap().json().await.unwrap();
    assert_eq!(fast["result"]["isError"], false);
}

/// A graceful stop (SIGTERM) writes every audit record of the calls it
/// answered before exiting: the batch writer is flushed, not abandoned.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_graceful_stop_loses_no_audit_record() {
    use mcpgen_tests::databases::open_for;
    use mcpgen_tests::process::{HttpServer, notes_bin};
    let data = scratch_dir("audit-stop");
    // 300 calls at once from one address: more connections than one peer
    // may open by default (256).
    let server = HttpServer::start_in(
        notes_bin(),
        &data,
        &[
            "--jwt-public-key",
            &tokens::trust_arg(),
            "--max-connections-per-peer",
            "400",
        ],
    );
    let credential = token("alice", &["notes:read", "notes:write"]);
    let client = reqwest::Client::new();
    const CALLS: usize = 300;
    let mut calls = tokio::task::JoinSet::new();
    for i in 0..CALLS {
        let (client, url, credential) = (client.clone(), server.url.clone(), credential.clone());
        calls.spawn(async move {
            let body = json!({"jsonrpc": "2.0", "id": i, "method": "tools/call", "params": {
                "name": "search_owned_notes", "arguments": {"query": format!("n{i}")}}});
            client
                .post(&url)
                .header("content-type", "application/json")
                .header("accept", "application/json, text/event-stream")
                .header("mcp-protocol-version", "2025-11-25")
                .bearer_auth(&credential)
                .body(body.to_string())
                .send()
                .await
                .unwrap()
                .status()
        });
    }
    while let Some(status) = calls.join_next().await {
        assert_eq!(status.unwrap(), 200);
    }
    // Stop at once: records of the last calls are still queued.
    let status = server.terminate();
    assert!(status.success(), "exit status {status}");
    let db = open_for(&data).await;
    let n: i64 =
        sqlx::query("SELECT COUNT(*) AS n FROM mcpgen_audit WHERE tool = 'search_owned_notes'")
            .fetch_one(db.pool())
            .await
            .unwrap()
            .get("n");
    assert_eq!(n, CALLS as i64);
}

/// A caller cannot erase or bloat the audit trail with the one field it
/// controls before any check: the tool name. A NUL byte (which PostgreSQL
/// refuses in text) used to make the database refuse the whole batch, and
/// with it the records of everyone else's calls in that batch.
#[tokio::test]
async fn a_hostile_tool_name_cannot_erase_or_bloat_the_audit_trail() {
    for backend in [Backend::Sqlite, Backend::Postgres] {
        let db = databases::fresh::<Fixture>(backend, "audit-hostile").await;
        let (url, audit) = fixture_server(Some(db.clone())).await;
        let alice = token("alice", &["fixture:echo"]);
        let call = |name: String| {
            let (url, alice) = (url.clone(), alice.clone());
            async move {
                reqwest::Client::new()
                    .post(&url)
                    .header("content-type", "application/json")
                    .header("accept", "application/json, text/event-stream")
                    .header("authorization", format!("Bearer {alice}"))
                    .body(
                        json!({"jsonrpc":"2.0","id":1,"method":"tools/call",
                            "params":{"name": name, "arguments": {"text": "hi"}}})
                        .to_string(),
                    )
                    .send()
                    .await
                    .unwrap()
                    .status()
            }
        };
        // Honest calls and hostile ones, concurrently, so they share batches.
        let mut calls = tokio::task::JoinSet::new();
        for i in 0..40 {
            calls.spawn(call("echo_scoped".to_owned()));
            if i % 10 == 0 {
                calls.spawn(call(format!("evil\u{0}{i}")));
                calls.spawn(call("x".repeat(100_000)));
            }
        }
        let statuses = calls.join_all().await;
        // (echo_scoped allows 3 calls a minute: the rest are refused, 429,
        // and audited as such.)
        assert!(
            statuses.iter().all(|s| [200, 429].contains(&s.as_u16())),
            "{statuses:?}"
        );

        // Refusals are counted per peer, reason and credential: the first of
        // each group is a record at once, the rest one record with their
        // count when the group closes (here: the flush).
        audit.flush().await;
        let rows = sqlx::query("SELECT tool, decision, reason, count FROM mcpgen_audit")
            .fetch_all(db.pool())
            .await
            .unwrap();
        let counted = |pick: &dyn Fn(&sqlx::any::AnyRow) -> bool| -> i64 {
            rows.iter()
                .filter(|r| pick(r))
                .map(|r| r.get::<i64, _>("count"))
                .sum()
        };
        assert_eq!(counted(&|_| true), 48, "{backend:?}: every call is counted");
        assert_eq!(
            counted(&|r| r.get::<String, _>("tool") == "echo_scoped"),
            40,
            "{backend:?}: the honest calls are all there"
        );
        assert_eq!(
            counted(&|r| r.get::<String, _>("decision") == "allowed"),
            3,
            "{backend:?}: each call that ran has a record of its own"
        );
        assert_eq!(
            rows.iter()
                .filter(|r| r.get::<String, _>("decision") == "allowed")
                .count(),
            3
        );
        assert_eq!(
            counted(&|r| r.get::<String, _>("reason") == "unknown tool"),
            8,
            "{backend:?}: the hostile names, counted"
        );
        for r in &rows {
            let tool: String = r.get("tool");
            assert!(
                !tool.contains('\u{0}') && tool.chars().count() <= 200,
                "{backend:?}: a stored tool name is bounded and clean: {tool:?}"
            );
        }
    }
}

/// A call whose caller goes away before it finishes is stopped, and its
/// audit record says so: `failed`, `cancelled` (it used to leave no record
/// at all: the decision to run it was lost).
#[tokio::test]
async fn a_call_the_caller_abandons_is_recorded_as_cancelled() {
    let dir = scratch_dir("audit-cancelled");
    let db = Db::open(None, &dir).await.unwrap();
    db.migrate_runtime().await.unwrap();
    let (url, _) = fixture_server(Some(db.clone())).await;
    let alice = token("alice", &["fixture:echo"]);
    // The tool would sleep 90 ms (its timeout is 100 ms); the client gives
    // up after 20 ms and closes the connection.
    let impatient = reqwest::Client::builder()
        .timeout(Duration::from_millis(20))
        .build()
        .unwrap();
    let sent = impatient
        .post(&url)
        .header("content-type", "application/json")
        .header("accept", "application/json, text/event-stream")
        .header("authorization", format!("Bearer {alice}"))
        .body(
            json!({"jsonrpc":"2.0","id":1,"method":"tools/call",
                   "params":{"name":"sleep_scoped","arguments":{"ms":90}}})
            .to_string(),
        )
        .send()
        .await;
    assert!(sent.is_err(), "the client gave up before the answer");
    for _ in 0..60 {
        let rows = sqlx::query("SELECT tool FROM mcpgen_audit")
            .fetch_all(db.pool())
            .await
            .unwrap();
        if !rows.is_empty() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    // Nothing else arrives later (a run to the end would add `allowed`).
    tokio::time::sleep(Duration::from_millis(200)).await;
    let rows = sqlx::query("SELECT tool, decision, reason FROM mcpgen_audit")
        .fetch_all(db.pool())
        .await
        .unwrap();
    let got: Vec<(String, String, String)> = rows
        .iter()
        .map(|r| (r.get("tool"), r.get("decision"), r.get("reason")))
        .collect();
    assert_eq!(
        got,
        [(
            "sleep_scoped".to_owned(),
            "failed".to_owned(),
            "cancelled".to_owned()
        )]
    );
}
