//! Whose data, and may it write — on SQLite and on PostgreSQL:
//! another owner's record answers exactly like a missing one, read tools
//! cannot write through what they are given, and failed or stopped writes
//! leave nothing behind.

use mcpgen::Caller;
use mcpgen::audit::AuditSink;
use mcpgen::store::Db;
use mcpgen_tests::databases::{Backend, fresh, server};
use mcpgen_tests::sneaky::Sneaky;
use notes_app::Notes;
use serde_json::{Value, json};
use sqlx::Row as _;

fn who(subject: &str, scopes: &[&str]) -> Option<Caller> {
    Some(Caller::new(subject, scopes.iter().copied(), None))
}

/// Every row of `table`, as text, in a stable order.
async fn dump(db: &Db, table: &str) -> Vec<String> {
    let rows = sqlx::query(sqlx::AssertSqlSafe(format!(
        "SELECT * FROM {table} ORDER BY 1"
    )))
    .fetch_all(db.pool())
    .await
    .unwrap();
    rows.iter()
        .map(|r| {
            (0..sqlx::Row::len(r))
                .map(|i| {
                    r.try_get::<String, _>(i)
                        .or_else(|_| r.try_get::<i64, _>(i).map(|n| n.to_string()))
                        .unwrap_or_default()
                })
                .collect::<Vec<_>>()
                .join("|")
        })
        .collect()
}

async fn cross_owner(backend: Backend) {
    let db = fresh::<Notes>(backend, "cross-owner").await;
    let s = server(Notes, &db, "local").await;
    let rw = ["notes:read", "notes:write"];
    let create = |subject: &'static str, title: &'static str| {
        let s = s.clone();
        async move {
            let r = mcpgen::testing::call_answering(
                &s,
                who(subject, &rw),
                "create_text_note",
                json!({"title": title, "body": "secret of ".to_owned() + subject}),
                mcpgen::testing::yes(),
            )
            .await;
            r["result"]["structuredContent"]["note"]["id"]
                .as_str()
                .unwrap()
                .to_owned()
        }
    };
    let alice_notes = [create("alice", "a1").await, create("alice", "a2").await];
    let bob_note = create("bob", "b1").await;

    let get = |subject: &'static str, id: Value| {
        let s = s.clone();
        async move {
            s.call_tool(who(subject, &rw), "get_owned_note", json!({"id": id}))
                .await
        }
    };
    // Bob's own note: found.
    assert_eq!(
        get("bob", json!(bob_note)).await["result"]["structuredContent"]["title"],
        "b1"
    );
    // Alice's notes, ids that never existed, malformed ids: one answer.
    let missing = get("bob", json!("note_000000000000000000000000")).await;
    assert_eq!(missing["result"]["isError"], true);
    assert_eq!(missing["result"]["content"][0]["text"], "note not found");
    for id in alice_notes.iter().map(|i| json!(i)).chain([
        json!(""),
        json!("x' OR '1'='1"),
        json!("note_%"),
        json!("../../etc/passwd"),
        json!("n".repeat(300)),
    ]) {
        let answer = get("bob", id.clone()).await;
        assert_eq!(
            answer, missing,
            "{id} must look exactly like a missing note"
        );
        assert!(!answer.to_string().contains("secret of alice"));
    }
    // Wrong types never reach the query.
    let typed = get("bob", json!(12)).await;
    assert!(
        typed["result"]["content"][0]["text"]
            .as_str()
            .unwrap()
            .starts_with("invalid arguments")
    );
    // Searching is scoped the same way: wildcards included.
    for query in ["", "%", "_", "secret", "a1"] {
        let found = s
            .call_tool(
                who("bob", &rw),
                "search_owned_notes",
                json!({"query": query}),
            )
            .await;
        let text = found.to_string();
        assert!(!text.contains("secret of alice"), "{query}: {text}");
    }
    let all = s
        .call_tool(
            who("alice", &rw),
            "search_owned_notes",
            json!({"query": "", "order": "oldest_first"}),
        )
        .await;
    let titles: Vec<&str> = all["result"]["structuredContent"]["notes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|n| n["title"].as_str().unwrap())
        .collect();
    assert_eq!(titles, ["a1", "a2"]);
}

#[tokio::test]
async fn cross_owner_access_looks_like_not_found_on_sqlite() {
    cross_owner(Backend::Sqlite).await;
}

#[tokio::test]
async fn cross_owner_access_looks_like_not_found_on_postgres() {
    cross_owner(Backend::Postgres).await;
}

async fn read_tools_cannot_write(backend: Backend) {
    let db = fresh::<Sneaky>(backend, "read-only").await;
    sqlx::query("INSERT INTO items (id, owner_id, label) VALUES ('seed', 'alice', 'original')")
        .execute(db.pool())
        .await
        .unwrap();
    let s = server(Sneaky, &db, "local").await;
    let s = std::sync::Arc::new(
        std::sync::Arc::into_inner(s)
            .unwrap()
            .with_audit(AuditSink::to_database(db.clone())),
    );
    let before = dump(&db, "items").await;
    for statement in ["insert", "update", "delete", "create", "commit_then_insert"] {
        let r = s
            .call_tool(
                who("alice", &["items:read"]),
                "read_but_try_to_write",
                json!({"statement": statement}),
            )
            .await;
        assert_eq!(r["result"]["isError"], true, "{statement}: {r}");
        let text = r["result"]["content"][0]["text"]
            .as_str()
            .unwrap()
            .to_lowercase();
        assert!(
            text.contains("readonly") || text.contains("read-only"),
            "{statement} must be refused by the database as read-only: {text}"
        );
        assert_eq!(
            dump(&db, "items").await,
            before,
            "{statement} changed nothing"
        );
    }

    // Write tools that fail, panic, or overrun their timeout, after
    // writing: rolled back, and the server goes on.
    for tool in ["write_then_fail", "write_then_panic", "write_then_stall"] {
        let r = s
            .call_tool(who("alice", &["items:write"]), tool, json!({}))
            .await;
        assert_eq!(r["result"]["isError"], true, "{tool}: {r}");
        assert_eq!(
            dump(&db, "items").await,
            before,
            "{tool} left nothing behind"
        );
    }
    let r = s
        .call_tool(
            who("alice", &["items:write"]),
            "write_then_panic",
            json!({}),
        )
        .await;
    let text = r["result"]["content"][0]["text"].as_str().unwrap();
    assert_eq!(text, "internal error: the tool failed", "{r}");
    assert!(
        !r.to_string().contains("hunter2") && !r.to_string().contains("bug in the handler"),
        "the panic's message stays in the operator's log: {r}"
    );
    // The next call on the same server still runs (and its write stays
    // rolled back like the others).
    let r = s
        .call_tool(who("alice", &["items:write"]), "write_then_fail", json!({}))
        .await;
    assert_eq!(
        r["result"]["content"][0]["text"], "failed after writing",
        "{r}"
    );
    assert_eq!(dump(&db, "items").await, before);
    // The audit trail names what happened.
    s.audit().flush().await;
    let reasons: Vec<(String, String)> =
        sqlx::query("SELECT decision, reason FROM mcpgen_audit WHERE tool = 'write_then_panic'")
            .fetch_all(db.pool())
            .await
            .unwrap()
            .iter()
            .map(|r| (r.get("decision"), r.get("reason")))
            .collect();
    assert_eq!(
        reasons,
        vec![("failed".to_owned(), "panicked".to_owned()); 2],
        "both panicking calls are audited as such"
    );
}

#[tokio::test]
async fn read_tools_cannot_write_on_sqlite() {
    read_tools_cannot_write(Backend::Sqlite).await;
}

#[tokio::test]
async fn read_tools_cannot_write_on_postgres() {
    read_tools_cannot_write(Backend::Postgres).await;
}

/// Every read tool of the example app leaves the database as it was: the
/// rows, and on SQLite the very bytes of the files.
async fn reads_change_nothing(backend: Backend) {
    let db = fresh::<Notes>(backend, "reads-unchanged").await;
    let s = server(Notes, &db, "local").await;
    let rw = ["notes:read", "notes:write"];
    let created = mcpgen::testing::call_answering(
        &s,
        who("alice", &rw),
        "create_text_note",
        json!({"title": "t", "body": "b"}),
        mcpgen::testing::yes(),
    )
    .await;
    let id = created["result"]["structuredContent"]["note"]["id"].clone();
    let files = |db: &Db| {
        let desc = db.describe().to_owned();
        let path = desc.strip_prefix("SQLite file ").map(str::to_owned);
        move || {
            path.as_ref().map(|p| {
                ["", "-wal"]
                    .iter()
                    .map(|suffix| std::fs::read(format!("{p}{suffix}")).unwrap_or_default())
                    .collect::<Vec<_>>()
            })
        }
    };
    let snapshot_files = files(&db);
    let rows_before = dump(&db, "notes").await;
    let bytes_before = snapshot_files();
    let registry = <Notes as mcpgen::Tools>::registry().unwrap();
    let mut read_tools = 0;
    for tool in registry
        .tools()
        .iter()
        .filter(|t| t.spec().access == mcpgen::spec::Access::Read)
    {
        let name: &str = &tool.spec().name;
        let args = match name {
            "search_owned_notes" => json!({"query": "t"}),
            "get_owned_note" => json!({"id": id}),
            _ => json!({}),
        };
        let r = s.call_tool(who("alice", &rw), name, args).await;
        assert_eq!(r["result"]["isError"], false, "{name}: {r}");
        read_tools += 1;
    }
    assert_eq!(read_tools, 4);
    assert_eq!(dump(&db, "notes").await, rows_before);
    assert_eq!(
        snapshot_files(),
        bytes_before,
        "the database files are byte-for-byte unchanged"
    );
}

#[tokio::test]
async fn read_tools_leave_the_database_unchanged_on_sqlite() {
    reads_change_nothing(Backend::Sqlite).await;
}

#[tokio::test]
async fn read_tools_leave_the_database_unchanged_on_postgres() {
    reads_change_nothing(Backend::Postgres).await;
}
