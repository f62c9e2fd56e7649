//! Streamable HTTP on axum: one POST endpoint, answered with JSON or, when
//! the client asked for progress or logs, a per-request SSE stream; and the
//! protected-resource metadata at its RFC 9728 locations.
//!
//! A request passes the `Host`/`Origin` check (`guard.rs`, a tower layer
//! in front of every route), then the header extractors (`extract.rs`:
//! content type, `Accept`, credential, protocol headers, body limit), each
//! refusing with its typed rejection, then dispatch. `respond.rs` turns
//! every reply into a response.
//!
//! ```no_run
//! # async fn serve<S: mcpgen::Tools>(server: std::sync::Arc<mcpgen::McpServer<S>>) -> std::io::Result<()> {
//! let listener = tokio::net::TcpListener::bind("127.0.0.1:8080").await?;
//! axum::serve(listener, mcpgen::http::router(server)).await
//! # }
//! ```

use std::sync::Arc;

use axum::Router;
use axum::extract::State;
use axum::http::{HeaderValue, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};

use crate::dispatch::{self, Incoming, Outcome, Reply};
use crate::policy::Rejection;
use crate::registry::Tools;
use crate::server::McpServer;

mod extract;
mod guard;
mod oauth;
mod respond;
mod serve;
mod stream;

pub use serve::Limits;

use extract::{AcceptsJsonAndSse, Authenticated, JsonContent, LimitedBody, McpHeaders, Peer};
use respond::refuse;

/// The axum router for `server`: the MCP endpoint, and the
/// protected-resource metadata at its RFC 9728 locations.
pub fn router<S: Tools>(server: Arc<McpServer<S>>) -> Router {
    let path = server.endpoint.path.clone();
    let metadata = server.endpoint.metadata_path();
    let mut router = Router::new().route(
        &path,
        post(handle_post::<S>)
            .get(method_not_allowed::<S>)
            .delete(method_not_allowed::<S>),
    );
    router = router.route(&metadata, get(resource_metadata::<S>));
    if metadata != "/.well-known/oauth-protected-resource" {
        router = router.route(
            "/.well-known/oauth-protected-resource",
            get(resource_metadata::<S>),
        );
    }
    if server.authorization.is_some() {
        router = oauth::routes(router);
    }
    router
        .layer(guard::HostCheck::new(Arc::clone(&server)))
        .with_state(server)
}

async fn handle_post<S: Tools>(
    State(server): State<Arc<McpServer<S>>>,
    _: JsonContent,
    _: AcceptsJsonAndSse,
    headers: McpHeaders,
    Peer(peer): Peer,
    Authenticated(caller, authenticated): Authenticated,
    LimitedBody(body): LimitedBody,
) -> Response {
    server.audit().ready().await;
    let incoming = Incoming {
        body: &body,
        headers: Some(headers.view()),
        caller,
        transport: "http",
        peer,
        legacy_asks: false,
        timing: dispatch::Timing {
            started: authenticated.map(|(start, _)| start),
            authenticated,
        },
    };
    match dispatch::decide(&server, incoming) {
        Outcome::Reply(r) => r.into_response(),
        Outcome::Call(call) if call.wants_stream() => stream::respond(*call).await,
        Outcome::Call(call) => call.run(None).await.into_response(),
        Outcome::Entry(call) => call.run().await.into_response(),
    }
}

/// Serve `server` on `listener` until `shutdown` resolves, with the
/// connection `limits` a public endpoint needs (see [`Limits`]); then stop
/// accepting and let open requests finish. Each request knows its peer's
/// address (for the per-peer budget and the audit trail).
///
/// ```no_run
/// # async fn run<S: mcpgen::Tools>(server: std::sync::Arc<mcpgen::McpServer<S>>) -> std::io::Result<()> {
/// let listener = tokio::net::TcpListener::bind("127.0.0.1:8080").await?;
/// mcpgen::http::serve(listener, server, mcpgen::http::Limits::default(), async {
///     let _ = tokio::signal::ctrl_c().await;
/// })
/// .await
/// # }
/// ```
pub async fn serve<S: Tools>(
    listener: tokio::net::TcpListener,
    server: Arc<McpServer<S>>,
    limits: Limits,
    shutdown: impl std::future::Future<Output = ()> + Send,
) -> std::io::Result<()> {
    serve::run(listener, router(server), limits, shutdown).await
}

async fn method_not_allowed<S: Tools>(State(server): State<Arc<McpServer<S>>>) -> Response {
    let mut r = refuse(&server, &Rejection::MethodNotAllowed);
    r.headers_mut()
        .insert(header::ALLOW, HeaderValue::from_static("POST"));
    r
}

async fn resource_metadata<S: Tools>(State(server): State<Arc<McpServer<S>>>) -> Response {
    Reply::ok(server.resource_metadata()).into_response()
}
