//! `/api/keys`: access keys as JSON, for scripts and the operator's own
//! tools. Bearer admin credential only (no cookies, so nothing a browser
//! could be tricked into sending).

use std::net::SocketAddr;
use std::sync::Arc;

use axum::body::Bytes;
use axum::extract::{ConnectInfo, Path, State};
use axum::http::{HeaderMap, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use serde::Deserialize;
use serde_json::json;

use super::access::Refusal;
use super::state::{Admin, peer, problem};
use crate::auth::KeyError;
use crate::registry::Tools;

/// A key to create.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct NewKeyRequest {
    owner: String,
    #[serde(default)]
    scopes: Vec<String>,
    #[serde(default)]
    client: Option<String>,
    /// Lifetime in seconds.
    #[serde(default)]
    expires_in: Option<u32>,
}

fn refused(r: &Refusal) -> Response {
    let status = match r {
        Refusal::Unauthenticated => StatusCode::UNAUTHORIZED,
        Refusal::NotAnAdmin => StatusCode::FORBIDDEN,
        Refusal::Unavailable => StatusCode::SERVICE_UNAVAILABLE,
    };
    let mut response = problem(status, r.message());
    if status == StatusCode::UNAUTHORIZED {
        response.headers_mut().insert(
            axum::http::header::WWW_AUTHENTICATE,
            axum::http::HeaderValue::from_static("Bearer scope=\"mcpgen:admin\""),
        );
    }
    response
}

/// `GET /api/keys[?owner=...]`.
pub(super) async fn list<S: Tools>(
    State(admin): State<Arc<Admin<S>>>,
    headers: HeaderMap,
    uri: Uri,
) -> Response {
    if let Err(r) = admin.bearer(&headers).await {
        return refused(&r);
    }
    let owner = url::form_urlencoded::parse(uri.query().unwrap_or_default().as_bytes())
        .find(|(k, _)| k == "owner")
        .map(|(_, v)| v.into_owned());
    match admin.keys.list(owner.as_deref()).await {
        Ok(keys) => axum::Json(json!({"keys": keys})).into_response(),
        Err(_) => problem(
            StatusCode::SERVICE_UNAVAILABLE,
            "the database cannot be reached: retry shortly",
        ),
    }
}

/// `POST /api/keys` with `{"owner", "scopes", "client"?, "expires_in"?}`:
/// 201 and the key, its secret shown this once.
pub(super) async fn create<S: Tools>(
    State(admin): State<Arc<Admin<S>>>,
    ConnectInfo(address): ConnectInfo<SocketAddr>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let operator = match admin.bearer(&headers).await {
        Ok(o) => o,
        Err(r) => return refused(&r),
    };
    let request: NewKeyRequest = match serde_json::from_slice(&body) {
        Ok(r) => r,
        Err(e) => {
            return problem(
                StatusCode::BAD_REQUEST,
                &format!(
                    "the body must be {{\"owner\": \"...\", \"scopes\": [\"...\"], \"client\"?: \"...\", \"expires_in\"?: seconds}}: {e}"
                ),
            );
        }
    };
    admin
        .create(
            &operator.subject,
            &peer(address),
            &request.owner,
            &request.scopes,
            request.client.as_deref(),
            request.expires_in.map(i64::from),
        )
        .await
        .map_or_else(
            |(status, why)| problem(status, &why),
            |key| (StatusCode::CREATED, axum::Json(key)).into_response(),
        )
}

/// `DELETE /api/keys/{id}`: 200, or 404 when there is no such active key.
pub(super) async fn revoke<S: Tools>(
    State(admin): State<Arc<Admin<S>>>,
    ConnectInfo(address): ConnectInfo<SocketAddr>,
    headers: HeaderMap,
    Path(id): Path<String>,
) -> Response {
    let operator = match admin.bearer(&headers).await {
        Ok(o) => o,
        Err(r) => return refused(&r),
    };
    match admin.revoke(&operator.subject, &peer(address), &id).await {
        Ok(()) => axum::Json(json!({"revoked": id})).into_response(),
        Err((status, why)) => problem(status, &why),
    }
}

impl<S: Tools> Admin<S> {
    /// Create a key as `operator`, audited.
    pub(super) async fn create(
        &self,
        operator: &str,
        peer: &str,
        owner: &str,
        scopes: &[String],
        client: Option<&str>,
        ttl_secs: Option<i64>,
    ) -> Result<crate::auth::NewKey, (StatusCode, String)> {
        match self.keys.create(owner, scopes, client, ttl_secs).await {
            Ok(key) => {
                self.server.audit().authorization(
                    "admin:key_create",
                    Ok("key created"),
                    peer,
                    operator,
                    &format!("key:{}", key.id),
                    &key.scopes.join(" "),
                );
                Ok(key)
            }
            Err(KeyError::Db(_)) => Err((
                StatusCode::SERVICE_UNAVAILABLE,
                "the database cannot be reached: retry shortly".into(),
            )),
            Err(e) => Err((StatusCode::BAD_REQUEST, e.to_string())),
        }
    }

    /// Revoke the key `id` as `operator`, audited; dropped from this
    /// instance's cache now (and from the others' through the database).
    pub(super) async fn revoke(
        &self,
        operator: &str,
        peer: &str,
        id: &str,
    ) -> Result<(), (StatusCode, String)> {
        match self.keys.revoke(id).await {
            Ok(true) => {
                self.forget(id);
                self.server.audit().authorization(
                    "admin:key_revoke",
                    Ok("key revoked"),
                    peer,
                    operator,
                    &format!("key:{id}"),
                    "",
                );
                Ok(())
            }
            Ok(false) => Err((
                StatusCode::NOT_FOUND,
                "no active key has this id".to_owned(),
            )),
            Err(_) => Err((
                StatusCode::SERVICE_UNAVAILABLE,
                "the database cannot be reached: retry shortly".into(),
            )),
        }
    }
}
