//! The POST endpoint's header checks as axum extractors, each refusing
//! with its typed [`Rejection`]: they run in the order the handler lists
//! them (content type, `Accept`, protocol headers, credential, body).

use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;

use axum::body::{Body, Bytes};
use axum::extract::{ConnectInfo, FromRequest, FromRequestParts, Request};
use axum::http::request::Parts;
use axum::http::{HeaderMap, HeaderValue, header};
use axum::response::{IntoResponse, Response};

use super::respond::refuse;
use super::serve::BodyDeadline;
use crate::audit::Verdict;
use crate::auth::reference;
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
    session: Option<HeaderValue>,
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
            session: header(&self.session),
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
            session: h.get("mcp-session-id").cloned(),
        })
    }
}

/// The peer: the connection's address, or (from a trusted proxy) the
/// address it forwards for; `None` when the router runs without
/// connection info (see [`super::serve`]).
#[derive(Debug, Clone, Copy)]
pub(super) struct Peer(pub(super) Option<IpAddr>);

impl<S: Tools> FromRequestParts<ServerState<S>> for Peer {
    type Rejection = std::convert::Infallible;

    async fn from_request_parts(
        parts: &mut Parts,
        server: &ServerState<S>,
    ) -> Result<Self, Self::Rejection> {
        Ok(Self(peer_of(parts, &server.options.trusted_proxies)))
    }
}

fn peer_of(parts: &Parts, trusted: &[IpAddr]) -> Option<IpAddr> {
    let connected = parts
        .extensions
        .get::<ConnectInfo<SocketAddr>>()
        .map(|c| c.0.ip())?;
    if !trusted.contains(&connected) {
        return Some(connected);
    }
    // The rightmost address a trusted proxy did not add is the client's.
    let forwarded: Vec<IpAddr> = parts
        .headers
        .get_all("x-forwarded-for")
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .filter_map(|a| a.trim().parse().ok())
        .collect();
    Some(
        forwarded
            .into_iter()
            .rev()
            .find(|a| !trusted.contains(a))
            .unwrap_or(connected),
    )
}

/// The caller, authenticated from the `Authorization` header (never from
/// the URL); `None` when no credential was presented. A peer that has
/// spent its budget of requests without an accepted credential is refused
/// here, before any credential is verified.
pub(super) struct Authenticated(
    pub(super) Option<Caller>,
    /// When tracing: when the credential's check began and ended.
    pub(super) Option<crate::trace::Timed>,
);

impl<S: Tools> FromRequestParts<ServerState<S>> for Authenticated {
    type Rejection = Refused;

    async fn from_request_parts(
        parts: &mut Parts,
        server: &ServerState<S>,
    ) -> Result<Self, Refused> {
        let peer = peer_of(parts, &server.options.trusted_proxies);
        let peers = &server.policy.peers;
        // A refusal before any tool: counted in the audit trail, and
        // against the peer's budget (whose refusal it may become).
        let refuse_peer = |why: Rejection, verdict: Verdict, credential: String| {
            let (why, verdict) = match peer.and_then(|p| peers.charge(p)) {
                Some(retry_after) => (
                    Rejection::PeerOverBudget { retry_after },
                    Verdict::PeerOverBudget,
                ),
                None => (why, verdict),
            };
            server
                .audit
                .refused("http", &peer_text(peer), credential, verdict);
            Refused::new(server, &why)
        };
        if let Some(retry_after) = peer.and_then(|p| peers.blocked(p)) {
            server.audit.refused(
                "http",
                &peer_text(peer),
                String::new(),
                Verdict::PeerOverBudget,
            );
            return Err(Refused::new(
                server,
                &Rejection::PeerOverBudget { retry_after },
            ));
        }
        if let Some(query) = parts.uri.query()
            && query.split('&').any(|p| {
                p.starts_with("access_token=") || p.starts_with("token=") || p.starts_with("key=")
            })
        {
            return Err(refuse_peer(
                Rejection::CredentialInUrl,
                Verdict::CredentialInUrl,
                String::new(),
            ));
        }
        let mut values = parts.headers.get_all(header::AUTHORIZATION).iter();
        let Some(value) = values.next() else {
            // Anonymous: counted against the peer's budget.
            if let Some(retry_after) = peer.and_then(|p| peers.charge(p)) {
                server.audit.refused(
                    "http",
                    &peer_text(peer),
                    String::new(),
                    Verdict::PeerOverBudget,
                );
                return Err(Refused::new(
                    server,
                    &Rejection::PeerOverBudget { retry_after },
                ));
            }
            return Ok(Self(None, None));
        };
        if values.next().is_some() {
            // Which one would count is ambiguous: neither does.
            return Err(Refused::new(
                server,
                &Rejection::DuplicateHeader("Authorization"),
            ));
        }
        let token = value
            .to_str()
            .ok()
            .and_then(|v| v.split_once(' '))
            .filter(|(scheme, _)| scheme.eq_ignore_ascii_case("bearer"))
            .map(|(_, t)| t.trim())
            .filter(|t| !t.is_empty());
        let Some(token) = token else {
            return Err(refuse_peer(
                Rejection::InvalidCredential,
                Verdict::InvalidCredential,
                String::new(),
            ));
        };
        let began = crate::trace::now();
        match server.authenticate(token).await {
            Ok(caller) => Ok(Self(
                Some(caller),
                began.map(|b| (b, std::time::SystemTime::now())),
            )),
            Err(e) => {
                let why = Rejection::from(e);
                let verdict = match why {
                    Rejection::CredentialsUnavailable => Verdict::CredentialUnverifiable,
                    _ => Verdict::InvalidCredential,
                };
                Err(refuse_peer(why, verdict, reference(token)))
            }
        }
    }
}

fn peer_text(peer: Option<IpAddr>) -> String {
    peer.map(|p| p.to_string()).unwrap_or_default()
}

/// The body, at most `max_body_bytes` of it. A longer body is read on (and
/// dropped) up to 8x the limit, so the client can finish sending and read
/// the 413 instead of a reset connection; beyond that the connection is
/// given up. A body slower than the body timeout (see [`super::serve`])
/// is answered 408.
pub(super) struct LimitedBody(pub(super) Bytes);

impl<S: Tools> FromRequest<ServerState<S>> for LimitedBody {
    type Rejection = Refused;

    async fn from_request(request: Request, server: &ServerState<S>) -> Result<Self, Refused> {
        let limit = server.options.max_body_bytes;
        match read(request.into_body(), limit).await {
            Ok(bytes) => Ok(Self(bytes)),
            Err(Unread::TooLarge) => Err(Refused::new(server, &Rejection::BodyTooLarge { limit })),
            Err(Unread::TooSlow) => Err(Refused::new(server, &Rejection::BodyTimeout)),
        }
    }
}

/// Why a body was not read.
pub(super) enum Unread {
    /// Over the limit (or the connection broke: nothing to answer then).
    TooLarge,
    /// Past the body timeout.
    TooSlow,
}

pub(super) async fn read(body: Body, limit: usize) -> Result<Bytes, Unread> {
    use futures_util::StreamExt as _;
    let mut stream = body.into_data_stream();
    let mut buf = Vec::new();
    let mut seen = 0usize;
    while let Some(chunk) = stream.next().await {
        let chunk = chunk.map_err(|e| {
            if std::error::Error::source(&e).is_some_and(|s| s.is::<BodyDeadline>()) {
                Unread::TooSlow
            } else {
                Unread::TooLarge
            }
        })?;
        seen = seen.saturating_add(chunk.len());
        if seen <= limit {
            buf.extend_from_slice(&chunk);
        } else if seen > limit.saturating_mul(8) {
            return Err(Unread::TooLarge);
        }
    }
    if seen > limit {
        Err(Unread::TooLarge)
    } else {
        Ok(Bytes::from(buf))
    }
}
