//! Every credential source a server trusts, behind one [`Authenticator`].

use std::sync::Arc;

use super::authenticator::{AuthError, Authenticator};
use super::cache::{self, VerifiedCache};
use super::jwt::JwtVerifier;
use super::keys::{self, AccessKeys};
use crate::caller::Caller;
use crate::handler::def::BoxFuture;

/// Every credential source a server trusts, tried in a fixed order: access
/// keys (recognised by their `mcpk_` prefix), then OAuth tokens (the
/// external authorization server's, then the built-in one's), then (in
/// the local environment only) development tokens. Successful
/// verifications are remembered in [`VerifiedCache`] for a bounded time.
#[derive(Default, Clone)]
pub struct Credentials {
    /// Access keys in the database.
    pub keys: Option<AccessKeys>,
    /// Tokens from the external authorization server.
    pub oauth: Option<Arc<JwtVerifier>>,
    /// Tokens from the built-in authorization server.
    pub builtin: Option<Arc<JwtVerifier>>,
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
                crate::telemetry::credential_cache(true);
                return Ok(caller);
            }
            crate::telemetry::credential_cache(false);
            let reference = reference_of(credential, &fingerprint);
            if credential.starts_with(keys::PREFIX) {
                let result = match &self.keys {
                    Some(k) => k.verify(credential).await,
                    None => Err(AuthError::InvalidToken),
                }
                .map(|c| c.with_reference(reference));
                if let Ok(caller) = &result {
                    self.cache
                        .insert(fingerprint, cache::Kind::AccessKey, caller);
                }
                return result;
            }
            let mut result = Err(AuthError::InvalidToken);
            for verifier in [&self.oauth, &self.builtin, &self.dev]
                .into_iter()
                .flatten()
            {
                result = verifier.verify(credential).await;
                if !matches!(result, Err(AuthError::InvalidToken)) {
                    break;
                }
            }
            let result = result.map(|c| c.with_reference(reference));
            if let Ok(caller) = &result {
                self.cache.insert(fingerprint, cache::Kind::Token, caller);
            }
            result
        })
    }
}

/// How the audit trail names `credential`, whether or not it is accepted:
/// `key:<id>` for an access key (the id is not secret), `jwt:<hash>` for
/// anything else (the first 8 bytes of its SHA-256, in hex: enough to tell
/// tokens apart, nothing to replay).
pub(crate) fn reference(credential: &str) -> String {
    reference_of(credential, &VerifiedCache::fingerprint(credential))
}

fn reference_of(credential: &str, fingerprint: &[u8; 32]) -> String {
    if let Some(id) = credential
        .strip_prefix(keys::PREFIX)
        .and_then(|rest| rest.split('_').next())
        .filter(|id| id.len() == 16 && id.bytes().all(|b| b.is_ascii_hexdigit()))
    {
        return format!("key:{id}");
    }
    let hex: String = fingerprint[..8]
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect();
    format!("jwt:{hex}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn references_name_a_credential_without_revealing_it() {
        let key = "mcpk_0123456789abcdef_c2VjcmV0LXNlY3JldC1zZWNyZXQtc2VjcmV0LXNlY3JldA";
        assert_eq!(reference(key), "key:0123456789abcdef");
        let token = "eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiJhbGljZSJ9.c2lnbmF0dXJl";
        let r = reference(token);
        assert!(r.starts_with("jwt:") && r.len() == 20, "{r}");
        assert!(!r.contains("eyJ") && r != reference("another token"));
        assert!(
            reference("mcpk_not-an-id_x").starts_with("jwt:"),
            "a malformed key is hashed"
        );
    }
}
