//! The admin listener: the operators' door, on an address of its own
//! (`serve --admin-listen`, loopback unless told otherwise), never on the
//! MCP endpoint's port.
//!
//! - `/healthz`: the process answers. `/readyz`: the database answers, and
//!   the external authorization server's JWKS can be had when one is
//!   configured; 503 naming what is not ready otherwise. `/metrics`: the
//!   Prometheus text format (`telemetry`). These three need no
//!   credential: load balancers and scrapers ask them, and they hold no
//!   secret and no subject.
//! - `/`: the operator page (`page.rs`): the environment, the scope
//!   matrix, access keys (create, revoke), recent audit decisions with
//!   filters, the built-in authorization server's clients. `/api/keys`:
//!   the same key management as JSON. Both need an admin credential, one
//!   carrying the scope the runtime reserves ([`ADMIN_SCOPE`]): a bearer
//!   credential for the API; for the page, one typed once into its sign-in
//!   form, which opens a sealed session cookie (`access.rs`). Every form
//!   that changes something is a POST carrying the session's CSRF token.
//!
//! ```no_run
//! # async fn run<S: mcpgen::Tools>(server: std::sync::Arc<mcpgen::McpServer<S>>, db: mcpgen::store::Db) -> Result<(), Box<dyn std::error::Error>> {
//! use std::sync::Arc;
//! let admin = mcpgen::admin::Admin::open(server, db).await?;
//! let listener = tokio::net::TcpListener::bind("127.0.0.1:9090").await?;
//! mcpgen::admin::serve(listener, Arc::new(admin), std::future::pending()).await?;
//! # Ok(()) }
//! ```

use std::net::SocketAddr;
use std::sync::Arc;

use axum::Router;
use axum::extract::{DefaultBodyLimit, Request, State};
use axum::http::{StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use axum::routing::{delete, get, post};

use crate::registry::Tools;

pub use mcpgen_spec::ADMIN_SCOPE;

mod access;
mod api;
mod health;
mod page;
mod state;
mod views;

pub use state::Admin;

/// The admin listener's routes.
pub fn router<S: Tools>(admin: Arc<Admin<S>>) -> Router {
    Router::new()
        .route("/healthz", get(health::healthz))
        .route("/readyz", get(health::readyz::<S>))
        .route("/metrics", get(health::metrics::<S>))
        .route("/", get(views::home::<S>))
        .route("/sign-in", post(views::sign_in::<S>))
        .route("/sign-out", post(views::sign_out::<S>))
        .route("/keys", post(views::create_key::<S>))
        .route("/keys/{id}/revoke", post(views::revoke_key::<S>))
        .route("/api/keys", get(api::list::<S>).post(api::create::<S>))
        .route("/api/keys/{id}", delete(api::revoke::<S>))
        .layer(DefaultBodyLimit::max(64 * 1024))
        .layer(axum::middleware::from_fn_with_state(
            Arc::clone(&admin),
            host_check::<S>,
        ))
        .with_state(admin)
}

/// Serve the admin listener on `listener` until `shutdown` resolves.
pub async fn serve<S: Tools>(
    listener: tokio::net::TcpListener,
    admin: Arc<Admin<S>>,
    shutdown: impl std::future::Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    axum::serve(
        listener,
        router(admin).into_make_service_with_connect_info::<SocketAddr>(),
    )
    .with_graceful_shutdown(shutdown)
    .await
}

/// Refuse a `Host` that is not an address, `localhost`, or a host the
/// server was told to accept: a web page cannot reach the admin listener
/// through a name it controls (DNS rebinding).
async fn host_check<S: Tools>(
    State(admin): State<Arc<Admin<S>>>,
    request: Request,
    next: Next,
) -> Response {
    let host = request
        .headers()
        .get(header::HOST)
        .and_then(|h| h.to_str().ok())
        .unwrap_or_default();
    let name = match host.rsplit_once(':') {
        Some((n, port)) if port.bytes().all(|b| b.is_ascii_digit()) => n,
        _ => host,
    };
    let name = name.trim_start_matches('[').trim_end_matches(']');
    let ok = name.parse::<std::net::IpAddr>().is_ok()
        || name.eq_ignore_ascii_case("localhost")
        || admin
            .server
            .options()
            .allowed_hosts
            .iter()
            .any(|h| h.eq_ignore_ascii_case(name));
    if ok {
        next.run(request).await
    } else {
        (
            StatusCode::FORBIDDEN,
            "this Host is not accepted by the admin listener: use its address, or add the name with --allow-host\n",
        )
            .into_response()
    }
}
