//! The registry the macro generates for the example app, exercised
//! in-process: the scopes it enforces, the arguments it accepts, the
//! annotations it derives from the manifest.

use mcpgen::{Access, CallError, Caller, ToolError, Tools};
use notes_app::Notes;
use serde_json::json;

fn reader() -> Caller {
    Caller::new("alice", ["notes:read"], None)
}

fn writer() -> Caller {
    Caller::new("alice", ["notes:read", "notes:write"], None)
}

#[tokio::test]
async fn scopes_from_the_manifest_are_enforced() {
    let registry = Notes::registry().expect("servable");
    let notes = Notes::default();
    let denied = registry
        .call(
            &notes,
            Some(&reader()),
            "create_text_note",
            json!({"title": "t", "body": "b"}),
        )
        .await;
    assert_eq!(
        denied,
        Err(CallError::InsufficientScope {
            required: vec!["notes:write"]
        })
    );
    let nobody = Caller::new("mallory", Vec::<String>::new(), None);
    let denied = registry
        .call(
            &notes,
            Some(&nobody),
            "search_owned_notes",
            json!({"query": ""}),
        )
        .await;
    assert_eq!(
        denied,
        Err(CallError::InsufficientScope {
            required: vec!["notes:read"]
        })
    );
    let unknown = registry
        .call(&notes, Some(&writer()), "drop_tables", json!({}))
        .await;
    assert_eq!(unknown, Err(CallError::UnknownTool("drop_tables".into())));
}

#[tokio::test]
async fn a_write_then_a_read_through_the_registry() {
    let registry = Notes::registry().expect("servable");
    let notes = Notes::default();
    let created = registry
        .call(
            &notes,
            Some(&writer()),
            "create_text_note",
            json!({"title": " Groceries ", "body": "milk"}),
        )
        .await
        .expect("created");
    assert!(!created.is_error);
    assert_eq!(
        created.structured.unwrap(),
        json!({"note": {"id": 1, "title": "Groceries", "body": "milk"}})
    );
    let found = registry
        .call(
            &notes,
            Some(&reader()),
            "search_owned_notes",
            json!({"query": "GROC"}),
        )
        .await
        .expect("found")
        .structured
        .unwrap();
    assert_eq!(found["notes"][0]["id"], 1);
    // Another subject with the same scopes sees none of alice's notes.
    let bob = Caller::new("bob", ["notes:read"], None);
    let found = registry
        .call(
            &notes,
            Some(&bob),
            "search_owned_notes",
            json!({"query": ""}),
        )
        .await
        .expect("found")
        .structured
        .unwrap();
    assert_eq!(found, json!({"notes": []}));
}

#[tokio::test]
async fn arguments_that_do_not_fit_the_input_type_are_refused() {
    let registry = Notes::registry().expect("servable");
    let notes = Notes::default();
    for bad in [
        json!({"title": "t"}),
        json!({"title": "t", "body": "b", "pinned": true}),
        json!({"title": 5, "body": "b"}),
        json!({"title": "", "body": "b"}),
        json!({"title": "x".repeat(201), "body": "b"}),
        json!("just a string"),
    ] {
        let got = registry
            .call(&notes, Some(&writer()), "create_text_note", bad.clone())
            .await;
        assert!(
            matches!(got, Err(CallError::InvalidArguments(_))),
            "{bad} gave {got:?}"
        );
    }
    // A blank title passes the schema (length 3) but not the handler's rule.
    let empty_title = registry
        .call(
            &notes,
            Some(&writer()),
            "create_text_note",
            json!({"title": "   ", "body": "b"}),
        )
        .await;
    assert_eq!(
        empty_title,
        Err(CallError::Tool(ToolError::invalid_arguments(
            "title must be 1 to 200 characters"
        )))
    );
}

#[tokio::test]
async fn owned_records_fail_closed_until_a_record_store_exists() {
    let registry = Notes::registry().expect("servable");
    let got = registry
        .call(
            &Notes::default(),
            Some(&reader()),
            "get_owned_note",
            json!({"id": 1}),
        )
        .await;
    assert_eq!(
        got,
        Err(CallError::Tool(ToolError::NotFound { kind: "note" }))
    );
}

#[test]
fn annotations_and_schemas_come_from_the_manifest_and_types() {
    let registry = Notes::registry().expect("servable");
    let search = registry.get("search_owned_notes").expect("listed");
    assert_eq!(search.def().access, Access::Read);
    assert!(search.def().annotations.read_only_hint);
    assert_eq!(search.def().annotations.destructive_hint, None);
    let create = registry.get("create_text_note").expect("listed");
    assert!(!create.def().annotations.read_only_hint);
    assert_eq!(create.def().annotations.destructive_hint, Some(false));
    assert_eq!(create.def().annotations.idempotent_hint, Some(false));
    // Unknown arguments are refused by the advertised schema itself.
    assert_eq!(create.input_schema()["additionalProperties"], json!(false));
    assert_eq!(create.input_schema()["required"], json!(["title", "body"]));
    let get = registry.get("get_owned_note").expect("listed");
    assert_eq!(get.input_schema()["required"], json!(["id"]));
    assert_eq!(
        get.input_schema()["properties"]["id"]["type"],
        json!("integer")
    );
}
