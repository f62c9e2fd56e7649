//! Traces sent to a real OTLP/HTTP receiver (this test's own, decoding the
//! protobuf the exporter sends with the OpenTelemetry protocol's own
//! types): the example app's binary with `--otlp-endpoint`, real calls over
//! HTTP on loopback and over stdio. Each request is one SERVER span named
//! `{method} {target}` with the MCP semantic conventions' attributes and
//! children for authentication, the handler and its database work; a
//! `traceparent` in `params._meta` continues the caller's trace; nothing
//! secret is in any attribute.

use std::collections::HashMap;
use std::io::Write as _;
use std::process::{Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::body::Bytes;
use mcpgen_tests::notes::{call, create_key, post};
use mcpgen_tests::process::{HttpServer, notes_bin, scratch_dir};
use opentelemetry_proto::tonic::collector::trace::v1::ExportTraceServiceRequest;
use opentelemetry_proto::tonic::common::v1::any_value::Value as AnyValue;
use opentelemetry_proto::tonic::trace::v1::span::SpanKind;
use prost::Message as _;
use serde_json::json;

/// A span as received, with its attributes as text.
#[derive(Debug, Clone)]
struct Received {
    name: String,
    kind: i32,
    trace_id: String,
    span_id: String,
    parent: String,
    attributes: HashMap<String, String>,
    service: String,
}

fn hex(b: &[u8]) -> String {
    b.iter().map(|x| format!("{x:02x}")).collect()
}

/// An OTLP/HTTP receiver on loopback: its traces URL, and what it got.
async fn receiver() -> (String, Arc<Mutex<Vec<Received>>>) {
    let got = Arc::new(Mutex::new(Vec::new()));
    let sink = Arc::clone(&got);
    let app = axum::Router::new().route(
        "/v1/traces",
        axum::routing::post(move |headers: axum::http::HeaderMap, body: Bytes| {
            let sink = Arc::clone(&sink);
            async move {
                assert_eq!(headers["content-type"], "application/x-protobuf");
                let request = ExportTraceServiceRequest::decode(body).expect("OTLP protobuf");
                let mut out = sink.lock().unwrap();
                for rs in request.resource_spans {
                    let service = rs
                        .resource
                        .iter()
                        .flat_map(|r| &r.attributes)
                        .find(|a| a.key == "service.name")
                        .and_then(|a| a.value.as_ref())
                        .and_then(|v| match &v.value {
                            Some(AnyValue::StringValue(s)) => Some(s.clone()),
                            _ => None,
                        })
                        .unwrap_or_default();
                    for span in rs.scope_spans.into_iter().flat_map(|s| s.spans) {
                        let attributes = span
                            .attributes
                            .iter()
                            .map(|a| {
                                let v = match a.value.as_ref().and_then(|v| v.value.clone()) {
                                    Some(AnyValue::StringValue(s)) => s,
                                    Some(AnyValue::IntValue(i)) => i.to_string(),
                                    Some(AnyValue::BoolValue(b)) => b.to_string(),
                                    other => format!("{other:?}"),
                                };
                                (a.key.clone(), v)
                            })
                            .collect();
                        out.push(Received {
                            name: span.name,
                            kind: span.kind,
                            trace_id: hex(&span.trace_id),
                            span_id: hex(&span.span_id),
                            parent: hex(&span.parent_span_id),
                            attributes,
                            service: service.clone(),
                        });
                    }
                }
                // An empty ExportTraceServiceResponse.
                (
                    [("content-type", "application/x-protobuf")],
                    Vec::<u8>::new(),
                )
            }
        }),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}/v1/traces", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    (url, got)
}

/// Wait (at most 15 s) until `got` holds a span named `name`.
async fn span_named(got: &Arc<Mutex<Vec<Received>>>, name: &str) -> Received {
    for _ in 0..300 {
        if let Some(s) = got.lock().unwrap().iter().find(|s| s.name == name) {
            return s.clone();
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!(
        "no span named {name:?}; got {:#?}",
        got.lock()
            .unwrap()
            .iter()
            .map(|s| &s.name)
            .collect::<Vec<_>>()
    );
}

const TRACE: &str = "4bf92f3577b34da6a3ce929d0e0e4736";
const PARENT: &str = "00f067aa0ba902b7";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_request_is_a_server_span_that_continues_the_caller_s_trace() {
    let (url, got) = receiver().await;
    let data = scratch_dir("traces");
    let key = create_key(&data, "alice", "notes:read", &[]);
    let key = key["key"].as_str().unwrap();
    let s = HttpServer::start_in(notes_bin(), &data, &["--otlp-endpoint", &url]);
    let mut traced = call("search_owned_notes");
    traced["id"] = json!("req-7");
    traced["params"]["_meta"] = json!({"traceparent": format!("00-{TRACE}-{PARENT}-01")});
    assert_eq!(post(&s.url, Some(key), &traced).await.status, 200);
    assert_eq!(
        post(&s.url, Some(key), &call("create_text_note"))
            .await
            .status,
        403
    );
    let list = json!({"jsonrpc": "2.0", "id": 3, "method": "tools/list"});
    assert_eq!(post(&s.url, Some(key), &list).await.status, 200);
    let unknown = json!({"jsonrpc": "2.0", "id": 4, "method": "tools/call",
                         "params": {"name": "no_such_tool_x", "arguments": {}}});
    post(&s.url, Some(key), &unknown).await;
    // Stopping sends what is buffered.
    assert!(s.terminate().success());

    let call_span = span_named(&got, "tools/call search_owned_notes").await;
    assert_eq!(call_span.kind, SpanKind::Server as i32);
    assert_eq!(call_span.service, "notes");
    assert_eq!(
        (call_span.trace_id.as_str(), call_span.parent.as_str()),
        (TRACE, PARENT),
        "the caller's trace goes on"
    );
    let a = &call_span.attributes;
    for (k, v) in [
        ("mcp.method.name", "tools/call"),
        ("gen_ai.tool.name", "search_owned_notes"),
        ("gen_ai.operation.name", "execute_tool"),
        ("jsonrpc.request.id", "req-7"),
        ("mcp.protocol.version", "2025-11-25"),
        ("network.transport", "tcp"),
    ] {
        assert_eq!(a.get(k).map(String::as_str), Some(v), "{k} in {a:?}");
    }
    assert!(
        !a.contains_key("error.type") && !a.contains_key("gen_ai.tool.call.arguments"),
        "{a:?}"
    );
    let spans = got.lock().unwrap().clone();
    let children: Vec<&str> = spans
        .iter()
        .filter(|c| c.parent == call_span.span_id)
        .map(|c| c.name.as_str())
        .collect();
    for child in ["authenticate", "handler", "database"] {
        assert!(
            children.contains(&child),
            "{child} under the call: {children:?}"
        );
    }
    let database = spans
        .iter()
        .find(|c| c.parent == call_span.span_id && c.name == "database")
        .unwrap();
    let system = match mcpgen_tests::databases::Backend::of_this_run() {
        mcpgen_tests::databases::Backend::Sqlite => "sqlite",
        mcpgen_tests::databases::Backend::Postgres => "postgresql",
    };
    assert_eq!(database.attributes["db.system.name"], system);
    assert_eq!(
        database.attributes["mcpgen.transaction.end"], "rollback",
        "a read"
    );

    let refused = span_named(&got, "tools/call create_text_note").await;
    assert_eq!(
        refused.attributes.get("error.type").map(String::as_str),
        Some("-31403"),
        "{:?}",
        refused.attributes
    );
    assert_ne!(
        refused.trace_id, TRACE,
        "a request without a traceparent starts a trace"
    );
    let listed = span_named(&got, "tools/list").await;
    assert_eq!(listed.attributes["mcp.method.name"], "tools/list");
    // A tool the registry does not have is not a span name.
    let unknown = spans
        .iter()
        .find(|s| s.attributes.get("jsonrpc.request.id").map(String::as_str) == Some("4"))
        .expect("the unknown tool's request has a span");
    assert_eq!(unknown.name, "tools/call");
    assert!(!unknown.attributes.contains_key("gen_ai.tool.name"));
    // Nothing secret anywhere.
    for span in &spans {
        for v in span.attributes.values() {
            assert!(
                !v.contains(key) && !v.contains("mcpk_") && v != "alice",
                "{span:?}"
            );
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn stdio_requests_are_pipe_spans_and_arguments_only_when_asked() {
    let (url, got) = receiver().await;
    let data = scratch_dir("traces-stdio");
    let key = create_key(&data, "alice", "notes:read", &[]);
    let mut child = Command::new(notes_bin())
        .args(mcpgen_tests::databases::data_args(&data))
        .args(["stdio", "--otlp-endpoint", &url, "--otlp-record-arguments"])
        .env("MCPGEN_TOKEN", key["key"].as_str().unwrap())
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let mut stdin = child.stdin.take().unwrap();
    let mut search = call("search_owned_notes");
    search["params"]["arguments"] = json!({"query": "groceries"});
    writeln!(stdin, "{search}").unwrap();
    drop(stdin);
    let out = child.wait_with_output().unwrap();
    assert!(String::from_utf8_lossy(&out.stdout).contains("\"result\""));
    let span = span_named(&got, "tools/call search_owned_notes").await;
    assert_eq!(span.attributes["network.transport"], "pipe");
    assert_eq!(
        span.attributes["gen_ai.tool.call.arguments"],
        r#"{"query":"groceries"}"#
    );
}
