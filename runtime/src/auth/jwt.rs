//! OAuth access tokens (RFC 9068 JWTs): signature with a key from a JWKS
//! URL or configured public keys, an algorithm allowlist, exact issuer,
//! audience = this resource, expiry and not-before with small leeway, and
//! explicit typing.

use std::collections::HashMap;
use std::time::{Duration, Instant};

use jsonwebtoken::jwk::JwkSet;
use jsonwebtoken::{Algorithm, DecodingKey, Validation, decode, decode_header};
use serde::Deserialize;
use tokio::sync::{Mutex, RwLock};

use super::authenticator::AuthError;
use crate::caller::{AuthMethod, Caller};

/// The longest token lifetime accepted unless configured otherwise: a day
/// (identity providers issue access tokens for minutes to hours).
pub const DEFAULT_MAX_LIFETIME: Duration = Duration::from_secs(24 * 3600);

/// How a verifier is set up.
#[derive(Clone)]
pub struct JwtConfig {
    /// The exact `iss` expected.
    pub issuer: String,
    /// The `aud` that must be present: the manifest's resource URI.
    pub audience: String,
    /// Accepted algorithms. Never `none`, never HMAC (keys are public).
    pub algorithms: Vec<Algorithm>,
    /// Accepted `typ` header values, compared case-insensitively.
    /// Default `at+jwt` and `application/at+jwt` (RFC 9068).
    pub accepted_typ: Vec<String>,
    /// Clock leeway for `exp`, `nbf` and `iat`.
    pub leeway: Duration,
    /// The longest lifetime accepted: `exp - iat`, or `exp` from now for a
    /// token without `iat`. A token that lives longer is refused.
    pub max_lifetime: Duration,
    /// How callers verified by this config are labelled.
    pub method: AuthMethod,
}

impl JwtConfig {
    /// The strict defaults for `issuer` and `audience`.
    pub fn new(issuer: impl Into<String>, audience: impl Into<String>) -> Self {
        Self {
            issuer: issuer.into(),
            audience: audience.into(),
            algorithms: vec![
                Algorithm::RS256,
                Algorithm::PS256,
                Algorithm::ES256,
                Algorithm::EdDSA,
            ],
            accepted_typ: vec!["at+jwt".into(), "application/at+jwt".into()],
            leeway: Duration::from_secs(60),
            max_lifetime: DEFAULT_MAX_LIFETIME,
            method: AuthMethod::OAuth,
        }
    }
}

/// Where verification keys come from.
pub enum Keys {
    /// Configured keys, by `kid` (`None`: the key for tokens without one).
    Static(Vec<(Option<String>, DecodingKey)>),
    /// A JWKS document fetched from the authorization server.
    Jwks(Box<JwksSource>),
}

/// A JWKS URL, fetched when a token names a `kid` not yet known (at most
/// once per cooldown) and refreshed after `max_age`; never on every request.
pub struct JwksSource {
    url: String,
    http: reqwest::Client,
    cache: RwLock<HashMap<String, DecodingKey>>,
    fetched_at: RwLock<Option<Instant>>,
    fetch_lock: Mutex<Option<Instant>>,
    max_age: Duration,
    cooldown: Duration,
}

impl JwksSource {
    /// Keys from `url`: https, or http to a loopback address (for tests);
    /// never a URL with a user name or password.
    pub fn new(url: impl Into<String>) -> Result<Self, String> {
        let url = url.into();
        crate::endpoint::check_url("JWKS URL", &url)?;
        let http = reqwest::Client::builder()
            .timeout(Duration::from_secs(5))
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .map_err(|e| e.to_string())?;
        Ok(Self {
            url,
            http,
            cache: RwLock::new(HashMap::new()),
            fetched_at: RwLock::new(None),
            fetch_lock: Mutex::new(None),
            max_age: Duration::from_secs(600),
            cooldown: Duration::from_secs(30),
        })
    }

    /// Set how often unknown `kid`s may trigger a refetch.
    pub fn with_cooldown(mut self, cooldown: Duration) -> Self {
        self.cooldown = cooldown;
        self
    }

    async fn lookup(&self, kid: &str) -> Option<DecodingKey> {
        self.cache.read().await.get(kid).cloned()
    }

    async fn key(&self, kid: &str) -> Result<Option<DecodingKey>, AuthError> {
        let fresh = self
            .fetched_at
            .read()
            .await
            .is_some_and(|t| t.elapsed() < self.max_age);
        if fresh && let Some(k) = self.lookup(kid).await {
            return Ok(Some(k));
        }
        {
            let mut last_attempt = self.fetch_lock.lock().await;
            // Someone else may have fetched while we waited.
            if let Some(k) = self.lookup(kid).await
                && self
                    .fetched_at
                    .read()
                    .await
                    .is_some_and(|t| t.elapsed() < self.max_age)
            {
                return Ok(Some(k));
            }
            if last_attempt.is_none_or(|t| t.elapsed() >= self.cooldown) {
                *last_attempt = Some(Instant::now());
                match self.fetch().await {
                    Ok(keys) => {
                        *self.cache.write().await = keys;
                        *self.fetched_at.write().await = Some(Instant::now());
                    }
                    Err(e) => {
                        tracing::warn!(error = %e, "cannot fetch the JWKS");
                        if self.cache.read().await.is_empty() {
                            return Err(AuthError::Unavailable);
                        }
                    }
                }
            }
        }
        Ok(self.lookup(kid).await)
    }

    /// Whether the JWKS can be had (for readiness): keys fetched within
    /// `max_age`, or fetched now. How many keys it holds, or why not.
    pub async fn check(&self) -> Result<usize, String> {
        let fresh = self
            .fetched_at
            .read()
            .await
            .is_some_and(|t| t.elapsed() < self.max_age);
        if fresh {
            return Ok(self.cache.read().await.len());
        }
        let _one_at_a_time = self.fetch_lock.lock().await;
        let keys = self.fetch().await?;
        let n = keys.len();
        *self.cache.write().await = keys;
        *self.fetched_at.write().await = Some(Instant::now());
        Ok(n)
    }

    async fn fetch(&self) -> Result<HashMap<String, DecodingKey>, String> {
        let set: JwkSet = self
            .http
            .get(&self.url)
            .send()
            .await
            .and_then(reqwest::Response::error_for_status)
            .map_err(|e| format!("request failed: {}", e.without_url()))?
            .json()
            .await
            .map_err(|e| format!("not a JWKS document: {}", e.without_url()))?;
        Ok(set
            .keys
            .iter()
            .filter_map(|jwk| {
                let kid = jwk.common.key_id.clone()?;
                DecodingKey::from_jwk(jwk).ok().map(|k| (kid, k))
            })
            .collect())
    }
}

/// Verifies access tokens for one issuer.
pub struct JwtVerifier {
    config: JwtConfig,
    keys: Keys,
    /// The checks for each accepted algorithm, built once.
    validations: Vec<(Algorithm, Validation)>,
    /// Grants revoked before their tokens expire (the built-in
    /// authorization server's `sid`).
    revoked: Option<std::sync::Arc<super::revocations::RevokedGrants>>,
}

#[derive(Deserialize)]
struct Claims {
    sub: String,
    /// A string, exactly: jsonwebtoken alone accepts an array of issuers
    /// that merely contains the expected one.
    iss: String,
    #[serde(default)]
    iat: Option<i64>,
    #[serde(default)]
    scope: Option<String>,
    #[serde(default)]
    scp: Option<ScopeList>,
    #[serde(default)]
    client_id: Option<String>,
    #[serde(default)]
    azp: Option<String>,
    #[serde(default)]
    jti: Option<String>,
    /// The grant a built-in authorization server's token belongs to.
    #[serde(default)]
    sid: Option<String>,
    exp: i64,
}

#[derive(Deserialize)]
#[serde(untagged)]
enum ScopeList {
    Space(String),
    List(Vec<String>),
}

/// A `kid` safe to use as a lookup key: short, printable, no separators
/// that could smuggle a path or a query.
fn sane_kid(kid: &str) -> bool {
    !kid.is_empty()
        && kid.len() <= 128
        && kid.bytes().all(|b| {
            b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.' | b'=' | b'+' | b'~')
        })
}

impl JwtVerifier {
    /// A verifier with `config` and `keys`. HMAC algorithms are removed:
    /// with public keys they would let anyone sign.
    pub fn new(mut config: JwtConfig, keys: Keys) -> Self {
        config
            .algorithms
            .retain(|a| !matches!(a, Algorithm::HS256 | Algorithm::HS384 | Algorithm::HS512));
        let validations = config
            .algorithms
            .iter()
            .map(|&alg| {
                let mut validation = Validation::new(alg);
                validation.algorithms = vec![alg];
                validation.set_issuer(&[&config.issuer]);
                validation.set_audience(&[&config.audience]);
                validation.leeway = config.leeway.as_secs();
                validation.validate_nbf = true;
                validation.set_required_spec_claims(&["exp", "iss", "aud", "sub"]);
                (alg, validation)
            })
            .collect();
        Self {
            config,
            keys,
            validations,
            revoked: None,
        }
    }

    /// Refuse tokens whose grant (`sid`) is in `revoked`.
    pub fn with_revoked_grants(
        mut self,
        revoked: std::sync::Arc<super::revocations::RevokedGrants>,
    ) -> Self {
        self.revoked = Some(revoked);
        self
    }

    /// Whether this verifier's keys can be had (readiness): always for
    /// configured keys; for a JWKS URL, see [`JwksSource::check`].
    pub async fn ready(&self) -> Result<(), String> {
        match &self.keys {
            Keys::Static(_) => Ok(()),
            Keys::Jwks(source) => source.check().await.map(drop),
        }
    }

    /// The issuer this verifier trusts.
    pub fn issuer(&self) -> &str {
        &self.config.issuer
    }

    /// Verify `token`; any failure is `InvalidToken` (or `Unavailable` when
    /// keys cannot be fetched at all).
    pub async fn verify(&self, token: &str) -> Result<Caller, AuthError> {
        let header = decode_header(token).map_err(|_| AuthError::InvalidToken)?;
        // RFC 7515 §4.1.11: a critical extension this verifier does not
        // understand (it understands none) makes the token invalid.
        if header.crit.is_some() {
            return Err(AuthError::InvalidToken);
        }
        let validation = self
            .validations
            .iter()
            .find(|(alg, _)| *alg == header.alg)
            .map(|(_, v)| v)
            .ok_or(AuthError::InvalidToken)?;
        let typ_ok = header.typ.as_deref().is_some_and(|t| {
            self.config
                .accepted_typ
                .iter()
                .any(|a| a.eq_ignore_ascii_case(t))
        });
        if !typ_ok {
            return Err(AuthError::InvalidToken);
        }
        // `jku`, `x5u`, `jwk` and `x5c` in the header are never followed or
        // trusted: keys come only from configuration.
        let kid = header.kid.as_deref();
        if kid.is_some_and(|k| !sane_kid(k)) {
            return Err(AuthError::InvalidToken);
        }
        let fetched;
        let key = match &self.keys {
            Keys::Static(keys) => keys
                .iter()
                .find(|(k, _)| {
                    (k.is_some() && k.as_deref() == kid) || (k.is_none() && keys.len() == 1)
                })
                .map(|(_, key)| key),
            Keys::Jwks(source) => {
                fetched = match kid {
                    Some(k) => source.key(k).await?,
                    None => None,
                };
                fetched.as_ref()
            }
        };
        let key = key.ok_or(AuthError::InvalidToken)?;
        let data = decode::<Claims>(token, key, validation).map_err(|_| AuthError::InvalidToken)?;
        let claims = data.claims;
        if claims.sub.is_empty() || claims.iss != self.config.issuer {
            return Err(AuthError::InvalidToken);
        }
        let now = crate::store::now();
        let leeway = i64::try_from(self.config.leeway.as_secs()).unwrap_or(i64::MAX);
        if claims
            .iat
            .is_some_and(|iat| iat > now.saturating_add(leeway))
        {
            // Issued in the future.
            return Err(AuthError::InvalidToken);
        }
        let lifetime = claims.exp.saturating_sub(claims.iat.unwrap_or(now));
        let max = i64::try_from(self.config.max_lifetime.as_secs()).unwrap_or(i64::MAX);
        if lifetime > max {
            return Err(AuthError::InvalidToken);
        }
        let scopes: Vec<String> = match (&claims.scope, &claims.scp) {
            (Some(s), _) => s.split_whitespace().map(str::to_owned).collect(),
            (None, Some(ScopeList::Space(s))) => s.split_whitespace().map(str::to_owned).collect(),
            (None, Some(ScopeList::List(l))) => l.clone(),
            (None, None) => Vec::new(),
        };
        if let (Some(revoked), Some(sid)) = (&self.revoked, &claims.sid)
            && revoked.is_revoked(sid)
        {
            return Err(AuthError::InvalidToken);
        }
        let client = claims.client_id.or(claims.azp);
        Ok(Caller::new(claims.sub, scopes, client).with_credential(
            self.config.method,
            claims.jti,
            Some(claims.exp),
        ))
    }
}
