//! Streamable HTTP on axum: one POST endpoint, answered with JSON or, when
//! the client asked for progress or logs, a per-request SSE stream.

use std::convert::Infallible;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;

use axum::Router;
use axum::body::{Body, Bytes};
use axum::extract::{Request, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use serde_json::Value;
use tokio::sync::mpsc;

use crate::dispatch::{self, Incoming, Outcome, Reply, ToolCall};
use crate::protocol::{RpcError, code};
use crate::registry::Tools;
use crate::server::{AuthError, McpServer, host_of};

/// The axum router for `server`: the MCP endpoint, and the
/// protected-resource metadata at its RFC 9728 locations.
pub fn router<S: Tools>(server: Arc<McpServer<S>>) -> Router {
    let path = server.endpoint.path.clone();
    let metadata = server.endpoint.metadata_path();
    let mut router = Router::new().route(
        &path,
        post(handle_post::<S>)
            .get(method_not_allowed)
            .delete(method_not_allowed),
    );
    router = router.route(&metadata, get(resource_metadata::<S>));
    if metadata != "/.well-known/oauth-protected-resource" {
        router = router.route(
            "/.well-known/oauth-protected-resource",
            get(resource_metadata::<S>),
        );
    }
    router
        .layer(HostCheck(Arc::clone(&server)))
        .with_state(server)
}

fn json_response(status: u16, body: Option<String>, challenge: Option<&str>) -> Response {
    let status = StatusCode::from_u16(status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    let mut response = match body {
        Some(b) => (
            status,
            [(
                header::CONTENT_TYPE,
                HeaderValue::from_static("application/json"),
            )],
            b,
        )
            .into_response(),
        None => status.into_response(),
    };
    if let Some(c) = challenge.and_then(|c| HeaderValue::from_str(c).ok()) {
        response.headers_mut().insert(header::WWW_AUTHENTICATE, c);
    }
    response
}

fn reply(r: Reply) -> Response {
    let mut response = json_response(
        r.status,
        r.body.map(dispatch::Body::into_json_string),
        r.challenge.as_deref(),
    );
    if let Some(secs) = r.retry_after {
        response
            .headers_mut()
            .insert(header::RETRY_AFTER, HeaderValue::from(secs));
    }
    response
}

fn transport_error(status: u16, code: i64, message: &str) -> Response {
    reply(Reply::error(
        &RpcError::new(code, status, message),
        &Value::Null,
    ))
}

/// DNS-rebinding defence, in front of every route: the `Host` must be
/// loopback, the resource's own host, or allowlisted; an `Origin`, when
/// present, likewise. A plain tower layer: the request goes on to the
/// route as it is, with no boxing or cloning per request.
struct HostCheck<S: Tools>(Arc<McpServer<S>>);

impl<S: Tools> Clone for HostCheck<S> {
    fn clone(&self) -> Self {
        Self(Arc::clone(&self.0))
    }
}

impl<S: Tools, I> tower_layer::Layer<I> for HostCheck<S> {
    type Service = HostChecked<S, I>;

    fn layer(&self, inner: I) -> Self::Service {
        HostChecked {
            server: Arc::clone(&self.0),
            inner,
        }
    }
}

/// A route behind [`HostCheck`].
struct HostChecked<S: Tools, I> {
    server: Arc<McpServer<S>>,
    inner: I,
}

impl<S: Tools, I: Clone> Clone for HostChecked<S, I> {
    fn clone(&self) -> Self {
        Self {
            server: Arc::clone(&self.server),
            inner: self.inner.clone(),
        }
    }
}

impl<S, I> tower_service::Service<Request> for HostChecked<S, I>
where
    S: Tools,
    I: tower_service::Service<Request, Response = Response, Error = Infallible>,
{
    type Response = Response;
    type Error = Infallible;
    type Future =
        futures_util::future::Either<std::future::Ready<Result<Response, Infallible>>, I::Future>;

    fn poll_ready(
        &mut self,
        cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<Result<(), Infallible>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, request: Request) -> Self::Future {
        use futures_util::future::Either;
        match refuse_host_or_origin(&self.server, request.headers()) {
            Some(refused) => Either::Left(std::future::ready(Ok(refused))),
            None => Either::Right(self.inner.call(request)),
        }
    }
}

/// The 403 for a request whose `Host` or `Origin` is not allowed.
fn refuse_host_or_origin<S: Tools>(server: &McpServer<S>, headers: &HeaderMap) -> Option<Response> {
    let allowed_host = |host: &str| {
        matches!(host, "localhost" | "127.0.0.1" | "::1")
            || host == server.endpoint.host
            || server
                .options
                .allowed_hosts
                .iter()
                .any(|h| h.eq_ignore_ascii_case(host))
    };
    let host_ok = headers
        .get(header::HOST)
        .and_then(|h| h.to_str().ok())
        .is_some_and(|h| allowed_host(&host_of(h)));
    if !host_ok {
        return Some(transport_error(
            403,
            code::INVALID_REQUEST,
            "forbidden: the Host header is not an allowed host of this server",
        ));
    }
    if let Some(origin) = headers.get(header::ORIGIN) {
        let origin = origin.to_str().unwrap_or("");
        let ok = origin.split_once("://").is_some_and(|(scheme, authority)| {
            matches!(scheme, "http" | "https") && allowed_host(&host_of(authority))
        }) || server
            .options
            .allowed_origins
            .iter()
            .any(|o| o.eq_ignore_ascii_case(origin));
        if !ok {
            return Some(transport_error(
                403,
                code::INVALID_REQUEST,
                "forbidden: the Origin header is not an allowed origin of this server",
            ));
        }
    }
    None
}

async fn method_not_allowed() -> Response {
    let mut r = transport_error(
        405,
        code::INVALID_REQUEST,
        "method not allowed: this stateless server answers POST only (no GET stream, no sessions to DELETE)",
    );
    r.headers_mut()
        .insert(header::ALLOW, HeaderValue::from_static("POST"));
    r
}

async fn resource_metadata<S: Tools>(State(server): State<Arc<McpServer<S>>>) -> Response {
    json_response(
        200,
        serde_json::to_string(&server.resource_metadata()).ok(),
        None,
    )
}

/// Whether the `Accept` headers list JSON and SSE (media types compared
/// without their parameters, case-insensitively).
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

async fn handle_post<S: Tools>(
    State(server): State<Arc<McpServer<S>>>,
    request: Request,
) -> Response {
    let (parts, body) = request.into_parts();
    let headers = &parts.headers;

    let json = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split(';').next())
        .is_some_and(|v| v.trim().eq_ignore_ascii_case("application/json"));
    if !json {
        return transport_error(
            415,
            code::INVALID_REQUEST,
            "unsupported media type: send the JSON-RPC message with Content-Type: application/json",
        );
    }
    if accepts(headers) != (true, true) {
        return transport_error(
            406,
            code::INVALID_REQUEST,
            "not acceptable: the client must accept both application/json and text/event-stream",
        );
    }

    // Credentials: only in the Authorization header, never in the URL.
    if let Some(query) = parts.uri.query()
        && query.split('&').any(|p| {
            p.starts_with("access_token=") || p.starts_with("token=") || p.starts_with("key=")
        })
    {
        let mut e = RpcError::new(
            code::UNAUTHORIZED,
            401,
            "credentials in the URL are refused: send `Authorization: Bearer <token>`",
        );
        e.challenge = Some(format!(
            "Bearer error=\"invalid_request\", error_description=\"send the token in the Authorization header\", resource_metadata=\"{}\"",
            server.metadata_url()
        ));
        return reply(Reply::error(&e, &Value::Null));
    }
    let caller = match headers.get(header::AUTHORIZATION) {
        None => None,
        Some(value) => {
            let token = value
                .to_str()
                .ok()
                .and_then(|v| v.split_once(' '))
                .filter(|(scheme, _)| scheme.eq_ignore_ascii_case("bearer"))
                .map(|(_, t)| t.trim())
                .filter(|t| !t.is_empty());
            let result = match token {
                Some(t) => server.authenticate(t).await,
                None => Err(AuthError::InvalidToken),
            };
            match result {
                Ok(c) => Some(c),
                Err(e) => {
                    return reply(Reply::error(
                        &dispatch::auth_error(&server, &e),
                        &Value::Null,
                    ));
                }
            }
        }
    };

    let limit = server.options.max_body_bytes;
    let bytes = match read_body(body, limit).await {
        Ok(b) => b,
        Err(()) => {
            return transport_error(
                413,
                code::INVALID_REQUEST,
                &format!("payload too large: the body exceeds {limit} bytes"),
            );
        }
    };

    server.audit().ready().await;
    let outcome = dispatch::prepare(
        &server,
        Incoming {
            body: &bytes,
            headers: Some(headers),
            caller,
            transport: "http",
        },
    );
    match outcome {
        Outcome::Reply(r) => reply(r),
        Outcome::Call(call) if call.wants_notifications() => respond_streaming(*call).await,
        Outcome::Call(call) => reply(call.run(None).await),
    }
}

/// Read at most `limit` bytes of body. A longer body is read on (and
/// dropped) up to 8x the limit, so the client can finish sending and read
/// the 413 instead of a reset connection; beyond that the connection is
/// given up.
async fn read_body(body: Body, limit: usize) -> Result<Bytes, ()> {
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

/// Run a call that may send notifications. If it finishes before sending
/// any, answer with plain JSON; at its first notification, switch to an
/// SSE stream (so the client sees progress as it happens).
async fn respond_streaming<S: Tools>(call: ToolCall<S>) -> Response {
    let (tx, mut rx) = mpsc::unbounded_channel::<Value>();
    let mut run = Box::pin(call.run(Some(tx)));
    tokio::select! {
        biased;
        Some(first) = rx.recv() => stream(run, rx, first),
        done = &mut run => reply(done),
    }
}

/// Answer a tool call as an SSE stream: its notifications as they happen,
/// then the response. Dropping the stream (the client went away) drops the
/// handler's future, which cancels the call.
fn stream<F>(run: Pin<Box<F>>, rx: mpsc::UnboundedReceiver<Value>, first: Value) -> Response
where
    F: Future<Output = Reply> + Send + 'static,
{
    struct St<F> {
        first: Option<Value>,
        run: Option<Pin<Box<F>>>,
        rx: mpsc::UnboundedReceiver<Value>,
    }
    let start = St {
        first: Some(first),
        run: Some(run),
        rx,
    };
    let events = futures_util::stream::unfold(start, |mut st| async move {
        if let Some(first) = st.first.take() {
            return Some((Ok::<_, Infallible>(event(&first)), st));
        }
        let run = st.run.as_mut()?;
        tokio::select! {
            biased;
            Some(n) = st.rx.recv() => Some((Ok::<_, Infallible>(event(&n)), st)),
            done = run => {
                let mut out = String::new();
                while let Ok(n) = st.rx.try_recv() {
                    out.push_str(&event(&n));
                }
                if let Some(body) = &done.body {
                    out.push_str(&event_text(&body.to_json_string()));
                }
                st.run = None;
                Some((Ok(out), st))
            }
        }
    });
    let mut response = Response::new(Body::from_stream(events));
    let h = response.headers_mut();
    h.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/event-stream"),
    );
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-cache"));
    h.insert("x-accel-buffering", HeaderValue::from_static("no"));
    response
}

fn event(message: &Value) -> String {
    event_text(&serde_json::to_string(message).unwrap_or_default())
}

fn event_text(json: &str) -> String {
    format!("event: message\ndata: {json}\n\n")
}
