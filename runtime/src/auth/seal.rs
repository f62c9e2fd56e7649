//! Values a server hands a browser and must get back unchanged (consent
//! sessions, operator sessions): JSON signed with an HMAC key kept in the
//! database, so every instance on it accepts what another sealed.

use aws_lc_rs::hmac;
use base64::Engine as _;
use serde_json::Value;

use crate::store::{Db, DbError};

/// Signs and checks sealed values.
pub struct Sealer {
    key: hmac::Key,
}

impl std::fmt::Debug for Sealer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Sealer")
    }
}

impl Sealer {
    /// A sealer with the secret `name` of `db` (made on first use, then
    /// shared by every instance on the database).
    pub async fn shared(db: &Db, name: &str) -> Result<Self, DbError> {
        let secret = crate::store::shared_secret(db, name, super::signer::random_token(32)).await?;
        Ok(Self {
            key: hmac::Key::new(hmac::HMAC_SHA256, secret.as_bytes()),
        })
    }

    /// A sealer with a key of this process only (a server without a
    /// database is one process).
    pub(crate) fn random() -> Self {
        Self {
            key: hmac::Key::new(
                hmac::HMAC_SHA256,
                super::signer::random_token(32).as_bytes(),
            ),
        }
    }

    /// `base64url(payload).base64url(HMAC)`.
    pub fn seal(&self, payload: &Value) -> String {
        let b64 = base64::engine::general_purpose::URL_SAFE_NO_PAD;
        let body = b64.encode(payload.to_string());
        let tag = hmac::sign(&self.key, body.as_bytes());
        format!("{body}.{}", b64.encode(tag.as_ref()))
    }

    /// The payload of a value [`Self::seal`] made, if the signature holds.
    pub fn unseal(&self, sealed: &str) -> Option<Value> {
        let b64 = base64::engine::general_purpose::URL_SAFE_NO_PAD;
        let (body, tag) = sealed.split_once('.')?;
        let tag = b64.decode(tag).ok()?;
        hmac::verify(&self.key, body.as_bytes(), &tag).ok()?;
        serde_json::from_slice(&b64.decode(body).ok()?).ok()
    }
}
