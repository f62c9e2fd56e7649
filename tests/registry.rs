//! The example app through the whole request path, in-process: scopes from
//! the manifest, arguments validated against the advertised schemas,
//! annotations derived from the manifest, writes then reads in SQLite.

use mcpgen::spec::Access;
use mcpgen::testing::{call_answering, yes};
use mcpgen::{Caller, Tools};
use mcpgen_tests::databases::{Backend, fresh, server};
use notes_app::Notes;
use serde_json::{Value, json};

fn reader() -> Option<Caller> {
    Some(Caller::new("alice", ["notes:read"], None))
}

fn writer() -> Option<Caller> {
    Some(Caller::new("alice", ["notes:read", "notes:write"], None))
}

#[tokio::test]
async fn scopes_from_the_manifest_are_enforced() {
    let db = fresh::<Notes>(Backend::of_this_run(), "registry-scopes").await;
    let s = server(Notes, &db, "local").await;
    let denied = s
        .call_tool(
            reader(),
            "create_text_note",
            json!({"title": "t", "body": "b"}),
        )
        .await;
    assert_eq!(denied["error"]["code"], -31403);
    assert_eq!(
        denied["error"]["data"]["requiredScopes"],
        json!(["notes:write"])
    );
    let nobody = Some(Caller::new("mallory", Vec::<String>::new(), None));
    let denied = s
        .call_tool(nobody, "search_owned_notes", json!({"query": ""}))
        .await;
    assert_eq!(
        denied["error"]["data"]["requiredScopes"],
        json!(["notes:read"])
    );
    let unknown = s.call_tool(writer(), "drop_tables", json!({})).await;
    assert_eq!(unknown["error"]["code"], -32602);
    assert_eq!(unknown["error"]["message"], "Unknown tool: drop_tables");
}

#[tokio::test]
async fn a_write_then_a_read() {
    let db = fresh::<Notes>(Backend::of_this_run(), "registry-write").await;
    let s = server(Notes, &db, "local").await;
    // The person confirms (create_text_note asks before it writes).
    let created = call_answering(
        &s,
        writer(),
        "create_text_note",
        json!({"title": " Groceries ", "body": "milk"}),
        yes(),
    )
    .await;
    let note = created["result"]["structuredContent"]["note"].clone();
    assert_eq!(note["title"], "Groceries", "trimmed: {created}");
    let id = note["id"].as_str().unwrap().to_owned();
    assert!(id.starts_with("note_") && id.len() == 29, "{id}");

    let found = s
        .call_tool(reader(), "search_owned_notes", json!({"query": "GROC"}))
        .await;
    assert_eq!(
        found["result"]["structuredContent"]["notes"][0]["id"],
        json!(id)
    );
    let got = s
        .call_tool(reader(), "get_owned_note", json!({"id": id}))
        .await;
    assert_eq!(got["result"]["structuredContent"], note);
    // Another subject with the same scopes sees none of alice's notes.
    let bob = Some(Caller::new("bob", ["notes:read"], None));
    let found = s
        .call_tool(bob, "search_owned_notes", json!({"query": ""}))
        .await;
    assert_eq!(found["result"]["structuredContent"], json!({"notes": []}));
}

#[tokio::test]
async fn arguments_that_do_not_fit_the_input_type_are_refused() {
    let db = fresh::<Notes>(Backend::of_this_run(), "registry-args").await;
    let s = server(Notes, &db, "local").await;
    for bad in [
        json!({"title": "t"}),
        json!({"title": "t", "body": "b", "pinned": true}),
        json!({"title": 5, "body": "b"}),
        json!({"title": "", "body": "b"}),
        json!({"title": "x".repeat(201), "body": "b"}),
    ] {
        let got = s.call_tool(writer(), "create_text_note", bad.clone()).await;
        assert_eq!(got["result"]["isError"], true, "{bad}: {got}");
        let text = got["result"]["content"][0]["text"].as_str().unwrap();
        assert!(
            text.starts_with("invalid arguments for tool `create_text_note`: "),
            "{text}"
        );
    }
    // A blank title passes the schema (length 3) but not the handler's
    // rule, which runs once the person has confirmed.
    let blank = call_answering(
        &s,
        writer(),
        "create_text_note",
        json!({"title": "   ", "body": "b"}),
        yes(),
    )
    .await;
    assert_eq!(
        blank["result"]["content"][0]["text"],
        "invalid arguments: title must be 1 to 200 characters"
    );
    let rows: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM notes")
        .fetch_one(db.pool())
        .await
        .unwrap();
    assert_eq!(rows, 0, "nothing was written by refused calls");
}

#[test]
fn annotations_and_schemas_come_from_the_manifest_and_types() {
    let registry = Notes::registry().expect("servable");
    let search = registry.get("search_owned_notes").expect("listed");
    assert_eq!(search.spec().access, Access::Read);
    assert!(search.spec().annotations.read_only_hint);
    assert_eq!(search.spec().annotations.destructive_hint, None);
    let create = registry.get("create_text_note").expect("listed");
    assert!(!create.spec().annotations.read_only_hint);
    assert_eq!(create.spec().annotations.destructive_hint, Some(false));
    assert_eq!(create.spec().annotations.idempotent_hint, Some(false));
    // Unknown arguments are refused by the advertised schema itself.
    assert_eq!(create.input_schema()["additionalProperties"], json!(false));
    assert_eq!(create.input_schema()["required"], json!(["title", "body"]));
    let get = registry.get("get_owned_note").expect("listed");
    assert_eq!(get.input_schema()["required"], json!(["id"]));
    assert_eq!(
        get.input_schema()["properties"]["id"]["type"],
        json!("string")
    );
    let _: Value = get.input_schema().clone();
}

#[tokio::test]
async fn search_pages_through_the_callers_notes_on_sqlite() {
    pages(Backend::Sqlite).await;
}

#[tokio::test]
async fn search_pages_through_the_callers_notes_on_postgres() {
    pages(Backend::Postgres).await;
}

async fn pages(backend: Backend) {
    let db = fresh::<Notes>(backend, "registry-pages").await;
    let s = server(Notes, &db, "local").await;
    for i in 0..7 {
        call_answering(
            &s,
            writer(),
            "create_text_note",
            json!({"title": format!("n{i}"), "body": "page"}),
            yes(),
        )
        .await;
    }
    for order in ["newest_first", "oldest_first"] {
        let mut titles = Vec::new();
        let mut cursor: Option<String> = None;
        let mut pages = 0;
        loop {
            let mut args = json!({"query": "page", "limit": 3, "order": order});
            if let Some(c) = &cursor {
                args["cursor"] = json!(c);
            }
            let r = s.call_tool(reader(), "search_owned_notes", args).await;
            let found = &r["result"]["structuredContent"];
            titles.extend(
                found["notes"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .map(|n| n["title"].as_str().unwrap().to_owned()),
            );
            pages += 1;
            match found["next_cursor"].as_str() {
                Some(c) => cursor = Some(c.to_owned()),
                None => break,
            }
        }
        let mut expected: Vec<String> = (0..7).map(|i| format!("n{i}")).collect();
        if order == "newest_first" {
            expected.reverse();
        }
        assert_eq!(titles, expected, "{order}");
        assert_eq!(pages, 3);
    }
    let bad = s
        .call_tool(
            reader(),
            "search_owned_notes",
            json!({"query": "", "cursor": "bogus"}),
        )
        .await;
    assert_eq!(
        bad["result"]["content"][0]["text"],
        "invalid arguments: unknown cursor: pass the next_cursor of a previous page"
    );
}
