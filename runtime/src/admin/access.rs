//! Who may operate: a credential carrying [`ADMIN_SCOPE`], as a bearer
//! header (the JSON API) or typed once into the page's sign-in form, which
//! opens a session: a cookie sealed with a key every instance shares,
//! holding the subject, the access key it came from (so revoking that key
//! ends the session at once), an expiry and the session's CSRF token.

use axum::http::{HeaderMap, header};
use serde_json::json;

use super::state::{Admin, cookie};
use crate::auth::AuthError;
use crate::auth::signer::random_token;
use crate::caller::{AuthMethod, Caller};
use crate::registry::Tools;
use crate::store::now;
use mcpgen_spec::ADMIN_SCOPE;

/// The session cookie.
pub(super) const SESSION_COOKIE: &str = "mcpgen_admin";
/// The sign-in form's CSRF cookie (double submit).
pub(super) const SIGN_IN_COOKIE: &str = "mcpgen_admin_sign_in";
/// How long a session lasts at most.
const SESSION_SECS: i64 = 8 * 3600;

/// An operator, signed in.
#[derive(Debug, Clone)]
pub(super) struct Operator {
    /// Who.
    pub(super) subject: String,
    /// The session's CSRF token (empty for a bearer credential, which a
    /// browser never sends on its own).
    pub(super) csrf: String,
}

/// Why there is no operator.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) enum Refusal {
    /// No credential, an invalid one, or an ended session.
    Unauthenticated,
    /// A valid credential without the admin scope.
    NotAnAdmin,
    /// The credential cannot be checked now.
    Unavailable,
}

impl Refusal {
    pub(super) fn message(&self) -> &'static str {
        match self {
            Refusal::Unauthenticated => {
                "an admin credential is needed: an access key or token with the mcpgen:admin scope"
            }
            Refusal::NotAnAdmin => {
                "this credential does not carry the mcpgen:admin scope: create an admin key with `keys create --owner you --scopes mcpgen:admin`"
            }
            Refusal::Unavailable => "credentials cannot be checked right now: retry shortly",
        }
    }
}

impl<S: Tools> Admin<S> {
    /// The operator a credential stands for, if it carries the admin scope.
    pub(super) async fn operator(&self, credential: &str) -> Result<Caller, Refusal> {
        match self.server.authenticate(credential).await {
            Ok(c) if c.scopes().iter().any(|s| s == ADMIN_SCOPE) => Ok(c),
            Ok(_) => Err(Refusal::NotAnAdmin),
            Err(AuthError::Unavailable) => Err(Refusal::Unavailable),
            Err(_) => Err(Refusal::Unauthenticated),
        }
    }

    /// The operator of a bearer `Authorization` header.
    pub(super) async fn bearer(&self, headers: &HeaderMap) -> Result<Operator, Refusal> {
        let credential = headers
            .get(header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| {
                v.strip_prefix("Bearer ")
                    .or_else(|| v.strip_prefix("bearer "))
            })
            .map(str::trim)
            .filter(|c| !c.is_empty())
            .ok_or(Refusal::Unauthenticated)?;
        let caller = self.operator(credential).await?;
        Ok(Operator {
            subject: caller.subject().to_owned(),
            csrf: String::new(),
        })
    }

    /// The operator of a session cookie, while its session lasts and the
    /// key it came from is not revoked.
    pub(super) async fn session(&self, headers: &HeaderMap) -> Result<Operator, Refusal> {
        let sealed = cookie(headers, SESSION_COOKIE).ok_or(Refusal::Unauthenticated)?;
        let s = self
            .sessions
            .unseal(sealed)
            .ok_or(Refusal::Unauthenticated)?;
        if s["exp"].as_i64().is_none_or(|exp| exp <= now()) {
            return Err(Refusal::Unauthenticated);
        }
        if let Some(key) = s["key"].as_str() {
            match self.keys.is_active(key).await {
                Ok(true) => {}
                Ok(false) => return Err(Refusal::Unauthenticated),
                Err(_) => return Err(Refusal::Unavailable),
            }
        }
        Ok(Operator {
            subject: s["sub"].as_str().unwrap_or_default().to_owned(),
            csrf: s["csrf"].as_str().unwrap_or_default().to_owned(),
        })
    }

    /// A sealed session for `caller`.
    pub(super) fn open_session(&self, caller: &Caller) -> String {
        let key = (caller.method() == AuthMethod::AccessKey)
            .then(|| caller.credential_id())
            .flatten();
        let exp = caller
            .expires_at()
            .map_or(now() + SESSION_SECS, |e| e.min(now() + SESSION_SECS));
        self.sessions.seal(&json!({
            "sub": caller.subject(),
            "key": key,
            "exp": exp,
            "csrf": random_token(24),
        }))
    }
}

/// `Set-Cookie` for the session (or, with `None`, its removal).
pub(super) fn session_cookie(value: Option<&str>) -> String {
    match value {
        Some(v) => format!("{SESSION_COOKIE}={v}; Path=/; HttpOnly; SameSite=Strict"),
        None => format!("{SESSION_COOKIE}=; Path=/; HttpOnly; SameSite=Strict; Max-Age=0"),
    }
}

/// `Set-Cookie` for the sign-in form's CSRF token.
pub(super) fn sign_in_cookie(value: &str) -> String {
    format!("{SIGN_IN_COOKIE}={value}; Path=/; HttpOnly; SameSite=Strict")
}

/// Whether `presented` (a form's field) is the expected CSRF token.
pub(super) fn same_token(expected: &str, presented: &str) -> bool {
    !expected.is_empty()
        && aws_lc_rs::constant_time::verify_slices_are_equal(
            expected.as_bytes(),
            presented.as_bytes(),
        )
        .is_ok()
}
