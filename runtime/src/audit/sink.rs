//! Where audit records go: events always, and rows in the database when
//! one is attached, written by the background writer.

use std::sync::Arc;
use std::time::Duration;

use tokio::sync::{Semaphore, mpsc, oneshot};

use super::record::{AuditRecord, next_request_id};
use super::tally::Tally;
use super::verdict::Verdict;
use super::writer::{Msg, Progress, QUEUE, writer};
use crate::store::Db;

/// How the audit trail is kept in the database.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AuditOptions {
    /// Records queued for the writer at most (see [`AuditSink::ready`]).
    pub queue: usize,
    /// How long a record is kept: older ones are deleted by a task of the
    /// server's own, every `prune_every`. `None` keeps them forever.
    pub retention: Option<Duration>,
    /// How often old records are deleted.
    pub prune_every: Duration,
}

/// How long audit records are kept unless configured otherwise.
pub const DEFAULT_RETENTION: Duration = Duration::from_secs(90 * 24 * 3600);

impl Default for AuditOptions {
    fn default() -> Self {
        Self {
            queue: QUEUE,
            retention: Some(DEFAULT_RETENTION),
            prune_every: Duration::from_secs(3600),
        }
    }
}

/// Delete records older than `retention`, now and every `every`. Many
/// instances on one database may all do it: each deletes what is left.
async fn prune(db: Db, retention: Duration, every: Duration) {
    let mut tick = tokio::time::interval(every);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tick.tick().await;
        let keep = i64::try_from(retention.as_secs()).unwrap_or(i64::MAX);
        let before = crate::store::now().saturating_sub(keep);
        match db.prune_audit(before).await {
            Ok(0) => {}
            Ok(n) => tracing::info!(records = n, "deleted audit records past their retention"),
            Err(e) => tracing::warn!(error = %e, "cannot delete old audit records now"),
        }
    }
}

/// Where audit records go.
#[derive(Debug, Clone, Default)]
pub struct AuditSink {
    tx: Option<mpsc::UnboundedSender<Msg>>,
    /// Free places in the queue to the writer; `None` without a writer.
    slots: Option<Arc<Semaphore>>,
    /// Refusals being counted.
    tally: Arc<Tally>,
    /// What the writer has been sent and has done.
    progress: Arc<Progress>,
}

impl AuditSink {
    /// Events only, no table.
    pub fn tracing_only() -> Self {
        Self::default()
    }

    /// Events, and rows in `db` (its runtime migrations must have run),
    /// with the default [`AuditOptions`].
    ///
    /// Records are written in batches by one background task. If the
    /// database cannot take them, they are kept (up to [`MAX_PENDING`](super::MAX_PENDING))
    /// and retried every [`RETRY`](super::RETRY) until it can: an outage delays the
    /// trail, it does not lose it.
    pub fn to_database(db: Db) -> Self {
        Self::to_database_with(db, AuditOptions::default())
    }

    /// Like [`AuditSink::to_database`], with `options`.
    pub fn to_database_with(db: Db, options: AuditOptions) -> Self {
        let (tx, rx) = mpsc::unbounded_channel::<Msg>();
        let slots = Arc::new(Semaphore::new(options.queue.max(1)));
        if let Some(retention) = options.retention {
            tokio::spawn(prune(db.clone(), retention, options.prune_every));
        }
        let progress = Arc::new(Progress::default());
        tokio::spawn(writer(db, rx, Arc::clone(&slots), Arc::clone(&progress)));
        Self {
            tx: Some(tx),
            slots: Some(slots),
            tally: Arc::default(),
            progress,
        }
    }

    /// Records accepted and not yet written to the database (0 without
    /// one).
    pub fn queued(&self) -> usize {
        self.progress.queued()
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

    /// A refusal before any tool ran: counted with those like it, the
    /// first of a window written now (`tally.rs`).
    pub(crate) fn refusal(&self, r: AuditRecord, grouped_by_credential: bool) {
        // Counted now, written grouped.
        crate::telemetry::decision(r.decision, r.reason, 1);
        let (first, spilled) = self.tally.count(r, grouped_by_credential);
        for r in first.into_iter().chain(spilled) {
            self.write(r);
        }
        let sink = self.clone();
        self.tally.tick(move |r| sink.write(r));
    }

    /// A request refused before it named a tool (its credential, its
    /// peer's budget): a refusal like any other.
    pub(crate) fn refused(
        &self,
        transport: &'static str,
        peer: &str,
        credential: String,
        verdict: Verdict,
    ) {
        let r = AuditRecord {
            request_id: next_request_id(),
            at: crate::store::now(),
            transport,
            peer: peer.to_owned(),
            credential,
            subject: String::new(),
            client: String::new(),
            tool: String::new(),
            scopes: String::new(),
            decision: verdict.decision(),
            reason: verdict.reason(),
            count: 1,
            duration_us: 0,
        };
        self.refusal(r, false);
    }

    /// Record a step of the built-in authorization server (`step` such as
    /// `oauth:token`): `Ok(what)` for an issuance, `Err(why)` for a
    /// refusal, with the OAuth error code as the reason. Never a secret:
    /// only the subject, the client id and the scopes.
    pub(crate) fn authorization(
        &self,
        step: &'static str,
        outcome: Result<&'static str, &'static str>,
        peer: &str,
        subject: &str,
        client: &str,
        scopes: &str,
    ) {
        let (decision, reason) = match outcome {
            Ok(what) => ("allowed", what),
            Err(why) => ("denied", why),
        };
        self.record(AuditRecord {
            request_id: next_request_id(),
            at: crate::store::now(),
            transport: "http",
            peer: peer.to_owned(),
            credential: String::new(),
            subject: super::record::field(subject),
            client: super::record::field(client),
            tool: step.to_owned(),
            scopes: super::record::field(scopes),
            decision,
            reason,
            count: 1,
            duration_us: 0,
        });
    }

    /// Record a decision that is not grouped: counted and written.
    pub(crate) fn record(&self, r: AuditRecord) {
        crate::telemetry::decision(r.decision, r.reason, r.count);
        self.write(r);
    }

    /// Write a record (already counted).
    fn write(&self, r: AuditRecord) {
        // Every decision is a row; on stderr, refusals and failures are
        // `info`, allowed calls `debug` (one line per call is several µs of
        // a call's cost; `RUST_LOG=info,mcpgen::audit=debug` shows them).
        // Text fields are written quoted and escaped (`?`), so a tool name
        // cannot pass for another field.
        macro_rules! event {
            ($level:expr) => {
                tracing::event!(
                    target: "mcpgen::audit",
                    $level,
                    request_id = %r.request_id,
                    transport = r.transport,
                    peer = ?r.peer,
                    credential = ?r.credential,
                    subject = ?r.subject,
                    client = ?r.client,
                    tool = ?r.tool,
                    scopes = ?r.scopes,
                    decision = r.decision,
                    reason = r.reason,
                    count = r.count,
                    duration_us = r.duration_us,
                    "decision"
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
            if tx.send(Msg::Record(r, slot)).is_ok() {
                self.progress
                    .sent
                    .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
            }
        }
    }

    /// Wait until every record sent so far is written, the refusals
    /// still being counted included.
    pub async fn flush(&self) {
        for r in self.tally.close_all() {
            self.write(r);
        }
        if let Some(tx) = &self.tx {
            let (ack, done) = oneshot::channel();
            if tx.send(Msg::Flush(ack)).is_ok() {
                let _ = done.await;
            }
        }
    }
}
