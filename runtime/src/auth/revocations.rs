//! Revocations heard from the database: on PostgreSQL every instance
//! drops a revoked access key from its [`VerifiedCache`] as soon as the
//! revoking transaction commits (`store::notify`), instead of trusting it
//! for up to the cache's `key_ttl`. When the listening connection is down,
//! `key_ttl` is the bound again; when it comes back, every cached key is
//! forgotten, since revocations may have been missed meanwhile.

use std::sync::Arc;

use super::cache::VerifiedCache;
use crate::store::Db;
use crate::store::notify::{self, Heard};

/// Keep `cache` in step with revocations announced in `db` (PostgreSQL;
/// `None` on SQLite, where the one instance forgets its own revocations).
pub fn follow(db: &Db, cache: Arc<VerifiedCache>) -> Option<tokio::task::JoinHandle<()>> {
    notify::listen(db, move |heard| {
        let dropped = match heard {
            Heard::Revoked(what) => match what.split_once(':') {
                Some(("key", id)) => cache.forget_key(id),
                _ => 0,
            },
            Heard::MayHaveMissed => cache.forget_keys(),
        };
        crate::telemetry::revocation_heard(dropped);
    })
}
