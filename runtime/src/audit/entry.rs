//! One tool call's audit record: opened when a `tools/call` names a tool,
//! written exactly once. [`Entry::close`] consumes the entry; an entry
//! dropped unclosed (the caller went away and the call was cancelled)
//! writes itself as `cancelled`. So no path through a call can forget its
//! record, or write two.

use std::time::Instant;

use super::record::{AuditRecord, field, next_request_id};
use super::sink::AuditSink;
use super::verdict::Verdict;
use crate::caller::Caller;

/// A call's record, from the moment it names a tool until it is closed.
#[derive(Debug)]
pub(crate) struct Entry {
    sink: AuditSink,
    request_id: String,
    transport: &'static str,
    peer: String,
    credential: String,
    subject: String,
    client: String,
    tool: String,
    scopes: String,
    started: Instant,
    closed: bool,
}

impl AuditSink {
    /// Open the record of a call of `tool` (as the caller wrote it) by
    /// `caller` from `peer` over `transport`.
    pub(crate) fn open(
        &self,
        transport: &'static str,
        peer: &str,
        tool: &str,
        caller: Option<&Caller>,
    ) -> Entry {
        Entry {
            sink: self.clone(),
            request_id: next_request_id(),
            transport,
            peer: peer.to_owned(),
            credential: caller.map_or_else(String::new, |c| c.reference().to_owned()),
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

    /// Write a record of one step of the call (a confirmation accepted)
    /// now, under a request id of its own; the entry stays open for the
    /// call's outcome.
    pub(crate) fn step(&self, verdict: Verdict) {
        Entry {
            sink: self.sink.clone(),
            request_id: next_request_id(),
            transport: self.transport,
            peer: self.peer.clone(),
            credential: self.credential.clone(),
            subject: self.subject.clone(),
            client: self.client.clone(),
            tool: self.tool.clone(),
            scopes: self.scopes.clone(),
            started: self.started,
            closed: false,
        }
        .close(verdict);
    }

    /// Write the record with its verdict. The entry's fields move into the
    /// record instead of being copied.
    pub(crate) fn close(mut self, verdict: Verdict) {
        self.write(verdict);
    }

    fn write(&mut self, verdict: Verdict) {
        self.closed = true;
        if crate::telemetry::enabled() {
            let (method, tool) = match self.tool.split_once(':') {
                Some(("resource", _)) => ("resources/read", ""),
                Some(("prompt", _)) => ("prompts/get", ""),
                _ if self.tool == "completion/complete" => ("completion/complete", ""),
                // Only a tool of the registry is a label.
                _ if verdict == Verdict::UnknownTool => ("tools/call", ""),
                _ => ("tools/call", self.tool.as_str()),
            };
            crate::telemetry::operation(Some(self.started), method, tool, verdict.decision());
        }
        let record = AuditRecord {
            request_id: std::mem::take(&mut self.request_id),
            at: crate::store::now(),
            transport: self.transport,
            peer: std::mem::take(&mut self.peer),
            credential: std::mem::take(&mut self.credential),
            subject: std::mem::take(&mut self.subject),
            client: std::mem::take(&mut self.client),
            tool: std::mem::take(&mut self.tool),
            scopes: std::mem::take(&mut self.scopes),
            decision: verdict.decision(),
            reason: verdict.reason(),
            count: 1,
            duration_us: self.started.elapsed().as_micros() as u64,
        };
        if verdict.is_refusal() {
            // An accepted credential's refusals are grouped apart from
            // other credentials' (its subject is in the record).
            let by_credential = !record.subject.is_empty();
            self.sink.refusal(record, by_credential);
        } else {
            self.sink.record(record);
        }
    }
}

impl Drop for Entry {
    fn drop(&mut self) {
        if !self.closed {
            self.write(Verdict::Cancelled);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::super::record::{REQUEST_IDS, instance_prefix};
    use super::*;
    use std::sync::atomic::Ordering;

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
