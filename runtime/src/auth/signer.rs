//! An Ed25519 key that signs access tokens (RFC 9068 JWTs): the local
//! development key and the built-in authorization server's key are both
//! one of these, so their tokens have one shape and one verifier.

use std::time::Duration;

use aws_lc_rs::signature::{Ed25519KeyPair, KeyPair as _};
use base64::Engine as _;
use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey, Header, encode};
use serde::Serialize;
use serde_json::{Value, json};

use super::jwt::{JwtConfig, JwtVerifier, Keys};
use crate::caller::AuthMethod;
use crate::store::now;

/// What one access token says.
#[derive(Debug, Clone, Copy)]
pub struct Grant<'a> {
    /// `iss`.
    pub issuer: &'a str,
    /// `aud`: the resource the token is for.
    pub audience: &'a str,
    /// `sub`.
    pub subject: &'a str,
    /// `scope`, space-separated.
    pub scopes: &'a [String],
    /// `client_id`, when a client asked for it.
    pub client: Option<&'a str>,
    /// How long it lives.
    pub ttl: Duration,
    /// `sid`: the grant it belongs to, so that revoking the grant ends it.
    pub session: Option<&'a str>,
}

#[derive(Serialize)]
struct Claims<'a> {
    iss: &'a str,
    sub: &'a str,
    aud: &'a str,
    iat: i64,
    nbf: i64,
    exp: i64,
    jti: String,
    scope: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    sid: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    client_id: Option<&'a str>,
}

/// An Ed25519 signing key with its key id.
pub struct SigningKey {
    pkcs8: Vec<u8>,
    public: Vec<u8>,
    kid: String,
}

impl SigningKey {
    /// A new key, as PKCS#8 bytes.
    pub fn generate() -> std::io::Result<Vec<u8>> {
        Ed25519KeyPair::generate_pkcs8(&aws_lc_rs::rand::SystemRandom::new())
            .map(|doc| doc.as_ref().to_vec())
            .map_err(|_| std::io::Error::other("cannot generate a signing key"))
    }

    /// The key in `pkcs8`, published under `kid`; `None` if the bytes are
    /// not an Ed25519 PKCS#8 key.
    pub fn from_pkcs8(kid: impl Into<String>, pkcs8: Vec<u8>) -> Option<Self> {
        let pair = Ed25519KeyPair::from_pkcs8(&pkcs8).ok()?;
        Some(Self {
            public: pair.public_key().as_ref().to_vec(),
            pkcs8,
            kid: kid.into(),
        })
    }

    /// The key id tokens name in their header.
    pub fn kid(&self) -> &str {
        &self.kid
    }

    /// The same key published under `kid`.
    pub fn with_kid(mut self, kid: impl Into<String>) -> Self {
        self.kid = kid.into();
        self
    }

    /// The RFC 7638 thumbprint of the public key (base64url SHA-256 of its
    /// canonical JWK): a key id that says nothing of the private key.
    pub fn thumbprint(&self) -> String {
        let b64 = base64::engine::general_purpose::URL_SAFE_NO_PAD;
        let canonical = format!(
            "{{\"crv\":\"Ed25519\",\"kty\":\"OKP\",\"x\":\"{}\"}}",
            b64.encode(&self.public)
        );
        b64.encode(
            aws_lc_rs::digest::digest(&aws_lc_rs::digest::SHA256, canonical.as_bytes()).as_ref(),
        )
    }

    /// Sign an access token for `grant`: `typ: at+jwt`, this key's `kid`,
    /// a fresh `jti`.
    pub fn mint(&self, grant: &Grant<'_>) -> Result<String, jsonwebtoken::errors::Error> {
        let mut header = Header::new(Algorithm::EdDSA);
        header.typ = Some("at+jwt".into());
        header.kid = Some(self.kid.clone());
        let iat = now();
        let claims = Claims {
            iss: grant.issuer,
            sub: grant.subject,
            aud: grant.audience,
            iat,
            nbf: iat,
            exp: iat.saturating_add(i64::try_from(grant.ttl.as_secs()).unwrap_or(i64::MAX)),
            jti: random_token(12),
            scope: grant.scopes.join(" "),
            sid: grant.session,
            client_id: grant.client,
        };
        encode(&header, &claims, &EncodingKey::from_ed_der(&self.pkcs8))
    }

    /// A verifier that accepts this key's tokens from `issuer` for
    /// `audience`, labelling callers with `method`.
    pub fn verifier(&self, issuer: &str, audience: &str, method: AuthMethod) -> JwtVerifier {
        let mut config = JwtConfig::new(issuer, audience);
        config.algorithms = vec![Algorithm::EdDSA];
        config.method = method;
        JwtVerifier::new(
            config,
            Keys::Static(vec![(
                Some(self.kid.clone()),
                DecodingKey::from_ed_der(&self.public),
            )]),
        )
    }

    /// The public key as a JWK (RFC 8037), for a JWKS document.
    pub fn jwk(&self) -> Value {
        json!({
            "kty": "OKP",
            "crv": "Ed25519",
            "alg": "EdDSA",
            "use": "sig",
            "kid": self.kid,
            "x": base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(&self.public),
        })
    }
}

/// `bytes` random bytes, base64url without padding.
pub(crate) fn random_token(bytes: usize) -> String {
    let mut b = vec![0u8; bytes];
    // Without randomness no token may be made at all.
    aws_lc_rs::rand::fill(&mut b).expect("the system random number generator is unavailable");
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(b)
}
