//! One tool call's audit record: opened when a `tools/call` names a tool,
//! written exactly once. [`Entry::close`] consumes the entry; an entry
//! dropped unclosed (the caller went away and the call was cancelled)
//! writes itself as `cancelled`. So no path through a call can forget its
//! record, or write two.

use std::sync::OnceLock;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Instant;

use super::record::{AuditRecord, field};
use super::sink::AuditSink;
use crate::caller::Caller;

/// What happened to a call, as the audit trail records it: a decision
/// (`allowed`, `denied` before the handler ran, `failed` while or after it
/// ran) and its reason.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Verdict {
    /// The handler ran and succeeded.
    Allowed,
    /// Denied: no such tool.
    UnknownTool,
    /// Denied: `arguments` was not an object.
    ArgumentsNotObject,
    /// Denied: no credential for a tool that needs one.
    NoCredential,
    /// Denied: `[clients]` does not give the client this tool.
    ClientNotAllowed,
    /// Denied: a write tool where the environment does not allow writes.
    WritesDisabled,
    /// Denied: the credential lacks the tool's scopes.
    InsufficientScope,
    /// Denied: over a call budget.
    RateLimited,
    /// Denied: the arguments break the input schema.
    InvalidArguments,
    /// Failed: the handler found no such record (or another owner's).
    NotFound,
    /// Failed: a business rule in the handler refused.
    Rejected,
    /// Failed: the handler refused the arguments.
    HandlerInvalidArguments,
    /// Failed inside the server.
    InternalError,
    /// Failed: the handler panicked.
    Panicked,
    /// Failed: the handler overran its timeout.
    Timeout,
    /// Failed: the database could not be used; nothing was changed.
    DatabaseUnavailable,
    /// Failed: the commit failed in flight; its outcome is unknown.
    CommitFailed,
    /// Failed: the caller went away and the call was stopped.
    Cancelled,
}

impl Verdict {
    /// `allowed`, `denied` or `failed`.
    pub(crate) fn decision(self) -> &'static str {
        use Verdict::*;
        match self {
            Allowed => "allowed",
            UnknownTool | ArgumentsNotObject | NoCredential | ClientNotAllowed | WritesDisabled
            | InsufficientScope | RateLimited | InvalidArguments => "denied",
            NotFound
            | Rejected
            | HandlerInvalidArguments
            | InternalError
            | Panicked
            | Timeout
            | DatabaseUnavailable
            | CommitFailed
            | Cancelled => "failed",
        }
    }

    /// The reason, in words.
    pub(crate) fn reason(self) -> &'static str {
        use Verdict::*;
        match self {
            Allowed => "ok",
            UnknownTool => "unknown tool",
            ArgumentsNotObject => "arguments not an object",
            NoCredential => "no credential",
            ClientNotAllowed => "client not allowed",
            WritesDisabled => "writes disabled",
            InsufficientScope => "insufficient scope",
            RateLimited => "rate limited",
            InvalidArguments | HandlerInvalidArguments => "invalid arguments",
            NotFound => "not found",
            Rejected => "rejected",
            InternalError => "internal error",
            Panicked => "panicked",
            Timeout => "timeout",
            DatabaseUnavailable => "database unavailable",
            CommitFailed => "commit failed",
            Cancelled => "cancelled",
        }
    }
}

/// A call's record, from the moment it names a tool until it is closed.
#[derive(Debug)]
pub(crate) struct Entry {
    sink: AuditSink,
    request_id: String,
    transport: &'static str,
    subject: String,
    client: String,
    tool: String,
    scopes: String,
    started: Instant,
    closed: bool,
}

impl AuditSink {
    /// Open the record of a call of `tool` (as the caller wrote it) by
    /// `caller` over `transport`.
    pub(crate) fn open(
        &self,
        transport: &'static str,
        tool: &str,
        caller: Option<&Caller>,
    ) -> Entry {
        Entry {
            sink: self.clone(),
            request_id: next_request_id(),
            transport,
            tool: field(tool),
            subject: caller.map_or_else(String::new, |c| field(c.subject())),
            client: field(caller.and_then(Caller::client_id).unwrap_or_default()),
            scopes: String::new(),
            started: Instant::now(),
            closed: false,
        }
    }
}

impl Entry {
    /// Record the scopes of the tool being called.
    pub(crate) fn scopes(&mut self, scopes: &[impl AsRef<str>]) {
        self.scopes = scopes
            .iter()
            .map(AsRef::as_ref)
            .collect::<Vec<_>>()
            .join(" ");
    }

    /// Write the record with its verdict. The entry's fields move into the
    /// record instead of being copied.
    pub(crate) fn close(mut self, verdict: Verdict) {
        self.write(verdict);
    }

    fn write(&mut self, verdict: Verdict) {
        self.closed = true;
        self.sink.record(AuditRecord {
            request_id: std::mem::take(&mut self.request_id),
            at: crate::store::now(),
            transport: self.transport,
            subject: std::mem::take(&mut self.subject),
            client: std::mem::take(&mut self.client),
            tool: std::mem::take(&mut self.tool),
            scopes: std::mem::take(&mut self.scopes),
            decision: verdict.decision(),
            reason: verdict.reason(),
            duration_us: self.started.elapsed().as_micros() as u64,
        });
    }
}

impl Drop for Entry {
    fn drop(&mut self) {
        if !self.closed {
            self.write(Verdict::Cancelled);
        }
    }
}

static REQUEST_IDS: AtomicU64 = AtomicU64::new(1);

/// This process's random prefix for request ids, so that ids from many
/// instances sharing one audit table never collide.
fn instance_prefix() -> &'static str {
    static PREFIX: OnceLock<String> = OnceLock::new();
    PREFIX.get_or_init(|| {
        let mut b = [0u8; 6];
        let _ = aws_lc_rs::rand::fill(&mut b);
        b.iter().map(|x| format!("{x:02x}")).collect()
    })
}

/// This instance's next request id: its random prefix, then a counter of
/// fixed width, so an instance's ids sort in the order they were issued and
/// each audit row lands at the end of the table's primary-key index (with
/// a plain decimal counter, `-10` sorted before `-9`: rows went all over
/// the index, and under load its pages filled the writer's page cache).
fn next_request_id() -> String {
    format!(
        "{}-{:016x}",
        instance_prefix(),
        REQUEST_IDS.fetch_add(1, Ordering::Relaxed)
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn request_ids_sort_in_the_order_they_were_issued() {
        // Across a change in the number of digits too (the tests of this
        // process issue far fewer ids).
        REQUEST_IDS.fetch_max(10_000_000 - 32, Ordering::Relaxed);
        let ids: Vec<String> = (0..64).map(|_| next_request_id()).collect();
        let mut sorted = ids.clone();
        sorted.sort();
        assert_eq!(sorted, ids);
        assert!(ids.iter().all(|id| id.starts_with(instance_prefix())));
    }
}
