//! The audit trail: every `tools/call` decision, as a structured `tracing`
//! event and as a row in `mcpgen_audit`, written off the request path in
//! batches by one background task. A call's record is opened when it
//! names a tool and written exactly once (`entry.rs`).

mod entry;
mod postgres;
mod record;
mod sink;
mod sqlite;
mod writer;

pub(crate) use entry::{Entry, Verdict};
pub use record::FIELD_CHARS;
pub use sink::AuditSink;
pub use writer::{LINGER, MAX_PENDING, QUEUE, RETRY};

#[cfg(test)]
mod tests;
