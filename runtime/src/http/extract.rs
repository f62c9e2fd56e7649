//! The POST endpoint's header checks as axum extractors, each refusing
//! with its typed [`Rejection`]: they run in the order the handler lists
//! them (content type, `Accept`, protocol headers, credential, body).

use std::sync::Arc;

use axum::body::{Body, Bytes};
use axum::extract::{FromRequest, FromRequestParts, Request};
use axum::http::request::Parts;
use axum::http::{HeaderMap, HeaderValue, header};
use axum::response::{IntoResponse, Response};

use super::respond::refuse;
use crate::caller::Caller;
use crate::dispatch::{Header, ProtocolHeaders};
use crate::policy::Rejection;
use crate::registry::Tools;
use crate::server::McpServer;

/// A request refused by an extractor.
pub(super) struct Refused(Response);

impl Refused {
    fn new<S: Tools>(server: &McpServer<S>, why: &Rejection) -> Self {
        Self(refuse(server, why))
    }
}

impl IntoResponse for Refused {
    fn into_response(self) -> Response {
        self.0
    }
}

type ServerState<S> = Arc<McpServer<S>>;

/// The body is `Content-Type: application/json`.
pub(super) struct JsonContent;

impl<S: Tools> FromRequestParts<ServerState<S>> for JsonContent {
    type Rejection = Refused;

    async fn from_request_parts(
        parts: &mut Parts,
        server: &ServerState<S>,
    ) -> Result<Self, Refused> {
        let json = parts
            .headers
            .get(header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.split(';').next())
            .is_some_and(|v| v.trim().eq_ignore_ascii_case("application/json"));
        if json {
            Ok(Self)
        } else {
            Err(Refused::new(server, &Rejection::UnsupportedMediaType))
        }
    }
}

/// The client accepts both `application/json` and `text/event-stream`
/// (media types compared without their parameters, case-insensitively).
pub(super) struct AcceptsJsonAndSse;

impl<S: Tools> FromRequestParts<ServerState<S>> for AcceptsJsonAndSse {
    type Rejection = Refused;

    async fn from_request_parts(
        parts: &mut Parts,
        server: &ServerState<S>,
    ) -> Result<Self, Refused> {
        if accepts(&parts.headers) == (true, true) {
            Ok(Self)
        } else {
            Err(Refused::new(server, &Rejection::NotAcceptable))
        }
    }
}

fn accepts(headers: &HeaderMap) -> (bool, bool) {
    let mut json = false;
    let mut sse = false;
    for value in headers.get_all(header::ACCEPT) {
        for part in value.to_str().unwrap_or("").split(',') {
            let media = part.split(';').next().unwrap_or("").trim();
            let is = |m: &str| media.eq_ignore_ascii_case(m);
            if is("*/*") {
                (json, sse) = (true, true);
            } else if is("application/json") || is("application/*") {
                json = true;
            } else if is("text/event-stream") || is("text/*") {
                sse = true;
            }
        }
    }
    (json, sse)
}

/// The protocol headers, kept for dispatch to compare with the body.
pub(super) struct McpHeaders {
    version: Option<HeaderValue>,
    method: Option<HeaderValue>,
    name: Option<HeaderValue>,
}

impl McpHeaders {
    /// The headers as dispatch reads them.
    pub(super) fn view(&self) -> ProtocolHeaders<'_> {
        fn header(v: &Option<HeaderValue>) -> Header<'_> {
            match v {
                None => Header::Absent,
                Some(v) => v.to_str().map_or(Header::NotText, Header::Text),
            }
        }
        ProtocolHeaders {
            version: header(&self.version),
            method: header(&self.method),
            name: header(&self.name),
        }
    }
}

impl<S: Send + Sync> FromRequestParts<S> for McpHeaders {
    type Rejection = std::convert::Infallible;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, Self::Rejection> {
        let h = &parts.headers;
        Ok(Self {
            version: h.get("mcp-protocol-version").cloned(),
            method: h.get("mcp-method").cloned(),
            name: h.get("mcp-name").cloned(),
        })
    }
}

/// The caller, authenticated from the `Authorization` header (never from
/// the URL); `None` when no credential was presented.
pub(super) struct Authenticated(pub(super) Option<Caller>);

impl<S: Tools> FromRequestParts<ServerState<S>> for Authenticated {
    type Rejection = Refused;

    async fn from_request_parts(
        parts: &mut Parts,
        server: &ServerState<S>,
    ) -> Result<Self, Refused> {
        if let Some(query) = parts.uri.query()
            && query.split('&').any(|p| {
                p.starts_with("access_token=") || p.starts_with("token=") || p.starts_with("key=")
            })
        {
            return Err(Refused::new(server, &Rejection::CredentialInUrl));
        }
        let Some(value) = parts.headers.get(header::AUTHORIZATION) else {
            return Ok(Self(None));
        };
        let token = value
            .to_str()
            .ok()
            .and_then(|v| v.split_once(' '))
            .filter(|(scheme, _)| scheme.eq_ignore_ascii_case("bearer"))
            .map(|(_, t)| t.trim())
            .filter(|t| !t.is_empty());
        let Some(token) = token else {
            return Err(Refused::new(server, &Rejection::InvalidCredential));
        };
        match server.authenticate(token).await {
            Ok(caller) => Ok(Self(Some(caller))),
            Err(e) => Err(Refused::new(server, &Rejection::from(e))),
        }
    }
}

/// The body, at most `max_body_bytes` of it. A longer body is read on (and
/// dropped) up to 8x the limit, so the client can finish sending and read
/// the 413 instead of a reset connection; beyond that the connection is
/// given up.
pub(super) struct LimitedBody(pub(super) Bytes);

impl<S: Tools> FromRequest<ServerState<S>> for LimitedBody {
    type Rejection = Refused;

    async fn from_request(request: Request, server: &ServerState<S>) -> Result<Self, Refused> {
        let limit = server.options.max_body_bytes;
        read(request.into_body(), limit)
            .await
            .map(Self)
            .map_err(|()| Refused::new(server, &Rejection::BodyTooLarge { limit }))
    }
}

async fn read(body: Body, limit: usize) -> Result<Bytes, ()> {
    use futures_util::StreamExt as _;
    let mut stream = body.into_data_stream();
    let mut buf = Vec::new();
    let mut seen = 0usize;
    while let Some(chunk) = stream.next().await {
        let chunk = chunk.map_err(|_| ())?;
        seen = seen.saturating_add(chunk.len());
        if seen <= limit {
            buf.extend_from_slice(&chunk);
        } else if seen > limit.saturating_mul(8) {
            return Err(());
        }
    }
    if seen > limit {
        Err(())
    } else {
        Ok(Bytes::from(buf))
    }
}
