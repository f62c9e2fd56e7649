//! Several identical instances on one PostgreSQL, as behind a load
//! balancer: keys, revocation, concurrent writes, no affinity, and what
//! happens when the database goes away and comes back. Real server
//! processes, a real PostgreSQL, real HTTP on loopback.

use std::collections::HashSet;
use std::process::Command;
use std::time::{Duration, Instant};

use mcpgen::store::Db;
use mcpgen_tests::databases::create_postgres_database;
use mcpgen_tests::process::{HttpServer, notes_bin, scratch_dir};
use mcpgen_tests::proxy::Relay;
use mcpgen_tests::tokens::{token, trust_arg};
use serde_json::{Value, json};
use sqlx::Row as _;

/// The revocation bound the instances run with in these tests.
const KEY_CACHE_TTL: Duration = Duration::from_secs(2);
const TTL_ARG: &str = "2s";

struct Answer {
    status: u16,
    retry_after: Option<String>,
    body: Value,
    raw: String,
}

async fn post(client: &reqwest::Client, url: &str, credential: &str, body: &Value) -> Answer {
    if body["params"]["name"] == "create_text_note" {
        return post_confirmed(client, url, credential, body).await;
    }
    send(client, url, credential, body, None).await
}

/// A write, as a 2026-07-28 client whose person confirms it (the example's
/// `create_text_note` asks): the call's final answer.
async fn post_confirmed(
    client: &reqwest::Client,
    url: &str,
    credential: &str,
    body: &Value,
) -> Answer {
    let mut body = body.clone();
    body["params"]["_meta"] = json!({
        "io.modelcontextprotocol/protocolVersion": "2026-07-28",
        "io.modelcontextprotocol/clientCapabilities": {"elicitation": {}},
    });
    let first = send(client, url, credential, &body, Some("create_text_note")).await;
    let result = &first.body["result"];
    if result["resultType"] != "input_required" {
        return first;
    }
    body["params"]["requestState"] = result["requestState"].clone();
    body["params"]["inputResponses"] =
        json!({"confirm": {"action": "accept", "content": {"confirm": true}}});
    send(client, url, credential, &body, Some("create_text_note")).await
}

/// POST `body`: as 2025-11-25, or (`modern`: the tool's name) 2026-07-28.
async fn send(
    client: &reqwest::Client,
    url: &str,
    credential: &str,
    body: &Value,
    modern: Option<&str>,
) -> Answer {
    let mut req = client
        .post(url)
        .header("content-type", "application/json")
        .header("accept", "application/json, text/event-stream")
        .header("authorization", format!("Bearer {credential}"));
    req = match modern {
        Some(name) => req
            .header("mcp-protocol-version", "2026-07-28")
            .header("mcp-method", "tools/call")
            .header("mcp-name", name),
        None => req.header("mcp-protocol-version", "2025-11-25"),
    };
    let res = req.body(body.to_string()).send().await.expect("answered");
    let status = res.status().as_u16();
    let retry_after = res
        .headers()
        .get("retry-after")
        .map(|v| v.to_str().unwrap().to_owned());
    let raw = res.text().await.unwrap();
    Answer {
        status,
        retry_after,
        body: serde_json::from_str(&raw).unwrap_or(Value::Null),
        raw,
    }
}

fn call(id: u64, tool: &str, arguments: Value) -> Value {
    json!({"jsonrpc": "2.0", "id": id, "method": "tools/call",
           "params": {"name": tool, "arguments": arguments}})
}

fn create(id: u64, title: &str) -> Value {
    call(
        id,
        "create_text_note",
        json!({"title": title, "body": format!("body of {title}")}),
    )
}

fn search() -> Value {
    call(1, "search_owned_notes", json!({"query": "", "limit": 5}))
}

/// `notes [args]` against `database_url`; stdout, or a panic with stderr.
fn notes(database_url: &str, args: &[&str]) -> String {
    let out = Command::new(notes_bin())
        .arg("--data-dir")
        .arg(scratch_dir("instances-cli"))
        .env("DATABASE_URL", database_url)
        .args(args)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "notes {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap()
}

fn create_key(database_url: &str, owner: &str) -> (String, String) {
    let out = notes(
        database_url,
        &[
            "keys",
            "create",
            "--owner",
            owner,
            "--scopes",
            "notes:read,notes:write",
            "--json",
        ],
    );
    let key: Value = serde_json::from_str(&out).unwrap();
    (
        key["id"].as_str().unwrap().to_owned(),
        key["key"].as_str().unwrap().to_owned(),
    )
}

/// An instance of the notes server on `database_url`, with its own data
/// directory (nothing shared but the database).
fn instance(database_url: &str, key_cache_ttl: &str) -> HttpServer {
    let mut cmd = Command::new(notes_bin());
    cmd.args(["serve", "--listen", "127.0.0.1:0", "--data-dir"])
        .arg(scratch_dir("instance"))
        .args([
            "--jwt-public-key",
            &trust_arg(),
            "--key-cache-ttl",
            key_cache_ttl,
        ])
        .env("DATABASE_URL", database_url);
    HttpServer::from_command(cmd)
}

/// Wait (at most 15 s) until at least `n` audit rows match `condition`:
/// the trail is written off the request path.
async fn audit_rows_reach(db: &Db, condition: &str, n: i64) {
    let sql = format!("SELECT COUNT(*) AS n FROM mcpgen_audit WHERE {condition}");
    let deadline = Instant::now() + Duration::from_secs(15);
    loop {
        let got: i64 = sqlx::query(sqlx::AssertSqlSafe(sql.clone()))
            .fetch_one(db.pool())
            .await
            .unwrap()
            .get("n");
        if got >= n {
            assert_eq!(got, n, "more audit rows than calls where {condition}");
            return;
        }
        assert!(
            Instant::now() < deadline,
            "audit rows where {condition}: {got} of {n}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

fn ok(a: &Answer) -> bool {
    a.status == 200 && a.body["result"]["isError"] != true && a.body["result"].is_object()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn instances_share_keys_writes_and_revocation_through_postgres() {
    let url = create_postgres_database("instances").await;
    // Both start at once against an empty database: migrations must not
    // race (they take a lock).
    let (a, b) = std::thread::scope(|s| {
        let a = s.spawn(|| instance(&url, TTL_ARG));
        let b = s.spawn(|| instance(&url, TTL_ARG));
        (a.join().unwrap(), b.join().unwrap())
    });
    let client = reqwest::Client::new();

    // A key made against the shared database works on both at once.
    let (key_id, key) = create_key(&url, "alice");
    for server in [&a, &b] {
        let answer = post(&client, &server.url, &key, &search()).await;
        assert!(ok(&answer), "{}", answer.raw);
    }

    // Hundreds of writes from many tasks, alternating instances, with no
    // affinity: every one succeeds once, nothing is lost or doubled.
    const TASKS: usize = 24;
    const PER_TASK: usize = 15;
    let mut tasks = Vec::new();
    for t in 0..TASKS {
        let (client, key) = (client.clone(), key.clone());
        let urls = [a.url.clone(), b.url.clone()];
        tasks.push(tokio::spawn(async move {
            let mut ids = Vec::new();
            for i in 0..PER_TASK {
                let title = format!("t{t}-n{i}");
                let url = &urls[(t + i) % 2];
                let answer = post(&client, url, &key, &create((t * 100 + i) as u64, &title)).await;
                assert!(ok(&answer), "{title} on {url}: {}", answer.raw);
                let note = &answer.body["result"]["structuredContent"]["note"];
                assert_eq!(note["title"], title.as_str());
                ids.push(note["id"].as_str().unwrap().to_owned());
            }
            ids
        }));
    }
    let mut ids = HashSet::new();
    for task in tasks {
        for id in task.await.unwrap() {
            assert!(ids.insert(id), "an id was handed out twice");
        }
    }
    let total = TASKS * PER_TASK;
    assert_eq!(ids.len(), total);
    let db = Db::connect(&url).await.unwrap();
    let rows = sqlx::query("SELECT id, title, body FROM notes WHERE owner_id = 'alice'")
        .fetch_all(db.pool())
        .await
        .unwrap();
    assert_eq!(rows.len(), total, "rows in the shared database");
    let mut titles = HashSet::new();
    for row in &rows {
        let id: String = row.get("id");
        let title: String = row.get("title");
        let body: String = row.get("body");
        assert!(ids.contains(&id), "a row no caller was told about: {id}");
        assert_eq!(body, format!("body of {title}"));
        assert!(titles.insert(title), "a title stored twice");
    }

    // What one instance wrote, the other reads.
    let first_on_b = post(&client, &b.url, &key, &search()).await;
    assert!(ok(&first_on_b), "{}", first_on_b.raw);
    assert_eq!(
        first_on_b.body["result"]["structuredContent"]["notes"]
            .as_array()
            .unwrap()
            .len(),
        5
    );

    // No affinity: a legacy client initializes on one instance and goes on
    // with the other.
    let init = json!({"jsonrpc": "2.0", "id": 0, "method": "initialize", "params": {
        "protocolVersion": "2025-11-25", "capabilities": {},
        "clientInfo": {"name": "balanced", "version": "1"}}});
    let answer = post(&client, &a.url, &key, &init).await;
    assert_eq!(answer.body["result"]["protocolVersion"], "2025-11-25");
    let answer = post(&client, &b.url, &key, &create(1, "after init on a")).await;
    assert!(ok(&answer), "{}", answer.raw);

    // The audit trail of both instances lands in the one table.
    let expected = total as i64 + 1;
    audit_rows_reach(
        &db,
        "tool = 'create_text_note' AND decision = 'allowed'",
        expected,
    )
    .await;

    // Revoked against the shared database: refused by every instance
    // within the stated bound (the key cache's TTL).
    for server in [&a, &b] {
        assert!(ok(&post(&client, &server.url, &key, &search()).await));
    }
    notes(&url, &["keys", "revoke", &key_id]);
    let revoked_at = Instant::now();
    for server in [&a, &b] {
        loop {
            let answer = post(&client, &server.url, &key, &search()).await;
            if answer.status == 401 {
                break;
            }
            assert!(ok(&answer), "{}", answer.raw);
            assert!(
                revoked_at.elapsed() <= KEY_CACHE_TTL + Duration::from_millis(500),
                "a revoked key still works on {} after {:?}",
                server.url,
                revoked_at.elapsed()
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }
    // And stays refused.
    for server in [&a, &b] {
        assert_eq!(
            post(&client, &server.url, &key, &search()).await.status,
            401
        );
    }
}

/// Poll `key` on every server until each refuses it; how long the last
/// one took, from `since`.
async fn refused_everywhere(
    client: &reqwest::Client,
    servers: &[&HttpServer],
    key: &str,
    since: Instant,
) -> Duration {
    for server in servers {
        loop {
            let answer = post(client, &server.url, key, &search()).await;
            if answer.status == 401 {
                break;
            }
            assert!(ok(&answer), "{}", answer.raw);
            assert!(
                since.elapsed() < Duration::from_secs(10),
                "a revoked key still works on {} after {:?}",
                server.url,
                since.elapsed()
            );
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }
    since.elapsed()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_revocation_reaches_every_instance_within_a_second_through_listen_notify() {
    let url = create_postgres_database("notify").await;
    // Keys are trusted from the cache for an hour: only the notification
    // can end them sooner.
    let (a, b) = (instance(&url, "1h"), instance(&url, "1h"));
    let client = reqwest::Client::new();
    let db = Db::connect(&url).await.unwrap();
    let (silent_id, silent) = create_key(&url, "alice");
    let (id, key) = create_key(&url, "bob");
    for server in [&a, &b] {
        for k in [&silent, &key] {
            assert!(ok(&post(&client, &server.url, k, &search()).await));
        }
    }
    // The control: revoked behind the runtime's back (no announcement),
    // a cached key goes on working, so what follows is the notification's
    // doing, not the cache's expiry.
    sqlx::query("UPDATE mcpgen_access_keys SET revoked_at = 1 WHERE id = $1")
        .bind(&silent_id)
        .execute(db.pool())
        .await
        .unwrap();
    tokio::time::sleep(Duration::from_millis(300)).await;
    for server in [&a, &b] {
        assert!(ok(&post(&client, &server.url, &silent, &search()).await));
    }
    // Revoked through the runtime: every instance refuses within a second.
    notes(&url, &["keys", "revoke", &id]);
    let took = refused_everywhere(&client, &[&a, &b], &key, Instant::now()).await;
    assert!(took < Duration::from_secs(1), "took {took:?}");

    // The listening connections die (a failover, a pooler's reaper): each
    // instance listens again and forgets what it may have missed.
    let killed: i64 = sqlx::query(
        "SELECT COUNT(pg_terminate_backend(pid)) AS n FROM pg_stat_activity
         WHERE datname = current_database() AND query LIKE 'LISTEN%'",
    )
    .fetch_one(db.pool())
    .await
    .unwrap()
    .get("n");
    assert_eq!(killed, 2, "one listening connection per instance");
    tokio::time::sleep(Duration::from_millis(2500)).await;
    let (id, key) = create_key(&url, "carol");
    for server in [&a, &b] {
        assert!(ok(&post(&client, &server.url, &key, &search()).await));
    }
    notes(&url, &["keys", "revoke", &id]);
    let took = refused_everywhere(&client, &[&a, &b], &key, Instant::now()).await;
    assert!(
        took < Duration::from_secs(1),
        "after reconnecting, took {took:?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_database_outage_fails_closed_and_service_resumes_without_restart() {
    let url = create_postgres_database("outage").await;
    let relay = Relay::start("127.0.0.1:5432".parse().unwrap());
    let via_relay = url.replacen("127.0.0.1:5432", &relay.addr().to_string(), 1);
    assert_ne!(via_relay, url);
    // Keys are checked against the database on every request here, so the
    // outage reaches authentication too.
    let server = instance(&via_relay, "0");
    let (_, key) = create_key(&url, "bob");
    let jwt = token("bob", &["notes:read", "notes:write"]);
    let client = reqwest::Client::new();
    assert!(ok(
        &post(&client, &server.url, &key, &create(1, "before")).await
    ));
    // A read before the cut, so the read pool holds a connection the cut
    // breaks: it must be dropped, not handed out again after the outage.
    assert!(ok(&post(&client, &server.url, &jwt, &search()).await));

    relay.cut();
    let mut refused = Vec::new();
    for (i, credential) in [&key, &jwt, &key, &jwt].into_iter().enumerate() {
        let title = format!("during outage {i}");
        for body in [create(i as u64, &title), search()] {
            let answer = post(&client, &server.url, credential, &body).await;
            assert_eq!(answer.status, 503, "{}", answer.raw);
            assert_eq!(answer.body["error"]["code"], -31503, "{}", answer.raw);
            assert_eq!(answer.retry_after.as_deref(), Some("1"));
            let message = answer.body["error"]["message"].as_str().unwrap();
            assert!(message.starts_with("service unavailable"), "{message}");
            for secret in ["postgres://", "127.0.0.1", &relay.addr().port().to_string()] {
                assert!(
                    !answer.raw.contains(secret),
                    "leaks {secret}: {}",
                    answer.raw
                );
            }
        }
        refused.push(title);
    }
    // A tool that never queries needs no transaction: with a JWT (no key
    // lookup) it still answers while the database is away.
    let who = post(
        &client,
        &server.url,
        &jwt,
        &call(5, "verify_access", json!({})),
    )
    .await;
    assert!(ok(&who), "{}", who.raw);
    assert_eq!(
        who.body["result"]["structuredContent"]["subject"], "bob",
        "{}",
        who.raw
    );

    // Back, without a restart: the pool reconnects.
    relay.restore();
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let answer = post(&client, &server.url, &key, &create(9, "after")).await;
        if ok(&answer) {
            break;
        }
        assert_eq!(answer.status, 503, "{}", answer.raw);
        assert!(Instant::now() < deadline, "did not recover: {}", answer.raw);
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    assert!(ok(&post(&client, &server.url, &jwt, &search()).await));

    // Nothing refused was written; what succeeded was, once.
    let db = Db::connect(&url).await.unwrap();
    let titles: Vec<String> = sqlx::query("SELECT title FROM notes ORDER BY title")
        .fetch_all(db.pool())
        .await
        .unwrap()
        .iter()
        .map(|r| r.get("title"))
        .collect();
    assert_eq!(titles, ["after", "before"]);

    // The audit records of the refused calls were kept through the outage
    // and written once the database was back.
    // The JWT calls reached the tool and failed at its transaction; the key
    // calls failed at authentication (no tool decision to audit).
    audit_rows_reach(&db, "reason = 'database unavailable'", 4).await;
    drop(relay);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_database_cut_mid_load_loses_no_acknowledged_write() {
    let url = create_postgres_database("midrun").await;
    let relay = Relay::start("127.0.0.1:5432".parse().unwrap());
    let via_relay = url.replacen("127.0.0.1:5432", &relay.addr().to_string(), 1);
    let server = instance(&via_relay, TTL_ARG);
    let jwt = token("carol", &["notes:read", "notes:write"]);
    let client = reqwest::Client::new();

    let writers: Vec<_> = (0..8)
        .map(|t| {
            let (client, url, jwt) = (client.clone(), server.url.clone(), jwt.clone());
            tokio::spawn(async move {
                let mut outcomes = Vec::new();
                for i in 0..40 {
                    let title = format!("w{t}-{i}");
                    let answer = post(&client, &url, &jwt, &create(i, &title)).await;
                    let success = ok(&answer);
                    outcomes.push((title, answer.status, answer.raw, success));
                    tokio::time::sleep(Duration::from_millis(5)).await;
                }
                outcomes
            })
        })
        .collect();
    tokio::time::sleep(Duration::from_millis(300)).await;
    relay.cut();
    tokio::time::sleep(Duration::from_millis(700)).await;
    relay.restore();

    let mut acknowledged = Vec::new();
    let mut refused = 0;
    for w in writers {
        for (title, status, raw, success) in w.await.unwrap() {
            if success {
                acknowledged.push(title);
            } else {
                // Anything that did not succeed says so with a 503.
                assert_eq!(status, 503, "{title}: {raw}");
                refused += 1;
            }
        }
    }
    assert!(refused > 0, "the cut refused nothing: the test did not cut");
    assert!(!acknowledged.is_empty());
    let db = Db::connect(&url).await.unwrap();
    let stored: Vec<(String, String)> = sqlx::query("SELECT title, body FROM notes")
        .fetch_all(db.pool())
        .await
        .unwrap()
        .iter()
        .map(|r| (r.get("title"), r.get("body")))
        .collect();
    let stored_titles: HashSet<&str> = stored.iter().map(|(t, _)| t.as_str()).collect();
    assert_eq!(
        stored_titles.len(),
        stored.len(),
        "a write was applied twice"
    );
    for (title, body) in &stored {
        assert_eq!(body, &format!("body of {title}"), "a partial write");
    }
    for title in &acknowledged {
        assert!(
            stored_titles.contains(title.as_str()),
            "acknowledged but lost: {title}"
        );
    }
    // A refused write is absent, except one whose commit was cut after the
    // database applied it (its 503 says the outcome is unknown).
    let unknown = stored.len() - acknowledged.len();
    assert!(unknown <= 8, "{unknown} writes stored but refused");
}

/// `/readyz` on the admin listener says when the database is gone (503,
/// naming it, never its URL) and when it is back (200), without a restart.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn readiness_follows_the_database() {
    let url = create_postgres_database("readyz").await;
    let relay = Relay::start("127.0.0.1:5432".parse().unwrap());
    let via_relay = url.replacen("127.0.0.1:5432", &relay.addr().to_string(), 1);
    let mut cmd = Command::new(notes_bin());
    cmd.args([
        "serve",
        "--listen",
        "127.0.0.1:0",
        "--admin-listen",
        "127.0.0.1:0",
        "--data-dir",
    ])
    .arg(scratch_dir("readyz"))
    .args(["--jwt-public-key", &trust_arg()])
    .env("DATABASE_URL", &via_relay);
    let server = HttpServer::from_command(cmd);
    let admin = server.admin_origin();
    let client = reqwest::Client::new();
    let readyz = || async {
        let res = client.get(format!("{admin}/readyz")).send().await.unwrap();
        (res.status().as_u16(), res.text().await.unwrap())
    };
    assert_eq!(readyz().await.0, 200);
    relay.cut();
    let (status, body) = readyz().await;
    assert_eq!(status, 503, "{body}");
    let doc: Value = serde_json::from_str(&body).unwrap();
    let why = doc["checks"]["database"].as_str().unwrap();
    assert!(
        why.starts_with("the database does not answer")
            || why.starts_with("the database did not answer within"),
        "{body}"
    );
    assert!(
        !body.contains("postgres://") && !body.contains(&relay.addr().to_string()),
        "{body}"
    );
    // Liveness is not readiness: the process still answers.
    let live = client.get(format!("{admin}/healthz")).send().await.unwrap();
    assert_eq!(live.status(), 200);
    relay.restore();
    let deadline = Instant::now() + Duration::from_secs(20);
    while readyz().await.0 != 200 {
        assert!(
            Instant::now() < deadline,
            "not ready again after the database came back"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}
