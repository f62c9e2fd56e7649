//! The authorization server itself: its keys and secrets, its metadata,
//! and who a client is. Registration is in `register.rs`, the token and
//! revocation endpoints in `token.rs`, the consent flow in `authorize.rs`.

use std::net::IpAddr;
use std::num::NonZeroU32;

use base64::Engine as _;
use serde_json::{Value, json};

use crate::audit::AuditSink;
use std::sync::Arc;

use crate::auth::signer::SigningKey;
use crate::auth::{AccessKeys, JwtVerifier};
use crate::auth::{RevokedGrants, Sealer};
use crate::caller::AuthMethod;
use crate::store::{Db, DbError};

use super::clients::{Client, ClientAuth, DocumentFetcher};
use super::store::OAuthStore;
use super::types::{OAuthSettings, ScopeInfo, truncate};

/// The path every endpoint of the built-in server lives under; the issuer
/// is the resource's origin followed by it.
pub const PATH: &str = "/oauth";

/// The built-in authorization server of one resource.
pub struct AuthorizationServer {
    pub(super) issuer: String,
    pub(super) resource: String,
    pub(super) server_title: String,
    pub(super) store: OAuthStore,
    /// Grants revoked while their tokens may live.
    revoked: Arc<RevokedGrants>,
    pub(super) key: SigningKey,
    pub(super) sessions: Sealer,
    pub(super) scopes: Vec<ScopeInfo>,
    pub(super) settings: OAuthSettings,
    pub(super) documents: DocumentFetcher,
    pub(super) keys: AccessKeys,
    pub(super) audit: AuditSink,
    pub(super) registrations: governor::DefaultKeyedRateLimiter<IpAddr>,
    pub(super) all_registrations: governor::DefaultDirectRateLimiter,
}

impl std::fmt::Debug for AuthorizationServer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AuthorizationServer")
            .field("issuer", &self.issuer)
            .field("resource", &self.resource)
            .finish_non_exhaustive()
    }
}

/// The issuer of the built-in server for `resource`: its origin, then
/// [`PATH`].
pub fn issuer_for(resource: &str) -> String {
    match url::Url::parse(resource) {
        Ok(u) => format!("{}{PATH}", u.origin().ascii_serialization()),
        Err(_) => format!("{}{PATH}", resource.trim_end_matches('/')),
    }
}

impl AuthorizationServer {
    /// The authorization server for `resource`, its secrets read from
    /// `db` (created there on first start, and then shared by every
    /// instance on it). `scopes` explain each declared scope on the
    /// consent page; sign-ins with access keys are checked in `db`.
    pub async fn open(
        db: &Db,
        resource: &str,
        server_title: &str,
        scopes: Vec<ScopeInfo>,
        settings: OAuthSettings,
        audit: AuditSink,
    ) -> Result<Self, DbError> {
        // A revoked grant's access tokens are refused for as long as they
        // can live (the token lifetime, and the verifier's leeway).
        let revoked = Arc::new(RevokedGrants::new(
            settings.access_token_ttl + std::time::Duration::from_secs(120),
        ));
        revoked.reload(db).await?;
        let store = OAuthStore::new(db.clone()).with_revoked_grants(Arc::clone(&revoked));
        let b64 = base64::engine::general_purpose::STANDARD;
        let fresh = SigningKey::generate().map_err(|e| DbError::Query(e.to_string()))?;
        let pkcs8 = store.secret("signing_key", b64.encode(&fresh)).await?;
        let pkcs8 = b64
            .decode(pkcs8)
            .map_err(|_| DbError::Query("the stored signing key is not base64".into()))?;
        let key = SigningKey::from_pkcs8("", pkcs8)
            .ok_or_else(|| DbError::Query("the stored signing key is not an Ed25519 key".into()))?;
        let key = {
            let kid = key.thumbprint();
            key.with_kid(kid)
        };
        let sessions = Sealer::shared(db, "session_key").await?;
        let keys = AccessKeys::new(db.clone(), scopes.iter().map(|s| s.name.clone()));
        let per_minute =
            NonZeroU32::new(settings.registrations_per_minute.max(1)).unwrap_or(NonZeroU32::MIN);
        Ok(Self {
            issuer: issuer_for(resource),
            resource: resource.to_owned(),
            server_title: server_title.to_owned(),
            store,
            revoked,
            key,
            sessions,
            scopes,
            documents: DocumentFetcher::new(settings.allow_loopback_client_documents),
            keys,
            audit,
            registrations: governor::RateLimiter::keyed(governor::Quota::per_minute(per_minute)),
            all_registrations: governor::RateLimiter::direct(governor::Quota::per_minute(
                NonZeroU32::new(settings.registrations_per_minute_in_all.max(1))
                    .unwrap_or(NonZeroU32::MIN),
            )),
            settings,
        })
    }

    /// The issuer identifier (`https://host/oauth`).
    pub fn issuer(&self) -> &str {
        &self.issuer
    }

    /// The verifier for this server's access tokens: the same checks as
    /// for an external issuer's (signature, `typ`, `iss`, `aud`, expiry).
    pub fn verifier(&self) -> JwtVerifier {
        self.key
            .verifier(&self.issuer, &self.resource, AuthMethod::OAuth)
            .with_revoked_grants(Arc::clone(&self.revoked))
    }

    /// The grants revoked while their tokens may live: keep them in step
    /// with other instances with [`crate::auth::revocations::follow`].
    pub fn revoked_grants(&self) -> Arc<RevokedGrants> {
        Arc::clone(&self.revoked)
    }

    fn endpoint(&self, name: &str) -> String {
        format!("{}/{name}", self.issuer)
    }

    /// RFC 8414 metadata, also served as the OpenID discovery document.
    pub fn metadata(&self) -> Value {
        let methods = ["none", "client_secret_post", "client_secret_basic"];
        json!({
            "issuer": self.issuer,
            "authorization_endpoint": self.endpoint("authorize"),
            "token_endpoint": self.endpoint("token"),
            "registration_endpoint": self.endpoint("register"),
            "revocation_endpoint": self.endpoint("revoke"),
            "jwks_uri": self.endpoint("jwks"),
            "scopes_supported": self.scopes.iter().map(|s| &s.name).collect::<Vec<_>>(),
            "response_types_supported": ["code"],
            "response_modes_supported": ["query"],
            "grant_types_supported": ["authorization_code", "refresh_token"],
            "code_challenge_methods_supported": ["S256"],
            "token_endpoint_auth_methods_supported": methods,
            "revocation_endpoint_auth_methods_supported": methods,
            "client_id_metadata_document_supported": true,
            "authorization_response_iss_parameter_supported": true,
            "subject_types_supported": ["public"],
            "id_token_signing_alg_values_supported": ["EdDSA"],
        })
    }

    /// The JWKS document: the public signing key.
    pub fn jwks(&self) -> Value {
        json!({"keys": [self.key.jwk()]})
    }

    /// The client `client_id` names: registered here, or described by the
    /// metadata document at that URL. `Err` says why not, for the person
    /// or the developer.
    pub(crate) async fn client(
        &self,
        client_id: &str,
        peer: Option<IpAddr>,
    ) -> Result<Client, String> {
        if self.documents.is_document_url(client_id) {
            return self
                .documents
                .client(client_id, peer)
                .await
                .map_err(|e| e.to_string());
        }
        match self.store.client(client_id).await {
            Ok(Some(c)) => Ok(Client {
                id: client_id.to_owned(),
                name: c.name,
                redirect_uris: c.redirect_uris,
                auth: match c.secret_hash {
                    Some(hash) if c.auth_method != "none" => ClientAuth::Secret {
                        method: c.auth_method,
                        hash,
                    },
                    _ => ClientAuth::None,
                },
                from_document: false,
            }),
            Ok(None) => Err(format!(
                "unknown client `{}`: it is neither registered here nor an https URL of a client metadata document",
                truncate(client_id, 100)
            )),
            Err(e) => {
                tracing::error!(error = %e, "cannot read registered clients");
                Err("the authorization server cannot reach its storage; retry shortly".into())
            }
        }
    }

    /// The clients it knows, the most recently used first (`limit` at
    /// most), for the operator page.
    pub async fn clients(&self, limit: i64) -> Result<Vec<super::store::ClientRow>, DbError> {
        self.store.clients(limit).await
    }

    /// Sign `payload` for the browser.
    pub(super) fn seal(&self, payload: &Value) -> String {
        self.sessions.seal(payload)
    }

    /// The payload of a value [`Self::seal`] made, if the signature holds.
    pub(super) fn unseal(&self, sealed: &str) -> Option<Value> {
        self.sessions.unseal(sealed)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_issuer_is_the_resource_origin_and_the_oauth_path() {
        assert_eq!(
            issuer_for("https://notes.example.com/mcp"),
            "https://notes.example.com/oauth"
        );
        assert_eq!(
            issuer_for("http://127.0.0.1:8080/mcp"),
            "http://127.0.0.1:8080/oauth"
        );
        assert_eq!(
            issuer_for("https://notes.example.com:443/x/mcp"),
            "https://notes.example.com/oauth"
        );
    }
}
