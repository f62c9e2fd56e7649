//! Traffic the internet sends, against the example server's real binary:
//! slow and idle sockets, one peer hoarding connections, descriptor
//! exhaustion, floods of anonymous and bad-credential requests, forged log
//! fields, ambiguous headers and tokens, a local server pointed at
//! production data. Every load loop is bounded in count and time, on
//! loopback only.

use std::net::SocketAddr;
use std::process::Command;
use std::time::{Duration, Instant};

use mcpgen_tests::databases::{Backend, data_args, open_for};
use mcpgen_tests::notes::{call, cli, create_key, post};
use mcpgen_tests::process::{HttpServer, notes_bin, scratch_dir};
use mcpgen_tests::tokens::{self, claims, sign_with, token, trust_arg};
use serde_json::{Value, json};
use sqlx::Row as _;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpSocket, TcpStream};

fn addr(server: &HttpServer) -> SocketAddr {
    server
        .url
        .trim_start_matches("http://")
        .trim_end_matches("/mcp")
        .parse()
        .expect("host:port")
}

/// A connection to `to` from the loopback address `from`.
async fn connect_from(from: &str, to: SocketAddr) -> TcpStream {
    let socket = TcpSocket::new_v4().unwrap();
    socket
        .bind(SocketAddr::new(from.parse().unwrap(), 0))
        .unwrap();
    socket.connect(to).await.expect("connect")
}

/// Read until the server closes the connection or `within` passes;
/// whether it closed, and what it sent.
async fn closed_within(stream: &mut TcpStream, within: Duration) -> (bool, String) {
    let mut got = Vec::new();
    let outcome = tokio::time::timeout(within, stream.read_to_end(&mut got)).await;
    (
        matches!(outcome, Ok(Ok(_)) | Ok(Err(_))),
        String::from_utf8_lossy(&got).into_owned(),
    )
}

/// One whole HTTP/1.1 request, as text.
fn request(path_or_target: &str, headers: &[(&str, &str)], body: &str) -> String {
    let mut out = format!("POST {path_or_target} HTTP/1.1\r\n");
    for (k, v) in headers {
        out.push_str(&format!("{k}: {v}\r\n"));
    }
    out.push_str(&format!("content-length: {}\r\n\r\n{body}", body.len()));
    out
}

const JSON: (&str, &str) = ("content-type", "application/json");
const ACCEPT: (&str, &str) = ("accept", "application/json, text/event-stream");

fn ping() -> String {
    json!({"jsonrpc":"2.0","id":1,"method":"ping"}).to_string()
}

/// Send one request on a fresh connection and read the whole answer
/// (the request asks the server to close the connection after it).
async fn exchange(to: SocketAddr, from: &str, raw: String) -> String {
    let mut s = connect_from(from, to).await;
    let raw = raw.replacen("\r\n", "\r\nconnection: close\r\n", 1);
    s.write_all(raw.as_bytes()).await.unwrap();
    let (closed, text) = closed_within(&mut s, Duration::from_secs(10)).await;
    assert!(closed, "no answer within 10 s");
    text
}

fn status_of(response: &str) -> u16 {
    response
        .split(' ')
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or(0)
}

fn body_of(response: &str) -> Value {
    let body = response.split("\r\n\r\n").nth(1).unwrap_or_default();
    // A chunked body: take the JSON between the chunk sizes.
    let json = body
        .find('{')
        .and_then(|i| body.rfind('}').map(|j| &body[i..=j]))
        .unwrap_or_default();
    serde_json::from_str(json).unwrap_or(Value::Null)
}

#[tokio::test]
async fn a_connection_slow_to_send_its_headers_or_idle_is_closed() {
    let server = HttpServer::start(notes_bin(), &["--header-timeout", "1s"]);
    let to = addr(&server);
    // Half a request's headers, then nothing (slowloris).
    let mut slow = connect_from("127.0.0.1", to).await;
    slow.write_all(b"POST /mcp HTTP/1.1\r\nhost: 127.0.0.1\r\n")
        .await
        .unwrap();
    // A connection that never sends a byte.
    let mut silent = connect_from("127.0.0.1", to).await;
    // A keep-alive connection idle after its first request.
    let mut idle = connect_from("127.0.0.1", to).await;
    idle.write_all(request("/mcp", &[("host", "127.0.0.1"), JSON, ACCEPT], &ping()).as_bytes())
        .await
        .unwrap();
    let started = Instant::now();
    for (what, s) in [("slow", &mut slow), ("silent", &mut silent)] {
        let (closed, _) = closed_within(s, Duration::from_secs(8)).await;
        assert!(closed, "{what}: still open after 8 s");
    }
    let (closed, answer) = closed_within(&mut idle, Duration::from_secs(8)).await;
    assert!(closed, "idle keep-alive: still open after 8 s");
    assert_eq!(status_of(&answer), 200, "it was answered first: {answer}");
    assert!(
        started.elapsed() >= Duration::from_millis(900),
        "closed for the timeout, not at once"
    );
}

#[tokio::test]
async fn a_body_that_does_not_arrive_in_time_is_answered_408() {
    let server = HttpServer::start(notes_bin(), &["--body-timeout", "1s"]);
    let mut s = connect_from("127.0.0.1", addr(&server)).await;
    s.write_all(
        b"POST /mcp HTTP/1.1\r\nhost: 127.0.0.1\r\ncontent-type: application/json\r\n\
          accept: application/json, text/event-stream\r\ncontent-length: 100\r\n\r\n{\"jsonrpc\"",
    )
    .await
    .unwrap();
    let mut got = vec![0u8; 4096];
    let n = tokio::time::timeout(Duration::from_secs(8), s.read(&mut got))
        .await
        .expect("answered within 8 s")
        .unwrap();
    let answer = String::from_utf8_lossy(&got[..n]).into_owned();
    assert_eq!(status_of(&answer), 408, "{answer}");
    assert_eq!(body_of(&answer)["error"]["code"], -32600, "{answer}");
}

#[tokio::test]
async fn one_peer_cannot_take_every_connection() {
    let server = HttpServer::start(notes_bin(), &["--max-connections-per-peer", "4"]);
    let to = addr(&server);
    let mut held = Vec::new();
    for _ in 0..4 {
        held.push(connect_from("127.0.0.1", to).await);
    }
    // Make sure the four are accepted before the fifth comes.
    tokio::time::sleep(Duration::from_millis(300)).await;
    let mut fifth = connect_from("127.0.0.1", to).await;
    let (closed, _) = closed_within(&mut fifth, Duration::from_secs(3)).await;
    assert!(closed, "a peer's fifth connection is closed at once");
    // Another peer is served meanwhile.
    let answer = exchange(
        to,
        "127.0.0.2",
        request("/mcp", &[("host", "127.0.0.1"), JSON, ACCEPT], &ping()),
    )
    .await;
    assert_eq!(status_of(&answer), 200, "{answer}");
    // Places come back as connections close.
    drop(held);
    tokio::time::sleep(Duration::from_millis(300)).await;
    let answer = exchange(
        to,
        "127.0.0.1",
        request("/mcp", &[("host", "127.0.0.1"), JSON, ACCEPT], &ping()),
    )
    .await;
    assert_eq!(status_of(&answer), 200, "{answer}");
}

#[tokio::test]
async fn the_server_keeps_serving_when_file_descriptors_run_out() {
    // 128 descriptors in all: fewer than the 300 connections below.
    let data = scratch_dir("fd-exhaustion");
    let mut cmd = Command::new("sh");
    cmd.arg("-c")
        .arg("ulimit -n 128 && exec \"$0\" \"$@\"")
        .arg(notes_bin())
        .args(["serve", "--listen", "127.0.0.1:0", "--header-timeout", "1s"])
        .args(data_args(&data));
    let server = HttpServer::from_command(cmd);
    let to = addr(&server);
    let mut attackers = Vec::new();
    for _ in 0..300 {
        match tokio::time::timeout(Duration::from_millis(500), connect_from("127.0.0.1", to)).await
        {
            Ok(s) => attackers.push(s),
            Err(_) => break, // the accept queue is full
        }
    }
    assert!(attackers.len() > 128, "only {} connected", attackers.len());
    // A legitimate request from elsewhere is served while they hold on.
    let started = Instant::now();
    let answer = exchange(
        to,
        "127.0.0.2",
        request("/mcp", &[("host", "127.0.0.1"), JSON, ACCEPT], &ping()),
    )
    .await;
    assert_eq!(status_of(&answer), 200, "{answer}");
    assert!(started.elapsed() < Duration::from_secs(10));
    // And once they leave, everything is as before.
    drop(attackers);
    tokio::time::sleep(Duration::from_millis(500)).await;
    for _ in 0..5 {
        let answer = exchange(
            to,
            "127.0.0.1",
            request("/mcp", &[("host", "127.0.0.1"), JSON, ACCEPT], &ping()),
        )
        .await;
        assert_eq!(status_of(&answer), 200, "{answer}");
    }
}

/// The audit rows of a stopped server: (peer, credential, reason, count).
async fn audit_rows(data: &std::path::Path) -> Vec<(String, String, String, i64)> {
    let db = open_for(data).await;
    sqlx::query("SELECT peer, credential, reason, count FROM mcpgen_audit")
        .fetch_all(db.pool())
        .await
        .unwrap()
        .iter()
        .map(|r| {
            (
                r.get("peer"),
                r.get("credential"),
                r.get("reason"),
                r.get("count"),
            )
        })
        .collect()
}

#[tokio::test]
async fn a_peer_without_credentials_has_a_budget_that_bad_tokens_spend_too() {
    let data = scratch_dir("peer-budget");
    let server = HttpServer::start_in(
        notes_bin(),
        &data,
        &["--peer-budget", "10", "--jwt-public-key", &trust_arg()],
    );
    let to = addr(&server);
    let anonymous = |from: &'static str| {
        exchange(
            to,
            from,
            request(
                "/mcp",
                &[("host", "127.0.0.1"), JSON, ACCEPT],
                &call("search_owned_notes").to_string(),
            ),
        )
    };
    for _ in 0..10 {
        assert_eq!(status_of(&anonymous("127.0.0.1").await), 401);
    }
    let refused = anonymous("127.0.0.1").await;
    assert_eq!(status_of(&refused), 429, "{refused}");
    assert!(
        refused.to_lowercase().contains("retry-after: "),
        "{refused}"
    );
    assert_eq!(body_of(&refused)["error"]["code"], -31429);
    // Over budget, even a good credential is not verified.
    let good = token("alice", &["notes:read"]);
    let bearer = format!("Bearer {good}");
    let answer = exchange(
        to,
        "127.0.0.1",
        request(
            "/mcp",
            &[
                ("host", "127.0.0.1"),
                JSON,
                ACCEPT,
                ("authorization", &bearer),
            ],
            &call("search_owned_notes").to_string(),
        ),
    )
    .await;
    assert_eq!(status_of(&answer), 429);
    // Another peer is not held to the first one's budget; bad tokens spend
    // its budget as anonymous requests do.
    assert_eq!(status_of(&anonymous("127.0.0.2").await), 401);
    let bad = format!(
        "Bearer {}",
        token("alice", &["notes:read"]).replace('.', "x")
    );
    let mut statuses = Vec::new();
    for _ in 0..12 {
        let answer = exchange(
            to,
            "127.0.0.3",
            request(
                "/mcp",
                &[("host", "127.0.0.1"), JSON, ACCEPT, ("authorization", &bad)],
                &call("search_owned_notes").to_string(),
            ),
        )
        .await;
        statuses.push(status_of(&answer));
    }
    assert_eq!(&statuses[..10], [401; 10]);
    assert_eq!(&statuses[10..], [429; 2]);

    // Recorded, counted per peer and reason: failed authentications too.
    let (status, _) = server.stop();
    assert!(status.success());
    let rows = audit_rows(&data).await;
    let counted = |peer: &str, reason: &str| -> i64 {
        rows.iter()
            .filter(|r| r.0 == peer && r.2 == reason)
            .map(|r| r.3)
            .sum()
    };
    assert_eq!(counted("127.0.0.1", "no credential"), 10, "{rows:?}");
    assert_eq!(counted("127.0.0.1", "peer over budget"), 2, "{rows:?}");
    assert_eq!(counted("127.0.0.3", "invalid credential"), 10, "{rows:?}");
    assert_eq!(counted("127.0.0.3", "peer over budget"), 2, "{rows:?}");
    assert!(
        rows.iter()
            .filter(|r| r.2 == "invalid credential")
            .all(|r| r.1.starts_with("jwt:") && !r.1.contains("eyJ")),
        "a failed credential is named by its hash: {rows:?}"
    );
}

#[tokio::test]
async fn a_flood_of_anonymous_calls_costs_the_audit_trail_a_few_rows() {
    let data = scratch_dir("flood");
    let server = HttpServer::start_in(notes_bin(), &data, &["--peer-budget", "0"]);
    let client = reqwest::Client::new();
    const CALLS: i64 = 2_000;
    let deadline = Instant::now() + Duration::from_secs(60);
    for i in 0..CALLS {
        let status = client
            .post(&server.url)
            .header("content-type", "application/json")
            .header("accept", "application/json, text/event-stream")
            .body(call("search_owned_notes").to_string())
            .send()
            .await
            .unwrap()
            .status();
        assert_eq!(status, 401);
        assert!(Instant::now() < deadline, "only {i} calls in 60 s");
    }
    let (status, log) = server.stop();
    assert!(status.success());
    let rows = audit_rows(&data).await;
    assert!(rows.len() <= 3, "{} rows: {rows:?}", rows.len());
    assert_eq!(
        rows.iter().map(|r| r.3).sum::<i64>(),
        CALLS,
        "every call counted"
    );
    let lines = log.lines().filter(|l| l.contains("mcpgen::audit")).count();
    assert!(lines <= 3, "{lines} audit log lines for {CALLS} refusals");
}

#[tokio::test]
async fn every_record_names_its_peer_and_credential_never_the_secret() {
    let data = scratch_dir("audit-credentials");
    let key = create_key(&data, "alice", "notes:read", &[]);
    let secret = key["key"].as_str().unwrap().to_owned();
    let server = HttpServer::start_in(notes_bin(), &data, &["--jwt-public-key", &trust_arg()]);
    let jwt = token("alice", &["notes:read"]);
    assert_eq!(
        post(&server.url, Some(&secret), &call("search_owned_notes"))
            .await
            .status,
        200
    );
    assert_eq!(
        post(&server.url, Some(&jwt), &call("search_owned_notes"))
            .await
            .status,
        200
    );
    server.stop();
    let rows = audit_rows(&data).await;
    let credentials: Vec<&str> = rows.iter().map(|r| r.1.as_str()).collect();
    assert!(
        credentials.contains(&format!("key:{}", key["id"].as_str().unwrap()).as_str()),
        "{rows:?}"
    );
    assert!(
        credentials
            .iter()
            .any(|c| c.starts_with("jwt:") && c.len() == 20),
        "{rows:?}"
    );
    assert!(rows.iter().all(|r| r.0 == "127.0.0.1"), "{rows:?}");
    for r in &rows {
        assert!(!secret.contains(&r.1) && !jwt.contains(&r.1[4..]), "{r:?}");
    }
}

#[tokio::test]
async fn old_audit_records_are_pruned_by_the_server_itself() {
    use mcpgen::audit::{AuditOptions, AuditSink};
    let db = mcpgen_tests::databases::fresh::<notes_app::Notes>(
        Backend::of_this_run(),
        "audit-retention",
    )
    .await;
    let day = 86_400;
    for (id, age_days) in [("old-1", 40), ("old-2", 31), ("recent", 29), ("new", 0)] {
        sqlx::query(
            "INSERT INTO mcpgen_audit (request_id, at, transport, subject, client, tool, scopes, decision, reason, duration_us) \
             VALUES ($1, $2, 'http', 's', '', 't', '', 'allowed', 'ok', 1)",
        )
        .bind(id)
        .bind(tokens::now() - age_days * day)
        .execute(db.pool())
        .await
        .unwrap();
    }
    let _sink = AuditSink::to_database_with(
        db.clone(),
        AuditOptions {
            retention: Some(Duration::from_secs(30 * 86_400)),
            prune_every: Duration::from_millis(100),
            ..AuditOptions::default()
        },
    );
    let mut left = Vec::new();
    for _ in 0..50 {
        left = sqlx::query_scalar::<_, String>(
            "SELECT request_id FROM mcpgen_audit ORDER BY request_id",
        )
        .fetch_all(db.pool())
        .await
        .unwrap();
        if left.len() == 2 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert_eq!(left, ["new", "recent"]);
}

/// `key=value` fields of a text log line, values quoted or not.
fn fields(line: &str) -> Vec<(String, String)> {
    let mut out = Vec::new();
    let mut rest = line;
    while let Some(eq) = rest.find('=') {
        let key = rest[..eq].rsplit(' ').next().unwrap_or("").to_owned();
        let after = &rest[eq + 1..];
        let (value, next) = if let Some(q) = after.strip_prefix('"') {
            // Up to the closing quote not escaped by a backslash.
            let mut end = 0;
            let bytes = q.as_bytes();
            while end < bytes.len()
                && !(bytes[end] == b'"' && (end == 0 || bytes[end - 1] != b'\\'))
            {
                end += 1;
            }
            (q[..end].to_owned(), &q[(end + 1).min(q.len())..])
        } else {
            let end = after.find(' ').unwrap_or(after.len());
            (after[..end].to_owned(), &after[end..])
        };
        out.push((key, value));
        rest = next;
    }
    out
}

#[tokio::test]
async fn a_tool_name_cannot_forge_a_log_line() {
    let forged = "x subject=alice decision=\"allowed\" reason=\"ok\" \u{202e}evil";
    for format in ["text", "json"] {
        let data = scratch_dir("log-forgery");
        let mut cmd = Command::new(notes_bin());
        cmd.args(["serve", "--listen", "127.0.0.1:0", "--log-format", format])
            .args(data_args(&data))
            .args(["--jwt-public-key", &trust_arg()]);
        let server = HttpServer::from_command(cmd);
        let mallory = token("mallory", &["notes:read"]);
        let body = json!({"jsonrpc":"2.0","id":1,"method":"tools/call",
                          "params":{"name": forged, "arguments": {}}});
        assert_eq!(post(&server.url, Some(&mallory), &body).await.status, 200);
        let (_, log) = server.stop();
        let line = log
            .lines()
            .find(|l| l.contains("mcpgen::audit") || l.contains("\"mcpgen::audit\""))
            .unwrap_or_else(|| panic!("{format}: no audit line in\n{log}"));
        assert!(!line.contains('\u{202e}'), "{format}: {line}");
        if format == "text" {
            let f = fields(line);
            let subjects: Vec<&String> = f
                .iter()
                .filter(|(k, _)| k == "subject")
                .map(|(_, v)| v)
                .collect();
            assert_eq!(subjects, ["mallory"], "{line}");
            let decisions: Vec<&String> = f
                .iter()
                .filter(|(k, _)| k == "decision")
                .map(|(_, v)| v)
                .collect();
            assert_eq!(decisions, ["denied"], "{line}");
        } else {
            let event: Value = serde_json::from_str(line).expect("one JSON object per line");
            assert_eq!(event["subject"], "\"mallory\"", "{line}");
            assert_eq!(event["decision"], "denied", "{line}");
            assert!(
                event["tool"].as_str().unwrap().contains("subject=alice"),
                "{line}"
            );
        }
        // The stored name has no format characters left.
        let db = open_for(&data).await;
        let tool: String =
            sqlx::query_scalar("SELECT tool FROM mcpgen_audit WHERE subject = 'mallory'")
                .fetch_one(db.pool())
                .await
                .unwrap();
        assert!(
            !tool.contains('\u{202e}') && tool.ends_with("evil"),
            "{tool:?}"
        );
    }
}

#[tokio::test]
async fn ambiguous_tokens_are_refused() {
    let server = HttpServer::start(notes_bin(), &["--jwt-public-key", &trust_arg()]);
    let search = call("search_owned_notes");
    let now = tokens::now();
    let signed = |edit: &dyn Fn(&mut Value)| {
        let mut c = claims("alice", &["notes:read"]);
        edit(&mut c);
        sign_with("as-key.pem", &c, |_| {})
    };
    let cases = [
        (
            "a critical header extension",
            sign_with("as-key.pem", &claims("alice", &["notes:read"]), |h| {
                h.crit = Some(vec!["exp".into()])
            }),
        ),
        (
            "iss as an array holding the issuer",
            signed(&|c| c["iss"] = json!([tokens::ISSUER, "https://evil.example"])),
        ),
        (
            "iat in the future",
            signed(&|c| c["iat"] = json!(now + 3600)),
        ),
        (
            "a lifetime of two days",
            signed(&|c| {
                c["iat"] = json!(now);
                c["exp"] = json!(now + 2 * 86_400)
            }),
        ),
        (
            "no iat, expiring in two days",
            signed(&|c| {
                c.as_object_mut().unwrap().remove("iat");
                c["exp"] = json!(now + 2 * 86_400)
            }),
        ),
    ];
    for (what, t) in &cases {
        let a = post(&server.url, Some(t), &search).await;
        assert_eq!(a.status, 401, "{what}: {}", a.body);
        assert!(
            a.challenge.unwrap_or_default().contains("invalid_token"),
            "{what}"
        );
    }
    // The same token without the ambiguity passes.
    assert_eq!(
        post(&server.url, Some(&signed(&|_| {})), &search)
            .await
            .status,
        200
    );
}

#[tokio::test]
async fn ambiguous_requests_are_refused() {
    let server = HttpServer::start(notes_bin(), &[]);
    let to = addr(&server);
    let ping = ping();
    let tools_call = json!({"jsonrpc":"2.0","id":1,"method":"tools/call",
                            "params":{"name":"verify_access","arguments":{}}})
    .to_string();
    let cases: Vec<(&str, String, u16, i64)> = vec![
        (
            "two Authorization headers",
            request(
                "/mcp",
                &[
                    ("host", "127.0.0.1"),
                    JSON,
                    ACCEPT,
                    ("authorization", "Bearer a"),
                    ("authorization", "Bearer b"),
                ],
                &ping,
            ),
            400,
            -32600,
        ),
        (
            "two Host headers",
            request(
                "/mcp",
                &[("host", "127.0.0.1"), ("host", "localhost"), JSON, ACCEPT],
                &ping,
            ),
            400,
            -32600,
        ),
        (
            "an absolute target naming another host",
            request(
                "http://evil.example/mcp",
                &[("host", "127.0.0.1"), JSON, ACCEPT],
                &ping,
            ),
            400,
            -32600,
        ),
        (
            "a legacy Mcp-Method that disagrees with the body",
            request(
                "/mcp",
                &[
                    ("host", "127.0.0.1"),
                    JSON,
                    ACCEPT,
                    ("mcp-method", "tools/list"),
                ],
                &ping,
            ),
            400,
            -32020,
        ),
        (
            "a legacy Mcp-Name that disagrees with the body",
            request(
                "/mcp",
                &[
                    ("host", "127.0.0.1"),
                    JSON,
                    ACCEPT,
                    ("mcp-method", "tools/call"),
                    ("mcp-name", "create_text_note"),
                ],
                &tools_call,
            ),
            400,
            -32020,
        ),
    ];
    for (what, raw, status, code) in cases {
        let answer = exchange(to, "127.0.0.1", raw).await;
        assert_eq!(status_of(&answer), status, "{what}: {answer}");
        assert_eq!(body_of(&answer)["error"]["code"], code, "{what}: {answer}");
    }
    // Controls: an absolute target naming this host, agreeing headers.
    let target = format!("http://127.0.0.1:{}/mcp", to.port());
    let host = format!("127.0.0.1:{}", to.port());
    for raw in [
        request(&target, &[("host", &host), JSON, ACCEPT], &ping),
        request(
            "/mcp",
            &[("host", "127.0.0.1"), JSON, ACCEPT, ("mcp-method", "ping")],
            &ping,
        ),
    ] {
        let answer = exchange(to, "127.0.0.1", raw).await;
        assert_eq!(status_of(&answer), 200, "{answer}");
    }
}

#[tokio::test]
async fn an_anonymous_caller_cannot_tell_unknown_tools_from_protected_ones() {
    let server = HttpServer::start(notes_bin(), &[]);
    let known = post(&server.url, None, &call("create_text_note")).await;
    let unknown = post(
        &server.url,
        None,
        &json!({"jsonrpc":"2.0","id":1,"method":"tools/call",
                "params":{"name":"drop_all_tables","arguments":{}}}),
    )
    .await;
    assert_eq!(known.status, 401);
    assert_eq!(
        (known.status, &known.challenge, &known.body),
        (unknown.status, &unknown.challenge, &unknown.body)
    );
    // Even malformed arguments do not tell them apart.
    let odd = json!({"jsonrpc":"2.0","id":1,"method":"tools/call",
                     "params":{"name":"create_text_note","arguments":[1]}});
    assert_eq!(post(&server.url, None, &odd).await.body, unknown.body);
}

#[tokio::test]
async fn every_answer_says_not_to_cache_or_sniff_it() {
    let server = HttpServer::start(notes_bin(), &[]);
    for credential in [None, Some("not-a-token")] {
        let a = post(
            &server.url,
            credential,
            &json!({"jsonrpc":"2.0","id":1,"method":"ping"}),
        )
        .await;
        let raw = a.raw.to_lowercase();
        assert!(raw.contains("\"cache-control\": \"no-store\""), "{raw}");
        assert!(
            raw.contains("\"x-content-type-options\": \"nosniff\""),
            "{raw}"
        );
    }
}

#[tokio::test]
async fn a_local_server_cannot_use_a_production_database_or_leave_loopback() {
    let data = scratch_dir("data-class");
    let preview = HttpServer::start_in(
        notes_bin(),
        &data,
        &["--env", "preview", "--jwt-public-key", &trust_arg()],
    );
    let status = post(
        &preview.url,
        Some(&token("alice", &["notes:read"])),
        &call("get_environment_status"),
    )
    .await;
    assert_eq!(
        status.body["result"]["structuredContent"]["database_data"],
        "production"
    );
    drop(preview);
    // `local` (the default) on the same database: refused, saying both.
    let out = Command::new(notes_bin())
        .args(["serve", "--listen", "127.0.0.1:0"])
        .args(data_args(&data))
        .output()
        .unwrap();
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains(
            "this database holds production data (it was first used in environment `preview`)"
        ) && err.contains("environment `local` runs on local data"),
        "{err}"
    );
    let (ok, _, err) = cli(&data, &["keys", "list"]);
    assert!(!ok && err.contains("holds production data"), "{err}");
    // A local server listens on loopback only.
    let out = Command::new(notes_bin())
        .args(["serve", "--listen", "0.0.0.0:0"])
        .args(data_args(&scratch_dir("data-class-any")))
        .output()
        .unwrap();
    assert!(!out.status.success());
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("listens on loopback only"),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

#[tokio::test]
async fn urls_with_userinfo_or_look_alike_hosts_are_refused_at_start() {
    for (jwks, says) in [
        (
            "http://127.0.0.1@evil.example/jwks.json",
            "carries a user name or password",
        ),
        ("http://localhost.evil.example/jwks.json", "must use https"),
        ("http://127.0.0.1.evil.example/jwks.json", "must use https"),
    ] {
        let out = Command::new(notes_bin())
            .args(["--env", "preview", "serve", "--listen", "127.0.0.1:0"])
            .args(data_args(&scratch_dir("bad-jwks")))
            .args(["--jwks-url", jwks])
            .output()
            .unwrap();
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(!out.status.success() && err.contains(says), "{jwks}: {err}");
    }
    let out = Command::new(notes_bin())
        .args(["--env", "preview", "serve", "--listen", "127.0.0.1:0"])
        .args(data_args(&scratch_dir("bad-issuer")))
        .args([
            "--jwt-public-key",
            &trust_arg(),
            "--issuer",
            "http://auth.example.com",
        ])
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success() && err.contains("the issuer"), "{err}");
}

#[test]
fn files_holding_data_and_keys_are_private() {
    use std::os::unix::fs::PermissionsExt as _;
    let data = scratch_dir("file-modes").join("fresh");
    let (ok, _, err) = cli(
        &data,
        &["token", "mint", "--sub", "alice", "--scopes", "notes:read"],
    );
    assert!(ok, "{err}");
    let (ok, _, err) = cli(&data, &["keys", "list"]);
    assert!(ok, "{err}");
    let mode = |p: &std::path::Path| std::fs::metadata(p).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode(&data.join("dev-signing-key.p8")), 0o600);
    // (On a PostgreSQL run the test harness makes the directory first.)
    if Backend::of_this_run() == Backend::Sqlite {
        assert_eq!(mode(&data), 0o700, "the data directory");
        assert_eq!(mode(&data.join("mcpgen.db")), 0o600, "the database");
    }
}

#[test]
fn absurd_durations_are_refused_not_panicked_on() {
    let data = scratch_dir("durations");
    for args in [
        &[
            "keys",
            "create",
            "--owner",
            "a",
            "--scopes",
            "notes:read",
            "--expires",
            "999999999999999999d",
        ][..],
        &[
            "token",
            "mint",
            "--sub",
            "a",
            "--ttl",
            "18446744073709551615",
        ][..],
        &["token", "mint", "--sub", "a", "--ttl", "30d"][..],
    ] {
        let (ok, _, err) = cli(&data, args);
        assert!(!ok, "{args:?}");
        assert!(!err.contains("panicked"), "{args:?}: {err}");
        assert!(
            err.contains("too long") || err.contains("longer than"),
            "{args:?}: {err}"
        );
    }
}
