//! Secrets every instance on one database shares (signing and session
//! keys), kept in `mcpgen_oauth_secrets`: whoever starts first stores one,
//! and everyone reads the one stored.

use sqlx::Row as _;

use super::db::{Db, DbError, now};

/// The secret called `name`: the one stored, or `fresh` stored now if there
/// was none. Instances starting together agree on one.
pub(crate) async fn shared_secret(db: &Db, name: &str, fresh: String) -> Result<String, DbError> {
    sqlx::query(
        "INSERT INTO mcpgen_oauth_secrets (name, value, created_at) VALUES ($1, $2, $3)
         ON CONFLICT (name) DO NOTHING",
    )
    .bind(name)
    .bind(&fresh)
    .bind(now())
    .execute(db.pool())
    .await?;
    let row = sqlx::query("SELECT value FROM mcpgen_oauth_secrets WHERE name = $1")
        .bind(name)
        .fetch_one(db.pool())
        .await?;
    Ok(row.try_get("value")?)
}
