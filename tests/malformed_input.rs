//! Bad input over real HTTP on loopback: every case gets its exact status
//! and JSON-RPC error code (or an `isError` result), and the server keeps
//! answering correct requests afterwards.

use mcpgen_tests::process::HttpServer;
use reqwest::Method;
use serde_json::{Value, json};

const FIXTURE: &str = env!("CARGO_BIN_EXE_mcpgen-conformance-fixture");
const MODERN: &str = "2026-07-28";

/// What a case expects back.
#[derive(Debug, Clone, Copy)]
enum Expect {
    /// This status and JSON-RPC error code.
    Error(u16, i64),
    /// HTTP 200 with a tool result whose `isError` is true.
    ToolError,
    /// This status and no body.
    Empty(u16),
    /// HTTP 200 with a successful result.
    Ok,
}

struct Case {
    name: &'static str,
    method: Method,
    headers: Vec<(&'static str, String)>,
    query: &'static str,
    body: Vec<u8>,
    expect: Expect,
}

fn meta() -> Value {
    json!({
        "io.modelcontextprotocol/protocolVersion": MODERN,
        "io.modelcontextprotocol/clientCapabilities": {},
    })
}

fn case(name: &'static str, body: impl Into<Vec<u8>>, expect: Expect) -> Case {
    Case {
        name,
        method: Method::POST,
        headers: vec![
            ("content-type", "application/json".into()),
            ("accept", "application/json, text/event-stream".into()),
        ],
        query: "",
        body: body.into(),
        expect,
    }
}

fn legacy(name: &'static str, body: Value, expect: Expect) -> Case {
    let mut c = case(name, body.to_string(), expect);
    c.headers
        .push(("mcp-protocol-version", "2025-11-25".into()));
    c
}

/// A well-formed 2026-07-28 request, with its three headers.
fn modern(name: &'static str, method: &str, params: Value, expect: Expect) -> Case {
    let mut params = params;
    params["_meta"] = meta();
    let body = json!({"jsonrpc": "2.0", "id": 7, "method": method, "params": params});
    let mut c = case(name, body.to_string(), expect);
    c.headers.push(("mcp-protocol-version", MODERN.into()));
    c.headers.push(("mcp-method", method.into()));
    if let Some(n) = params.get("name").and_then(Value::as_str) {
        c.headers.push(("mcp-name", n.into()));
    }
    c
}

fn without(mut c: Case, header: &str) -> Case {
    c.headers.retain(|(h, _)| *h != header);
    c
}

fn with(mut c: Case, header: &'static str, value: &str) -> Case {
    c.headers.retain(|(h, _)| *h != header);
    c.headers.push((header, value.into()));
    c
}

fn call(name: &str, arguments: Value) -> Value {
    json!({"jsonrpc": "2.0", "id": 1, "method": "tools/call", "params": {"name": name, "arguments": arguments}})
}

fn cases() -> Vec<Case> {
    use Expect::*;
    let ping = json!({"jsonrpc": "2.0", "id": 1, "method": "ping"});
    let mut modern_no_caps = modern(
        "modern: _meta without clientCapabilities",
        "tools/list",
        json!({}),
        Error(400, -32602),
    );
    modern_no_caps.body = json!({"jsonrpc": "2.0", "id": 1, "method": "tools/list",
        "params": {"_meta": {"io.modelcontextprotocol/protocolVersion": MODERN}}})
    .to_string()
    .into_bytes();
    let mut modern_old_version = modern(
        "modern: unsupported version in _meta",
        "tools/list",
        json!({}),
        Error(400, -32022),
    );
    modern_old_version.body = json!({"jsonrpc": "2.0", "id": 1, "method": "tools/list",
        "params": {"_meta": {"io.modelcontextprotocol/protocolVersion": "1900-01-01",
                             "io.modelcontextprotocol/clientCapabilities": {}}}})
    .to_string()
    .into_bytes();
    let mut query_token = legacy(
        "token in the query string",
        ping.clone(),
        Error(401, -31401),
    );
    query_token.query = "?access_token=abc";
    let mut get = case("GET on the endpoint", "", Empty(405));
    get.method = Method::GET;
    let mut delete = case("DELETE on the endpoint", "", Empty(405));
    delete.method = Method::DELETE;
    vec![
        case(
            "broken JSON",
            r#"{"jsonrpc":"2.0","id":1,"#,
            Error(400, -32700),
        ),
        case("empty body", "", Error(400, -32700)),
        case("not UTF-8", vec![0xff, 0xfe, 0x00], Error(400, -32700)),
        case("batch array", format!("[{ping}]"), Error(400, -32600)),
        case("a bare string", r#""ping""#, Error(400, -32600)),
        case(
            "no jsonrpc member",
            r#"{"id":1,"method":"ping"}"#,
            Error(400, -32600),
        ),
        case(
            "jsonrpc 1.0",
            r#"{"jsonrpc":"1.0","id":1,"method":"ping"}"#,
            Error(400, -32600),
        ),
        case(
            "null id",
            r#"{"jsonrpc":"2.0","id":null,"method":"ping"}"#,
            Error(400, -32600),
        ),
        case(
            "fractional id",
            r#"{"jsonrpc":"2.0","id":1.5,"method":"ping"}"#,
            Error(400, -32600),
        ),
        case(
            "object id",
            r#"{"jsonrpc":"2.0","id":{},"method":"ping"}"#,
            Error(400, -32600),
        ),
        case(
            "numeric method",
            r#"{"jsonrpc":"2.0","id":1,"method":5}"#,
            Error(400, -32600),
        ),
        case(
            "no method",
            r#"{"jsonrpc":"2.0","id":1}"#,
            Error(400, -32600),
        ),
        case(
            "a posted response",
            r#"{"jsonrpc":"2.0","id":1,"result":{}}"#,
            Error(400, -32600),
        ),
        case(
            "array params",
            r#"{"jsonrpc":"2.0","id":1,"method":"ping","params":[]}"#,
            Error(400, -32602),
        ),
        legacy(
            "unknown method (legacy): subscriptions are not offered",
            json!({"jsonrpc":"2.0","id":1,"method":"resources/subscribe","params":{"uri":"test://static-text"}}),
            Error(200, -32601),
        ),
        modern(
            "unknown method (2026-07-28)",
            "sampling/createMessage",
            json!({}),
            Error(404, -32601),
        ),
        modern_no_caps,
        modern_old_version,
        with(
            modern(
                "version header disagrees with _meta",
                "tools/list",
                json!({}),
                Error(400, -32020),
            ),
            "mcp-protocol-version",
            "2025-11-25",
        ),
        without(
            modern(
                "modern: no MCP-Protocol-Version header",
                "tools/list",
                json!({}),
                Error(400, -32020),
            ),
            "mcp-protocol-version",
        ),
        without(
            modern(
                "modern: no Mcp-Method header",
                "tools/list",
                json!({}),
                Error(400, -32020),
            ),
            "mcp-method",
        ),
        with(
            modern(
                "Mcp-Method disagrees with the body",
                "tools/list",
                json!({}),
                Error(400, -32020),
            ),
            "mcp-method",
            "tools/call",
        ),
        without(
            modern(
                "tools/call without Mcp-Name",
                "tools/call",
                json!({"name": "test_simple_text"}),
                Error(400, -32020),
            ),
            "mcp-name",
        ),
        with(
            modern(
                "Mcp-Name disagrees with the body",
                "tools/call",
                json!({"name": "test_simple_text"}),
                Error(400, -32020),
            ),
            "mcp-name",
            "test_error_handling",
        ),
        with(
            modern(
                "Mcp-Name in base64 form",
                "tools/call",
                json!({"name": "test_simple_text"}),
                Ok,
            ),
            "mcp-name",
            "=?base64?dGVzdF9zaW1wbGVfdGV4dA==?=",
        ),
        with(
            modern(
                "Mcp-Name with broken base64",
                "tools/call",
                json!({"name": "test_simple_text"}),
                Error(400, -32020),
            ),
            "mcp-name",
            "=?base64?%%%?=",
        ),
        with(
            legacy(
                "unsupported MCP-Protocol-Version header",
                ping.clone(),
                Error(400, -32600),
            ),
            "mcp-protocol-version",
            "1999-01-01",
        ),
        // Without a credential an unknown tool answers like a known one
        // that needs a credential (nothing to enumerate); with one, it is
        // -32602 (`tests/registry.rs`).
        legacy(
            "unknown tool, no credential",
            call("drop_tables", json!({})),
            Error(401, -31401),
        ),
        legacy(
            "tool name not a string",
            json!({"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":5}}),
            Error(200, -32602),
        ),
        legacy(
            "arguments not an object",
            call("add_numbers", json!([1, 2])),
            Error(200, -32602),
        ),
        legacy(
            "wrong argument type",
            call("add_numbers", json!({"a": "two", "b": 1})),
            ToolError,
        ),
        legacy(
            "unknown argument",
            call("add_numbers", json!({"a": 1, "b": 2, "c": 3})),
            ToolError,
        ),
        legacy(
            "missing argument",
            call("add_numbers", json!({"a": 1})),
            ToolError,
        ),
        legacy(
            "integer overflow in the handler",
            call("add_numbers", json!({"a": i64::MAX, "b": 1})),
            ToolError,
        ),
        legacy(
            "argument out of the schema's range",
            call("json_schema_2020_12_tool", json!({"name": 5})),
            ToolError,
        ),
        legacy(
            "invalid cursor",
            json!({"jsonrpc":"2.0","id":1,"method":"tools/list","params":{"cursor":"nope"}}),
            Error(200, -32602),
        ),
        legacy(
            "invalid log level",
            json!({"jsonrpc":"2.0","id":1,"method":"logging/setLevel","params":{"level":"loud"}}),
            Error(200, -32602),
        ),
        legacy(
            "oversized body",
            json!({"jsonrpc":"2.0","id":1,"method":"ping","params":{"pad":"x".repeat(2 * 1024 * 1024)}}),
            Error(413, -32600),
        ),
        with(
            legacy("foreign Origin", ping.clone(), Error(403, -32600)),
            "origin",
            "https://evil.example.com",
        ),
        with(
            legacy("null Origin", ping.clone(), Error(403, -32600)),
            "origin",
            "null",
        ),
        with(
            legacy("foreign Host", ping.clone(), Error(403, -32600)),
            "host",
            "evil.example.com",
        ),
        with(
            legacy("text/plain body", ping.clone(), Error(415, -32600)),
            "content-type",
            "text/plain",
        ),
        without(
            legacy("no Content-Type", ping.clone(), Error(415, -32600)),
            "content-type",
        ),
        with(
            legacy(
                "Accept without event-stream",
                ping.clone(),
                Error(406, -32600),
            ),
            "accept",
            "application/json",
        ),
        with(
            legacy("Accept: text/html", ping.clone(), Error(406, -32600)),
            "accept",
            "text/html",
        ),
        get,
        delete,
        legacy(
            "a notification",
            json!({"jsonrpc":"2.0","method":"notifications/initialized"}),
            Empty(202),
        ),
        with(
            legacy("garbage bearer token", ping.clone(), Error(401, -31401)),
            "authorization",
            "Bearer garbage",
        ),
        with(
            legacy("a Basic credential", ping.clone(), Error(401, -31401)),
            "authorization",
            "Basic dXNlcjpwYXNz",
        ),
        query_token,
        legacy(
            "scoped tool without a credential",
            call("echo_scoped", json!({"text": "hi"})),
            Error(401, -31401),
        ),
    ]
}

async fn send(
    client: &reqwest::Client,
    server: &HttpServer,
    c: &Case,
) -> (u16, reqwest::header::HeaderMap, Vec<u8>) {
    let mut req = client.request(c.method.clone(), format!("{}{}", server.url, c.query));
    for (h, v) in &c.headers {
        req = req.header(*h, v);
    }
    let res = req
        .body(c.body.clone())
        .send()
        .await
        .expect("the server answers");
    let status = res.status().as_u16();
    let headers = res.headers().clone();
    (status, headers, res.bytes().await.expect("body").to_vec())
}

#[tokio::test]
async fn every_malformed_request_gets_its_exact_answer() {
    let server = HttpServer::start(FIXTURE, &[]);
    let client = reqwest::Client::new();
    let cases = cases();
    assert!(cases.len() >= 30);
    let mut failures = Vec::new();
    for c in &cases {
        let (status, headers, body) = send(&client, &server, c).await;
        let json: Option<Value> = serde_json::from_slice(&body).ok();
        let ok = match c.expect {
            Expect::Error(want, code) => {
                status == want
                    && json.as_ref().and_then(|j| j["error"]["code"].as_i64()) == Some(code)
                    && json.as_ref().is_some_and(|j| {
                        j["error"]["message"]
                            .as_str()
                            .is_some_and(|m| !m.is_empty())
                    })
            }
            Expect::ToolError => {
                status == 200
                    && json
                        .as_ref()
                        .is_some_and(|j| j["result"]["isError"] == json!(true))
            }
            Expect::Empty(want) => {
                status == want && body.is_empty() || (want == 405 && status == 405)
            }
            Expect::Ok => {
                status == 200
                    && json
                        .as_ref()
                        .is_some_and(|j| j["result"]["isError"] == json!(false))
            }
        };
        if !ok {
            failures.push(format!(
                "{}: expected {:?}, got {status} {}",
                c.name,
                c.expect,
                String::from_utf8_lossy(&body)
                    .chars()
                    .take(300)
                    .collect::<String>()
            ));
        }
        if status == 405 {
            assert_eq!(
                headers.get("allow").map(|v| v.to_str().unwrap()),
                Some("POST"),
                "{}",
                c.name
            );
        }
        if status == 401 {
            let challenge = headers
                .get("www-authenticate")
                .expect("a challenge")
                .to_str()
                .unwrap();
            assert!(challenge.starts_with("Bearer "), "{}: {challenge}", c.name);
            assert!(
                challenge.contains("resource_metadata=\"http://127.0.0.1:8080/.well-known/oauth-protected-resource/mcp\""),
                "{}: {challenge}",
                c.name
            );
        }
    }
    assert!(
        failures.is_empty(),
        "{} of {} cases failed:\n{}",
        failures.len(),
        cases.len(),
        failures.join("\n")
    );

    // The server is unharmed: a correct call still works.
    let good = legacy(
        "a correct call",
        call("add_numbers", json!({"a": 20, "b": 22})),
        Expect::Ok,
    );
    let (status, _, body) = send(&client, &server, &good).await;
    assert_eq!(status, 200);
    let body: Value = serde_json::from_slice(&body).unwrap();
    assert_eq!(body["result"]["structuredContent"], json!({"sum": 42}));
    assert!(!server.log().contains("panicked"), "{}", server.log());
}

#[tokio::test]
async fn the_unauthenticated_challenge_names_the_tools_scopes() {
    let server = HttpServer::start(FIXTURE, &[]);
    let c = legacy(
        "scoped",
        call("echo_scoped", json!({"text": "hi"})),
        Expect::Error(401, -31401),
    );
    let (status, headers, _) = send(&reqwest::Client::new(), &server, &c).await;
    assert_eq!(status, 401);
    assert_eq!(
        headers["www-authenticate"],
        "Bearer resource_metadata=\"http://127.0.0.1:8080/.well-known/oauth-protected-resource/mcp\", scope=\"fixture:echo\""
    );
}
