//! The token endpoint (`authorization_code` with PKCE, `refresh_token`
//! with rotation and reuse detection), client authentication, and token
//! revocation (RFC 7009).

use std::net::IpAddr;

use aws_lc_rs::constant_time;
use base64::Engine as _;
use serde_json::{Value, json};

use super::clients::{Client, ClientAuth};
use super::params::Params;
use super::server::AuthorizationServer;
use super::store::{Code, Redeemed, Refresh, Rotated};
use super::types::{ClientCredentials, OAuthError, truncate};
use crate::auth::keys::sha256_hex;
use crate::auth::signer::{Grant, random_token};
use crate::store::{DbError, now};

impl AuthorizationServer {
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
                session: Some(&r.family),
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
}
