//! Replies as HTTP responses: the status, the JSON-RPC body, the
//! challenge and `Retry-After` every refusal knows.

use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde_json::Value;

use crate::dispatch::Reply;
use crate::policy::Rejection;
use crate::registry::Tools;
use crate::server::McpServer;

/// The answer to a request refused before dispatch (its id is unknown).
pub(super) fn refuse<S: Tools>(server: &McpServer<S>, why: &Rejection) -> Response {
    Reply::refused(why, &Value::Null, server.metadata_url()).into_response()
}

impl IntoResponse for Reply {
    fn into_response(self) -> Response {
        let status = StatusCode::from_u16(self.status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
        let mut response = match self.body {
            Some(body) => (
                status,
                [(
                    header::CONTENT_TYPE,
                    HeaderValue::from_static("application/json"),
                )],
                body.into_json_string(),
            )
                .into_response(),
            None => status.into_response(),
        };
        let h = response.headers_mut();
        no_store(h);
        if let Some(c) = self.challenge.and_then(|c| HeaderValue::from_str(&c).ok()) {
            h.insert(header::WWW_AUTHENTICATE, c);
        }
        if let Some(secs) = self.retry_after {
            h.insert(header::RETRY_AFTER, HeaderValue::from(secs));
        }
        if let Some(s) = self.session.and_then(|s| HeaderValue::from_str(&s).ok()) {
            h.insert("mcp-session-id", s);
        }
        response
    }
}

/// What every answer says about itself: it is not to be cached (it may
/// depend on the caller's credential) nor read as anything but its type.
pub(super) fn no_store(headers: &mut axum::http::HeaderMap) {
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    headers.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
}
