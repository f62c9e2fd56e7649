//! The audit trail: every `tools/call` decision, as a structured `tracing`
//! event and as a row in `mcpgen_audit`, written off the request path in
//! batches by one background task.

use tokio::sync::{mpsc, oneshot};

use crate::db::Db;

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
    Record(AuditRecord),
    Flush(oneshot::Sender<()>),
}

/// Where audit records go.
#[derive(Debug, Clone, Default)]
pub struct AuditSink {
    tx: Option<mpsc::UnboundedSender<Msg>>,
}

impl std::fmt::Debug for Msg {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("audit message")
    }
}

const BATCH: usize = 256;

impl AuditSink {
    /// Events only, no table.
    pub fn tracing_only() -> Self {
        Self { tx: None }
    }

    /// Events, and rows in `db` (its runtime migrations must have run).
    pub fn to_database(db: Db) -> Self {
        let (tx, mut rx) = mpsc::unbounded_channel::<Msg>();
        tokio::spawn(async move {
            let mut batch = Vec::with_capacity(BATCH);
            while let Some(first) = rx.recv().await {
                let mut flushes = Vec::new();
                let mut push = |m: Msg, batch: &mut Vec<AuditRecord>| match m {
                    Msg::Record(r) => batch.push(r),
                    Msg::Flush(ack) => flushes.push(ack),
                };
                push(first, &mut batch);
                while batch.len() < BATCH {
                    match rx.try_recv() {
                        Ok(m) => push(m, &mut batch),
                        Err(_) => break,
                    }
                }
                if !batch.is_empty()
                    && let Err(e) = write(&db, &batch).await
                {
                    tracing::error!(error = %e, records = batch.len(), "cannot write audit records");
                }
                batch.clear();
                for ack in flushes {
                    let _ = ack.send(());
                }
            }
        });
        Self { tx: Some(tx) }
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
            let _ = tx.send(Msg::Record(r));
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

async fn write(db: &Db, batch: &[AuditRecord]) -> Result<(), sqlx::Error> {
    let mut tx = db.pool().begin().await?;
    for r in batch {
        sqlx::query(
            "INSERT INTO mcpgen_audit (request_id, at, transport, subject, client, tool, scopes, decision, reason, duration_us)
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)",
        )
        .bind(&r.request_id)
        .bind(r.at)
        .bind(r.transport)
        .bind(&r.subject)
        .bind(&r.client)
        .bind(&r.tool)
        .bind(&r.scopes)
        .bind(r.decision)
        .bind(r.reason)
        .bind(r.duration_us as i64)
        .execute(&mut *tx)
        .await?;
    }
    tx.commit().await
}
