//! `tools/list` shows each caller exactly the tools it may call: scopes,
//! the `[clients]` allowlist and the environment decide, and the answer is
//! marked `cacheScope: "private"`. One insta snapshot per role; review
//! changes with `cargo insta review`.

use std::sync::Arc;

use jsonwebtoken::DecodingKey;
use mcpgen::auth::{Credentials, JwtConfig, JwtVerifier, Keys};
use mcpgen::{McpServer, ServerOptions};
use mcpgen_tests::tokens::{self, claims, sign_with, token};
use notes_app::Notes;
use serde_json::{Value, json};

async fn serve(environment: &str) -> String {
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
    let options = ServerOptions {
        environment: environment.into(),
        ..ServerOptions::default()
    };
    let server = McpServer::new(Notes, options)
        .unwrap()
        .with_authenticator(Arc::new(credentials));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        axum::serve(listener, mcpgen::http::router(Arc::new(server)))
            .await
            .unwrap();
    });
    format!("http://{addr}/mcp")
}

/// The 2026-07-28 `tools/list` result for `credential`, or the error.
async fn list(url: &str, credential: Option<&str>) -> (u16, Value) {
    let body = json!({"jsonrpc": "2.0", "id": 1, "method": "tools/list", "params": {"_meta": {
        "io.modelcontextprotocol/protocolVersion": "2026-07-28",
        "io.modelcontextprotocol/clientCapabilities": {},
    }}});
    let mut req = reqwest::Client::new()
        .post(url)
        .header("content-type", "application/json")
        .header("accept", "application/json, text/event-stream")
        .header("mcp-protocol-version", "2026-07-28")
        .header("mcp-method", "tools/list");
    if let Some(c) = credential {
        req = req.header("authorization", format!("Bearer {c}"));
    }
    let res = req.body(body.to_string()).send().await.unwrap();
    let status = res.status().as_u16();
    (status, res.json().await.unwrap())
}

fn names(result: &Value) -> Vec<&str> {
    result["result"]["tools"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t["name"].as_str().unwrap())
        .collect()
}

fn snapshot(name: &str, value: &Value) {
    let mut settings = insta::Settings::clone_current();
    settings.set_snapshot_path("../snapshots");
    settings.set_prepend_module_to_snapshot(false);
    settings.bind(|| insta::assert_json_snapshot!(name, value));
}

#[tokio::test]
async fn each_role_sees_exactly_its_tools() {
    let url = serve("local").await;

    let (status, anonymous) = list(&url, None).await;
    assert_eq!(
        status, 401,
        "no public tools: anonymous callers are told to authenticate"
    );
    assert_eq!(anonymous["error"]["code"], -31401);

    let roles: [(&str, String, Vec<&str>); 4] = [
        (
            "tools_list_no_scopes",
            token("alice", &[]),
            vec!["get_environment_status", "verify_access"],
        ),
        (
            "tools_list_read_only",
            token("alice", &["notes:read"]),
            vec![
                "get_environment_status",
                "get_owned_note",
                "search_owned_notes",
                "verify_access",
            ],
        ),
        (
            "tools_list_read_write",
            token("alice", &["notes:read", "notes:write"]),
            vec![
                "create_text_note",
                "get_environment_status",
                "get_owned_note",
                "search_owned_notes",
                "verify_access",
            ],
        ),
        (
            // [clients] allows this client only the two read tools, whatever
            // its scopes; built-ins stay visible.
            "tools_list_restricted_client",
            {
                let mut c = claims("alice", &["notes:read", "notes:write"]);
                c["client_id"] = json!("read-only-dashboard");
                sign_with("as-key.pem", &c, |_| {})
            },
            vec![
                "get_environment_status",
                "get_owned_note",
                "search_owned_notes",
                "verify_access",
            ],
        ),
    ];
    for (name, credential, expected) in roles {
        let (status, result) = list(&url, Some(&credential)).await;
        assert_eq!(status, 200, "{name}: {result}");
        assert_eq!(names(&result), expected, "{name}");
        assert_eq!(result["result"]["cacheScope"], "private", "{name}");
        snapshot(name, &result["result"]);
    }

    // The restricted client is refused on call, too, not merely unlisted.
    let mut c = claims("alice", &["notes:read", "notes:write"]);
    c["client_id"] = json!("read-only-dashboard");
    let dashboard = sign_with("as-key.pem", &c, |_| {});
    let res = reqwest::Client::new()
        .post(&url)
        .header("content-type", "application/json")
        .header("accept", "application/json, text/event-stream")
        .header("authorization", format!("Bearer {dashboard}"))
        .body(json!({"jsonrpc":"2.0","id":2,"method":"tools/call","params":{"name":"create_text_note","arguments":{"title":"t","body":"b"}}}).to_string())
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 403);
    let body: Value = res.json().await.unwrap();
    assert_eq!(
        body["error"]["message"],
        "forbidden: client `read-only-dashboard` may not call tool `create_text_note` ([clients] in the manifest)"
    );
}

#[tokio::test]
async fn preview_hides_write_tools_even_from_writers() {
    let url = serve("preview").await;
    let (status, result) = list(&url, Some(&token("alice", &["notes:read", "notes:write"]))).await;
    assert_eq!(status, 200);
    assert_eq!(
        names(&result),
        [
            "get_environment_status",
            "get_owned_note",
            "search_owned_notes",
            "verify_access"
        ]
    );
    snapshot("tools_list_preview_read_write", &result["result"]);
}
