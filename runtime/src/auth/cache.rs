//! Verified credentials, remembered for a bounded time so that the hot path
//! neither checks a signature nor queries the key store on every request.
//!
//! Entries are keyed by the SHA-256 of the presented credential (the
//! credential itself is never kept). Only successes are cached: an unknown
//! key, or one created a moment ago on another instance, always reaches the
//! store, so a new key works at once everywhere. An entry lives at most:
//! - for an access key, [`CacheConfig::key_ttl`]: the **revocation bound**.
//!   A key revoked in the shared database stops working on every instance
//!   within this time. Never past the key's own expiry.
//! - for a JWT, [`CacheConfig::token_ttl`], and never past the token's
//!   `exp`. A JWT cannot be revoked before its expiry anyway; the bound only
//!   limits how long a token signed by a key the authorization server has
//!   since withdrawn from its JWKS stays accepted.

use std::time::{Duration, Instant};

use aws_lc_rs::digest;

use crate::caller::Caller;
use crate::store::now;

/// How long verified credentials are remembered.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CacheConfig {
    /// Longest time an access key is trusted without asking the store: how
    /// long a revoked key can go on working. Zero disables key caching.
    pub key_ttl: Duration,
    /// Longest time a verified JWT is trusted without checking it again
    /// (always capped by its `exp`). Zero disables token caching.
    pub token_ttl: Duration,
    /// Most credentials remembered at once (quick_cache evicts by
    /// CLOCK-Pro: rarely used entries go first).
    pub capacity: usize,
}

impl Default for CacheConfig {
    fn default() -> Self {
        Self {
            key_ttl: DEFAULT_KEY_TTL,
            token_ttl: Duration::from_secs(300),
            capacity: 10_000,
        }
    }
}

/// The default revocation bound for access keys.
pub const DEFAULT_KEY_TTL: Duration = Duration::from_secs(10);

/// Which kind of credential an entry came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// An `mcpk_` access key.
    AccessKey,
    /// A JWT.
    Token,
}

#[derive(Clone)]
struct Entry {
    caller: Caller,
    until: Instant,
}

/// SHA-256 of a presented credential: the cache key.
pub type Fingerprint = [u8; 32];

/// The cache. Cheap to share behind an `Arc`; safe under concurrency.
pub struct VerifiedCache {
    config: CacheConfig,
    entries: quick_cache::sync::Cache<Fingerprint, Entry>,
}

impl std::fmt::Debug for VerifiedCache {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("VerifiedCache")
            .field("config", &self.config)
            .field("entries", &self.entries.len())
            .finish()
    }
}

impl Default for VerifiedCache {
    fn default() -> Self {
        Self::new(CacheConfig::default())
    }
}

impl VerifiedCache {
    /// An empty cache.
    pub fn new(config: CacheConfig) -> Self {
        Self {
            config,
            entries: quick_cache::sync::Cache::new(config.capacity.max(1)),
        }
    }

    /// What it was built with.
    pub fn config(&self) -> CacheConfig {
        self.config
    }

    /// The cache key of `credential`.
    pub fn fingerprint(credential: &str) -> Fingerprint {
        let mut out = [0u8; 32];
        out.copy_from_slice(digest::digest(&digest::SHA256, credential.as_bytes()).as_ref());
        out
    }

    /// The caller `credential` was verified as, if that is still fresh.
    pub fn get(&self, fingerprint: &Fingerprint) -> Option<Caller> {
        let entry = self.entries.get(fingerprint)?;
        if Instant::now() < entry.until {
            Some(entry.caller)
        } else {
            self.entries.remove(fingerprint);
            None
        }
    }

    /// Remember that the credential with `fingerprint` verified as `caller`.
    pub fn insert(&self, fingerprint: Fingerprint, kind: Kind, caller: &Caller) {
        let ttl = match kind {
            Kind::AccessKey => self.config.key_ttl,
            Kind::Token => self.config.token_ttl,
        };
        let ttl = match caller.expires_at() {
            Some(exp) => {
                let left = exp - now();
                if left <= 0 {
                    return;
                }
                ttl.min(Duration::from_secs(left as u64))
            }
            None => ttl,
        };
        if ttl.is_zero() {
            return;
        }
        self.entries.insert(
            fingerprint,
            Entry {
                caller: caller.clone(),
                until: Instant::now() + ttl,
            },
        );
    }

    /// Forget the access key `id` (it was revoked): how many entries went.
    pub fn forget_key(&self, id: &str) -> usize {
        let before = self.entries.len();
        self.entries.retain(|_, e| {
            !(e.caller.method() == crate::caller::AuthMethod::AccessKey
                && e.caller.credential_id() == Some(id))
        });
        before.saturating_sub(self.entries.len())
    }

    /// Forget every access key (revocations may have been missed).
    pub fn forget_keys(&self) -> usize {
        let before = self.entries.len();
        self.entries
            .retain(|_, e| e.caller.method() != crate::caller::AuthMethod::AccessKey);
        before.saturating_sub(self.entries.len())
    }

    /// Forget every OAuth token (a grant was revoked: they are checked
    /// again on their next use).
    pub fn forget_tokens(&self) -> usize {
        let before = self.entries.len();
        self.entries
            .retain(|_, e| e.caller.method() != crate::caller::AuthMethod::OAuth);
        before.saturating_sub(self.entries.len())
    }

    /// How many credentials are remembered.
    pub fn len(&self) -> usize {
        self.entries.len()
    }

    /// Whether nothing is remembered.
    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::caller::AuthMethod;

    fn caller(exp: Option<i64>) -> Caller {
        Caller::new("alice", ["notes:read"], None).with_credential(
            AuthMethod::AccessKey,
            Some("k".into()),
            exp,
        )
    }

    #[test]
    fn entries_expire_after_their_ttl() {
        let cache = VerifiedCache::new(CacheConfig {
            key_ttl: Duration::from_millis(50),
            ..CacheConfig::default()
        });
        let f = VerifiedCache::fingerprint("mcpk_x");
        cache.insert(f, Kind::AccessKey, &caller(None));
        assert_eq!(cache.get(&f).unwrap().subject(), "alice");
        std::thread::sleep(Duration::from_millis(80));
        assert!(cache.get(&f).is_none());
    }

    #[test]
    fn never_past_the_credential_expiry_and_zero_disables() {
        let cache = VerifiedCache::default();
        let f = VerifiedCache::fingerprint("t");
        cache.insert(f, Kind::Token, &caller(Some(now() - 1)));
        assert!(
            cache.get(&f).is_none(),
            "an expired credential is not cached"
        );
        cache.insert(f, Kind::Token, &caller(Some(now() + 1)));
        let until = cache.entries.get(&f).unwrap().until;
        assert!(until <= Instant::now() + Duration::from_secs(1));

        let off = VerifiedCache::new(CacheConfig {
            key_ttl: Duration::ZERO,
            ..CacheConfig::default()
        });
        off.insert(f, Kind::AccessKey, &caller(None));
        assert!(off.is_empty());
    }

    #[test]
    fn a_revoked_key_is_forgotten_and_nothing_else() {
        let cache = VerifiedCache::default();
        let key = |id: &str| {
            Caller::new("alice", ["notes:read"], None).with_credential(
                AuthMethod::AccessKey,
                Some(id.into()),
                None,
            )
        };
        let token = Caller::new("bob", ["notes:read"], None).with_credential(
            AuthMethod::OAuth,
            Some("k1".into()),
            None,
        );
        cache.insert(VerifiedCache::fingerprint("a"), Kind::AccessKey, &key("k1"));
        cache.insert(VerifiedCache::fingerprint("b"), Kind::AccessKey, &key("k2"));
        // A token whose jti happens to equal a key id is not a key.
        cache.insert(VerifiedCache::fingerprint("t"), Kind::Token, &token);
        assert_eq!(cache.forget_key("k1"), 1);
        assert!(cache.get(&VerifiedCache::fingerprint("a")).is_none());
        assert!(cache.get(&VerifiedCache::fingerprint("b")).is_some());
        assert!(cache.get(&VerifiedCache::fingerprint("t")).is_some());
        assert_eq!(cache.forget_keys(), 1);
        assert_eq!(cache.len(), 1, "only the token is left");
    }

    #[test]
    fn different_credentials_do_not_collide() {
        let cache = VerifiedCache::default();
        cache.insert(VerifiedCache::fingerprint("a"), Kind::Token, &caller(None));
        assert!(cache.get(&VerifiedCache::fingerprint("b")).is_none());
    }
}
