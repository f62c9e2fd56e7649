//! The audit trail: every `tools/call` decision, as a structured `tracing`
//! event and as a row in `mcpgen_audit`, written off the request path in
//! batches by one background task.

use std::collections::VecDeque;
use std::sync::Arc;

use tokio::sync::{Semaphore, mpsc, oneshot};

use crate::db::{Db, DbError, DbKind};

mod sqlite;

/// One decision.
#[derive(Debug, Clone)]
pub(crate) struct AuditRecord {
    pub(crate) request_id: String,
    pub(crate) at: i64,
    pub(crate) transport: &'static str,
    pub(crate) subject: String,
    pub(crate) client: String,
    pub(crate) tool: String,
    pub(crate) scopes: String,
    pub(crate) decision: &'static str,
    pub(crate) reason: &'static str,
    pub(crate) duration_us: u64,
}

enum Msg {
    /// A record, and whether it holds one of the queue's slots.
    Record(AuditRecord, bool),
    Flush(oneshot::Sender<()>),
    Tick,
}

/// Where audit records go.
#[derive(Debug, Clone, Default)]
pub struct AuditSink {
    tx: Option<mpsc::UnboundedSender<Msg>>,
    /// Free places in the queue to the writer; `None` without a writer.
    slots: Option<Arc<Semaphore>>,
}

impl std::fmt::Debug for Msg {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("audit message")
    }
}

const BATCH: usize = 1024;
/// Records queued for the writer at most (see [`AuditSink::ready`]).
pub const QUEUE: usize = 65_536;
/// Most records held while the database is unavailable; beyond this the
/// oldest are dropped (and counted in an error event).
pub const MAX_PENDING: usize = 100_000;
/// How long a batch may wait to fill under load (see `writer`). Each
/// batch is one commit; on SQLite an fsync and a rewrite of the table's
/// last pages. Measured under scenario a of the load benchmark (about
/// 35,000 calls/s): 5 ms and batches of at most 256 cost the writer's
/// thread 3.1–3.6 µs per record, 20 ms and 1,024 cost 2.3–2.6 µs.
pub const LINGER: std::time::Duration = std::time::Duration::from_millis(20);
/// How often an unavailable database is retried.
pub const RETRY: std::time::Duration = std::time::Duration::from_secs(1);

async fn writer(db: Db, mut rx: mpsc::UnboundedReceiver<Msg>, slots: Arc<Semaphore>) {
    let mut target = Target::new(db);
    let mut pending: VecDeque<AuditRecord> = VecDeque::new();
    let mut flushes: Vec<oneshot::Sender<()>> = Vec::new();
    let mut failing = false;
    let mut open = true;
    let mut last_write = std::time::Instant::now() - LINGER;
    while open || !pending.is_empty() {
        // Wait for work: a message, or (while the database is failing and
        // records wait) the next retry.
        let first = if !open {
            None
        } else if pending.is_empty() {
            rx.recv().await
        } else if failing {
            match tokio::time::timeout(RETRY, rx.recv()).await {
                Ok(m) => m,
                Err(_) => Some(Msg::Tick),
            }
        } else {
            Some(Msg::Tick)
        };
        let take = |m: Msg, pending: &mut VecDeque<AuditRecord>, flushes: &mut Vec<_>| match m {
            Msg::Record(r, slot) => {
                if slot {
                    slots.add_permits(1);
                }
                pending.push_back(r);
            }
            Msg::Flush(ack) => flushes.push(ack),
            Msg::Tick => {}
        };
        match first {
            Some(m) => take(m, &mut pending, &mut flushes),
            None => open = false,
        }
        while let Ok(m) = rx.try_recv() {
            take(m, &mut pending, &mut flushes);
        }
        // Under load, let a batch fill for up to LINGER after the last
        // write: each write is a commit (an fsync on SQLite), so small
        // batches cost the database far more per record. An idle writer,
        // a flush and a full batch go at once.
        let since = last_write.elapsed();
        if open && !failing && flushes.is_empty() && pending.len() < BATCH && since < LINGER {
            tokio::time::sleep(LINGER - since).await;
            while let Ok(m) = rx.try_recv() {
                take(m, &mut pending, &mut flushes);
            }
        }
        if pending.len() > MAX_PENDING {
            let lost = pending.len() - MAX_PENDING;
            pending.drain(..lost);
            tracing::error!(
                records = lost,
                "audit backlog full: dropped the oldest records"
            );
        }
        while !pending.is_empty() {
            let n = pending.len().min(BATCH);
            let batch = Arc::new(pending.drain(..n).collect::<Vec<_>>());
            let result = target.write(&batch).await;
            last_write = std::time::Instant::now();
            match result {
                Ok(()) => {
                    if failing {
                        tracing::info!("audit records are being written again");
                    }
                    failing = false;
                }
                Err(WriteError::Refused(message)) if n > 1 => {
                    // The database answered and refused the batch: write
                    // its records one by one, so only a record it refuses
                    // is lost, never the ones that share its batch.
                    tracing::warn!(error = %message, records = n, "audit batch refused; writing its records one by one");
                    let mut rest = Arc::unwrap_or_clone(batch).into_iter();
                    while let Some(r) = rest.next() {
                        let one = Arc::new(vec![r]);
                        match target.write(&one).await {
                            Ok(()) => {}
                            Err(WriteError::Refused(message)) => tracing::error!(
                                error = %message,
                                request_id = %one[0].request_id,
                                "audit record refused by the database"
                            ),
                            Err(WriteError::Unavailable(_)) => {
                                // Unavailable now: keep this one and the
                                // rest for the retry.
                                keep(
                                    &mut pending,
                                    Arc::unwrap_or_clone(one).into_iter().chain(rest),
                                );
                                failing = true;
                                break;
                            }
                        }
                    }
                    if failing {
                        break;
                    }
                }
                Err(WriteError::Refused(message)) => {
                    // Retrying the same record cannot help, and must not
                    // hold up the ones behind it.
                    tracing::error!(error = %message, "audit record refused by the database");
                }
                Err(WriteError::Unavailable(message)) => {
                    if !failing {
                        tracing::error!(
                            error = %message,
                            records = pending.len() + n,
                            "cannot write audit records; keeping them and retrying"
                        );
                    }
                    keep(&mut pending, Arc::unwrap_or_clone(batch));
                    failing = true;
                    break;
                }
            }
        }
        // A flush is answered once its records are written, or once writing
        // them has been tried and failed (it must not hang a shutdown).
        for ack in flushes.drain(..) {
            let _ = ack.send(());
        }
        if failing && !open {
            tracing::error!(records = pending.len(), "audit records not written at exit");
            break;
        }
    }
}

/// Put records that could not be written back at the front of the queue,
/// in their order.
fn keep<I>(pending: &mut VecDeque<AuditRecord>, records: I)
where
    I: IntoIterator<Item = AuditRecord>,
    I::IntoIter: DoubleEndedIterator,
{
    for r in records.into_iter().rev() {
        pending.push_front(r);
    }
}

/// Why a batch was not written.
#[derive(Debug)]
enum WriteError {
    /// The database answered and refused it (a constraint): writing the
    /// same records again cannot help.
    Refused(String),
    /// The database could not be used: keep the records and retry.
    Unavailable(String),
}

impl From<sqlx::Error> for WriteError {
    fn from(e: sqlx::Error) -> Self {
        match e {
            sqlx::Error::Database(e) => WriteError::Refused(e.message().to_owned()),
            other => WriteError::Unavailable(DbError::from(other).to_string()),
        }
    }
}

/// Where the writer puts batches: an SQLite file through its own
/// connection (`sqlite.rs`), PostgreSQL through the pool.
struct Target {
    db: Db,
    sqlite: Option<sqlite::SqliteWriter>,
}

impl Target {
    fn new(db: Db) -> Self {
        let sqlite = db
            .sqlite_path()
            .map(|path| sqlite::SqliteWriter::new(std::path::Path::new(path)));
        Self { db, sqlite }
    }

    async fn write(&mut self, batch: &Arc<Vec<AuditRecord>>) -> Result<(), WriteError> {
        match &mut self.sqlite {
            Some(sqlite) => sqlite.write(&self.db, Arc::clone(batch)).await,
            None => write(&self.db, batch).await.map_err(WriteError::from),
        }
    }
}

impl AuditSink {
    /// Events only, no table.
    pub fn tracing_only() -> Self {
        Self {
            tx: None,
            slots: None,
        }
    }

    /// Events, and rows in `db` (its runtime migrations must have run).
    ///
    /// Records are written in batches by one background task. If the
    /// database cannot take them, they are kept (up to [`MAX_PENDING`])
    /// and retried every [`RETRY`] until it can: an outage delays the
    /// trail, it does not lose it.
    pub fn to_database(db: Db) -> Self {
        Self::to_database_with_queue(db, QUEUE)
    }

    /// Like [`AuditSink::to_database`], with at most about `queue` records
    /// waiting for the writer.
    pub fn to_database_with_queue(db: Db, queue: usize) -> Self {
        let (tx, rx) = mpsc::unbounded_channel::<Msg>();
        let slots = Arc::new(Semaphore::new(queue.max(1)));
        tokio::spawn(writer(db, rx, Arc::clone(&slots)));
        Self {
            tx: Some(tx),
            slots: Some(slots),
        }
    }

    /// Wait until the queue to the writer has room. Transports call this
    /// before handling a request, so a server whose audit trail cannot keep
    /// up slows down instead of growing without bound (and a record is
    /// never dropped to make room). Overshoot is bounded by the requests
    /// already past this point.
    pub async fn ready(&self) {
        if let Some(slots) = &self.slots
            && slots.available_permits() == 0
        {
            drop(slots.acquire().await);
        }
    }

    pub(crate) fn record(&self, r: AuditRecord) {
        // Every decision is a row; on stderr, refusals and failures are
        // `info`, allowed calls `debug` (one line per call is several µs of
        // a call's cost; `RUST_LOG=info,mcpgen::audit=debug` shows them).
        macro_rules! event {
            ($level:expr) => {
                tracing::event!(
                    target: "mcpgen::audit",
                    $level,
                    request_id = %r.request_id,
                    transport = r.transport,
                    subject = %r.subject,
                    client = %r.client,
                    tool = %r.tool,
                    scopes = %r.scopes,
                    decision = r.decision,
                    reason = r.reason,
                    duration_us = r.duration_us,
                    "tools/call"
                )
            };
        }
        if r.decision == "allowed" {
            event!(tracing::Level::DEBUG);
        } else {
            event!(tracing::Level::INFO);
        }
        if let Some(tx) = &self.tx {
            let slot = self
                .slots
                .as_ref()
                .and_then(|s| s.try_acquire().ok())
                .map(tokio::sync::SemaphorePermit::forget)
                .is_some();
            let _ = tx.send(Msg::Record(r, slot));
        }
    }

    /// Wait until every record sent so far is written.
    pub async fn flush(&self) {
        if let Some(tx) = &self.tx {
            let (ack, done) = oneshot::channel();
            if tx.send(Msg::Flush(ack)).is_ok() {
                let _ = done.await;
            }
        }
    }
}

/// A text field as the audit table stores it: at most [`FIELD_CHARS`]
/// characters (longer ones end in `…`), control characters as U+FFFD. The
/// tool name is the caller's own text, recorded before anything checks it:
/// unbounded it would bloat the table, a newline or an escape sequence
/// would forge or garble log lines, and a NUL (which PostgreSQL refuses in
/// text) made the database refuse the whole batch, erasing other callers'
/// records.
pub(crate) fn field(text: &str) -> String {
    // Nearly every field is short and clean: copy it as it is. (At most
    // FIELD_CHARS bytes is at most FIELD_CHARS characters.)
    if text.len() <= FIELD_CHARS && !text.chars().any(char::is_control) {
        return text.to_owned();
    }
    let mut out: String = text
        .chars()
        .take(FIELD_CHARS)
        .map(|c| if c.is_control() { '\u{fffd}' } else { c })
        .collect();
    if text.chars().nth(FIELD_CHARS).is_some() {
        out.pop();
        out.push('…');
    }
    out
}

/// The longest text field stored, in characters.
pub const FIELD_CHARS: usize = 200;

/// Write a batch to PostgreSQL as one statement (so in one transaction).
/// Idempotent: a batch whose acknowledgement was lost (connection cut after
/// the database applied it) is retried, and rows already there are skipped.
///
/// The records go as one parameter, a JSON array of arrays, which the
/// database unpacks: one statement text whatever the batch size, and one
/// value to bind instead of ten per record (sqlx's `Any` driver copies
/// every bound string into an `Arc<String>` before sending it). The
/// unpacking is the database server's work, not this process's.
async fn write(db: &Db, batch: &[AuditRecord]) -> Result<(), sqlx::Error> {
    debug_assert_eq!(db.kind(), DbKind::Postgres);
    let rows: Vec<_> = batch
        .iter()
        .map(|r| {
            (
                r.request_id.as_str(),
                r.at,
                r.transport,
                r.subject.as_str(),
                r.client.as_str(),
                r.tool.as_str(),
                r.scopes.as_str(),
                r.decision,
                r.reason,
                // Both databases store a signed 64-bit integer.
                i64::try_from(r.duration_us).unwrap_or(i64::MAX),
            )
        })
        .collect();
    let json = serde_json::to_string(&rows).map_err(|e| sqlx::Error::Encode(e.into()))?;
    sqlx::query(
        "INSERT INTO mcpgen_audit (request_id, at, transport, subject, client, tool, scopes, decision, reason, duration_us) \
         SELECT r ->> 0, (r ->> 1)::bigint, r ->> 2, r ->> 3, r ->> 4, r ->> 5, r ->> 6, r ->> 7, r ->> 8, (r ->> 9)::bigint \
         FROM jsonb_array_elements($1::jsonb) AS r \
         ON CONFLICT (request_id) DO NOTHING",
    )
    .bind(json)
    .execute(db.pool())
    .await
    .map(drop)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

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
            at: 0,
            transport: "http",
            subject: "alice".into(),
            client: String::new(),
            tool: "t".into(),
            scopes: String::new(),
            decision: "allowed",
            reason: "ok",
            duration_us: 1,
        }
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_stalled_writer_holds_requests_back_and_loses_nothing() {
        let (db, dir) = fresh_db("mcpgen-audit").await;
        // The writer needs SQLite's one writer connection; hold it.
        let blocker = db.pool().acquire().await.unwrap();
        let sink = AuditSink::to_database_with_queue(db.clone(), 20);
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
}
