//! One decision as the audit table stores it, and why storing it can fail.

use crate::store::DbError;

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

/// Why a batch was not written.
#[derive(Debug)]
pub(super) enum WriteError {
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
