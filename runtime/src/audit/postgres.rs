//! The audit writer on PostgreSQL.

use super::record::AuditRecord;
use crate::store::{Db, DbKind};

/// Write a batch to PostgreSQL as one statement (so in one transaction).
/// Idempotent: a batch whose acknowledgement was lost (connection cut after
/// the database applied it) is retried, and rows already there are skipped.
///
/// The records go as one parameter, a JSON array of arrays, which the
/// database unpacks: one statement text whatever the batch size, and one
/// value to bind instead of thirteen per record (sqlx's `Any` driver copies
/// every bound string into an `Arc<String>` before sending it). The
/// unpacking is the database server's work, not this process's.
pub(super) async fn write(db: &Db, batch: &[AuditRecord]) -> Result<(), sqlx::Error> {
    debug_assert_eq!(db.kind(), DbKind::Postgres);
    let rows: Vec<_> = batch
        .iter()
        .map(|r| {
            (
                r.request_id.as_str(),
                r.at,
                r.transport,
                r.subject.as_str(),
                r.client.as_str(),
                r.tool.as_str(),
                r.scopes.as_str(),
                r.decision,
                r.reason,
                // Both databases store a signed 64-bit integer.
                i64::try_from(r.duration_us).unwrap_or(i64::MAX),
                r.peer.as_str(),
                r.credential.as_str(),
                i64::try_from(r.count).unwrap_or(i64::MAX),
            )
        })
        .collect();
    let json = serde_json::to_string(&rows).map_err(|e| sqlx::Error::Encode(e.into()))?;
    sqlx::query(
        "INSERT INTO mcpgen_audit (request_id, at, transport, subject, client, tool, scopes, decision, reason, duration_us, \
                                   peer, credential, count) \
         SELECT r ->> 0, (r ->> 1)::bigint, r ->> 2, r ->> 3, r ->> 4, r ->> 5, r ->> 6, r ->> 7, r ->> 8, (r ->> 9)::bigint, \
                r ->> 10, r ->> 11, (r ->> 12)::bigint \
         FROM jsonb_array_elements($1::jsonb) AS r \
         ON CONFLICT (request_id) DO NOTHING",
    )
    .bind(json)
    .execute(db.pool())
    .await
    .map(drop)
}
