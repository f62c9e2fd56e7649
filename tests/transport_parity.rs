//! Transport parity: the same messages over Streamable HTTP and over a
//! real stdio child process give the same answers — results, validation
//! failures and denials alike — because both go through one dispatch.

use std::io::{BufRead, BufReader, Write};
use std::process::{Command, Stdio};

use mcpgen_tests::process::HttpServer;
use serde_json::{Value, json};

const FIXTURE: &str = env!("CARGO_BIN_EXE_mcpgen-conformance-fixture");
const MODERN: &str = "2026-07-28";

fn legacy(id: u64, method: &str, params: Value) -> Value {
    json!({"jsonrpc": "2.0", "id": id, "method": method, "params": params})
}

fn modern(id: u64, method: &str, mut params: Value) -> Value {
    params["_meta"] = json!({
        "io.modelcontextprotocol/protocolVersion": MODERN,
        "io.modelcontextprotocol/clientCapabilities": {},
        "progressToken": id,
    });
    json!({"jsonrpc": "2.0", "id": id, "method": method, "params": params})
}

/// The conversation, as raw lines (one is not even JSON).
fn script() -> Vec<String> {
    let call = |name: &str, args: Value| json!({"name": name, "arguments": args});
    [
        legacy(1, "initialize", json!({"protocolVersion": "2025-11-25", "capabilities": {}, "clientInfo": {"name": "parity", "version": "1"}})),
        json!({"jsonrpc": "2.0", "method": "notifications/initialized"}),
        legacy(2, "ping", json!({})),
        legacy(3, "tools/list", json!({})),
        legacy(4, "tools/call", call("add_numbers", json!({"a": 1, "b": 2}))),
        legacy(5, "tools/call", call("add_numbers", json!({"a": "one", "b": 2}))),
        legacy(6, "tools/call", call("echo_scoped", json!({"text": "hi"}))),
        legacy(7, "tools/call", call("no_such_tool", json!({}))),
        legacy(8, "tools/call", call("test_error_handling", json!({}))),
        modern(9, "server/discover", json!({})),
        modern(10, "tools/list", json!({})),
        modern(11, "tools/call", call("add_numbers", json!({"a": 40, "b": 2}))),
        modern(12, "tools/call", call("test_tool_with_progress", json!({}))),
        modern(13, "resources/list", json!({})),
        legacy(14, "tools/list", json!({"cursor": "bogus"})),
    ]
    .iter()
    .map(Value::to_string)
    .chain(["{\"jsonrpc\": \"2.0\", \"id\": 15,".to_owned()])
    .collect()
}

/// Every JSON-RPC message the server sent for one input line, in order
/// (notifications first, then the response), over HTTP.
async fn over_http(server: &HttpServer, line: &str) -> Vec<Value> {
    let parsed: Option<Value> = serde_json::from_str(line).ok();
    let mut req = reqwest::Client::new()
        .post(&server.url)
        .header("content-type", "application/json")
        .header("accept", "application/json, text/event-stream");
    if let Some(msg) = &parsed
        && msg["params"]["_meta"].is_object()
    {
        req = req
            .header("mcp-protocol-version", MODERN)
            .header("mcp-method", msg["method"].as_str().unwrap());
        if let Some(name) = msg["params"]["name"].as_str() {
            req = req.header("mcp-name", name);
        }
    }
    let res = req.body(line.to_owned()).send().await.expect("answered");
    let sse = res
        .headers()
        .get("content-type")
        .is_some_and(|c| c.to_str().unwrap().starts_with("text/event-stream"));
    let body = res.text().await.expect("body");
    if body.is_empty() {
        Vec::new()
    } else if sse {
        body.lines()
            .filter_map(|l| l.strip_prefix("data: "))
            .map(|d| serde_json::from_str(d).expect("event data is JSON"))
            .collect()
    } else {
        vec![serde_json::from_str(&body).expect("JSON body")]
    }
}

/// `(tool, decision, reason)` of every audit event in a server log.
fn audit(log: &str) -> Vec<(String, String, String)> {
    let field = |line: &str, key: &str| {
        let rest = line.split(&format!(" {key}=")).nth(1)?;
        let value = if let Some(quoted) = rest.strip_prefix('"') {
            quoted.split('"').next()?
        } else {
            rest.split(' ').next()?
        };
        Some(value.to_owned())
    };
    log.lines()
        .filter(|l| l.contains("mcpgen::audit"))
        .map(|l| {
            (
                field(l, "tool").unwrap_or_default(),
                field(l, "decision").unwrap_or_default(),
                field(l, "reason").unwrap_or_default(),
            )
        })
        .collect()
}

/// Every audit decision on stderr.
const AUDIT_LOG: &str = "info,mcpgen::audit=debug";

#[tokio::test]
async fn http_and_stdio_answer_alike() {
    let script = script();
    // Allowed calls are logged at `debug` (refusals at `info`): ask for
    // every decision on both transports.
    let mut serve = Command::new(FIXTURE);
    serve
        .args(["serve", "--listen", "127.0.0.1:0"])
        .args(mcpgen_tests::databases::data_args(
            &mcpgen_tests::process::scratch_dir("parity-http"),
        ))
        .env("RUST_LOG", AUDIT_LOG);
    let server = HttpServer::from_command(serve);
    let mut http = Vec::new();
    for line in &script {
        http.push(over_http(&server, line).await);
    }

    // stdio: one line at a time, reading until the response to that line
    // (notifications before it belong to it; a notification line gets none).
    let data = mcpgen_tests::process::scratch_dir("parity-stdio");
    let mut child = Command::new(FIXTURE)
        .arg("stdio")
        .env("RUST_LOG", AUDIT_LOG)
        .args(mcpgen_tests::databases::data_args(&data))
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("stdio child");
    let stderr = child.stderr.take().unwrap();
    let stdio_log = std::thread::spawn(move || std::io::read_to_string(stderr).unwrap());
    let mut stdin = child.stdin.take().unwrap();
    let mut stdout = BufReader::new(child.stdout.take().unwrap());
    let mut stdio = Vec::new();
    for line in &script {
        writeln!(stdin, "{line}").unwrap();
        stdin.flush().unwrap();
        let is_notification = serde_json::from_str::<Value>(line)
            .ok()
            .is_some_and(|m| m.get("id").is_none());
        let mut got = Vec::new();
        // A notification line gets no answer: read nothing for it.
        let mut awaiting = !is_notification;
        while awaiting {
            let mut out = String::new();
            assert!(
                stdout.read_line(&mut out).unwrap() > 0,
                "stdio closed early"
            );
            let msg: Value = serde_json::from_str(&out).expect("stdout carries only JSON-RPC");
            awaiting = msg.get("id").is_none();
            got.push(msg);
        }
        stdio.push(got);
    }
    drop(stdin);
    assert!(
        child.wait().unwrap().success(),
        "stdio exits cleanly at EOF"
    );
    let stdio_log = stdio_log.join().unwrap();

    // The same audit decisions were recorded on both transports (the
    // refusals counted in groups are written as each server stops).
    let (status, http_log) = server.stop();
    assert!(status.success(), "{status}");
    let http_audit = audit(&http_log);
    assert_eq!(http_audit, audit(&stdio_log));
    assert_eq!(
        http_audit,
        [
            ("add_numbers", "allowed", "ok"),
            ("add_numbers", "denied", "invalid arguments"),
            ("echo_scoped", "denied", "no credential"),
            ("test_error_handling", "failed", "rejected"),
            ("add_numbers", "allowed", "ok"),
            ("test_tool_with_progress", "allowed", "ok"),
            // The second refusal of the group (an anonymous call of an
            // unknown tool answers like one of a known tool that needs a
            // credential), written with its count when the group closed.
            ("echo_scoped", "denied", "no credential"),
        ]
        .map(|(t, d, r)| (t.to_owned(), d.to_owned(), r.to_owned()))
    );

    assert_eq!(http.len(), stdio.len());
    for ((line, h), s) in script.iter().zip(&http).zip(&stdio) {
        assert_eq!(h, s, "different answers for {line}");
    }
    // And the answers are the right ones, not merely equal.
    let last = |i: usize| http[i].last().cloned().unwrap_or(Value::Null);
    assert!(http[1].is_empty(), "a notification gets no answer");
    assert_eq!(last(4)["result"]["structuredContent"], json!({"sum": 3}));
    assert_eq!(last(5)["result"]["isError"], json!(true));
    assert_eq!(
        last(6)["error"]["code"],
        json!(-31401),
        "the denial is the same on stdio"
    );
    assert_eq!(
        last(7)["error"]["code"],
        json!(-31401),
        "an unknown tool, asked for without a credential, answers like a known one"
    );
    assert_eq!(last(8)["result"]["isError"], json!(true));
    assert_eq!(last(9)["result"]["supportedVersions"][0], json!(MODERN));
    assert_eq!(last(10)["result"]["cacheScope"], json!("private"));
    // Every 2026-07-28 result says it is complete and which server sent
    // it (discovery, a list and two calls alike), and the legacy handshake
    // names the same server.
    assert_eq!(
        last(0)["result"]["serverInfo"],
        last(9)["result"]["_meta"]["io.modelcontextprotocol/serverInfo"]
    );
    for i in [9, 10, 11, 12] {
        let result = &last(i)["result"];
        assert_eq!(result["resultType"], json!("complete"), "line {i}");
        let info = &result["_meta"]["io.modelcontextprotocol/serverInfo"];
        assert_eq!(
            info["name"],
            json!("mcpgen-conformance-fixture"),
            "line {i}: {result}"
        );
        assert!(info["version"].is_string(), "line {i}: {result}");
    }
    let progress: Vec<&Value> = http[12][..http[12].len() - 1].iter().collect();
    assert_eq!(
        progress.len(),
        3,
        "three progress notifications then the result"
    );
    assert!(
        progress
            .iter()
            .all(|n| n["method"] == "notifications/progress" && n["params"]["progressToken"] == 12)
    );
    // The fixture's public resources, listed alike on both transports.
    let listed = last(13);
    let uris: Vec<&str> = listed["result"]["resources"]
        .as_array()
        .map(|rs| rs.iter().filter_map(|r| r["uri"].as_str()).collect())
        .unwrap_or_default();
    assert_eq!(
        uris,
        ["test://static-binary", "test://static-text"],
        "{listed}"
    );
    assert_eq!(last(14)["error"]["code"], json!(-32602));
    assert_eq!(last(15)["error"]["code"], json!(-32700));
}
