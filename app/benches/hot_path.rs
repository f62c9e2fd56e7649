//! Micro-benchmarks of the pieces of a `tools/call`, on the example app's
//! real registry and an embedded SQLite file: request dispatch (HTTP and
//! embedded), token verification (cold and cached), argument validation,
//! the scope check and the audit enqueue; and, beside the read tool, its
//! query written by hand (what the load benchmark's floor-sqlite does).
//!
//! `cargo bench -p notes-app --bench hot_path`. The whole-server figures
//! come from the load benchmark, `tests/bench/run`.

use std::hint::black_box;
use std::sync::Arc;

use axum::body::Body;
use axum::http::Request;
use criterion::{Criterion, criterion_group, criterion_main};
use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey, Header, encode};
use mcpgen::audit::AuditSink;
use mcpgen::auth::{
    Authenticator as _, CacheConfig, Credentials, JwtConfig, JwtVerifier, Keys, VerifiedCache,
};
use mcpgen::store::Db;
use mcpgen::store::Store;
use mcpgen::{Caller, McpServer, ServerOptions, Tools};
use notes_app::Notes;
use serde_json::json;
use tower::ServiceExt as _;

const ISSUER: &str = "https://auth.example.com";
const AUDIENCE: &str = "http://127.0.0.1:8080/mcp";

fn fixture(name: &str) -> Vec<u8> {
    std::fs::read(format!(
        "{}/../tests/fixtures/auth/{name}",
        env!("CARGO_MANIFEST_DIR")
    ))
    .expect("fixture key")
}

fn token(jti: usize) -> String {
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs();
    let mut header = Header::new(Algorithm::RS256);
    header.typ = Some("at+jwt".into());
    header.kid = Some("as-key-1".into());
    let claims = json!({"iss": ISSUER, "aud": AUDIENCE, "sub": "alice", "iat": now,
        "exp": now + 3600, "jti": format!("bench-{jti}"), "scope": "notes:read notes:write"});
    encode(
        &header,
        &claims,
        &EncodingKey::from_rsa_pem(&fixture("as-key.pem")).unwrap(),
    )
    .unwrap()
}

fn verifier() -> JwtVerifier {
    let key = DecodingKey::from_rsa_pem(&fixture("as-key.pub.pem")).unwrap();
    JwtVerifier::new(
        JwtConfig::new(ISSUER, AUDIENCE),
        Keys::Static(vec![(Some("as-key-1".into()), key)]),
    )
}

fn hot_path(c: &mut Criterion) {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()
        .unwrap();
    let dir = std::env::temp_dir().join(format!("mcpgen-bench-{}", std::process::id()));
    let (server, credentials) = rt.block_on(async {
        let db = Db::open(None, &dir).await.unwrap();
        db.migrate_runtime().await.unwrap();
        db.migrate("app_migrations", Notes::migrations())
            .await
            .unwrap();
        let credentials = Arc::new(Credentials {
            oauth: Some(Arc::new(verifier())),
            cache: Arc::new(VerifiedCache::new(CacheConfig::default())),
            ..Credentials::default()
        });
        let server = Arc::new(
            McpServer::new(Notes, ServerOptions::default())
                .unwrap()
                .with_store(Store::new(db.clone()).await.unwrap())
                .with_audit(AuditSink::to_database(db))
                .with_authenticator(credentials.clone()),
        );
        (server, credentials)
    });
    let alice = Caller::new("alice", ["notes:read", "notes:write"], None);
    // The load benchmark's data: six notes the search reads, five it
    // returns (with an empty table the read measured less than half its
    // cost).
    for i in 1..=6 {
        let created = rt.block_on(server.call_tool(
            Some(alice.clone()),
            "create_text_note",
            json!({"title": format!("bench note {i}"), "body": "written under load"}),
        ));
        assert_eq!(created["result"]["isError"], json!(false), "{created}");
    }
    let search = json!({"query": "bench", "limit": 5});
    let found =
        rt.block_on(server.call_tool(Some(alice.clone()), "search_owned_notes", search.clone()));
    let notes = found["result"]["structuredContent"]["notes"].as_array();
    assert_eq!(notes.map(Vec::len), Some(5), "{found}");
    let jwt = token(0);

    let mut g = c.benchmark_group("dispatch");
    let router = mcpgen::http::router(Arc::clone(&server));
    let body = json!({"jsonrpc": "2.0", "id": 1, "method": "tools/call",
        "params": {"name": "search_owned_notes", "arguments": search}})
    .to_string();
    rt.block_on(credentials.authenticate(&jwt)).unwrap();
    g.bench_function("http tools/call, read tool, cached JWT", |b| {
        b.to_async(&rt).iter(|| async {
            let req = Request::post("/mcp")
                .header("host", "127.0.0.1:8080")
                .header("content-type", "application/json")
                .header("accept", "application/json, text/event-stream")
                .header("mcp-protocol-version", "2025-11-25")
                .header("authorization", format!("Bearer {jwt}"))
                .body(Body::from(body.clone()))
                .unwrap();
            let res = router.clone().oneshot(req).await.unwrap();
            assert_eq!(res.status(), 200);
            let _ = axum::body::to_bytes(res.into_body(), usize::MAX).await;
        })
    });
    g.bench_function("embedded call, read tool", |b| {
        b.to_async(&rt).iter(|| async {
            black_box(
                server
                    .call_tool(Some(alice.clone()), "search_owned_notes", search.clone())
                    .await,
            )
        })
    });
    // The load benchmark's floor-sqlite does this and nothing more: the
    // read tool's query over the same rows with rusqlite, read-only
    // connection, statement cached, rows decoded and serialized.
    let floor = rusqlite::Connection::open_with_flags(
        dir.join("mcpgen.db"),
        rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY | rusqlite::OpenFlags::SQLITE_OPEN_NO_MUTEX,
    )
    .unwrap();
    g.bench_function("the read tool's query, hand-written (floor-sqlite's work)", |b| {
        b.iter(|| {
            let mut statement = floor
                .prepare_cached(
                    "SELECT id, title, body, created_at FROM notes WHERE owner_id = ?1 \
                     AND (LOWER(title) LIKE (?2 || '') ESCAPE '\\' OR LOWER(body) LIKE (?2 || '') ESCAPE '\\') \
                     ORDER BY created_at DESC, id DESC LIMIT (?3 + 0)",
                )
                .unwrap();
            let rows = statement
                .query_map(("alice", "%bench%", 6), |row| {
                    Ok(json!({"id": row.get::<_, String>(0)?, "title": row.get::<_, String>(1)?,
                        "body": row.get::<_, String>(2)?, "created_at": row.get::<_, i64>(3)?}))
                })
                .unwrap()
                .collect::<rusqlite::Result<Vec<_>>>()
                .unwrap();
            assert_eq!(rows.len(), 6);
            black_box(serde_json::to_string(&rows).unwrap())
        })
    });
    g.bench_function("embedded call, built-in verify_access (no database)", |b| {
        b.to_async(&rt).iter(|| async {
            black_box(
                server
                    .call_tool(Some(alice.clone()), "verify_access", json!({}))
                    .await,
            )
        })
    });
    g.finish();

    let mut g = c.benchmark_group("token");
    let plain = verifier();
    g.bench_function("RS256 verify, cold", |b| {
        b.to_async(&rt)
            .iter(|| async { black_box(plain.verify(&jwt).await.unwrap()) })
    });
    g.bench_function("RS256 verify, cached", |b| {
        b.to_async(&rt)
            .iter(|| async { black_box(credentials.authenticate(&jwt).await.unwrap()) })
    });
    g.finish();

    let registry = Notes::registry().unwrap();
    let tool = registry.get("search_owned_notes").unwrap();
    let mut g = c.benchmark_group("policy");
    g.bench_function("argument validation", |b| {
        b.iter(|| black_box(tool.validate(black_box(&search)).is_ok()))
    });
    g.bench_function("policy decision", |b| {
        b.iter(|| {
            black_box(mcpgen::__private::bench_policy(
                &server,
                "search_owned_notes",
                Some(black_box(&alice)),
            ))
        })
    });
    g.finish();

    let mut g = c.benchmark_group("audit");
    let sink = server.audit().clone();
    let _guard = rt.enter();
    g.bench_function("enqueue one record", |b| {
        b.iter(|| mcpgen::__private::bench_audit_record(black_box(&sink)))
    });
    g.finish();
    rt.block_on(sink.flush());
    drop(_guard);
    let _ = std::fs::remove_dir_all(&dir);
}

criterion_group!(benches, hot_path);
criterion_main!(benches);
