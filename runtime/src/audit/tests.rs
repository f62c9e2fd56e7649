use std::sync::Arc;
use std::time::Duration;

use super::record::{AuditRecord, FIELD_CHARS, field};
use super::writer::Target;
use super::*;
use crate::store::Db;

/// A migrated SQLite database in a new directory named after `name`.
async fn fresh_db(name: &str) -> (Db, std::path::PathBuf) {
    let dir = std::env::temp_dir().join(format!("{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    let db = Db::open(None, &dir).await.unwrap();
    db.migrate_runtime().await.unwrap();
    (db, dir)
}

fn record(i: usize) -> AuditRecord {
    AuditRecord {
        request_id: format!("test-{i}"),
        // Now: older records would be pruned (retention) as the sink starts.
        at: crate::store::now(),
        transport: "http",
        peer: "192.0.2.1".into(),
        credential: format!("key:{i:016x}"),
        subject: "alice".into(),
        client: String::new(),
        tool: "t".into(),
        scopes: String::new(),
        decision: "allowed",
        reason: "ok",
        count: i as u64 + 1,
        duration_us: 1,
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_stalled_writer_holds_requests_back_and_loses_nothing() {
    let (db, dir) = fresh_db("mcpgen-audit").await;
    // The writer needs SQLite's one writer connection; hold it.
    let blocker = db.pool().acquire().await.unwrap();
    let sink = AuditSink::to_database_with(
        db.clone(),
        AuditOptions {
            queue: 20,
            ..AuditOptions::default()
        },
    );
    // The first record sends the writer to the database, where it waits.
    sink.record(record(0));
    tokio::time::sleep(Duration::from_millis(100)).await;
    for i in 1..60 {
        sink.record(record(i));
    }
    assert!(
        tokio::time::timeout(Duration::from_millis(300), sink.ready())
            .await
            .is_err(),
        "the queue is full: a new request must wait"
    );
    drop(blocker);
    tokio::time::timeout(Duration::from_secs(10), sink.ready())
        .await
        .expect("room again once the writer moves");
    sink.flush().await;
    let n: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM mcpgen_audit")
        .fetch_one(db.pool())
        .await
        .unwrap();
    assert_eq!(n, 60, "every record written, none dropped for room");
    let _ = std::fs::remove_dir_all(&dir);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn batches_of_any_size_are_written_whole_once_and_field_for_field() {
    let (db, dir) = fresh_db("mcpgen-audit-chunks").await;
    let count = || async {
        sqlx::query_scalar::<_, i64>("SELECT COUNT(*) FROM mcpgen_audit")
            .fetch_one(db.pool())
            .await
            .unwrap()
    };
    // Batches of any size, each one transaction.
    let mut target = Target::new(db.clone());
    assert!(
        target.sqlite.is_some(),
        "an SQLite file gets its own writer"
    );
    let mut next = 0;
    let mut written = 0;
    for size in [1, 8, 64, 75, 7, 256] {
        let batch: Vec<_> = (next..next + size)
            .map(|i| AuditRecord {
                at: i as i64,
                subject: format!("subject-{i} \"q\" 'q' \\ é🦀"),
                duration_us: u64::MAX - i as u64,
                ..record(i)
            })
            .collect();
        let batch = Arc::new(batch);
        target.write(&batch).await.unwrap();
        written += size;
        assert_eq!(count().await, written as i64, "after a batch of {size}");
        // The same batch again (an acknowledgement lost): nothing added.
        target.write(&batch).await.unwrap();
        assert_eq!(count().await, written as i64, "a retried batch of {size}");
        next += size;
    }
    // Every field in its column, quotes, backslashes and non-ASCII
    // text intact: the first and last records of the batch of 75 (73
    // to 147) and two between.
    type Row = (
        String,
        i64,
        String,
        String,
        String,
        String,
        String,
        String,
        String,
        i64,
    );
    for i in [73_usize, 136, 137, 147] {
        let (peer, credential, n): (String, String, i64) = sqlx::query_as(
            "SELECT peer, credential, count FROM mcpgen_audit WHERE request_id = $1",
        )
        .bind(format!("test-{i}"))
        .fetch_one(db.pool())
        .await
        .unwrap();
        assert_eq!(
            (peer.as_str(), credential, n),
            ("192.0.2.1", format!("key:{i:016x}"), i as i64 + 1)
        );
        let row: Row = sqlx::query_as(
            "SELECT request_id, at, transport, subject, client, tool, scopes, decision, \
                 reason, duration_us FROM mcpgen_audit WHERE request_id = $1",
        )
        .bind(format!("test-{i}"))
        .fetch_one(db.pool())
        .await
        .unwrap();
        assert_eq!(
            row,
            (
                format!("test-{i}"),
                i as i64,
                "http".to_owned(),
                format!("subject-{i} \"q\" 'q' \\ é🦀"),
                String::new(),
                "t".to_owned(),
                String::new(),
                "allowed".to_owned(),
                "ok".to_owned(),
                i64::MAX,
            )
        );
    }
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn stored_fields_are_bounded_and_free_of_control_characters() {
    assert_eq!(field("echo"), "echo");
    let exact = "é".repeat(FIELD_CHARS);
    assert_eq!(field(&exact), exact, "a field at the bound is kept whole");
    let long = field(&"é".repeat(FIELD_CHARS + 1));
    assert_eq!(long.chars().count(), FIELD_CHARS);
    assert!(long.ends_with('…'));
    assert_eq!(
        field("a\0b\nc\u{1b}[31m"),
        "a\u{fffd}b\u{fffd}c\u{fffd}[31m"
    );
    // C1 controls and DEL too, in a field short enough to be copied
    // whole if it were clean.
    assert_eq!(field("x\u{85}y\u{7f}"), "x\u{fffd}y\u{fffd}");
    let ascii = "a".repeat(FIELD_CHARS + 1);
    assert_eq!(field(&ascii), format!("{}…", &ascii[..FIELD_CHARS - 1]));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_record_the_database_refuses_costs_only_itself() {
    // A refusal that aborts only its statement, and one that rolls the
    // whole transaction back (taking the batch's earlier records along).
    for (case, raise) in [("abort", "ABORT"), ("rollback", "ROLLBACK")] {
        let (db, dir) = fresh_db(&format!("mcpgen-audit-refused-{case}")).await;
        sqlx::query(sqlx::AssertSqlSafe(format!(
            "CREATE TRIGGER refuse BEFORE INSERT ON mcpgen_audit WHEN NEW.subject = 'refused' \
             BEGIN SELECT RAISE({raise}, 'refused by a constraint'); END"
        )))
        .execute(db.pool())
        .await
        .unwrap();
        let sink = AuditSink::to_database(db.clone());
        // One batch: the writer is busy with nothing else, so all 30
        // are taken together.
        for i in 0..30 {
            let mut r = record(i);
            if i == 7 || i == 20 {
                r.subject = "refused".into();
            }
            sink.record(r);
        }
        sink.flush().await;
        let ids: Vec<String> =
            sqlx::query_scalar("SELECT request_id FROM mcpgen_audit ORDER BY at, request_id")
                .fetch_all(db.pool())
                .await
                .unwrap();
        assert_eq!(ids.len(), 28, "{case}: {ids:?}");
        assert!(!ids.contains(&"test-7".to_owned()), "{case}");
        assert!(!ids.contains(&"test-20".to_owned()), "{case}");
        let _ = std::fs::remove_dir_all(&dir);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn records_the_database_cannot_take_are_kept_and_written_once_it_can() {
    let (db, dir) = fresh_db("mcpgen-audit-outage").await;
    let table: String = sqlx::query_scalar(
        "SELECT sql FROM sqlite_master WHERE type = 'table' AND name = 'mcpgen_audit'",
    )
    .fetch_one(db.pool())
    .await
    .unwrap();
    sqlx::query("DROP TABLE mcpgen_audit")
        .execute(db.pool())
        .await
        .unwrap();
    let sink = AuditSink::to_database(db.clone());
    for i in 0..5 {
        sink.record(record(i));
    }
    // Answered once writing has been tried and failed.
    sink.flush().await;
    sink.record(record(5));
    sqlx::query(sqlx::AssertSqlSafe(table))
        .execute(db.pool())
        .await
        .unwrap();
    // Retried every RETRY until the database takes them: all of them,
    // once each.
    let mut ids: Vec<String> = Vec::new();
    for _ in 0..50 {
        ids = sqlx::query_scalar("SELECT request_id FROM mcpgen_audit ORDER BY request_id")
            .fetch_all(db.pool())
            .await
            .unwrap();
        if ids.len() == 6 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let expected: Vec<String> = (0..6).map(|i| format!("test-{i}")).collect();
    assert_eq!(ids, expected);
    let _ = std::fs::remove_dir_all(&dir);
}
