//! The background task that writes audit records in batches, and keeps
//! them through a database outage.

use std::collections::VecDeque;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use tokio::sync::{Semaphore, mpsc, oneshot};

use super::record::{AuditRecord, WriteError};
use super::{postgres, sqlite};
use crate::store::Db;

/// What the sink sends the writer.
// Records are nearly all the traffic and flushes are rare: boxing every
// record (an allocation per call) to shrink the rare flush is no gain.
#[allow(clippy::large_enum_variant)]
pub(super) enum Msg {
    /// A record, and whether it holds one of the queue's slots.
    Record(AuditRecord, bool),
    Flush(oneshot::Sender<()>),
    Tick,
}

impl std::fmt::Debug for Msg {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("audit message")
    }
}

/// Records written in one transaction at most.
const BATCH: usize = 1024;
/// Records queued for the writer at most (see
/// [`AuditSink::ready`](super::AuditSink::ready)).
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

/// Records sent to the writer, and records it is done with (written,
/// refused by the database, or dropped): their difference is the queue.
#[derive(Debug, Default)]
pub(super) struct Progress {
    pub(super) sent: AtomicUsize,
    pub(super) done: AtomicUsize,
}

impl Progress {
    /// Records accepted and not yet written.
    pub(super) fn queued(&self) -> usize {
        let done = self.done.load(Ordering::Relaxed);
        self.sent.load(Ordering::Relaxed).saturating_sub(done)
    }

    fn finished(&self, n: usize) {
        self.done.fetch_add(n, Ordering::Relaxed);
    }
}

pub(super) async fn writer(
    db: Db,
    mut rx: mpsc::UnboundedReceiver<Msg>,
    slots: Arc<Semaphore>,
    progress: Arc<Progress>,
) {
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
            progress.finished(lost);
            tracing::error!(
                records = lost,
                "audit backlog full: dropped the oldest records"
            );
        }
        while !pending.is_empty() {
            let n = pending.len().min(BATCH);
            let batch = Arc::new(pending.drain(..n).collect::<Vec<_>>());
            let started = std::time::Instant::now();
            let result = target.write(&batch).await;
            last_write = std::time::Instant::now();
            crate::telemetry::audit_write(last_write - started);
            match result {
                Ok(()) => {
                    progress.finished(n);
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
                            Ok(()) => progress.finished(1),
                            Err(WriteError::Refused(message)) => {
                                progress.finished(1);
                                tracing::error!(
                                    error = %message,
                                    request_id = %one[0].request_id,
                                    "audit record refused by the database"
                                );
                            }
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
                    progress.finished(n);
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

/// Where the writer puts batches: an SQLite file through its own
/// connection (`sqlite.rs`), PostgreSQL through the pool.
pub(super) struct Target {
    db: Db,
    pub(super) sqlite: Option<sqlite::SqliteWriter>,
}

impl Target {
    pub(super) fn new(db: Db) -> Self {
        let sqlite = db
            .sqlite_path()
            .map(|path| sqlite::SqliteWriter::new(std::path::Path::new(path)));
        Self { db, sqlite }
    }

    pub(super) async fn write(&mut self, batch: &Arc<Vec<AuditRecord>>) -> Result<(), WriteError> {
        match &mut self.sqlite {
            Some(sqlite) => sqlite.write(&self.db, Arc::clone(batch)).await,
            None => postgres::write(&self.db, batch)
                .await
                .map_err(WriteError::from),
        }
    }
}
