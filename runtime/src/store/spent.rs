//! Single-use values shared by every instance on one database: a request
//! state's nonce is spent once (`mcpgen_request_states`), so a state
//! answered on one instance cannot be answered again on another.

use std::sync::atomic::{AtomicU64, Ordering};

use super::db::{Db, DbError, now};

/// Spends between two sweeps of expired nonces.
const SWEEP_EVERY: u64 = 256;

static SPENT: AtomicU64 = AtomicU64::new(0);

/// Spend `nonce`, valid until `expires_at` (Unix seconds): `true` the first
/// time, `false` ever after (until it has expired, when nothing accepts it
/// anyway).
pub(crate) async fn spend(db: &Db, nonce: &str, expires_at: i64) -> Result<bool, DbError> {
    if SPENT.fetch_add(1, Ordering::Relaxed) % SWEEP_EVERY == SWEEP_EVERY - 1 {
        sqlx::query("DELETE FROM mcpgen_request_states WHERE expires_at < $1")
            .bind(now())
            .execute(db.pool())
            .await?;
    }
    let done = sqlx::query(
        "INSERT INTO mcpgen_request_states (nonce, expires_at) VALUES ($1, $2)
         ON CONFLICT (nonce) DO NOTHING",
    )
    .bind(nonce)
    .bind(expires_at)
    .execute(db.pool())
    .await?;
    Ok(done.rows_affected() == 1)
}
