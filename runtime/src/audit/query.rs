//! Reading the audit trail back, for the operator page: the newest
//! decisions first, filtered by subject, tool and decision, a page at a
//! time.

use serde::Serialize;
use sqlx::Row as _;

use crate::store::{Db, DbError};

/// Which records to show; an empty field matches everything.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct AuditFilter {
    /// Exactly this subject.
    pub subject: String,
    /// Exactly this tool (or `resource:<uri>`, `prompt:<name>`,
    /// `oauth:<step>`).
    pub tool: String,
    /// `allowed`, `denied` or `failed`.
    pub decision: String,
}

/// One audit record, as stored.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct AuditRow {
    /// The request's id.
    pub request_id: String,
    /// When, Unix seconds.
    pub at: i64,
    /// `http`, `stdio` or `embedded`.
    pub transport: String,
    /// The peer's address.
    pub peer: String,
    /// Which credential (`key:<id>`, `jwt:<hash>`; never a secret).
    pub credential: String,
    /// Who.
    pub subject: String,
    /// Which OAuth client.
    pub client: String,
    /// What was called.
    pub tool: String,
    /// `allowed`, `denied` or `failed`.
    pub decision: String,
    /// Why.
    pub reason: String,
    /// How many like it (refusals are grouped).
    pub count: i64,
    /// How long it took, µs.
    pub duration_us: i64,
}

/// Up to `limit` records matching `filter`, newest first, skipping the
/// first `offset`.
pub async fn recent(
    db: &Db,
    filter: &AuditFilter,
    offset: i64,
    limit: i64,
) -> Result<Vec<AuditRow>, DbError> {
    let some = |s: &str| (!s.is_empty()).then(|| s.to_owned());
    let rows = sqlx::query(
        "SELECT request_id, at, transport, peer, credential, subject, client, tool, decision, reason,
                count, duration_us
         FROM mcpgen_audit
         WHERE ($1 IS NULL OR subject = $1) AND ($2 IS NULL OR tool = $2) AND ($3 IS NULL OR decision = $3)
         ORDER BY at DESC, request_id DESC LIMIT $4 OFFSET $5",
    )
    .bind(some(&filter.subject))
    .bind(some(&filter.tool))
    .bind(some(&filter.decision))
    .bind(limit)
    .bind(offset.max(0))
    .fetch_all(db.pool())
    .await?;
    rows.iter()
        .map(|r| {
            Ok(AuditRow {
                request_id: r.try_get("request_id")?,
                at: r.try_get("at")?,
                transport: r.try_get("transport")?,
                peer: r.try_get("peer")?,
                credential: r.try_get("credential")?,
                subject: r.try_get("subject")?,
                client: r.try_get("client")?,
                tool: r.try_get("tool")?,
                decision: r.try_get("decision")?,
                reason: r.try_get("reason")?,
                count: r.try_get("count")?,
                duration_us: r.try_get("duration_us")?,
            })
        })
        .collect::<Result<_, sqlx::Error>>()
        .map_err(DbError::from)
}
