//! DNS-rebinding defence, in front of every route: the `Host` must be
//! loopback, the resource's own host, or allowlisted; an `Origin`, when
//! present, likewise. A plain tower layer: the request goes on to the
//! route as it is, with no boxing or cloning per request.

use std::convert::Infallible;
use std::sync::Arc;
use std::task::{Context, Poll};

use axum::extract::Request;
use axum::http::{HeaderMap, Uri, header};
use axum::response::Response;
use futures_util::future::Either;

use super::respond::refuse;
use crate::endpoint::host_of;
use crate::policy::Rejection;
use crate::registry::Tools;
use crate::server::McpServer;

/// The layer.
pub(super) struct HostCheck<S: Tools>(Arc<McpServer<S>>);

impl<S: Tools> HostCheck<S> {
    pub(super) fn new(server: Arc<McpServer<S>>) -> Self {
        Self(server)
    }
}

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
pub(super) struct HostChecked<S: Tools, I> {
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
    type Future = Either<std::future::Ready<Result<Response, Infallible>>, I::Future>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Infallible>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, request: Request) -> Self::Future {
        match check(&self.server, request.uri(), request.headers()) {
            Err(why) => Either::Left(std::future::ready(Ok(refuse(&self.server, &why)))),
            Ok(()) => Either::Right(self.inner.call(request)),
        }
    }
}

/// Whether the request's `Host` and `Origin` are this server's, and
/// unambiguous: one `Host`, and an absolute-form target that names it.
fn check<S: Tools>(server: &McpServer<S>, uri: &Uri, headers: &HeaderMap) -> Result<(), Rejection> {
    let mut hosts = headers.get_all(header::HOST).iter();
    let host = hosts.next();
    if hosts.next().is_some() {
        return Err(Rejection::DuplicateHeader("Host"));
    }
    if let (Some(target), Some(host)) = (uri.authority(), host)
        && !host
            .to_str()
            .is_ok_and(|h| h.eq_ignore_ascii_case(target.as_str()))
    {
        return Err(Rejection::TargetHostMismatch);
    }
    let allowed_host = |host: &str| {
        matches!(host, "localhost" | "127.0.0.1" | "::1")
            || host == server.endpoint.host
            || server
                .options
                .allowed_hosts
                .iter()
                .any(|h| h.eq_ignore_ascii_case(host))
    };
    let host_ok = host
        .and_then(|h| h.to_str().ok())
        .is_some_and(|h| allowed_host(&host_of(h)));
    if !host_ok {
        return Err(Rejection::HostNotAllowed);
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
            return Err(Rejection::OriginNotAllowed);
        }
    }
    Ok(())
}
