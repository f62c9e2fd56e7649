//! The audit trail: every `tools/call` decision, as a structured `tracing`
//! event and as a row in `mcpgen_audit`, written off the request path in
//! batches by one background task.

use std::collections::VecDeque;
use std::sync::Arc;

use tokio::sync::{Semaphore, mpsc, oneshot};

use crate::db::{Db, DbKind};

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

const BATCH: usize = 256;
/// Records queued for the writer at most (see [`AuditSink::ready`]).
pub const QUEUE: usize = 65_536;
/// Most records held while the database is unavailable; beyond this the
/// oldest are dropped (and counted in an error event).
pub const MAX_PENDING: usize = 100_000;
/// How often an unavailable database is retried.
pub const RETRY: std::time::Duration = std::time::Duration::from_secs(1);

async fn writer(db: Db, mut rx: mpsc::UnboundedReceiver<Msg>, slots: Arc<Semaphore>) {
    let mut pending: VecDeque<AuditRecord> = VecDeque::new();
    let mut flushes: Vec<oneshot::Sender<()>> = Vec::new();
    let mut failing = false;
    let mut open = true;
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
        let mut take = |m: Msg| match m {
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
            Some(m) => take(m),
            None => open = false,
        }
        while let Ok(m) = rx.try_recv() {
            take(m);
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
            let batch = pending.make_contiguous();
            match write(&db, &batch[..n]).await {
                Ok(()) => {
                    pending.drain(..n);
                    if failing {
                        tracing::info!("audit records are being written again");
                    }
                    failing = false;
                }
                Err(sqlx::Error::Database(e)) => {
                    // The database answered and refused the rows: retrying
                    // the same rows cannot help, and must not hold up the
                    // ones behind them.
                    tracing::error!(error = %e.message(), records = n, "audit records refused by the database");
                    pending.drain(..n);
                }
                Err(e) => {
                    if !failing {
                        tracing::error!(
                            error = %crate::db::DbError::from(e),
                            records = pending.len(),
                            "cannot write audit records; keeping them and retrying"
                        );
                    }
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
        tracing::info!(
            target: "mcpgen::audit",
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
        );
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

/// Rows per `INSERT` statement. SQLite looks each bound parameter up by
/// name in a linear list (sqlx binds `$N` through
/// `sqlite3_bind_parameter_name`), so binding is quadratic in a statement's
/// parameters: a 256-row statement (2,560 parameters) cost the server 44%
/// of its CPU under load. PostgreSQL binds by position.
fn rows_per_statement(kind: DbKind) -> usize {
    match kind {
        DbKind::Sqlite => 16,
        DbKind::Postgres => 256,
    }
}

/// A batch in one transaction of multi-row `INSERT`s, idempotent.
async fn write(db: &Db, batch: &[AuditRecord]) -> Result<(), sqlx::Error> {
    let mut tx = db.pool().begin().await?;
    for rows in batch.chunks(rows_per_statement(db.kind())) {
        insert(&mut tx, rows).await?;
    }
    tx.commit().await
}

async fn insert(
    tx: &mut sqlx::Transaction<'static, sqlx::Any>,
    rows: &[AuditRecord],
) -> Result<(), sqlx::Error> {
    use std::fmt::Write as _;
    const COLUMNS: usize = 10;
    let mut sql = String::from(
        "INSERT INTO mcpgen_audit (request_id, at, transport, subject, client, tool, scopes, decision, reason, duration_us) VALUES ",
    );
    for i in 0..rows.len() {
        let base = i * COLUMNS;
        sql.push_str(if i == 0 { "(" } else { ", (" });
        for c in 1..=COLUMNS {
            let sep = if c == COLUMNS { ")" } else { ", " };
            let _ = write!(sql, "${}{sep}", base + c);
        }
    }
    // A batch whose acknowledgement was lost (connection cut after the
    // database applied it) is retried: rows already there are skipped.
    sql.push_str(" ON CONFLICT (request_id) DO NOTHING");
    let mut query = sqlx::query(sqlx::AssertSqlSafe(sql));
    for r in rows {
        query = query
            .bind(r.request_id.as_str())
            .bind(r.at)
            .bind(r.transport)
            .bind(r.subject.as_str())
            .bind(r.client.as_str())
            .bind(r.tool.as_str())
            .bind(r.scopes.as_str())
            .bind(r.decision)
            .bind(r.reason)
            .bind(r.duration_us as i64);
    }
    query.execute(&mut **tx).await.map(drop)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

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
        let dir = std::env::temp_dir().join(format!("mcpgen-audit-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        let db = Db::open(None, &dir).await.unwrap();
        db.migrate_runtime().await.unwrap();
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
}
