//! Resources and prompts under the tools' contract, against the example
//! app's real binary: each note is the resource `note://{id}` (owned), and
//! `review_my_notes` a prompt over the caller's notes. Listed per caller,
//! read and got only with the scopes, the client and the ownership a tool
//! call would need, another subject's note indistinguishable from a
//! missing one, every decision audited; the same over HTTP in both
//! protocol eras and over stdio.

use std::io::{BufRead as _, BufReader, Write as _};
use std::process::{Command, Stdio};

use mcpgen_tests::databases::{data_args, open_for};
use mcpgen_tests::notes::{cli, create_key, post};
use mcpgen_tests::process::{HttpServer, notes_bin, scratch_dir};
use serde_json::{Value, json};
use sqlx::Row as _;

fn mint(data: &std::path::Path, sub: &str, scopes: &str, client: Option<&str>) -> String {
    let mut args = vec!["token", "mint", "--sub", sub, "--scopes", scopes];
    if let Some(c) = client {
        args.extend(["--client", c]);
    }
    let (ok, out, err) = cli(data, &args);
    assert!(ok, "{err}");
    out.trim().to_owned()
}

fn rpc(id: u64, method: &str, params: Value) -> Value {
    json!({"jsonrpc": "2.0", "id": id, "method": method, "params": params})
}

async fn create_note(url: &str, token: &str, title: &str) -> String {
    // As a client whose person confirms the write.
    let created = mcpgen_tests::notes::post_confirmed(
        url,
        Some(token),
        &rpc(
            1,
            "tools/call",
            json!({"name": "create_text_note", "arguments": {"title": title, "body": "milk"}}),
        ),
    )
    .await;
    created.body["result"]["structuredContent"]["note"]["id"]
        .as_str()
        .unwrap_or_else(|| panic!("{}", created.raw))
        .to_owned()
}

#[tokio::test]
async fn resources_and_prompts_follow_the_tools_contract() {
    let data = scratch_dir("resources-prompts");
    let alice = mint(&data, "alice", "notes:read,notes:write", None);
    let bob = mint(&data, "bob", "notes:read", None);
    let dashboard = mint(&data, "alice", "notes:read", Some("read-only-dashboard"));
    let nothing = create_key(&data, "alice", "", &[]);
    let nothing = nothing["key"].as_str().unwrap();
    let server = HttpServer::start_in(notes_bin(), &data, &[]);
    let url = &server.url;
    let id = create_note(url, &alice, "Groceries").await;

    // Listed for a caller who may read them, with their manifest entries.
    let templates = post(
        url,
        Some(&alice),
        &rpc(2, "resources/templates/list", json!({})),
    )
    .await;
    assert_eq!(
        templates.body["result"]["resourceTemplates"],
        json!([{"uriTemplate": "note://{id}", "name": "note", "title": "A note",
                "description": "One of the caller's notes, as Markdown.", "mimeType": "text/markdown"}])
    );
    let fixed = post(url, Some(&alice), &rpc(3, "resources/list", json!({}))).await;
    assert_eq!(fixed.body["result"]["resources"], json!([]));

    // The owner reads the note.
    let uri = format!("note://{id}");
    let read = post(
        url,
        Some(&alice),
        &rpc(4, "resources/read", json!({"uri": uri})),
    )
    .await;
    assert_eq!(
        read.body["result"]["contents"],
        json!([{"uri": uri, "mimeType": "text/markdown", "text": "# Groceries\n\nmilk\n"}]),
        "{}",
        read.raw
    );
    // Another subject: exactly what a missing note answers.
    let foreign = post(
        url,
        Some(&bob),
        &rpc(5, "resources/read", json!({"uri": uri})),
    )
    .await;
    let missing_uri = "note://note_000000000000000000000000";
    let missing = post(
        url,
        Some(&bob),
        &rpc(5, "resources/read", json!({"uri": missing_uri})),
    )
    .await;
    assert_eq!(foreign.status, missing.status);
    assert_eq!(foreign.body["error"]["code"], -32002, "{}", foreign.raw);
    assert_eq!(
        foreign.body["error"]["message"],
        missing.body["error"]["message"]
    );
    assert_eq!(foreign.body["error"]["data"], json!({"uri": uri}));
    assert_eq!(missing.body["error"]["data"], json!({"uri": missing_uri}));
    assert!(!foreign.raw.contains("Groceries"));
    let nowhere = post(
        url,
        Some(&bob),
        &rpc(6, "resources/read", json!({"uri": "other://x"})),
    )
    .await;
    assert_eq!(nowhere.body["error"]["code"], -32002);

    // Without a credential: the challenge; without the scope: 403 naming it.
    let anonymous = post(url, None, &rpc(7, "resources/read", json!({"uri": uri}))).await;
    assert_eq!(anonymous.status, 401);
    assert!(anonymous.challenge.unwrap().contains("resource_metadata="));
    let unscoped = post(
        url,
        Some(nothing),
        &rpc(8, "resources/read", json!({"uri": uri})),
    )
    .await;
    assert_eq!(unscoped.status, 403, "{}", unscoped.raw);
    assert_eq!(
        unscoped.body["error"]["message"],
        "insufficient scope: resource `note` requires notes:read"
    );
    assert!(
        unscoped
            .challenge
            .unwrap()
            .contains("error=\"insufficient_scope\", scope=\"notes:read\"")
    );
    let unlisted = post(
        url,
        Some(nothing),
        &rpc(9, "resources/templates/list", json!({})),
    )
    .await;
    assert_eq!(unlisted.body["result"]["resourceTemplates"], json!([]));

    // [clients]: the dashboard is given two tools and no resources or prompts.
    let refused = post(
        url,
        Some(&dashboard),
        &rpc(10, "resources/read", json!({"uri": uri})),
    )
    .await;
    assert_eq!(refused.status, 403);
    assert_eq!(
        refused.body["error"]["message"],
        "forbidden: client `read-only-dashboard` may not use resource `note` ([clients] in the manifest)"
    );
    let prompts = post(url, Some(&dashboard), &rpc(11, "prompts/list", json!({}))).await;
    assert_eq!(prompts.body["result"]["prompts"], json!([]));

    // Prompts: listed with their arguments, got over the caller's notes.
    let prompts = post(url, Some(&alice), &rpc(12, "prompts/list", json!({}))).await;
    assert_eq!(
        prompts.body["result"]["prompts"][0]["arguments"],
        json!([{"name": "focus", "required": false,
                "description": "What to look for in the notes, e.g. \"deadlines\"; every note when left out."}])
    );
    let got = post(
        url,
        Some(&alice),
        &rpc(
            13,
            "prompts/get",
            json!({"name": "review_my_notes", "arguments": {"focus": "food"}}),
        ),
    )
    .await;
    let text = got.body["result"]["messages"][0]["content"]["text"]
        .as_str()
        .unwrap();
    assert!(
        text.contains("point out food") && text.contains(&format!("note://{id} Groceries")),
        "{text}"
    );
    assert_eq!(got.body["result"]["messages"][0]["role"], "user");
    let bobs = post(
        url,
        Some(&bob),
        &rpc(14, "prompts/get", json!({"name": "review_my_notes"})),
    )
    .await;
    assert!(
        !bobs.raw.contains("Groceries"),
        "a prompt reads only the caller's notes"
    );
    let bad = post(
        url,
        Some(&alice),
        &rpc(
            15,
            "prompts/get",
            json!({"name": "review_my_notes", "arguments": {"colour": "red"}}),
        ),
    )
    .await;
    assert_eq!(bad.body["error"]["code"], -32602, "{}", bad.raw);
    let unknown = post(
        url,
        Some(&alice),
        &rpc(16, "prompts/get", json!({"name": "nope"})),
    )
    .await;
    assert_eq!(unknown.body["error"]["message"], "Unknown prompt: nope");

    // Completion offers an owned id only to its owner.
    let complete = |token: String, prefix: &str| {
        let body = rpc(
            18,
            "completion/complete",
            json!({"ref": {"type": "ref/resource", "uri": "note://{id}"},
                   "argument": {"name": "id", "value": prefix}}),
        );
        let url = url.clone();
        async move { post(&url, Some(&token), &body).await.body }
    };
    let mine = complete(alice.clone(), "note_").await;
    assert_eq!(
        mine["result"]["completion"]["values"],
        json!([id]),
        "{mine}"
    );
    let theirs = complete(bob.clone(), "").await;
    assert_eq!(
        theirs["result"]["completion"]["values"],
        json!([]),
        "{theirs}"
    );
    let narrowed = complete(alice.clone(), "note_zzz").await;
    assert_eq!(narrowed["result"]["completion"]["values"], json!([]));
    let refused = complete(nothing.to_owned(), "").await;
    assert_eq!(
        refused["error"]["code"], -31403,
        "completion is checked like a read: {refused}"
    );

    // The handshake says what the server has.
    let init = post(
        url,
        Some(&alice),
        &rpc(
            17,
            "initialize",
            json!({"protocolVersion": "2025-11-25", "capabilities": {},
                                      "clientInfo": {"name": "t", "version": "1"}}),
        ),
    )
    .await;
    let caps = &init.body["result"]["capabilities"];
    assert_eq!(
        caps["resources"],
        json!({"subscribe": false, "listChanged": false})
    );
    assert_eq!(caps["prompts"], json!({"listChanged": false}));
    assert_eq!(caps["completions"], json!({}));

    // Every read and get is an audit record.
    let (_, _) = server.stop();
    let db = open_for(&data).await;
    let rows: Vec<(String, String, String, String)> = sqlx::query(
        "SELECT tool, subject, decision, reason FROM mcpgen_audit \
         WHERE tool LIKE 'resource:%' OR tool LIKE 'prompt:%' ORDER BY request_id",
    )
    .fetch_all(db.pool())
    .await
    .unwrap()
    .iter()
    .map(|r| {
        (
            r.get("tool"),
            r.get("subject"),
            r.get("decision"),
            r.get("reason"),
        )
    })
    .collect();
    let has = |tool: &str, subject: &str, decision: &str| {
        rows.iter()
            .any(|r| r.0 == tool && r.1 == subject && r.2 == decision)
    };
    assert!(
        has(&format!("resource:{uri}"), "alice", "allowed"),
        "{rows:?}"
    );
    assert!(has(&format!("resource:{uri}"), "bob", "failed"), "{rows:?}");
    assert!(has(&format!("resource:{uri}"), "", "denied"), "{rows:?}");
    assert!(
        has("prompt:review_my_notes", "alice", "allowed"),
        "{rows:?}"
    );
    assert!(has("prompt:nope", "alice", "denied"), "{rows:?}");
}

const MODERN: &str = "2026-07-28";

/// A 2026-07-28 request with its headers.
async fn modern(
    url: &str,
    token: &str,
    method: &str,
    mut params: Value,
    name: Option<&str>,
) -> (u16, Value) {
    params["_meta"] = json!({"io.modelcontextprotocol/protocolVersion": MODERN,
                             "io.modelcontextprotocol/clientCapabilities": {}});
    let mut req = reqwest::Client::new()
        .post(url)
        .header("content-type", "application/json")
        .header("accept", "application/json, text/event-stream")
        .header("authorization", format!("Bearer {token}"))
        .header("mcp-protocol-version", MODERN)
        .header("mcp-method", method);
    if let Some(n) = name {
        req = req.header("mcp-name", n);
    }
    let res = req
        .body(rpc(1, method, params).to_string())
        .send()
        .await
        .unwrap();
    let status = res.status().as_u16();
    (status, res.json().await.unwrap_or(Value::Null))
}

#[tokio::test]
async fn the_2026_07_28_era_has_its_own_not_found_cache_hints_and_name_header() {
    let data = scratch_dir("resources-modern");
    let alice = mint(&data, "alice", "notes:read,notes:write", None);
    let bob = mint(&data, "bob", "notes:read", None);
    let server = HttpServer::start_in(notes_bin(), &data, &[]);
    let url = &server.url;
    let id = create_note(url, &alice, "Modern").await;
    let uri = format!("note://{id}");

    let (status, list) = modern(url, &alice, "resources/templates/list", json!({}), None).await;
    assert_eq!(status, 200);
    assert_eq!(
        list["result"]["cacheScope"], "private",
        "the list depends on the caller"
    );
    assert!(list["result"]["ttlMs"].is_u64());
    assert_eq!(list["result"]["resultType"], "complete");

    let (status, read) = modern(
        url,
        &alice,
        "resources/read",
        json!({"uri": uri}),
        Some(&uri),
    )
    .await;
    assert_eq!(status, 200, "{read}");
    assert_eq!(read["result"]["contents"][0]["text"], "# Modern\n\nmilk\n");
    let (_, foreign) = modern(url, &bob, "resources/read", json!({"uri": uri}), Some(&uri)).await;
    assert_eq!(
        foreign["error"]["code"], -32602,
        "2026-07-28 has no -32002: {foreign}"
    );
    assert_eq!(foreign["error"]["message"], "Resource not found");

    let (status, mismatch) = modern(
        url,
        &alice,
        "resources/read",
        json!({"uri": uri}),
        Some("note://other"),
    )
    .await;
    assert_eq!(status, 400, "{mismatch}");
    assert_eq!(mismatch["error"]["code"], -32020);

    let (status, got) = modern(
        url,
        &alice,
        "prompts/get",
        json!({"name": "review_my_notes"}),
        Some("review_my_notes"),
    )
    .await;
    assert_eq!(status, 200, "{got}");
    assert!(
        got["result"]["messages"][0]["content"]["text"]
            .as_str()
            .unwrap()
            .contains("Modern")
    );
}

#[tokio::test]
async fn stdio_reads_and_gets_like_http() {
    let data = scratch_dir("resources-stdio");
    let alice = mint(&data, "alice", "notes:read,notes:write", None);
    let server = HttpServer::start_in(notes_bin(), &data, &[]);
    let id = create_note(&server.url, &alice, "Over stdio").await;
    let uri = format!("note://{id}");
    let lines = [
        rpc(1, "resources/read", json!({"uri": uri})),
        rpc(
            2,
            "resources/read",
            json!({"uri": "note://note_000000000000000000000000"}),
        ),
        rpc(
            3,
            "prompts/get",
            json!({"name": "review_my_notes", "arguments": {"focus": "x"}}),
        ),
    ];
    let mut http = Vec::new();
    for l in &lines {
        http.push(post(&server.url, Some(&alice), l).await.body);
    }
    drop(server);
    let mut child = Command::new(notes_bin())
        .arg("stdio")
        .args(data_args(&data))
        .env("MCPGEN_TOKEN", &alice)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let mut stdin = child.stdin.take().unwrap();
    let mut out = BufReader::new(child.stdout.take().unwrap());
    for (l, over_http) in lines.iter().zip(&http) {
        writeln!(stdin, "{l}").unwrap();
        let mut line = String::new();
        out.read_line(&mut line).unwrap();
        let over_stdio: Value = serde_json::from_str(&line).unwrap();
        assert_eq!(&over_stdio, over_http, "{l}");
    }
    assert!(
        http[0]["result"]["contents"][0]["text"]
            .as_str()
            .unwrap()
            .contains("Over stdio")
    );
    assert_eq!(http[1]["error"]["code"], -32002);
    drop(stdin);
    let _ = child.wait();
}

/// A prompt's own `calls_per_minute` (the fixture's `scoped_prompt`: 2):
/// the third get in a minute is refused 429 with `Retry-After`; and a
/// resource's own `timeout_ms` stops its handler, audited as a timeout.
#[tokio::test]
async fn a_prompt_has_its_own_budget() {
    let fixture = env!("CARGO_BIN_EXE_mcpgen-conformance-fixture");
    let server = HttpServer::start(
        fixture,
        &["--jwt-public-key", &mcpgen_tests::tokens::trust_arg()],
    );
    let token = mcpgen_tests::tokens::token("alice", &["fixture:echo"]);
    let get = rpc(1, "prompts/get", json!({"name": "scoped_prompt"}));
    for _ in 0..2 {
        let ok = post(&server.url, Some(&token), &get).await;
        assert_eq!(ok.status, 200, "{}", ok.raw);
    }
    let over = post(&server.url, Some(&token), &get).await;
    assert_eq!(over.status, 429, "{}", over.raw);
    assert!(
        over.raw.to_lowercase().contains("retry-after"),
        "{}",
        over.raw
    );
    assert_eq!(over.body["error"]["code"], -31429);
    // Another subject has a budget of its own.
    let bob = mcpgen_tests::tokens::token("bob", &["fixture:echo"]);
    assert_eq!(post(&server.url, Some(&bob), &get).await.status, 200);

    // A resource's own timeout (100 ms) stops its handler.
    let slow = post(
        &server.url,
        Some(&bob),
        &rpc(2, "resources/read", json!({"uri": "test://slow-text"})),
    )
    .await;
    assert_eq!(slow.body["error"]["code"], -32603, "{}", slow.raw);
    assert!(
        slow.body["error"]["message"]
            .as_str()
            .unwrap()
            .contains("did not finish within 100 ms"),
        "{}",
        slow.raw
    );
    let log = server.log_with("reason=\"timeout\"");
    assert!(
        log.contains("tool=\"resource:test://slow-text\"") && log.contains("reason=\"timeout\""),
        "{log}"
    );
}
