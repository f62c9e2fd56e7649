//! The built-in authorization server's settings, its scope catalogue and
//! its error answers.

use std::time::Duration;

use serde_json::{Value, json};

use crate::store::DbError;

/// How the built-in authorization server behaves.
#[derive(Debug, Clone)]
pub struct OAuthSettings {
    /// How long an access token lives.
    pub access_token_ttl: Duration,
    /// How long a refresh token lives (each use rotates it).
    pub refresh_token_ttl: Duration,
    /// Registered clients kept at most; registering one more removes the
    /// least recently used.
    pub max_registered_clients: u64,
    /// Registrations per peer address (IPv6: per /64) and minute.
    pub registrations_per_minute: u32,
    /// Registrations per minute from everyone together.
    pub registrations_per_minute_in_all: u32,
    /// Client labels of access keys that `[clients]` restricts: a key with
    /// one of these labels belongs to that client and cannot sign in
    /// another (its token would otherwise name another client and escape
    /// the restriction).
    pub restricted_key_labels: Vec<String>,
    /// Whether the consent page offers the development sign-in (a subject
    /// typed in, with every scope): only in a local environment.
    pub development_sign_in: bool,
    /// Fetch Client ID Metadata Documents from loopback addresses (over
    /// http too). For tests only: it lets a client id point inside.
    pub allow_loopback_client_documents: bool,
}

impl Default for OAuthSettings {
    fn default() -> Self {
        Self {
            access_token_ttl: Duration::from_secs(600),
            refresh_token_ttl: Duration::from_secs(30 * 24 * 3600),
            max_registered_clients: 10_000,
            registrations_per_minute: 20,
            registrations_per_minute_in_all: 600,
            restricted_key_labels: Vec::new(),
            development_sign_in: false,
            allow_loopback_client_documents: false,
        }
    }
}

/// One scope as the consent page explains it.
#[derive(Debug, Clone)]
pub struct ScopeInfo {
    /// The scope, e.g. `notes:read`.
    pub name: String,
    /// Its manifest description.
    pub description: String,
    /// The tools it opens (from the scope matrix).
    pub tools: Vec<String>,
}

/// Every scope the manifest declares, with its description and the tools
/// it opens (a tool is opened by a scope it requires).
pub fn scope_catalogue<S: crate::registry::Tools>(
    registry: &crate::registry::Registry<S>,
) -> Vec<ScopeInfo> {
    S::manifest()
        .scopes
        .iter()
        .map(|s| ScopeInfo {
            name: s.name.to_string(),
            description: s.description.to_string(),
            tools: registry
                .tools()
                .iter()
                .map(|t| t.spec())
                .filter(|t| t.scopes.iter().any(|x| x == &s.name))
                .map(|t| t.name.to_string())
                .collect(),
        })
        .collect()
}

/// An OAuth error answer (RFC 6749 §5.2, RFC 7591 §3.2.2).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{error}: {description}")]
pub struct OAuthError {
    /// The error code, e.g. `invalid_grant`.
    pub error: &'static str,
    /// What was wrong, for the developer.
    pub description: String,
    /// The HTTP status.
    pub status: u16,
}

impl OAuthError {
    pub(crate) fn new(error: &'static str, description: impl Into<String>) -> Self {
        let status = match error {
            "invalid_client" => 401,
            "server_error" => 500,
            "temporarily_unavailable" => 503,
            "slow_down" => 429,
            _ => 400,
        };
        Self {
            error,
            description: description.into(),
            status,
        }
    }

    pub(crate) fn unavailable(e: &DbError) -> Self {
        tracing::error!(error = %e, "the authorization server's storage failed");
        Self::new(
            "temporarily_unavailable",
            "the authorization server cannot reach its storage; retry shortly",
        )
    }

    /// The JSON body.
    pub fn body(&self) -> Value {
        json!({"error": self.error, "error_description": self.description})
    }
}

/// A client's credentials as presented at the token or revocation
/// endpoint: HTTP Basic, or `client_id` (and `client_secret`) in the form.
#[derive(Debug, Default, Clone)]
pub struct ClientCredentials {
    /// From `Authorization: Basic`.
    pub basic: Option<(String, String)>,
}

/// `s` without control characters, at most `max` characters (then `…`):
/// how a client's own text is quoted back.
pub(crate) fn truncate(s: &str, max: usize) -> String {
    let mut out: String = s.chars().filter(|c| !c.is_control()).take(max).collect();
    if s.chars().count() > max {
        out.push('…');
    }
    out
}
