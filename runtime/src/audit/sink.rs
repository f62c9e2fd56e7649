//! Where audit records go: events always, and rows in the database when
//! one is attached, written by the background writer.

use std::sync::Arc;

use tokio::sync::{Semaphore, mpsc, oneshot};

use super::record::AuditRecord;
use super::writer::{Msg, QUEUE, writer};
use crate::store::Db;

/// Where audit records go.
#[derive(Debug, Clone, Default)]
pub struct AuditSink {
    tx: Option<mpsc::UnboundedSender<Msg>>,
    /// Free places in the queue to the writer; `None` without a writer.
    slots: Option<Arc<Semaphore>>,
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
    /// database cannot take them, they are kept (up to [`MAX_PENDING`](super::MAX_PENDING))
    /// and retried every [`RETRY`](super::RETRY) until it can: an outage delays the
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
