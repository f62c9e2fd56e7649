//! A person confirms before a write: the example's `create_text_note`
//! declares `confirm`, and no path writes a note without a "yes" for
//! exactly that call. Real server processes on one database (SQLite, or
//! PostgreSQL with `MCPGEN_TEST_DATABASE=postgres`), real HTTP on loopback:
//! 2026-07-28 calls answered `input_required` and retried with the answer
//! (on another instance too), 2025-11-25 calls asking on their event
//! stream.

use std::time::{Duration, Instant};

use mcpgen_tests::databases::open_for;
use mcpgen_tests::notes::create_key;
use mcpgen_tests::process::{HttpServer, notes_bin, scratch_dir};
use serde_json::{Value, json};
use sqlx::Row as _;

const MODERN: &str = "2026-07-28";

/// A 2026-07-28 `tools/call` of `create_text_note` with `arguments` and
/// `extra` params, from a client that can ask a person (`asks`).
async fn modern_call(
    url: &str,
    credential: &str,
    arguments: &Value,
    extra: Value,
    asks: bool,
) -> Value {
    let capabilities = if asks {
        json!({"elicitation": {}})
    } else {
        json!({})
    };
    let mut params = json!({
        "name": "create_text_note",
        "arguments": arguments,
        "_meta": {
            "io.modelcontextprotocol/protocolVersion": MODERN,
            "io.modelcontextprotocol/clientCapabilities": capabilities,
            "io.modelcontextprotocol/clientInfo": {"name": "confirmation-test", "version": "1"},
        },
    });
    if let Value::Object(extra) = extra {
        params.as_object_mut().unwrap().extend(extra);
    }
    let res = reqwest::Client::new()
        .post(url)
        .header("content-type", "application/json")
        .header("accept", "application/json, text/event-stream")
        .header("mcp-protocol-version", MODERN)
        .header("mcp-method", "tools/call")
        .header("mcp-name", "create_text_note")
        .header("authorization", format!("Bearer {credential}"))
        .body(
            json!({"jsonrpc": "2.0", "id": 7, "method": "tools/call", "params": params})
                .to_string(),
        )
        .send()
        .await
        .expect("answered");
    assert_eq!(res.status().as_u16(), 200);
    let body: Value = res.json().await.expect("JSON");
    body["result"].clone()
}

/// The answer a person gives, as `inputResponses`.
fn answer(action: &str, confirm: bool) -> Value {
    match action {
        "accept" => json!({"confirm": {"action": "accept", "content": {"confirm": confirm}}}),
        other => json!({"confirm": {"action": other}}),
    }
}

/// The retry of a call of `create_text_note` with `arguments`, carrying
/// `state` and the answers `responses`.
async fn retry(
    url: &str,
    credential: &str,
    arguments: &Value,
    state: &Value,
    responses: Value,
) -> Value {
    let extra = json!({"requestState": state, "inputResponses": responses});
    modern_call(url, credential, arguments, extra, true).await
}

/// The titles of `owner`'s notes, straight from the database.
async fn titles(data: &std::path::Path, owner: &str) -> Vec<String> {
    let db = open_for(data).await;
    let rows = sqlx::query("SELECT title FROM notes WHERE owner_id = $1 ORDER BY title")
        .bind(owner)
        .fetch_all(db.pool())
        .await
        .unwrap();
    rows.iter().map(|r| r.get::<String, _>("title")).collect()
}

/// The refusal text of an error result.
fn refusal(result: &Value) -> String {
    assert_eq!(result["isError"], true, "{result}");
    result["content"][0]["text"].as_str().unwrap().to_owned()
}

/// The audit reasons recorded for `create_text_note`, waiting (up to 10 s)
/// until every one of `expected` is there.
async fn audit_reasons(data: &std::path::Path, expected: &[&str]) -> Vec<String> {
    let db = open_for(data).await;
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let rows = sqlx::query(
            "SELECT decision, reason FROM mcpgen_audit WHERE tool = 'create_text_note' ORDER BY request_id",
        )
        .fetch_all(db.pool())
        .await
        .unwrap();
        let got: Vec<String> = rows
            .iter()
            .map(|r| {
                format!(
                    "{}: {}",
                    r.get::<String, _>("decision"),
                    r.get::<String, _>("reason")
                )
            })
            .collect();
        if expected.iter().all(|e| got.iter().any(|g| g == e)) || Instant::now() > deadline {
            return got;
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn a_write_runs_only_on_a_yes_for_exactly_that_call_answered_once_on_any_instance() {
    let data = scratch_dir("confirm-modern");
    let alice = create_key(&data, "alice", "notes:read,notes:write", &[]);
    let alice = alice["key"].as_str().unwrap();
    let bob = create_key(&data, "bob", "notes:read,notes:write", &[]);
    let bob = bob["key"].as_str().unwrap();
    // Two instances on one database: asked on one, answered on the other.
    let one = HttpServer::start_in(notes_bin(), &data, &[]);
    let two = HttpServer::start_in(notes_bin(), &data, &[]);
    let groceries = json!({"title": "Groceries", "body": "milk"});

    // The first call runs nothing: it asks.
    let asked = modern_call(&one.url, alice, &groceries, json!({}), true).await;
    assert_eq!(asked["resultType"], "input_required", "{asked}");
    let request = &asked["inputRequests"]["confirm"];
    assert_eq!(request["method"], "elicitation/create");
    assert_eq!(request["params"]["mode"], "form");
    assert_eq!(request["params"]["message"], "Create the note “Groceries”?");
    assert_eq!(
        request["params"]["requestedSchema"]["properties"]["confirm"]["type"],
        "boolean"
    );
    assert!(asked.get("content").is_none(), "{asked}");
    let state = asked["requestState"].clone();
    assert!(state.is_string(), "{asked}");
    assert!(titles(&data, "alice").await.is_empty());

    // Someone else's answer to alice's question, other arguments, a
    // forged state: refused, nothing written.
    let by_bob = retry(&two.url, bob, &groceries, &state, answer("accept", true)).await;
    assert!(
        refusal(&by_bob).contains("belongs to another call"),
        "{by_bob}"
    );
    let other_arguments = retry(
        &two.url,
        alice,
        &json!({"title": "Something else", "body": "milk"}),
        &state,
        answer("accept", true),
    )
    .await;
    assert!(
        refusal(&other_arguments).contains("belongs to another call"),
        "{other_arguments}"
    );
    let mut forged = state.as_str().unwrap().to_owned();
    let last = forged.pop().unwrap();
    forged.push(if last == 'A' { 'B' } else { 'A' });
    let forged = retry(
        &two.url,
        alice,
        &groceries,
        &json!(forged),
        answer("accept", true),
    )
    .await;
    assert!(
        refusal(&forged).contains("not one this server issued"),
        "{forged}"
    );
    assert!(titles(&data, "alice").await.is_empty());

    // Alice's yes, on the other instance: the note is written.
    let done = retry(&two.url, alice, &groceries, &state, answer("accept", true)).await;
    assert_eq!(done["isError"], false, "{done}");
    assert_eq!(done["resultType"], "complete");
    assert_eq!(done["structuredContent"]["note"]["title"], "Groceries");
    // The same yes again, on the first instance: spent.
    let again = retry(&one.url, alice, &groceries, &state, answer("accept", true)).await;
    assert!(refusal(&again).contains("answered already"), "{again}");
    assert_eq!(titles(&data, "alice").await, ["Groceries"]);

    // No, a dismissed question, an accepted form without the tick, and an
    // answer to a question that was not asked: nothing written.
    for (responses, expected) in [
        (answer("decline", false), "the person declined"),
        (answer("cancel", false), "dismissed without an answer"),
        (answer("accept", false), "the person declined"),
    ] {
        let ask = modern_call(
            &one.url,
            alice,
            &json!({"title": "No", "body": ""}),
            json!({}),
            true,
        )
        .await;
        let state = ask["requestState"].clone();
        let result = retry(
            &two.url,
            alice,
            &json!({"title": "No", "body": ""}),
            &state,
            responses,
        )
        .await;
        assert!(refusal(&result).contains(expected), "{result}");
    }
    let ask = modern_call(
        &one.url,
        alice,
        &json!({"title": "No", "body": ""}),
        json!({}),
        true,
    )
    .await;
    let unasked = retry(
        &one.url,
        alice,
        &json!({"title": "No", "body": ""}),
        &ask["requestState"],
        json!({"other": {"action": "accept", "content": {"confirm": true}}}),
    )
    .await;
    assert_eq!(unasked["resultType"], "input_required", "{unasked}");
    // A client that cannot ask is refused, saying why.
    let silent = modern_call(
        &one.url,
        alice,
        &json!({"title": "No", "body": ""}),
        json!({}),
        false,
    )
    .await;
    assert!(
        refusal(&silent).starts_with(
            "`create_text_note` runs only after a person confirms it, and this client cannot ask for a confirmation"
        ),
        "{silent}"
    );
    assert_eq!(titles(&data, "alice").await, ["Groceries"]);

    // Every step is in the audit trail.
    let expected = [
        "asked: confirmation asked",
        "accepted: confirmation accepted",
        "allowed: ok",
        "declined: confirmation declined",
        "declined: confirmation cancelled",
        "denied: request state for another call",
        "denied: request state forged",
        "denied: request state reused",
        "denied: client cannot confirm",
    ];
    let got = audit_reasons(&data, &expected).await;
    for e in expected {
        assert!(got.iter().any(|g| g == e), "no `{e}` in {got:#?}");
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn an_answer_after_its_time_is_refused() {
    let data = scratch_dir("confirm-expiry");
    let alice = create_key(&data, "alice", "notes:read,notes:write", &[]);
    let alice = alice["key"].as_str().unwrap();
    let server = HttpServer::start_in(notes_bin(), &data, &["--input-wait", "1s"]);
    let args = json!({"title": "Late", "body": ""});
    let asked = modern_call(&server.url, alice, &args, json!({}), true).await;
    tokio::time::sleep(Duration::from_millis(2100)).await;
    let late = retry(
        &server.url,
        alice,
        &args,
        &asked["requestState"],
        answer("accept", true),
    )
    .await;
    assert!(refusal(&late).contains("has expired"), "{late}");
    assert!(titles(&data, "alice").await.is_empty());
}

/// A 2025-11-25 client: `initialize` (declaring elicitation or not), then
/// calls carrying the session it was given.
struct Legacy {
    url: String,
    credential: String,
    session: Option<String>,
}

impl Legacy {
    async fn initialize(url: &str, credential: &str, asks: bool) -> Self {
        let capabilities = if asks {
            json!({"elicitation": {}})
        } else {
            json!({})
        };
        let res = reqwest::Client::new()
            .post(url)
            .header("content-type", "application/json")
            .header("accept", "application/json, text/event-stream")
            .header("authorization", format!("Bearer {credential}"))
            .body(
                json!({"jsonrpc": "2.0", "id": 1, "method": "initialize", "params": {
                    "protocolVersion": "2025-11-25", "capabilities": capabilities,
                    "clientInfo": {"name": "confirmation-test", "version": "1"}}})
                .to_string(),
            )
            .send()
            .await
            .unwrap();
        assert_eq!(res.status().as_u16(), 200);
        let session = res
            .headers()
            .get("mcp-session-id")
            .map(|v| v.to_str().unwrap().to_owned());
        Self {
            url: url.to_owned(),
            credential: credential.to_owned(),
            session,
        }
    }

    /// The HTTP status of POSTing `body` as `credential`.
    async fn status(&self, credential: &str, body: &Value) -> u16 {
        self.request(credential, body)
            .send()
            .await
            .unwrap()
            .status()
            .as_u16()
    }

    fn request(&self, credential: &str, body: &Value) -> reqwest::RequestBuilder {
        let mut req = reqwest::Client::new()
            .post(&self.url)
            .header("content-type", "application/json")
            .header("accept", "application/json, text/event-stream")
            .header("mcp-protocol-version", "2025-11-25")
            .header("authorization", format!("Bearer {credential}"))
            .body(body.to_string());
        if let Some(s) = &self.session {
            req = req.header("mcp-session-id", s);
        }
        req
    }
}

/// Read SSE events' `data` as JSON until `until` holds for one; that one.
async fn next_event(
    res: &mut reqwest::Response,
    buf: &mut String,
    until: impl Fn(&Value) -> bool,
) -> Value {
    loop {
        while let Some(end) = buf.find("\n\n") {
            let event: String = buf.drain(..end + 2).collect();
            let data: String = event
                .lines()
                .filter_map(|l| l.strip_prefix("data: "))
                .collect();
            if let Ok(v) = serde_json::from_str::<Value>(&data)
                && until(&v)
            {
                return v;
            }
        }
        let chunk = tokio::time::timeout(Duration::from_secs(20), res.chunk())
            .await
            .expect("the stream goes on")
            .expect("readable")
            .expect("the stream is not over");
        buf.push_str(&String::from_utf8_lossy(&chunk));
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn a_2025_client_is_asked_on_the_call_s_stream_and_only_its_own_answer_counts() {
    let data = scratch_dir("confirm-legacy");
    let alice = create_key(&data, "alice", "notes:read,notes:write", &[]);
    let alice = alice["key"].as_str().unwrap().to_owned();
    let bob = create_key(&data, "bob", "notes:read,notes:write", &[]);
    let bob = bob["key"].as_str().unwrap().to_owned();
    let server = HttpServer::start_in(notes_bin(), &data, &[]);

    let client = Legacy::initialize(&server.url, &alice, true).await;
    assert!(
        client
            .session
            .as_deref()
            .is_some_and(|s| s.starts_with("mcpgen-e1-")),
        "{:?}",
        client.session
    );
    let call = json!({"jsonrpc": "2.0", "id": 2, "method": "tools/call",
                      "params": {"name": "create_text_note", "arguments": {"title": "Streamed", "body": ""}}});
    let mut res = client.request(&alice, &call).send().await.unwrap();
    assert_eq!(res.headers()["content-type"], "text/event-stream");
    let mut buf = String::new();
    let question = next_event(&mut res, &mut buf, |v| v["method"] == "elicitation/create").await;
    assert_eq!(question["params"]["message"], "Create the note “Streamed”?");
    assert!(question["params"].get("mode").is_none(), "{question}");
    let id = question["id"].clone();
    let yes = json!({"jsonrpc": "2.0", "id": id, "result": {"action": "accept", "content": {"confirm": true}}});
    // Bob cannot answer alice's question, nor can anyone answer a question
    // that was never asked.
    let by_bob = client.request(&bob, &yes).send().await.unwrap();
    assert_eq!(by_bob.status().as_u16(), 400);
    let text = by_bob.text().await.unwrap();
    assert!(
        text.contains("answers no question this server is waiting on"),
        "{text}"
    );
    let unknown = json!({"jsonrpc": "2.0", "id": "elicit-0000", "result": {"action": "accept"}});
    assert_eq!(client.status(&alice, &unknown).await, 400);
    assert!(titles(&data, "alice").await.is_empty());
    // Alice's own answer: accepted, and the call finishes on its stream.
    assert_eq!(client.status(&alice, &yes).await, 202);
    let done = next_event(&mut res, &mut buf, |v| v["id"] == 2).await;
    assert_eq!(
        done["result"]["structuredContent"]["note"]["title"], "Streamed",
        "{done}"
    );
    // Answered once: the same answer again reaches nothing.
    assert_eq!(client.status(&alice, &yes).await, 400);

    // A "no", and a client that answers the request with an error (it
    // cannot ask after all): nothing written.
    for (reply, expected) in [
        (
            json!({"result": {"action": "decline"}}),
            "the person declined",
        ),
        (
            json!({"error": {"code": -32601, "message": "Method not found"}}),
            "this client cannot ask for a confirmation",
        ),
    ] {
        let mut res = client.request(&alice, &call).send().await.unwrap();
        let mut buf = String::new();
        let question =
            next_event(&mut res, &mut buf, |v| v["method"] == "elicitation/create").await;
        let mut response = json!({"jsonrpc": "2.0", "id": question["id"]});
        response
            .as_object_mut()
            .unwrap()
            .extend(reply.as_object().unwrap().clone());
        assert_eq!(client.status(&alice, &response).await, 202);
        let done = next_event(&mut res, &mut buf, |v| v["id"] == 2).await;
        assert!(refusal(&done["result"]).contains(expected), "{done}");
    }
    assert_eq!(titles(&data, "alice").await, ["Streamed"]);

    // Without elicitation, or without the session: refused, saying why.
    let silent = Legacy::initialize(&server.url, &alice, false).await;
    assert!(
        silent
            .session
            .as_deref()
            .is_some_and(|s| s.starts_with("mcpgen-e0-"))
    );
    let bare = Legacy {
        session: None,
        ..Legacy::initialize(&server.url, &alice, true).await
    };
    for client in [silent, bare] {
        let res = client
            .request(&client.credential, &call)
            .send()
            .await
            .unwrap();
        let text = res.text().await.unwrap();
        // JSON, or (had the call sent a notification first) an SSE stream.
        let body = serde_json::from_str::<Value>(&text).unwrap_or_else(|_| {
            text.split("\n\n")
                .filter_map(|e| e.lines().find_map(|l| l.strip_prefix("data: ")))
                .filter_map(|d| serde_json::from_str::<Value>(d).ok())
                .find(|v| v["id"] == 2)
                .unwrap_or(Value::Null)
        });
        let text = refusal(&body["result"]);
        assert!(
            text.contains("this client cannot ask for a confirmation"),
            "{text}"
        );
    }
    assert_eq!(titles(&data, "alice").await, ["Streamed"]);
}

/// A handler's own question (`cx.elicit`), asked of a 2026-07-28 client:
/// the call ends with `input_required` (the handler's work rolled back),
/// the retry with the answer runs the handler again, which now finds it.
/// The conformance fixture's `test_elicitation`, a public tool.
#[tokio::test(flavor = "multi_thread")]
async fn a_handler_s_question_is_a_round_trip_in_2026() {
    let fixture = HttpServer::start(env!("CARGO_BIN_EXE_mcpgen-conformance-fixture"), &[]);
    let call = |extra: Value, asks: bool| {
        let url = fixture.url.clone();
        async move {
            let mut params = json!({
                "name": "test_elicitation",
                "arguments": {"message": "Who are you?"},
                "_meta": {
                    "io.modelcontextprotocol/protocolVersion": MODERN,
                    "io.modelcontextprotocol/clientCapabilities":
                        if asks { json!({"elicitation": {"form": {}}}) } else { json!({}) },
                },
            });
            params
                .as_object_mut()
                .unwrap()
                .extend(extra.as_object().unwrap().clone());
            let res = reqwest::Client::new()
                .post(&url)
                .header("content-type", "application/json")
                .header("accept", "application/json, text/event-stream")
                .header("mcp-protocol-version", MODERN)
                .header("mcp-method", "tools/call")
                .header("mcp-name", "test_elicitation")
                .body(
                    json!({"jsonrpc": "2.0", "id": 3, "method": "tools/call", "params": params})
                        .to_string(),
                )
                .send()
                .await
                .unwrap();
            let body: Value = res.json().await.unwrap();
            body["result"].clone()
        }
    };
    let asked = call(json!({}), true).await;
    assert_eq!(asked["resultType"], "input_required", "{asked}");
    let question = &asked["inputRequests"]["q1"];
    assert_eq!(question["method"], "elicitation/create");
    assert_eq!(question["params"]["message"], "Who are you?");
    assert_eq!(
        question["params"]["requestedSchema"]["required"],
        json!(["username", "email"])
    );
    let answered = call(
        json!({"requestState": asked["requestState"], "inputResponses": {"q1": {
            "action": "accept", "content": {"username": "ada", "email": "ada@example.com"}}}}),
        true,
    )
    .await;
    assert_eq!(answered["resultType"], "complete", "{answered}");
    assert_eq!(
        answered["content"][0]["text"],
        "User response: Elicitation completed: action=accept, content={\"email\":\"ada@example.com\",\"username\":\"ada\"}"
    );
    // The state was spent with that answer.
    let again = call(
        json!({"requestState": asked["requestState"], "inputResponses": {"q1": {"action": "decline"}}}),
        true,
    )
    .await;
    assert!(refusal(&again).contains("answered already"), "{again}");
    // A client that cannot ask: the handler's question fails the call, saying why.
    let silent = call(json!({}), false).await;
    assert!(
        refusal(&silent).contains("this client cannot ask one"),
        "{silent}"
    );
}
