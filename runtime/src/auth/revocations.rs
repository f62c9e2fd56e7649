//! Revocations heard from the database: on PostgreSQL every instance
//! drops a revoked credential from its [`VerifiedCache`] as soon as the
//! revoking transaction commits (`store::notify`), instead of trusting it
//! for up to the cache's TTL. When the listening connection is down, the
//! TTL is the bound again; when it comes back, every cached key and token
//! is forgotten (and revoked grants are read again), since revocations may
//! have been missed meanwhile.
//!
//! Two kinds are announced: an access key (`key:<id>`), and a grant of the
//! built-in authorization server (`grant:<family>`, when a refresh token
//! is revoked or reused). A grant's access tokens are JWTs that would
//! verify until they expire: [`RevokedGrants`] remembers revoked grants for
//! as long as one of their tokens can live, and the built-in server's
//! verifier refuses a token whose `sid` is among them.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, OnceLock, PoisonError};
use std::time::Duration;

use sqlx::Row as _;

use super::cache::VerifiedCache;
use crate::store::notify::{self, Heard};
use crate::store::{Db, DbError, now};

/// Most revoked grants remembered: beyond, the oldest are dropped first
/// (their tokens are the closest to expiring anyway).
const MAX_REMEMBERED: usize = 100_000;

/// Grants revoked while their access tokens may still live.
#[derive(Debug)]
pub struct RevokedGrants {
    /// How long a token of a grant can live after the grant is revoked.
    keep: Duration,
    /// Family -> when it may be forgotten (Unix seconds).
    families: Mutex<HashMap<String, i64>>,
    /// The cache to drop tokens from when a grant is revoked here.
    cache: OnceLock<Arc<VerifiedCache>>,
}

impl RevokedGrants {
    /// Remember revocations for `keep` (the longest access-token lifetime,
    /// with leeway).
    pub fn new(keep: Duration) -> Self {
        Self {
            keep,
            families: Mutex::default(),
            cache: OnceLock::new(),
        }
    }

    /// When a grant is revoked, also forget the tokens cached in `cache`
    /// (they are checked again, and the revoked ones refused).
    pub fn forget_in(&self, cache: Arc<VerifiedCache>) {
        let _ = self.cache.set(cache);
    }

    fn keep_secs(&self) -> i64 {
        i64::try_from(self.keep.as_secs()).unwrap_or(i64::MAX)
    }

    /// The grant `family` was revoked.
    pub fn revoke(&self, family: &str) {
        let until = now().saturating_add(self.keep_secs());
        let mut families = self.families.lock().unwrap_or_else(PoisonError::into_inner);
        if families.len() >= MAX_REMEMBERED {
            let t = now();
            families.retain(|_, until| *until > t);
            if families.len() >= MAX_REMEMBERED
                && let Some(oldest) = families
                    .iter()
                    .min_by_key(|(_, u)| **u)
                    .map(|(f, _)| f.clone())
            {
                families.remove(&oldest);
            }
        }
        families.insert(family.to_owned(), until);
        drop(families);
        if let Some(cache) = self.cache.get() {
            cache.forget_tokens();
        }
    }

    /// Whether the grant `family` was revoked (and its tokens may live).
    pub fn is_revoked(&self, family: &str) -> bool {
        let families = self.families.lock().unwrap_or_else(PoisonError::into_inner);
        families.get(family).is_some_and(|until| *until > now())
    }

    /// Read the grants revoked within `keep` from `db` (at start, and
    /// after revocations may have been missed).
    pub async fn reload(&self, db: &Db) -> Result<usize, DbError> {
        let since = now().saturating_sub(self.keep_secs());
        let rows = sqlx::query(
            "SELECT family, MAX(revoked_at) AS at FROM mcpgen_oauth_refresh
             WHERE revoked_at IS NOT NULL AND revoked_at >= $1 GROUP BY family",
        )
        .bind(since)
        .fetch_all(db.pool())
        .await?;
        let mut families = self.families.lock().unwrap_or_else(PoisonError::into_inner);
        for row in &rows {
            let family: String = row.try_get("family")?;
            let at: i64 = row.try_get("at")?;
            families.insert(family, at.saturating_add(self.keep_secs()));
        }
        Ok(rows.len())
    }
}

/// Keep `cache` (and, with the built-in authorization server, `grants`) in
/// step with revocations: this instance's own at once, and those announced
/// in `db` by others (PostgreSQL; the task's handle, or `None` on SQLite).
pub fn follow(
    db: &Db,
    cache: Arc<VerifiedCache>,
    grants: Option<Arc<RevokedGrants>>,
) -> Option<tokio::task::JoinHandle<()>> {
    if let Some(g) = &grants {
        g.forget_in(Arc::clone(&cache));
    }
    let reload_from = db.clone();
    notify::listen(db, move |heard| {
        let dropped = match heard {
            Heard::Revoked(what) => match what.split_once(':') {
                Some(("key", id)) => cache.forget_key(id),
                Some(("grant", family)) => {
                    let before = cache.len();
                    match &grants {
                        Some(g) => g.revoke(family),
                        None => {
                            cache.forget_tokens();
                        }
                    }
                    before.saturating_sub(cache.len())
                }
                _ => 0,
            },
            Heard::MayHaveMissed => {
                if let Some(g) = &grants {
                    let (g, db) = (Arc::clone(g), reload_from.clone());
                    tokio::spawn(async move {
                        if let Err(e) = g.reload(&db).await {
                            tracing::warn!(error = %e, "cannot read revoked grants now");
                        }
                    });
                }
                cache.forget_keys() + cache.forget_tokens()
            }
        };
        crate::telemetry::revocation_heard(dropped);
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_revoked_grant_is_remembered_while_its_tokens_live() {
        let g = RevokedGrants::new(Duration::from_secs(600));
        assert!(!g.is_revoked("f1"));
        g.revoke("f1");
        assert!(g.is_revoked("f1") && !g.is_revoked("f2"));
        let gone = RevokedGrants::new(Duration::ZERO);
        gone.revoke("f1");
        assert!(
            !gone.is_revoked("f1"),
            "nothing left to refuse once tokens expired"
        );
    }
}
