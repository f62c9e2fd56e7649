//! What the admin listener serves from, and the small helpers its
//! requests share.

use std::net::SocketAddr;
use std::sync::Arc;

use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use metrics_exporter_prometheus::PrometheusHandle;
use serde_json::json;

use crate::auth::{AccessKeys, JwtVerifier, Sealer, VerifiedCache};
use crate::registry::Tools;
use crate::server::McpServer;
use crate::store::{Db, DbError};

/// Everything the admin listener serves from.
pub struct Admin<S: Tools> {
    pub(super) server: Arc<McpServer<S>>,
    pub(super) db: Db,
    pub(super) keys: AccessKeys,
    /// The MCP endpoint's verified-credential cache: a key revoked here is
    /// dropped from it at once.
    cache: Option<Arc<VerifiedCache>>,
    pub(super) metrics: Option<PrometheusHandle>,
    /// The external authorization server's keys, for readiness.
    pub(super) jwks: Option<Arc<JwtVerifier>>,
    pub(super) sessions: Sealer,
}

impl<S: Tools> Admin<S> {
    /// The admin side of `server`, whose database is `db`.
    pub async fn open(server: Arc<McpServer<S>>, db: Db) -> Result<Self, DbError> {
        let declared = S::manifest().scopes.iter().map(|s| s.name.to_string());
        Ok(Self {
            keys: AccessKeys::new(db.clone(), declared),
            sessions: Sealer::shared(&db, "admin_session_key").await?,
            server,
            db,
            cache: None,
            metrics: None,
            jwks: None,
        })
    }

    /// Serve `/metrics` from `handle` (see [`crate::telemetry::prometheus`]).
    pub fn with_metrics(mut self, handle: PrometheusHandle) -> Self {
        self.metrics = Some(handle);
        self
    }

    /// Drop revoked keys from `cache` (the MCP endpoint's) at once.
    pub fn with_credential_cache(mut self, cache: Arc<VerifiedCache>) -> Self {
        self.cache = Some(cache);
        self
    }

    /// Check in `/readyz` that `verifier`'s keys can be had.
    pub fn with_jwks(mut self, verifier: Arc<JwtVerifier>) -> Self {
        self.jwks = Some(verifier);
        self
    }
}

/// The peer's address, as the audit trail names it.
pub(super) fn peer(address: SocketAddr) -> String {
    address.ip().to_string()
}

/// A JSON error answer.
pub(super) fn problem(status: StatusCode, message: &str) -> Response {
    (status, axum::Json(json!({"error": message}))).into_response()
}

/// The cookie named `name` in `headers`.
pub(super) fn cookie<'a>(headers: &'a HeaderMap, name: &str) -> Option<&'a str> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|c| c.trim().split_once('='))
        .find(|(k, _)| *k == name)
        .map(|(_, v)| v)
}

impl<S: Tools> Admin<S> {
    /// A key was revoked here: forget it on this instance now (the other
    /// instances hear it from the database).
    pub(super) fn forget(&self, id: &str) {
        if let Some(cache) = &self.cache {
            cache.forget_key(id);
        }
    }
}
