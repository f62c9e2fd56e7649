//! The authorization server itself: its keys and secrets, its metadata,
//! client registration and lookup, and the token and revocation
//! endpoints. The authorization endpoint's pages are in `authorize.rs`.

use std::net::IpAddr;
use std::num::NonZeroU32;

use aws_lc_rs::{constant_time, hmac};
use base64::Engine as _;
use serde_json::{Value, json};

use crate::audit::AuditSink;
use crate::auth::keys::sha256_hex;
use crate::auth::signer::{Grant, SigningKey, random_token};
use crate::auth::{AccessKeys, JwtVerifier};
use crate::caller::AuthMethod;
use crate::store::{Db, DbError, now};

use super::clients::{self, Client, ClientAuth, DocumentFetcher};
use super::params::Params;
use super::store::{Code, OAuthStore, Redeemed, Refresh, Rotated};
use super::types::{ClientCredentials, OAuthError, OAuthSettings, ScopeInfo, truncate};

/// The path every endpoint of the built-in server lives under; the issuer
/// is the resource's origin followed by it.
pub const PATH: &str = "/oauth";

/// The built-in authorization server of one resource.
pub struct AuthorizationServer {
    pub(super) issuer: String,
    pub(super) resource: String,
    pub(super) server_title: String,
    pub(super) store: OAuthStore,
    pub(super) key: SigningKey,
    pub(super) session_key: hmac::Key,
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
        let store = OAuthStore::new(db.clone());
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
        let session = store.secret("session_key", random_token(32)).await?;
        let keys = AccessKeys::new(db.clone(), scopes.iter().map(|s| s.name.clone()));
        let per_minute =
            NonZeroU32::new(settings.registrations_per_minute.max(1)).unwrap_or(NonZeroU32::MIN);
        Ok(Self {
            issuer: issuer_for(resource),
            resource: resource.to_owned(),
            server_title: server_title.to_owned(),
            store,
            key,
            session_key: hmac::Key::new(hmac::HMAC_SHA256, session.as_bytes()),
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

    /// Dynamic Client Registration (RFC 7591): `body` is the client's
    /// metadata; the answer its registration (with a secret, shown once,
    /// unless it asked for `none`).
    pub async fn register(&self, body: &[u8], peer: Option<IpAddr>) -> Result<Value, OAuthError> {
        let peer_text = peer.map(|p| p.to_string()).unwrap_or_default();
        let result = self.register_inner(body, peer).await;
        match &result {
            Ok(v) => self.audit.authorization(
                "oauth:register",
                Ok("registered"),
                &peer_text,
                "",
                v["client_id"].as_str().unwrap_or_default(),
                "",
            ),
            Err(e) => {
                self.audit
                    .authorization("oauth:register", Err(e.error), &peer_text, "", "", "")
            }
        }
        result
    }

    async fn register_inner(&self, body: &[u8], peer: Option<IpAddr>) -> Result<Value, OAuthError> {
        if let Some(ip) = peer {
            if self.registrations.len() > 10_000 {
                self.registrations.retain_recent();
            }
            if self
                .registrations
                .check_key(&clients::network_of(ip))
                .is_err()
            {
                return Err(OAuthError::new(
                    "slow_down",
                    "too many registrations from this address; retry in a minute",
                ));
            }
        }
        if self.all_registrations.check().is_err() {
            return Err(OAuthError::new(
                "slow_down",
                "too many registrations right now; retry in a minute",
            ));
        }
        let meta: serde_json::Map<String, Value> = serde_json::from_slice(body).map_err(|_| {
            OAuthError::new(
                "invalid_client_metadata",
                "the body must be a JSON object of client metadata",
            )
        })?;
        let invalid = |d: String| OAuthError::new("invalid_client_metadata", d);
        let redirect_uris: Vec<String> = match meta.get("redirect_uris") {
            Some(Value::Array(list)) if !list.is_empty() && list.len() <= 20 => list
                .iter()
                .map(|v| v.as_str().map(str::to_owned))
                .collect::<Option<_>>()
                .ok_or_else(|| invalid("redirect_uris must be strings".into()))?,
            _ => {
                return Err(OAuthError::new(
                    "invalid_redirect_uri",
                    "redirect_uris must list 1 to 20 URIs",
                ));
            }
        };
        if let Some(problem) = redirect_uris
            .iter()
            .find_map(|r| clients::redirect_uri_problem(r))
        {
            return Err(OAuthError::new("invalid_redirect_uri", problem));
        }
        let method = match meta.get("token_endpoint_auth_method") {
            None => "client_secret_basic".to_owned(),
            Some(Value::String(m))
                if ["none", "client_secret_post", "client_secret_basic"].contains(&m.as_str()) =>
            {
                m.clone()
            }
            Some(other) => {
                return Err(invalid(format!(
                    "token_endpoint_auth_method {other} is not supported: use none, client_secret_post or client_secret_basic"
                )));
            }
        };
        for (field, allowed) in [
            ("grant_types", &["authorization_code", "refresh_token"][..]),
            ("response_types", &["code"][..]),
        ] {
            if let Some(v) = meta.get(field) {
                let ok = v.as_array().is_some_and(|l| {
                    l.iter()
                        .all(|g| g.as_str().is_some_and(|g| allowed.contains(&g)))
                });
                if !ok {
                    return Err(invalid(format!(
                        "{field} may list only {}",
                        allowed.join(", ")
                    )));
                }
            }
        }
        let name = clients::clean_name(meta.get("client_name").and_then(Value::as_str))
            .unwrap_or_else(|| clients::redirect_host(&redirect_uris[0]));
        let client_id = format!("mcpc_{}", random_token(16));
        let secret = (method != "none").then(|| format!("mcps_{}", random_token(32)));
        self.store
            .register(
                &client_id,
                secret.as_deref(),
                &name,
                &redirect_uris,
                &method,
                self.settings.max_registered_clients,
            )
            .await
            .map_err(|e| OAuthError::unavailable(&e))?;
        let mut answer = json!({
            "client_id": client_id,
            "client_id_issued_at": now(),
            "client_name": name,
            "redirect_uris": redirect_uris,
            "token_endpoint_auth_method": method,
            "grant_types": ["authorization_code", "refresh_token"],
            "response_types": ["code"],
        });
        if let Some(s) = secret {
            answer["client_secret"] = s.into();
            answer["client_secret_expires_at"] = 0.into();
        }
        Ok(answer)
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

    /// The client a token or revocation request comes from, authenticated
    /// as it registered.
    async fn authenticate_client(
        &self,
        form: &Params,
        creds: &ClientCredentials,
    ) -> Result<Client, OAuthError> {
        let (id, secret) = match (&creds.basic, form.get("client_id")) {
            (Some((id, secret)), body_id) => {
                if body_id.is_some_and(|b| b != id) {
                    return Err(OAuthError::new(
                        "invalid_request",
                        "client_id differs from the Basic credentials",
                    ));
                }
                if form.get("client_secret").is_some() {
                    return Err(OAuthError::new(
                        "invalid_request",
                        "use one client authentication method, not two",
                    ));
                }
                (id.clone(), Some((secret.clone(), "client_secret_basic")))
            }
            (None, Some(id)) => (
                id.to_owned(),
                form.get("client_secret")
                    .map(|s| (s.to_owned(), "client_secret_post")),
            ),
            (None, None) => {
                return Err(OAuthError::new(
                    "invalid_client",
                    "client authentication required: send client_id",
                ));
            }
        };
        let client = if self.documents.is_document_url(&id) {
            // A metadata-document client is public (a document may declare
            // nothing else, see `clients.rs`), and its redirect URIs were
            // checked when its code was issued: nothing to fetch here, so
            // a slow or busy document host cannot stop its refreshes.
            Client {
                id: id.clone(),
                name: String::new(),
                redirect_uris: Vec::new(),
                auth: ClientAuth::None,
                from_document: true,
            }
        } else {
            self.client(&id, None)
                .await
                .map_err(|why| OAuthError::new("invalid_client", why))?
        };
        match (&client.auth, secret) {
            (ClientAuth::None, None) => Ok(client),
            (ClientAuth::None, Some(_)) => Err(OAuthError::new(
                "invalid_client",
                "this client is public (token_endpoint_auth_method none): send no secret",
            )),
            (ClientAuth::Secret { method, hash }, Some((secret, used))) => {
                let ok = constant_time::verify_slices_are_equal(
                    sha256_hex(&secret).as_bytes(),
                    hash.as_bytes(),
                )
                .is_ok();
                if ok && method == used {
                    Ok(client)
                } else if ok {
                    Err(OAuthError::new(
                        "invalid_client",
                        format!("this client authenticates with {method}"),
                    ))
                } else {
                    Err(OAuthError::new(
                        "invalid_client",
                        "client authentication failed",
                    ))
                }
            }
            (ClientAuth::Secret { method, .. }, None) => Err(OAuthError::new(
                "invalid_client",
                format!("client authentication required ({method})"),
            )),
        }
    }

    /// The token endpoint: `authorization_code` and `refresh_token`.
    pub async fn token(
        &self,
        form: &Params,
        creds: &ClientCredentials,
        peer: Option<IpAddr>,
    ) -> Result<Value, OAuthError> {
        let peer = peer.map(|p| p.to_string()).unwrap_or_default();
        let step = match form.get("grant_type") {
            Some("refresh_token") => "oauth:refresh",
            _ => "oauth:token",
        };
        let result = self.token_inner(form, creds).await;
        match &result {
            Ok((v, subject, client)) => self.audit.authorization(
                step,
                Ok("issued"),
                &peer,
                subject,
                client,
                v["scope"].as_str().unwrap_or_default(),
            ),
            Err(e) => self.audit.authorization(
                step,
                Err(e.error),
                &peer,
                "",
                form.get("client_id")
                    .or(creds.basic.as_ref().map(|b| b.0.as_str()))
                    .unwrap_or_default(),
                "",
            ),
        }
        result.map(|(v, _, _)| v)
    }

    async fn token_inner(
        &self,
        form: &Params,
        creds: &ClientCredentials,
    ) -> Result<(Value, String, String), OAuthError> {
        let client = self.authenticate_client(form, creds).await?;
        if let Some(r) = form.get("resource")
            && r != self.resource
        {
            return Err(OAuthError::new(
                "invalid_target",
                format!("this server issues tokens for {} only", self.resource),
            ));
        }
        let unavailable = |e: DbError| OAuthError::unavailable(&e);
        let required = |name: &'static str| {
            form.get(name)
                .ok_or_else(|| OAuthError::new("invalid_request", format!("{name} is required")))
        };
        match form.get("grant_type") {
            Some("authorization_code") => {
                let code = required("code")?;
                let verifier = required("code_verifier")?;
                let redirect = required("redirect_uri")?;
                let code = match self.store.redeem(code).await.map_err(unavailable)? {
                    Redeemed::Fresh(c) => c,
                    Redeemed::Reused => {
                        return Err(OAuthError::new(
                            "invalid_grant",
                            "the authorization code was already used: every token issued from it is revoked",
                        ));
                    }
                    Redeemed::Unknown => {
                        return Err(OAuthError::new(
                            "invalid_grant",
                            "unknown authorization code",
                        ));
                    }
                };
                if code.client_id != client.id {
                    self.store
                        .revoke_family(&code.family)
                        .await
                        .map_err(unavailable)?;
                    return Err(OAuthError::new(
                        "invalid_grant",
                        "the authorization code was issued to another client",
                    ));
                }
                if code.expires_at <= now() {
                    return Err(OAuthError::new(
                        "invalid_grant",
                        "the authorization code has expired",
                    ));
                }
                if code.redirect_uri != redirect {
                    return Err(OAuthError::new(
                        "invalid_grant",
                        "redirect_uri differs from the authorization request's",
                    ));
                }
                if code.resource != self.resource {
                    return Err(OAuthError::new(
                        "invalid_target",
                        "the code was issued for another resource",
                    ));
                }
                if !pkce_matches(verifier, &code.challenge) {
                    return Err(OAuthError::new(
                        "invalid_grant",
                        "code_verifier does not match the code_challenge",
                    ));
                }
                let Code {
                    family,
                    subject,
                    key_id,
                    scopes,
                    ..
                } = code;
                let scopes = self
                    .still_granted(&subject, key_id.as_deref(), &scopes)
                    .await?;
                let refresh = Refresh {
                    family,
                    client_id: client.id.clone(),
                    subject: subject.clone(),
                    key_id,
                    scopes,
                    resource: self.resource.clone(),
                };
                Ok((
                    self.issue(&refresh, &refresh.scopes).await?,
                    subject,
                    client.id,
                ))
            }
            Some("refresh_token") => {
                let token = required("refresh_token")?;
                let (mut refresh, key_scopes) = match self
                    .store
                    .rotate(token)
                    .await
                    .map_err(unavailable)?
                {
                    Rotated::Fresh(r, k) => (r, k),
                    Rotated::Reused => {
                        return Err(OAuthError::new(
                            "invalid_grant",
                            "the refresh token was already used: every token of its family is revoked",
                        ));
                    }
                    Rotated::Invalid => {
                        return Err(OAuthError::new(
                            "invalid_grant",
                            "the refresh token is unknown, expired or revoked (or its access key was)",
                        ));
                    }
                };
                if refresh.client_id != client.id {
                    self.store
                        .revoke_family(&refresh.family)
                        .await
                        .map_err(unavailable)?;
                    return Err(OAuthError::new(
                        "invalid_grant",
                        "the refresh token was issued to another client",
                    ));
                }
                if refresh.resource != self.resource {
                    return Err(OAuthError::new(
                        "invalid_grant",
                        "the refresh token was issued for another resource",
                    ));
                }
                if key_scopes.is_none() && !self.settings.development_sign_in {
                    return Err(OAuthError::new(
                        "invalid_grant",
                        "the refresh token comes from a development sign-in, which this environment does not offer",
                    ));
                }
                // The grant, less what the key no longer has, stays with the
                // family; a narrower `scope` narrows this access token only
                // (RFC 6749 §6).
                let mut granted: Vec<String> = refresh
                    .scopes
                    .split_whitespace()
                    .map(str::to_owned)
                    .collect();
                if let Some(key) = &key_scopes {
                    let key: Vec<&str> = key.split_whitespace().collect();
                    granted.retain(|s| key.contains(&s.as_str()));
                }
                let mut access = granted.clone();
                if let Some(asked) = form.get("scope") {
                    let asked: Vec<&str> = asked.split_whitespace().collect();
                    if let Some(extra) = asked.iter().find(|s| !granted.iter().any(|g| g == *s)) {
                        return Err(OAuthError::new(
                            "invalid_scope",
                            format!(
                                "scope `{extra}` was not granted: authorize again to ask for it"
                            ),
                        ));
                    }
                    access.retain(|s| asked.contains(&s.as_str()));
                }
                refresh.scopes = granted.join(" ");
                let subject = refresh.subject.clone();
                Ok((
                    self.issue(&refresh, &access.join(" ")).await?,
                    subject,
                    client.id,
                ))
            }
            Some(other) => Err(OAuthError::new(
                "unsupported_grant_type",
                format!(
                    "grant_type `{}` is not supported: use authorization_code or refresh_token",
                    truncate(other, 50)
                ),
            )),
            None => Err(OAuthError::new("invalid_request", "grant_type is required")),
        }
    }

    /// `scopes` of a code, less what the access key the person signed in
    /// with no longer grants; refused when that key is revoked or expired
    /// since (or when the code came from a development sign-in that this
    /// environment no longer offers).
    async fn still_granted(
        &self,
        subject: &str,
        key_id: Option<&str>,
        scopes: &str,
    ) -> Result<String, OAuthError> {
        let Some(key_id) = key_id else {
            return if self.settings.development_sign_in {
                Ok(scopes.to_owned())
            } else {
                Err(OAuthError::new(
                    "invalid_grant",
                    "the code comes from a development sign-in, which this environment does not offer",
                ))
            };
        };
        let key = self
            .store
            .active_key_scopes(key_id, subject)
            .await
            .map_err(|e| OAuthError::unavailable(&e))?
            .ok_or_else(|| {
                OAuthError::new(
                    "invalid_grant",
                    "the access key the person signed in with is revoked or expired",
                )
            })?;
        let key: Vec<&str> = key.split_whitespace().collect();
        Ok(scopes
            .split_whitespace()
            .filter(|s| key.contains(s))
            .collect::<Vec<_>>()
            .join(" "))
    }

    /// An access token for `access_scopes` and a new refresh token of
    /// `r`'s family (for all of `r`'s scopes).
    async fn issue(&self, r: &Refresh, access_scopes: &str) -> Result<Value, OAuthError> {
        let scopes: Vec<String> = access_scopes
            .split_whitespace()
            .map(str::to_owned)
            .collect();
        let ttl = self.settings.access_token_ttl;
        let access = self
            .key
            .mint(&Grant {
                issuer: &self.issuer,
                audience: &self.resource,
                subject: &r.subject,
                scopes: &scopes,
                client: Some(&r.client_id),
                ttl,
            })
            .map_err(|_| OAuthError::new("server_error", "cannot sign the access token"))?;
        let refresh = format!("mcpr_{}", random_token(32));
        let refresh_ttl =
            i64::try_from(self.settings.refresh_token_ttl.as_secs()).unwrap_or(i64::MAX);
        self.store
            .insert_refresh(&refresh, r, refresh_ttl)
            .await
            .map_err(|e| OAuthError::unavailable(&e))?;
        Ok(json!({
            "access_token": access,
            "token_type": "Bearer",
            "expires_in": ttl.as_secs(),
            "refresh_token": refresh,
            "scope": access_scopes,
        }))
    }

    /// Token revocation (RFC 7009): a refresh token revokes its family.
    /// Access tokens are short-lived JWTs and are not tracked: revoking
    /// one answers 200 and does nothing (RFC 7009 §2.2 allows it).
    pub async fn revoke(
        &self,
        form: &Params,
        creds: &ClientCredentials,
        peer: Option<IpAddr>,
    ) -> Result<(), OAuthError> {
        let peer = peer.map(|p| p.to_string()).unwrap_or_default();
        let client = match self.authenticate_client(form, creds).await {
            Ok(c) => c,
            Err(e) => {
                self.audit
                    .authorization("oauth:revoke", Err(e.error), &peer, "", "", "");
                return Err(e);
            }
        };
        let token = form
            .get("token")
            .ok_or_else(|| OAuthError::new("invalid_request", "token is required"))?;
        let owner = self
            .store
            .refresh_owner(token)
            .await
            .map_err(|e| OAuthError::unavailable(&e))?;
        if let Some((family, owner)) = owner
            && owner == client.id
        {
            self.store
                .revoke_family(&family)
                .await
                .map_err(|e| OAuthError::unavailable(&e))?;
            self.audit
                .authorization("oauth:revoke", Ok("revoked"), &peer, "", &client.id, "");
        }
        Ok(())
    }

    /// Sign `payload`: `base64url(payload).base64url(HMAC)`.
    pub(super) fn seal(&self, payload: &Value) -> String {
        let b64 = base64::engine::general_purpose::URL_SAFE_NO_PAD;
        let body = b64.encode(payload.to_string());
        let tag = hmac::sign(&self.session_key, body.as_bytes());
        format!("{body}.{}", b64.encode(tag.as_ref()))
    }

    /// The payload of a value [`Self::seal`] made, if the signature holds.
    pub(super) fn unseal(&self, sealed: &str) -> Option<Value> {
        let b64 = base64::engine::general_purpose::URL_SAFE_NO_PAD;
        let (body, tag) = sealed.split_once('.')?;
        let tag = b64.decode(tag).ok()?;
        hmac::verify(&self.session_key, body.as_bytes(), &tag).ok()?;
        serde_json::from_slice(&b64.decode(body).ok()?).ok()
    }
}

/// Whether `verifier` hashes to `challenge` (PKCE S256, RFC 7636 §4.6).
fn pkce_matches(verifier: &str, challenge: &str) -> bool {
    let ok_chars = verifier
        .bytes()
        .all(|b| b.is_ascii_alphanumeric() || b"-._~".contains(&b));
    if !(43..=128).contains(&verifier.len()) || !ok_chars {
        return false;
    }
    let digest = aws_lc_rs::digest::digest(&aws_lc_rs::digest::SHA256, verifier.as_bytes());
    let computed = base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(digest.as_ref());
    constant_time::verify_slices_are_equal(computed.as_bytes(), challenge.as_bytes()).is_ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pkce_s256_matches_the_rfc_example() {
        // RFC 7636 Appendix B.
        let verifier = "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk";
        assert!(pkce_matches(
            verifier,
            "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM"
        ));
        assert!(!pkce_matches(
            verifier,
            "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cN"
        ));
        assert!(!pkce_matches(
            "short",
            "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM"
        ));
    }

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
