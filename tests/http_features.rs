//! Streamable HTTP behaviour on an in-process server over real loopback
//! HTTP: pagination, Host/Origin allowlists, JSON vs SSE answers, and
//! schema enforcement of exactly what tools/list advertises.

use std::sync::Arc;

use mcpgen::{Caller, McpServer, ServerOptions, Tools};
use mcpgen_tests::conformance::Fixture;
use serde_json::{Value, json};

async fn serve<S: Tools>(app: S, options: ServerOptions) -> String {
    let server = Arc::new(McpServer::new(app, options).expect("servable"));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        axum::serve(listener, mcpgen::http::router(server))
            .await
            .unwrap();
    });
    format!("http://{addr}/mcp")
}

async fn post(url: &str, body: Value, extra: &[(&str, &str)]) -> (u16, String, String) {
    let mut req = reqwest::Client::new()
        .post(url)
        .header("content-type", "application/json")
        .header("accept", "application/json, text/event-stream")
        .header("mcp-protocol-version", "2025-11-25");
    for (h, v) in extra {
        req = req.header(*h, *v);
    }
    let res = req.body(body.to_string()).send().await.unwrap();
    let status = res.status().as_u16();
    let ctype = res
        .headers()
        .get("content-type")
        .map(|v| v.to_str().unwrap().to_owned())
        .unwrap_or_default();
    (status, ctype, res.text().await.unwrap())
}

#[tokio::test]
async fn tools_list_pages_in_a_stable_order() {
    let url = serve(
        Fixture,
        ServerOptions {
            page_size: 3,
            ..ServerOptions::default()
        },
    )
    .await;
    let mut names = Vec::new();
    let mut cursor: Option<String> = None;
    let mut pages = 0;
    loop {
        let mut params = json!({});
        if let Some(c) = &cursor {
            params["cursor"] = c.clone().into();
        }
        let (status, _, body) = post(
            &url,
            json!({"jsonrpc":"2.0","id":1,"method":"tools/list","params":params}),
            &[],
        )
        .await;
        assert_eq!(status, 200, "{body}");
        let body: Value = serde_json::from_str(&body).unwrap();
        let page = body["result"]["tools"].as_array().unwrap();
        assert!(page.len() <= 3);
        names.extend(page.iter().map(|t| t["name"].as_str().unwrap().to_owned()));
        pages += 1;
        match body["result"]["nextCursor"].as_str() {
            Some(c) => cursor = Some(c.to_owned()),
            None => break,
        }
    }
    let mut sorted = names.clone();
    sorted.sort();
    sorted.dedup();
    assert_eq!(names, sorted, "sorted by name, no duplicates");
    assert_eq!(names.len(), 13, "every public fixture tool, once");
    assert_eq!(pages, 5);
}

#[tokio::test]
async fn host_and_origin_allowlists_are_configurable() {
    let url = serve(
        Fixture,
        ServerOptions {
            allowed_hosts: vec!["mcp.internal".into()],
            allowed_origins: vec!["https://app.example.com".into()],
            ..ServerOptions::default()
        },
    )
    .await;
    let ping = json!({"jsonrpc":"2.0","id":1,"method":"ping"});
    for (headers, want) in [
        (vec![], 200),
        (vec![("host", "mcp.internal:9000")], 200),
        (vec![("host", "MCP.INTERNAL")], 200),
        (vec![("host", "other.internal")], 403),
        (vec![("origin", "https://app.example.com")], 200),
        (vec![("origin", "http://localhost:5173")], 200),
        (vec![("origin", "https://evil.example.com")], 403),
        (vec![("origin", "https://app.example.com.evil.net")], 403),
    ] {
        let (status, _, body) = post(&url, ping.clone(), &headers).await;
        assert_eq!(status, want, "{headers:?}: {body}");
    }
    // Every route is behind the check, the metadata document too.
    let metadata = url.replacen("/mcp", "/.well-known/oauth-protected-resource/mcp", 1);
    for (host, want) in [("mcp.internal", 200), ("other.internal", 403)] {
        let status = reqwest::Client::new()
            .get(&metadata)
            .header("host", host)
            .send()
            .await
            .unwrap()
            .status();
        assert_eq!(status.as_u16(), want, "metadata with Host {host}");
    }
}

#[tokio::test]
async fn notifications_switch_the_answer_to_sse_only_when_they_happen() {
    let url = serve(Fixture, ServerOptions::default()).await;
    let call = |name: &str| {
        json!({"jsonrpc":"2.0","id":5,"method":"tools/call",
               "params":{"name":name,"arguments":{},"_meta":{"progressToken":"p-1"}}})
    };
    let (status, ctype, body) = post(&url, call("test_tool_with_progress"), &[]).await;
    assert_eq!(status, 200);
    assert_eq!(ctype, "text/event-stream");
    let events: Vec<Value> = body
        .lines()
        .filter_map(|l| l.strip_prefix("data: "))
        .map(|d| serde_json::from_str(d).unwrap())
        .collect();
    let progress: Vec<f64> = events
        .iter()
        .filter(|e| e["method"] == "notifications/progress")
        .map(|e| {
            assert_eq!(e["params"]["progressToken"], "p-1");
            e["params"]["progress"].as_f64().unwrap()
        })
        .collect();
    assert_eq!(progress, [0.0, 50.0, 100.0]);
    assert_eq!(
        events.last().unwrap()["id"],
        5,
        "the response ends the stream"
    );

    // Same request shape, a tool that sends nothing: plain JSON.
    let (status, ctype, body) = post(&url, call("test_simple_text"), &[]).await;
    assert_eq!(status, 200);
    assert_eq!(ctype, "application/json", "{body}");
}

/// Every advertised input schema is the one enforced: arguments it accepts
/// run, arguments it refuses come back as isError naming the problem.
#[tokio::test]
async fn arguments_are_checked_against_the_advertised_schema() {
    let registry = notes_app::Notes::registry().unwrap();
    let db = mcpgen_tests::databases::fresh::<notes_app::Notes>(
        mcpgen_tests::databases::Backend::of_this_run(),
        "schema-enforced",
    )
    .await;
    let server = mcpgen_tests::databases::server(notes_app::Notes, &db, "local").await;
    let caller = || Some(Caller::new("alice", ["notes:read", "notes:write"], None));
    let cases = [
        (
            "search_owned_notes",
            json!({"query": "x", "limit": 51}),
            Some("maximum"),
        ),
        (
            "search_owned_notes",
            json!({"query": "x", "limit": 0}),
            Some("minimum"),
        ),
        (
            "search_owned_notes",
            json!({"query": "x", "order": "random"}),
            Some("is not one of \"newest_first\" or \"oldest_first\""),
        ),
        (
            "search_owned_notes",
            json!({"query": "x".repeat(201)}),
            Some("longer than 200 characters"),
        ),
        (
            "search_owned_notes",
            json!({"query": "x", "extra": 1}),
            Some("Additional properties are not allowed"),
        ),
        (
            "search_owned_notes",
            json!({"query": "x", "order": "oldest_first", "limit": 50}),
            None,
        ),
        (
            "create_text_note",
            json!({"title": "", "body": ""}),
            Some("shorter than 1 character"),
        ),
        (
            "create_text_note",
            json!({"title": "ok", "body": "fine"}),
            None,
        ),
    ];
    let search = registry.get("search_owned_notes").unwrap().input_schema();
    assert_eq!(search["properties"]["order"]["$ref"], "#/$defs/Order");
    assert_eq!(
        search["$defs"]["Order"]["enum"],
        json!(["newest_first", "oldest_first"])
    );
    for (tool, args, problem) in cases {
        let schema = registry.get(tool).unwrap().input_schema().clone();
        let independent = jsonschema::draft202012::new(&schema).unwrap();
        // As a client whose person confirms the write (create_text_note
        // asks); a refusal of the arguments comes before any question.
        let got = mcpgen::testing::call_answering(
            &server,
            caller(),
            tool,
            args.clone(),
            mcpgen::testing::yes(),
        )
        .await;
        let result = &got["result"];
        match problem {
            Some(word) => {
                assert!(
                    !independent.is_valid(&args),
                    "{args} should be invalid by the listed schema"
                );
                assert_eq!(result["isError"], true, "{got}");
                let text = result["content"][0]["text"].as_str().unwrap();
                assert!(text.contains(word), "{tool} {args}: {text}");
            }
            None => {
                assert!(independent.is_valid(&args));
                assert_eq!(result["isError"], false, "{got}");
                // Structured content conforms to the advertised output schema.
                let out = registry.get(tool).unwrap().output_schema().unwrap().clone();
                let check = jsonschema::draft202012::new(&out).unwrap();
                assert!(check.is_valid(&result["structuredContent"]), "{tool}");
            }
        }
    }
}
