//! Access keys: high-entropy secrets issued by this server, shown once,
//! stored as SHA-256 hashes, bound to an owner, scopes, an optional client
//! label and an optional expiry.
//!
//! Format: `mcpk_<id>_<secret>`: `id` (16 hex digits) finds the row,
//! `secret` (32 random bytes, base64url) is compared in constant time with
//! the stored hash. SHA-256 suffices because the secret has 256 bits of
//! entropy: there is nothing to brute-force.

use aws_lc_rs::{constant_time, digest, rand};
use base64::Engine as _;
use serde::Serialize;
use sqlx::Row as _;

use super::authenticator::AuthError;
use crate::caller::{AuthMethod, Caller};
use crate::store::{Db, DbError, now};

/// Every access key starts with this.
pub const PREFIX: &str = "mcpk_";
const ID_LEN: usize = 16;
const SECRET_LEN: usize = 43;
/// `last_used_at` is written at most this often per key.
const LAST_USED_GRANULARITY: i64 = 60;

/// Why a key could not be created.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum KeyError {
    /// The scope is not declared in the manifest (nor the runtime's
    /// admin scope).
    #[error(
        "unknown scope `{scope}`: declared scopes are {declared} (and the admin listener's mcpgen:admin)"
    )]
    UnknownScope {
        /// The scope asked for.
        scope: String,
        /// What the manifest declares.
        declared: String,
    },
    /// The owner is empty or has control characters.
    #[error("the owner must be a non-empty subject without spaces or control characters")]
    InvalidOwner,
    /// Storage failed.
    #[error(transparent)]
    Db(#[from] DbError),
}

/// A key just created: the only time its secret is visible.
#[derive(Debug, Clone, Serialize)]
pub struct NewKey {
    /// The key's id (not secret).
    pub id: String,
    /// The whole key, to hand to the client. Shown once.
    pub key: String,
    /// The subject it acts as.
    pub owner: String,
    /// Granted scopes.
    pub scopes: Vec<String>,
    /// Client label.
    pub client: Option<String>,
    /// Expiry, Unix seconds.
    pub expires_at: Option<i64>,
}

/// A stored key, as listed: never its secret or hash.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct KeyInfo {
    /// The key's id.
    pub id: String,
    /// The subject it acts as.
    pub owner: String,
    /// Granted scopes.
    pub scopes: Vec<String>,
    /// Client label.
    pub client: Option<String>,
    /// Creation time, Unix seconds.
    pub created_at: i64,
    /// Expiry, Unix seconds.
    pub expires_at: Option<i64>,
    /// Revocation time, Unix seconds.
    pub revoked_at: Option<i64>,
    /// Last successful use, Unix seconds (to the minute).
    pub last_used_at: Option<i64>,
}

/// The access-key store.
#[derive(Debug, Clone)]
pub struct AccessKeys {
    db: Db,
    declared: Vec<String>,
}

pub(crate) fn sha256_hex(secret: &str) -> String {
    digest::digest(&digest::SHA256, secret.as_bytes())
        .as_ref()
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

fn random_bytes<const N: usize>() -> [u8; N] {
    let mut buf = [0u8; N];
    // The system RNG failing is unrecoverable: no key may be made without it.
    rand::fill(&mut buf).expect("the system random number generator is unavailable");
    buf
}

/// `(id, secret)` of a well-formed key, without touching storage.
fn parse(key: &str) -> Option<(&str, &str)> {
    let rest = key.strip_prefix(PREFIX)?;
    let (id, secret) = rest.split_once('_')?;
    let ok = id.len() == ID_LEN
        && id
            .bytes()
            .all(|b| b.is_ascii_hexdigit() && !b.is_ascii_uppercase())
        && secret.len() == SECRET_LEN
        && secret
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_');
    ok.then_some((id, secret))
}

impl AccessKeys {
    /// Keys in `db`, limited to the manifest's `declared` scopes.
    pub fn new(db: Db, declared: impl IntoIterator<Item = impl Into<String>>) -> Self {
        Self {
            db,
            declared: declared.into_iter().map(Into::into).collect(),
        }
    }

    /// Create a key for `owner` with `scopes`, optionally labelled with a
    /// client and expiring after `ttl_secs`.
    pub async fn create(
        &self,
        owner: &str,
        scopes: &[String],
        client: Option<&str>,
        ttl_secs: Option<i64>,
    ) -> Result<NewKey, KeyError> {
        if owner.is_empty() || owner.chars().any(|c| c.is_control() || c.is_whitespace()) {
            return Err(KeyError::InvalidOwner);
        }
        let mut scopes: Vec<String> = scopes.iter().filter(|s| !s.is_empty()).cloned().collect();
        scopes.sort();
        scopes.dedup();
        for s in &scopes {
            // The admin scope is the runtime's own: no manifest declares it.
            if !self.declared.contains(s) && s != mcpgen_spec::ADMIN_SCOPE {
                return Err(KeyError::UnknownScope {
                    scope: s.clone(),
                    declared: self.declared.join(", "),
                });
            }
        }
        let id: String = random_bytes::<8>()
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect();
        let secret = base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(random_bytes::<32>());
        let created_at = now();
        let expires_at = ttl_secs.map(|t| created_at.saturating_add(t));
        sqlx::query(
            "INSERT INTO mcpgen_access_keys (id, secret_hash, owner, scopes, client, created_at, expires_at)
             VALUES ($1, $2, $3, $4, $5, $6, $7)",
        )
        .bind(&id)
        .bind(sha256_hex(&secret))
        .bind(owner)
        .bind(scopes.join(" "))
        .bind(client)
        .bind(created_at)
        .bind(expires_at)
        .execute(self.db.pool())
        .await
        .map_err(DbError::from)?;
        Ok(NewKey {
            key: format!("{PREFIX}{id}_{secret}"),
            id,
            owner: owner.to_owned(),
            scopes,
            client: client.map(str::to_owned),
            expires_at,
        })
    }

    /// Revoke a key by id. `false` if there is no such unrevoked key. On
    /// PostgreSQL the revocation is announced to every instance when it
    /// commits (`store::notify`), so each drops the key from its cache at
    /// once; otherwise a cached key works on for at most the cache's
    /// `key_ttl`.
    pub async fn revoke(&self, id: &str) -> Result<bool, DbError> {
        let mut tx = self.db.pool().begin().await?;
        let done = sqlx::query(
            "UPDATE mcpgen_access_keys SET revoked_at = $1 WHERE id = $2 AND revoked_at IS NULL",
        )
        .bind(now())
        .bind(id)
        .execute(&mut *tx)
        .await?;
        let revoked = done.rows_affected() == 1;
        if revoked {
            crate::store::notify::announce(self.db.kind(), &mut tx, &format!("key:{id}")).await?;
        }
        tx.commit().await?;
        Ok(revoked)
    }

    /// Whether the key `id` exists, is not revoked and has not expired.
    pub async fn is_active(&self, id: &str) -> Result<bool, DbError> {
        let row = sqlx::query(
            "SELECT 1 AS live FROM mcpgen_access_keys
             WHERE id = $1 AND revoked_at IS NULL AND (expires_at IS NULL OR expires_at > $2)",
        )
        .bind(id)
        .bind(now())
        .fetch_optional(self.db.pool())
        .await?;
        Ok(row.is_some())
    }

    /// Every key (of `owner`, if given), newest first. Never secrets.
    pub async fn list(&self, owner: Option<&str>) -> Result<Vec<KeyInfo>, DbError> {
        let rows = sqlx::query(
            "SELECT id, owner, scopes, client, created_at, expires_at, revoked_at, last_used_at
             FROM mcpgen_access_keys WHERE ($1 IS NULL OR owner = $1) ORDER BY created_at DESC, id",
        )
        .bind(owner)
        .fetch_all(self.db.pool())
        .await?;
        rows.iter()
            .map(|r| {
                Ok(KeyInfo {
                    id: r.try_get("id")?,
                    owner: r.try_get("owner")?,
                    scopes: r
                        .try_get::<String, _>("scopes")?
                        .split_whitespace()
                        .map(str::to_owned)
                        .collect(),
                    client: r.try_get("client")?,
                    created_at: r.try_get("created_at")?,
                    expires_at: r.try_get("expires_at")?,
                    revoked_at: r.try_get("revoked_at")?,
                    last_used_at: r.try_get("last_used_at")?,
                })
            })
            .collect::<Result<_, sqlx::Error>>()
            .map_err(DbError::from)
    }

    /// Verify a presented key. Unknown, malformed, revoked and expired keys
    /// all fail the same way; a database failure fails closed.
    pub async fn verify(&self, key: &str) -> Result<Caller, AuthError> {
        let Some((id, secret)) = parse(key) else {
            return Err(AuthError::InvalidToken);
        };
        let row = sqlx::query(
            "SELECT secret_hash, owner, scopes, client, expires_at, revoked_at, last_used_at
             FROM mcpgen_access_keys WHERE id = $1",
        )
        .bind(id)
        .fetch_optional(self.db.pool())
        .await
        .map_err(|_| AuthError::Unavailable)?;
        let presented = sha256_hex(secret);
        let Some(row) = row else {
            // Same work as a hit, so timing does not tell ids apart.
            let _ = constant_time::verify_slices_are_equal(presented.as_bytes(), &[0u8; 64]);
            return Err(AuthError::InvalidToken);
        };
        let field = |e: sqlx::Error| {
            tracing::error!(error = %DbError::from(e), "unreadable access key row");
            AuthError::Unavailable
        };
        let stored: String = row.try_get("secret_hash").map_err(field)?;
        let matches =
            constant_time::verify_slices_are_equal(presented.as_bytes(), stored.as_bytes()).is_ok();
        let revoked: Option<i64> = row.try_get("revoked_at").map_err(field)?;
        let expires: Option<i64> = row.try_get("expires_at").map_err(field)?;
        let now = now();
        if !matches || revoked.is_some() || expires.is_some_and(|e| e <= now) {
            return Err(AuthError::InvalidToken);
        }
        let last_used: Option<i64> = row.try_get("last_used_at").map_err(field)?;
        if last_used.is_none_or(|t| now - t >= LAST_USED_GRANULARITY) {
            // Best effort: a failed bookkeeping write does not deny the call.
            let _ = sqlx::query("UPDATE mcpgen_access_keys SET last_used_at = $1 WHERE id = $2")
                .bind(now)
                .bind(id)
                .execute(self.db.pool())
                .await;
        }
        let owner: String = row.try_get("owner").map_err(field)?;
        let scopes: String = row.try_get("scopes").map_err(field)?;
        let client: Option<String> = row.try_get("client").map_err(field)?;
        Ok(
            Caller::new(owner, scopes.split_whitespace(), client).with_credential(
                AuthMethod::AccessKey,
                Some(id.to_owned()),
                expires,
            ),
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_well_formed_keys_reach_storage() {
        let secret = "A".repeat(43);
        assert!(parse(&format!("mcpk_0123456789abcdef_{secret}")).is_some());
        for bad in [
            String::new(),
            format!("mcpk_0123456789ABCDEF_{secret}"),
            format!("mcpk_0123456789abcde_{secret}"),
            format!("mcpk_0123456789abcdef_{}", "A".repeat(42)),
            format!("mcpk_0123456789abcdef_{}!", "A".repeat(42)),
            format!("mcpx_0123456789abcdef_{secret}"),
            "mcpk_' OR 1=1 --".to_owned(),
        ] {
            assert!(parse(&bad).is_none(), "{bad}");
        }
    }
}
