//! The example app over real HTTP and its CLI, as the policy tests use
//! them: valid arguments per tool, a 2025-11-25 POST, `notes keys create`.

use std::process::Command;

use serde_json::{Value, json};

use crate::databases::data_args;
use crate::process::notes_bin;

/// Arguments that are valid for each example tool.
pub fn arguments(tool: &str) -> Value {
    match tool {
        "search_owned_notes" => json!({"query": ""}),
        "get_owned_note" => json!({"id": 1}),
        "create_text_note" => json!({"title": "t", "body": "b"}),
        "verify_access" | "get_environment_status" => json!({}),
        other => panic!("add valid arguments for the new tool `{other}` here"),
    }
}

/// A `tools/call` of `tool` with valid arguments.
pub fn call(tool: &str) -> Value {
    json!({"jsonrpc": "2.0", "id": 1, "method": "tools/call",
           "params": {"name": tool, "arguments": arguments(tool)}})
}

/// What an HTTP request got back.
pub struct Answer {
    /// HTTP status.
    pub status: u16,
    /// `WWW-Authenticate`, if any.
    pub challenge: Option<String>,
    /// The JSON body (`null` if it was not JSON).
    pub body: Value,
    /// Headers and body as text, to search for what must not be there.
    pub raw: String,
}

/// POST `body` to `url` as a 2025-11-25 client, with `credential` as the
/// bearer value.
pub async fn post(url: &str, credential: Option<&str>, body: &Value) -> Answer {
    let mut req = reqwest::Client::new()
        .post(url)
        .header("content-type", "application/json")
        .header("accept", "application/json, text/event-stream")
        .header("mcp-protocol-version", "2025-11-25");
    if let Some(c) = credential {
        req = req.header("authorization", format!("Bearer {c}"));
    }
    answer(req.body(body.to_string()).send().await.expect("answered")).await
}

/// What `res` says, read whole.
async fn answer(res: reqwest::Response) -> Answer {
    let status = res.status().as_u16();
    let challenge = res
        .headers()
        .get("www-authenticate")
        .map(|v| v.to_str().unwrap().to_owned());
    let headers = format!("{:?}", res.headers());
    let text = res.text().await.unwrap();
    let body = serde_json::from_str(&text).unwrap_or(Value::Null);
    Answer {
        status,
        challenge,
        body,
        raw: format!("{headers}\n{text}"),
    }
}

/// POST the `tools/call` `body` as a 2026-07-28 client that can ask a
/// person (elicitation declared), with `credential`, and say yes to every
/// confirmation the call asks for: the call's final answer (its own, or a
/// refusal before any question). For tests that need a write done; the
/// confirmation itself is tested in `tests/confirmation.rs`.
pub async fn post_confirmed(url: &str, credential: Option<&str>, body: &Value) -> Answer {
    let name = body["params"]["name"]
        .as_str()
        .expect("a tools/call")
        .to_owned();
    let send = |more: Value| {
        let mut params = body["params"].clone();
        params["_meta"] = json!({
            "io.modelcontextprotocol/protocolVersion": "2026-07-28",
            "io.modelcontextprotocol/clientCapabilities": {"elicitation": {}},
        });
        if let Value::Object(more) = more {
            params.as_object_mut().unwrap().extend(more);
        }
        let body =
            json!({"jsonrpc": "2.0", "id": body["id"], "method": "tools/call", "params": params});
        let name = name.clone();
        async move {
            let mut req = reqwest::Client::new()
                .post(url)
                .header("content-type", "application/json")
                .header("accept", "application/json, text/event-stream")
                .header("mcp-protocol-version", "2026-07-28")
                .header("mcp-method", "tools/call")
                .header("mcp-name", name);
            if let Some(c) = credential {
                req = req.header("authorization", format!("Bearer {c}"));
            }
            answer(req.body(body.to_string()).send().await.expect("answered")).await
        }
    };
    let first = send(Value::Null).await;
    let result = &first.body["result"];
    if result["resultType"] != "input_required" {
        return first;
    }
    let yes = json!({"action": "accept", "content": {"confirm": true}});
    let answers: serde_json::Map<String, Value> = result["inputRequests"]
        .as_object()
        .expect("questions")
        .keys()
        .map(|k| (k.clone(), yes.clone()))
        .collect();
    send(json!({"requestState": result["requestState"], "inputResponses": answers})).await
}

/// Run `notes [storage args] ARGS`; (success, stdout, stderr).
pub fn cli(data: &std::path::Path, args: &[&str]) -> (bool, String, String) {
    let out = Command::new(notes_bin())
        .args(data_args(data))
        .args(args)
        .output()
        .expect("notes runs");
    (
        out.status.success(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

/// `notes keys create` for `owner` with comma-separated `scopes`; the
/// JSON it printed.
pub fn create_key(data: &std::path::Path, owner: &str, scopes: &str, extra: &[&str]) -> Value {
    let (ok, out, err) = cli(
        data,
        &[
            &[
                "keys", "create", "--owner", owner, "--scopes", scopes, "--json",
            ],
            extra,
        ]
        .concat(),
    );
    assert!(ok, "{err}");
    let key: Value = serde_json::from_str(&out).expect("one JSON object");
    assert!(key["id"].is_string() && key["key"].as_str().unwrap().starts_with("mcpk_"));
    key
}
