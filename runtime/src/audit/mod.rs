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
mod tests;
