//! Every credential source a server trusts, behind one [`Authenticator`].

use std::sync::Arc;

use super::authenticator::{AuthError, Authenticator};
use super::cache::{self, VerifiedCache};
use super::jwt::JwtVerifier;
use super::keys::{self, AccessKeys};
use crate::caller::Caller;
use crate::handler::def::BoxFuture;

/// Every credential source a server trusts, tried in a fixed order: access
/// keys (recognised by their `mcpk_` prefix), then OAuth tokens, then (in
/// the local environment only) development tokens. Successful
/// verifications are remembered in [`VerifiedCache`] for a bounded time.
#[derive(Default, Clone)]
pub struct Credentials {
    /// Access keys in the database.
    pub keys: Option<AccessKeys>,
    /// Tokens from the external authorization server.
    pub oauth: Option<Arc<JwtVerifier>>,
    /// Tokens from `token mint` (local environment only).
    pub dev: Option<Arc<JwtVerifier>>,
    /// Recently verified credentials.
    pub cache: Arc<VerifiedCache>,
}

impl Authenticator for Credentials {
    fn authenticate<'a>(&'a self, credential: &'a str) -> BoxFuture<'a, Result<Caller, AuthError>> {
        Box::pin(async move {
            let fingerprint = VerifiedCache::fingerprint(credential);
            if let Some(caller) = self.cache.get(&fingerprint) {
                return Ok(caller);
            }
            if credential.starts_with(keys::PREFIX) {
                let result = match &self.keys {
                    Some(k) => k.verify(credential).await,
                    None => Err(AuthError::InvalidToken),
                };
                if let Ok(caller) = &result {
                    self.cache
                        .insert(fingerprint, cache::Kind::AccessKey, caller);
                }
                return result;
            }
            let mut result = Err(AuthError::InvalidToken);
            for verifier in [&self.oauth, &self.dev].into_iter().flatten() {
                result = verifier.verify(credential).await;
                if !matches!(result, Err(AuthError::InvalidToken)) {
                    break;
                }
            }
            if let Ok(caller) = &result {
                self.cache.insert(fingerprint, cache::Kind::Token, caller);
            }
            result
        })
    }
}
