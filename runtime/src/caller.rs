//! Who is calling: the authenticated subject, what it was granted, and how
//! it proved it. Made by [`crate::auth`], judged by the policy, handed to
//! handlers through their context.

use serde::Serialize;

/// How a caller proved who it is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum AuthMethod {
    /// No credential (public tools only).
    None,
    /// An mcpgen access key.
    AccessKey,
    /// An OAuth access token (JWT) from the authorization server.
    OAuth,
    /// A development token minted locally by `token mint`.
    DevToken,
}

impl AuthMethod {
    /// The spelling `verify_access` reports.
    pub fn as_str(self) -> &'static str {
        match self {
            AuthMethod::None => "none",
            AuthMethod::AccessKey => "access_key",
            AuthMethod::OAuth => "oauth",
            AuthMethod::DevToken => "dev_token",
        }
    }
}

/// Who is calling: the authenticated subject and what it was granted.
///
/// ```
/// let caller = mcpgen::Caller::new("alice", ["notes:read"], None);
/// assert_eq!(caller.subject(), "alice");
/// assert_eq!(caller.scopes(), ["notes:read"]);
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Caller {
    subject: String,
    scopes: Vec<String>,
    client_id: Option<String>,
    method: AuthMethod,
    credential_id: Option<String>,
    expires_at: Option<i64>,
    /// Which credential, for the audit trail: `key:<id>` or `jwt:<hash>`.
    reference: String,
}

static ANONYMOUS: Caller = Caller::anonymous();

impl Caller {
    /// Nobody: the caller of a public tool that presented no credential.
    pub const fn anonymous() -> Self {
        Self {
            subject: String::new(),
            scopes: Vec::new(),
            client_id: None,
            method: AuthMethod::None,
            credential_id: None,
            expires_at: None,
            reference: String::new(),
        }
    }

    /// The anonymous caller, borrowed for as long as needed.
    pub(crate) fn anonymous_ref() -> &'static Self {
        &ANONYMOUS
    }

    /// Whether this is the anonymous caller of a public tool.
    pub fn is_anonymous(&self) -> bool {
        self.subject.is_empty()
    }

    /// A caller with a subject, its granted scopes and an optional client id.
    pub fn new(
        subject: impl Into<String>,
        scopes: impl IntoIterator<Item = impl Into<String>>,
        client_id: Option<String>,
    ) -> Self {
        let mut scopes: Vec<String> = scopes.into_iter().map(Into::into).collect();
        scopes.sort();
        scopes.dedup();
        Self {
            subject: subject.into(),
            scopes,
            client_id,
            method: AuthMethod::OAuth,
            credential_id: None,
            expires_at: None,
            reference: String::new(),
        }
    }

    /// Record how the caller authenticated, which credential it used (an
    /// access key's id, a token's `jti`) and when that credential expires
    /// (Unix seconds).
    pub fn with_credential(
        mut self,
        method: AuthMethod,
        credential_id: Option<String>,
        expires_at: Option<i64>,
    ) -> Self {
        self.method = method;
        self.credential_id = credential_id;
        self.expires_at = expires_at;
        self
    }

    /// Record which credential this caller presented, as the audit trail
    /// names it (never the secret).
    pub(crate) fn with_reference(mut self, reference: String) -> Self {
        self.reference = reference;
        self
    }

    /// Which credential this caller presented, as the audit trail names it:
    /// `key:<id>` for an access key, `jwt:<hash>` for a token; empty when
    /// unknown.
    pub(crate) fn reference(&self) -> &str {
        &self.reference
    }

    /// How the caller authenticated.
    pub fn method(&self) -> AuthMethod {
        self.method
    }

    /// The credential's id: an access key's id or a token's `jti`. Never a secret.
    pub fn credential_id(&self) -> Option<&str> {
        self.credential_id.as_deref()
    }

    /// When the credential expires, in Unix seconds.
    pub fn expires_at(&self) -> Option<i64> {
        self.expires_at
    }

    /// The authenticated subject (the token's `sub`, or an access key's owner).
    pub fn subject(&self) -> &str {
        &self.subject
    }

    /// Granted scopes, sorted and without duplicates.
    pub fn scopes(&self) -> &[String] {
        &self.scopes
    }

    /// The OAuth client that presented the credential, if known.
    pub fn client_id(&self) -> Option<&str> {
        self.client_id.as_deref()
    }
}
