//! The audit trail: every `tools/call` decision, as a structured `tracing`
//! event and as a row in `mcpgen_audit`, written off the request path in
//! batches by one background task. A call's record is opened when it
//! names a tool and written exactly once (`entry.rs`).

mod entry;
mod postgres;
pub mod query;
mod record;
mod sink;
mod sqlite;
mod tally;
mod verdict;
mod writer;

pub(crate) use entry::Entry;
pub use record::FIELD_CHARS;
pub use sink::{AuditOptions, AuditSink, DEFAULT_RETENTION};
pub use tally::TALLY_WINDOW;
pub(crate) use verdict::Verdict;
pub use writer::{LINGER, MAX_PENDING, QUEUE, RETRY};

#[cfg(test)]
mod tests;
