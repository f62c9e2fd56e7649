//! What the built-in authorization server keeps in the database: its
//! secrets (shared by every instance on the database), registered clients,
//! authorization codes, refresh-token families and each person's grants.
//! Codes, refresh tokens and client secrets are stored as SHA-256 hashes:
//! each is 256 random bits, so there is nothing to brute-force.

use sqlx::Row as _;

use crate::auth::keys::sha256_hex;
use crate::store::{Db, DbError, now};

/// A registered client (Dynamic Client Registration).
#[derive(Debug, Clone)]
pub(crate) struct StoredClient {
    pub(crate) secret_hash: Option<String>,
    pub(crate) name: String,
    pub(crate) redirect_uris: Vec<String>,
    pub(crate) auth_method: String,
}

/// An authorization code, once redeemed.
#[derive(Debug, Clone)]
pub(crate) struct Code {
    pub(crate) family: String,
    pub(crate) client_id: String,
    pub(crate) redirect_uri: String,
    pub(crate) subject: String,
    pub(crate) key_id: Option<String>,
    pub(crate) scopes: String,
    pub(crate) challenge: String,
    pub(crate) resource: String,
    pub(crate) expires_at: i64,
}

/// What redeeming a code found.
pub(crate) enum Redeemed {
    /// The code, now spent.
    Fresh(Code),
    /// The code was spent before: its family has been revoked.
    Reused,
    /// No such code.
    Unknown,
}

/// A refresh token, once rotated.
#[derive(Debug, Clone)]
pub(crate) struct Refresh {
    pub(crate) family: String,
    pub(crate) client_id: String,
    pub(crate) subject: String,
    pub(crate) key_id: Option<String>,
    pub(crate) scopes: String,
    pub(crate) resource: String,
}

/// What rotating a refresh token found.
pub(crate) enum Rotated {
    /// The token, now spent; `key_scopes` are the scopes its access key
    /// grants today (`None` for a development sign-in).
    Fresh(Refresh, Option<String>),
    /// The token was spent or revoked before: its family is revoked now.
    Reused,
    /// Unknown, expired, or its access key is revoked or expired.
    Invalid,
}

/// A client the authorization server knows, as the operator page lists it.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct ClientRow {
    /// The client id (an https URL for a metadata document).
    pub client_id: String,
    /// Its name.
    pub name: String,
    /// Where it may be sent back to.
    pub redirect_uris: Vec<String>,
    /// How it authenticates at the token endpoint.
    pub auth_method: String,
    /// When it was registered or first fetched, Unix seconds.
    pub created_at: i64,
    /// When it was last used, Unix seconds.
    pub last_used_at: i64,
}

/// The authorization server's tables.
#[derive(Debug, Clone)]
pub(crate) struct OAuthStore {
    db: Db,
    /// Grants revoked on this instance, refused by its verifier at once.
    revoked: Option<std::sync::Arc<crate::auth::RevokedGrants>>,
}

impl OAuthStore {
    pub(crate) fn new(db: Db) -> Self {
        Self { db, revoked: None }
    }

    /// Record revoked grants in `revoked` as well.
    pub(crate) fn with_revoked_grants(
        mut self,
        revoked: std::sync::Arc<crate::auth::RevokedGrants>,
    ) -> Self {
        self.revoked = Some(revoked);
        self
    }

    /// Registered and remembered clients, the most recently used first,
    /// `limit` at most.
    pub(crate) async fn clients(&self, limit: i64) -> Result<Vec<ClientRow>, DbError> {
        let rows = sqlx::query(
            "SELECT client_id, name, redirect_uris, auth_method, created_at, last_used_at
             FROM mcpgen_oauth_clients ORDER BY last_used_at DESC, client_id LIMIT $1",
        )
        .bind(limit)
        .fetch_all(self.db.pool())
        .await?;
        rows.iter()
            .map(|r| {
                Ok(ClientRow {
                    client_id: r.try_get("client_id")?,
                    name: r.try_get("name")?,
                    redirect_uris: serde_json::from_str(&r.try_get::<String, _>("redirect_uris")?)
                        .unwrap_or_default(),
                    auth_method: r.try_get("auth_method")?,
                    created_at: r.try_get("created_at")?,
                    last_used_at: r.try_get("last_used_at")?,
                })
            })
            .collect::<Result<_, sqlx::Error>>()
            .map_err(DbError::from)
    }

    /// The secret called `name`: the one stored, or `fresh` stored now if
    /// there was none (see [`crate::store::shared_secret`]).
    pub(crate) async fn secret(&self, name: &str, fresh: String) -> Result<String, DbError> {
        crate::store::shared_secret(&self.db, name, fresh).await
    }

    /// Store a registered client, first removing some if there are `cap`
    /// already: those nobody ever authorized before those someone did, the
    /// least recently used first within each (so a flood of registrations
    /// evicts itself before it evicts clients in use).
    pub(crate) async fn register(
        &self,
        client_id: &str,
        secret: Option<&str>,
        name: &str,
        redirect_uris: &[String],
        auth_method: &str,
        cap: u64,
    ) -> Result<(), DbError> {
        let count: i64 = sqlx::query("SELECT COUNT(*) AS n FROM mcpgen_oauth_clients")
            .fetch_one(self.db.pool())
            .await?
            .try_get("n")?;
        let over = (count + 1).saturating_sub(i64::try_from(cap).unwrap_or(i64::MAX));
        if over > 0 {
            // Their grants go with them (a client registered again is a
            // new client, and asks again).
            sqlx::query(
                "DELETE FROM mcpgen_oauth_grants WHERE client_id IN
                 (SELECT client_id FROM mcpgen_oauth_clients c ORDER BY
                  EXISTS (SELECT 1 FROM mcpgen_oauth_grants g WHERE g.client_id = c.client_id),
                  last_used_at, client_id LIMIT $1)",
            )
            .bind(over)
            .execute(self.db.pool())
            .await?;
            let pruned = sqlx::query(
                "DELETE FROM mcpgen_oauth_clients WHERE client_id IN
                 (SELECT client_id FROM mcpgen_oauth_clients c ORDER BY
                  EXISTS (SELECT 1 FROM mcpgen_oauth_grants g WHERE g.client_id = c.client_id),
                  last_used_at, client_id LIMIT $1)",
            )
            .bind(over)
            .execute(self.db.pool())
            .await?;
            tracing::info!(
                pruned = pruned.rows_affected(),
                "registered clients at their cap: the least recently used were removed"
            );
        }
        let at = now();
        sqlx::query(
            "INSERT INTO mcpgen_oauth_clients
             (client_id, secret_hash, name, redirect_uris, auth_method, created_at, last_used_at)
             VALUES ($1, $2, $3, $4, $5, $6, $7)",
        )
        .bind(client_id)
        .bind(secret.map(sha256_hex))
        .bind(name)
        .bind(serde_json::to_string(redirect_uris).unwrap_or_default())
        .bind(auth_method)
        .bind(at)
        .bind(at)
        .execute(self.db.pool())
        .await?;
        Ok(())
    }

    /// A registered client, and a note that it was used.
    pub(crate) async fn client(&self, client_id: &str) -> Result<Option<StoredClient>, DbError> {
        let Some(row) = sqlx::query(
            "SELECT secret_hash, name, redirect_uris, auth_method, last_used_at
             FROM mcpgen_oauth_clients WHERE client_id = $1",
        )
        .bind(client_id)
        .fetch_optional(self.db.pool())
        .await?
        else {
            return Ok(None);
        };
        let last_used: i64 = row.try_get("last_used_at")?;
        let at = now();
        if at - last_used >= 60 {
            let _ = sqlx::query(
                "UPDATE mcpgen_oauth_clients SET last_used_at = $1 WHERE client_id = $2",
            )
            .bind(at)
            .bind(client_id)
            .execute(self.db.pool())
            .await;
        }
        let uris: String = row.try_get("redirect_uris")?;
        Ok(Some(StoredClient {
            secret_hash: row.try_get("secret_hash")?,
            name: row.try_get("name")?,
            redirect_uris: serde_json::from_str(&uris).unwrap_or_default(),
            auth_method: row.try_get("auth_method")?,
        }))
    }

    /// The scopes `subject` already granted `client_id`.
    pub(crate) async fn granted(
        &self,
        subject: &str,
        client_id: &str,
    ) -> Result<Vec<String>, DbError> {
        let row = sqlx::query(
            "SELECT scopes FROM mcpgen_oauth_grants WHERE subject = $1 AND client_id = $2",
        )
        .bind(subject)
        .bind(client_id)
        .fetch_optional(self.db.pool())
        .await?;
        Ok(match row {
            Some(r) => r
                .try_get::<String, _>("scopes")?
                .split_whitespace()
                .map(str::to_owned)
                .collect(),
            None => Vec::new(),
        })
    }

    /// Record that `subject` granted `client_id` `scopes` (added to what it
    /// granted before).
    pub(crate) async fn grant(
        &self,
        subject: &str,
        client_id: &str,
        scopes: &[String],
    ) -> Result<(), DbError> {
        let mut all = self.granted(subject, client_id).await?;
        all.extend(scopes.iter().cloned());
        all.sort();
        all.dedup();
        sqlx::query(
            "INSERT INTO mcpgen_oauth_grants (subject, client_id, scopes, updated_at) VALUES ($1, $2, $3, $4)
             ON CONFLICT (subject, client_id) DO UPDATE SET scopes = excluded.scopes, updated_at = excluded.updated_at",
        )
        .bind(subject)
        .bind(client_id)
        .bind(all.join(" "))
        .bind(now())
        .execute(self.db.pool())
        .await?;
        Ok(())
    }

    /// Store a new authorization code (by its hash).
    pub(crate) async fn insert_code(&self, code: &str, c: &Code) -> Result<(), DbError> {
        // Codes live a minute; the spent and expired ones go as new ones come.
        let _ = sqlx::query("DELETE FROM mcpgen_oauth_codes WHERE expires_at < $1")
            .bind(now() - 3600)
            .execute(self.db.pool())
            .await;
        sqlx::query(
            "INSERT INTO mcpgen_oauth_codes
             (code_hash, family, client_id, redirect_uri, subject, key_id, scopes, challenge, resource, expires_at)
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)",
        )
        .bind(sha256_hex(code))
        .bind(&c.family)
        .bind(&c.client_id)
        .bind(&c.redirect_uri)
        .bind(&c.subject)
        .bind(&c.key_id)
        .bind(&c.scopes)
        .bind(&c.challenge)
        .bind(&c.resource)
        .bind(c.expires_at)
        .execute(self.db.pool())
        .await?;
        Ok(())
    }

    /// Spend a code, exactly once: of two concurrent redemptions one wins;
    /// a second redemption revokes every refresh token the first produced.
    pub(crate) async fn redeem(&self, code: &str) -> Result<Redeemed, DbError> {
        let hash = sha256_hex(code);
        let row = sqlx::query(
            "UPDATE mcpgen_oauth_codes SET used_at = $1 WHERE code_hash = $2 AND used_at IS NULL
             RETURNING family, client_id, redirect_uri, subject, key_id, scopes, challenge, resource, expires_at",
        )
        .bind(now())
        .bind(&hash)
        .fetch_optional(self.db.pool())
        .await?;
        if let Some(r) = row {
            return Ok(Redeemed::Fresh(Code {
                family: r.try_get("family")?,
                client_id: r.try_get("client_id")?,
                redirect_uri: r.try_get("redirect_uri")?,
                subject: r.try_get("subject")?,
                key_id: r.try_get("key_id")?,
                scopes: r.try_get("scopes")?,
                challenge: r.try_get("challenge")?,
                resource: r.try_get("resource")?,
                expires_at: r.try_get("expires_at")?,
            }));
        }
        let spent = sqlx::query("SELECT family FROM mcpgen_oauth_codes WHERE code_hash = $1")
            .bind(&hash)
            .fetch_optional(self.db.pool())
            .await?;
        match spent {
            Some(r) => {
                let family: String = r.try_get("family")?;
                self.revoke_family(&family).await?;
                Ok(Redeemed::Reused)
            }
            None => Ok(Redeemed::Unknown),
        }
    }

    /// Store a new refresh token (by its hash) in `r.family`.
    pub(crate) async fn insert_refresh(
        &self,
        token: &str,
        r: &Refresh,
        ttl_secs: i64,
    ) -> Result<(), DbError> {
        let at = now();
        // Expired tokens (spent or not) are of no use, not even to detect
        // reuse: they go as new ones come.
        let _ = sqlx::query("DELETE FROM mcpgen_oauth_refresh WHERE expires_at < $1")
            .bind(at)
            .execute(self.db.pool())
            .await;
        sqlx::query(
            "INSERT INTO mcpgen_oauth_refresh
             (token_hash, family, client_id, subject, key_id, scopes, resource, created_at, expires_at)
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)",
        )
        .bind(sha256_hex(token))
        .bind(&r.family)
        .bind(&r.client_id)
        .bind(&r.subject)
        .bind(&r.key_id)
        .bind(&r.scopes)
        .bind(&r.resource)
        .bind(at)
        .bind(at.saturating_add(ttl_secs))
        .execute(self.db.pool())
        .await?;
        Ok(())
    }

    /// Spend a refresh token, exactly once. A token presented again (or
    /// one of a revoked family) revokes its whole family. A token whose
    /// access key was revoked or expired is refused.
    pub(crate) async fn rotate(&self, token: &str) -> Result<Rotated, DbError> {
        let hash = sha256_hex(token);
        let at = now();
        let row = sqlx::query(
            "UPDATE mcpgen_oauth_refresh SET used_at = $1
             WHERE token_hash = $2 AND used_at IS NULL AND revoked_at IS NULL AND expires_at > $1
             RETURNING family, client_id, subject, key_id, scopes, resource",
        )
        .bind(at)
        .bind(&hash)
        .fetch_optional(self.db.pool())
        .await?;
        let Some(r) = row else {
            let known = sqlx::query(
                "SELECT family, expires_at, used_at, revoked_at FROM mcpgen_oauth_refresh WHERE token_hash = $1",
            )
            .bind(&hash)
            .fetch_optional(self.db.pool())
            .await?;
            return Ok(match known {
                Some(k) => {
                    let used: Option<i64> = k.try_get("used_at")?;
                    let revoked: Option<i64> = k.try_get("revoked_at")?;
                    if used.is_some() || revoked.is_some() {
                        let family: String = k.try_get("family")?;
                        self.revoke_family(&family).await?;
                        Rotated::Reused
                    } else {
                        Rotated::Invalid
                    }
                }
                None => Rotated::Invalid,
            });
        };
        let refresh = Refresh {
            family: r.try_get("family")?,
            client_id: r.try_get("client_id")?,
            subject: r.try_get("subject")?,
            key_id: r.try_get("key_id")?,
            scopes: r.try_get("scopes")?,
            resource: r.try_get("resource")?,
        };
        let Some(key_id) = &refresh.key_id else {
            return Ok(Rotated::Fresh(refresh, None));
        };
        match self.active_key_scopes(key_id, &refresh.subject).await? {
            Some(scopes) => Ok(Rotated::Fresh(refresh, Some(scopes))),
            None => {
                // Revoking (or the expiry of) the access key the person
                // signed in with ends every grant made with it.
                self.revoke_family(&refresh.family).await?;
                Ok(Rotated::Invalid)
            }
        }
    }

    /// The scopes access key `key_id` of `subject` grants today; `None`
    /// when it is revoked, expired or gone.
    pub(crate) async fn active_key_scopes(
        &self,
        key_id: &str,
        subject: &str,
    ) -> Result<Option<String>, DbError> {
        let key = sqlx::query(
            "SELECT scopes FROM mcpgen_access_keys
             WHERE id = $1 AND owner = $2 AND revoked_at IS NULL AND (expires_at IS NULL OR expires_at > $3)",
        )
        .bind(key_id)
        .bind(subject)
        .bind(now())
        .fetch_optional(self.db.pool())
        .await?;
        Ok(match key {
            Some(k) => Some(k.try_get("scopes")?),
            None => None,
        })
    }

    /// The family and client of a refresh token, if it is one.
    pub(crate) async fn refresh_owner(
        &self,
        token: &str,
    ) -> Result<Option<(String, String)>, DbError> {
        let row =
            sqlx::query("SELECT family, client_id FROM mcpgen_oauth_refresh WHERE token_hash = $1")
                .bind(sha256_hex(token))
                .fetch_optional(self.db.pool())
                .await?;
        Ok(match row {
            Some(r) => Some((r.try_get("family")?, r.try_get("client_id")?)),
            None => None,
        })
    }

    /// Revoke every refresh token of `family`.
    /// Revoke every refresh token of `family`, and with them the access
    /// tokens of the grant: on this instance now, on the others through
    /// the database's announcement (`store::notify`).
    pub(crate) async fn revoke_family(&self, family: &str) -> Result<u64, DbError> {
        let mut tx = self.db.pool().begin().await?;
        let done = sqlx::query(
            "UPDATE mcpgen_oauth_refresh SET revoked_at = $1 WHERE family = $2 AND revoked_at IS NULL",
        )
        .bind(now())
        .bind(family)
        .execute(&mut *tx)
        .await?;
        crate::store::notify::announce(self.db.kind(), &mut tx, &format!("grant:{family}")).await?;
        tx.commit().await?;
        if let Some(revoked) = &self.revoked {
            revoked.revoke(family);
        }
        Ok(done.rows_affected())
    }
}
