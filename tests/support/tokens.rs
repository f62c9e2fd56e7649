//! Access tokens as an external authorization server would issue them,
//! signed with the test-only keys in `tests/fixtures/auth`.

use std::path::PathBuf;

use base64::Engine as _;
use jsonwebtoken::{Algorithm, EncodingKey, Header, encode};
use serde_json::{Value, json};

/// The issuer the example manifest names first.
pub const ISSUER: &str = "https://auth.example.com";
/// The example manifest's resource URI: the token audience.
pub const AUDIENCE: &str = "http://127.0.0.1:8080/mcp";
/// The `kid` of `as-key`.
pub const KID: &str = "as-key-1";

/// A file under `tests/fixtures/auth`.
pub fn fixture(name: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures/auth")
        .join(name)
}

/// `--jwt-public-key` value trusting `as-key`.
pub fn trust_arg() -> String {
    format!("{KID}={}", fixture("as-key.pub.pem").display())
}

/// Unix seconds now.
pub fn now() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64
}

/// Standard claims for `sub` with `scopes`, valid for ten minutes.
pub fn claims(sub: &str, scopes: &[&str]) -> Value {
    let now = now();
    json!({
        "iss": ISSUER, "aud": AUDIENCE, "sub": sub, "iat": now, "nbf": now - 5, "exp": now + 600,
        "jti": format!("jti-{sub}-{now}"), "client_id": "test-client", "scope": scopes.join(" "),
    })
}

/// Sign `claims` with RS256 using the PEM private key `key`, with `header`
/// adjusted by `edit`.
pub fn sign_with(key: &str, claims: &Value, edit: impl FnOnce(&mut Header)) -> String {
    let pem = std::fs::read(fixture(key)).expect("fixture key");
    let mut header = Header::new(Algorithm::RS256);
    header.typ = Some("at+jwt".into());
    header.kid = Some(KID.into());
    edit(&mut header);
    encode(
        &header,
        claims,
        &EncodingKey::from_rsa_pem(&pem).expect("RSA PEM"),
    )
    .expect("signed")
}

/// A valid token for `sub` with `scopes`.
pub fn token(sub: &str, scopes: &[&str]) -> String {
    sign_with("as-key.pem", &claims(sub, scopes), |_| {})
}

/// Base64url without padding.
pub fn b64(bytes: &[u8]) -> String {
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes)
}

/// Replace a token's payload, keeping its header and signature.
pub fn with_payload(token: &str, payload: &Value) -> String {
    let mut parts: Vec<String> = token.split('.').map(str::to_owned).collect();
    parts[1] = b64(payload.to_string().as_bytes());
    parts.join(".")
}
