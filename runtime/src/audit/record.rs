//! One decision as the audit table stores it, and why storing it can fail.

use std::sync::OnceLock;
use std::sync::atomic::{AtomicU64, Ordering};

use crate::store::DbError;

/// One decision (or, for grouped refusals, `count` of the same one).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct AuditRecord {
    pub(crate) request_id: String,
    pub(crate) at: i64,
    pub(crate) transport: &'static str,
    /// The peer's address (HTTP), or the transport (`stdio`, `embedded`).
    pub(crate) peer: String,
    /// Which credential: `key:<id>` for an access key, `jwt:<hash>` for a
    /// token (a prefix of the SHA-256 of the token, never the token), or
    /// empty when none was presented.
    pub(crate) credential: String,
    pub(crate) subject: String,
    pub(crate) client: String,
    pub(crate) tool: String,
    pub(crate) scopes: String,
    pub(crate) decision: &'static str,
    pub(crate) reason: &'static str,
    /// How many decisions the record stands for (more than one for a
    /// group of refusals, see `tally.rs`).
    pub(crate) count: u64,
    pub(crate) duration_us: u64,
}

impl AuditRecord {
    /// The record of `count` more refusals like this one, as of now.
    pub(crate) fn repeated(&self, count: u64) -> Self {
        Self {
            request_id: next_request_id(),
            at: crate::store::now(),
            count,
            duration_us: 0,
            ..self.clone()
        }
    }
}

pub(super) static REQUEST_IDS: AtomicU64 = AtomicU64::new(1);

/// This process's random prefix for request ids, so that ids from many
/// instances sharing one audit table never collide.
pub(super) fn instance_prefix() -> &'static str {
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
pub(crate) fn next_request_id() -> String {
    format!(
        "{}-{:016x}",
        instance_prefix(),
        REQUEST_IDS.fetch_add(1, Ordering::Relaxed)
    )
}

/// A text field as the audit table stores it: at most [`FIELD_CHARS`]
/// characters (longer ones end in `…`), control characters as U+FFFD,
/// Unicode format characters (bidirectional overrides, zero-width ones)
/// removed. The tool name is the caller's own text, recorded before
/// anything checks it: unbounded it would bloat the table, a newline, an
/// escape sequence or a right-to-left override would forge or garble log
/// lines, and a NUL (which PostgreSQL refuses in text) made the database
/// refuse the whole batch, erasing other callers' records.
pub(crate) fn field(text: &str) -> String {
    // Nearly every field is short and clean: copy it as it is. (At most
    // FIELD_CHARS bytes is at most FIELD_CHARS characters.)
    let clean = |c: char| !c.is_control() && !is_format(c);
    if text.len() <= FIELD_CHARS && text.chars().all(clean) {
        return text.to_owned();
    }
    let mut out: String = text
        .chars()
        .filter(|&c| !is_format(c))
        .take(FIELD_CHARS)
        .map(|c| if c.is_control() { '\u{fffd}' } else { c })
        .collect();
    if text
        .chars()
        .filter(|&c| !is_format(c))
        .nth(FIELD_CHARS)
        .is_some()
    {
        out.pop();
        out.push('…');
    }
    out
}

/// Unicode's format characters (general category Cf): invisible, and some
/// reorder the text around them.
fn is_format(c: char) -> bool {
    matches!(c as u32,
        0x00AD | 0x0600..=0x0605 | 0x061C | 0x06DD | 0x070F | 0x0890..=0x0891 | 0x08E2
        | 0x180E | 0x200B..=0x200F | 0x202A..=0x202E | 0x2060..=0x2064 | 0x2066..=0x206F
        | 0xFEFF | 0xFFF9..=0xFFFB | 0x110BD | 0x110CD | 0x13430..=0x1343F
        | 0x1BCA0..=0x1BCA3 | 0x1D173..=0x1D17A | 0xE0001 | 0xE0020..=0xE007F)
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
