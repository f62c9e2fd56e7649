//! Serving the router on a TCP listener with the limits a public endpoint
//! needs: an accept loop that bounds connections (in all, and per peer
//! address), closes connections that are slow to send their headers or sit
//! idle, gives each request's body a deadline, and keeps serving when the
//! process runs out of file descriptors.

use std::collections::HashMap;
use std::future::Future;
use std::io;
use std::net::{IpAddr, SocketAddr};
use std::pin::Pin;
use std::sync::{Arc, Mutex, PoisonError};
use std::task::{Context, Poll};
use std::time::Duration;

use axum::Router;
use axum::body::Body;
use axum::extract::ConnectInfo;
use bytes::Bytes;
use http_body::{Body as HttpBody, Frame, SizeHint};
use hyper::body::Incoming;
use hyper_util::rt::{TokioIo, TokioTimer};
use tokio::net::TcpListener;
use tokio::sync::Semaphore;

/// The connection limits of [`serve`](super::serve). The defaults suit a
/// public endpoint; each has a `serve` option on the command line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Limits {
    /// Connections open at once, at most; more wait in the kernel's accept
    /// queue. Capped below the process's file-descriptor limit (raised to
    /// its hard limit at start), so the server always has descriptors left
    /// for its database and its own files.
    pub max_connections: usize,
    /// Connections open at once from one peer address, at most; further
    /// ones are accepted and closed at once. (Behind a reverse proxy every
    /// connection comes from the proxy: raise it there.)
    pub max_connections_per_peer: usize,
    /// How long a connection may take to send a request's complete headers,
    /// counted from when it opened or from the end of its previous
    /// response: so also how long it may sit idle between requests.
    pub header_timeout: Duration,
    /// How long a request's body may take to arrive, once its headers have:
    /// a slower one is answered 408.
    pub body_timeout: Duration,
}

impl Default for Limits {
    fn default() -> Self {
        Self {
            max_connections: 1024,
            max_connections_per_peer: 256,
            header_timeout: Duration::from_secs(30),
            body_timeout: Duration::from_secs(30),
        }
    }
}

/// Descriptors the server keeps for itself beyond its connections: the
/// database pools, the SQLite files, the audit writer, logs.
const RESERVED_DESCRIPTORS: usize = 64;

/// How long the accept loop waits before trying again when accepting
/// failed for want of resources (no descriptor left).
const ACCEPT_BACKOFF: Duration = Duration::from_millis(50);

/// The connections currently open, per peer address.
#[derive(Default)]
struct Peers(Mutex<HashMap<IpAddr, usize>>);

/// One peer's place, released when its connection closes.
struct PeerSlot {
    peers: Arc<Peers>,
    ip: IpAddr,
}

impl Peers {
    fn enter(self: &Arc<Self>, ip: IpAddr, max: usize) -> Option<PeerSlot> {
        let mut open = self.0.lock().unwrap_or_else(PoisonError::into_inner);
        let n = open.entry(ip).or_insert(0);
        if *n >= max {
            return None;
        }
        *n += 1;
        Some(PeerSlot {
            peers: Arc::clone(self),
            ip,
        })
    }
}

impl Drop for PeerSlot {
    fn drop(&mut self) {
        let mut open = self.peers.0.lock().unwrap_or_else(PoisonError::into_inner);
        if let Some(n) = open.get_mut(&self.ip) {
            *n -= 1;
            if *n == 0 {
                open.remove(&self.ip);
            }
        }
    }
}

/// Serve `router` on `listener` under `limits` until `shutdown` resolves,
/// then stop accepting and let open requests finish.
pub(super) async fn run(
    listener: TcpListener,
    router: Router,
    limits: Limits,
    shutdown: impl Future<Output = ()> + Send,
) -> io::Result<()> {
    let max = limits
        .max_connections
        .min(descriptor_budget().unwrap_or(usize::MAX))
        .max(1);
    let slots = Arc::new(Semaphore::new(max));
    let peers = Arc::new(Peers::default());
    let graceful = hyper_util::server::graceful::GracefulShutdown::new();
    let mut http = hyper::server::conn::http1::Builder::new();
    http.timer(TokioTimer::new())
        .header_read_timeout(limits.header_timeout);
    tokio::pin!(shutdown);
    loop {
        let permit = tokio::select! {
            () = &mut shutdown => break,
            permit = Arc::clone(&slots).acquire_owned() => permit.map_err(io::Error::other)?,
        };
        let (stream, peer) = tokio::select! {
            () = &mut shutdown => break,
            accepted = listener.accept() => match accepted {
                Ok(accepted) => accepted,
                Err(e) if out_of_resources(&e) => {
                    // No descriptor left (or no memory): wait for some to
                    // be freed by the connections that close, and go on.
                    tracing::warn!(error = %e, "cannot accept a connection now; retrying");
                    tokio::time::sleep(ACCEPT_BACKOFF).await;
                    continue;
                }
                Err(e) => {
                    // The peer went away between its connect and our
                    // accept, and the like: nothing to do.
                    tracing::debug!(error = %e, "accept failed");
                    continue;
                }
            },
        };
        let Some(peer_slot) = peers.enter(peer.ip(), limits.max_connections_per_peer) else {
            tracing::debug!(peer = %peer.ip(), "too many connections from one peer; closed");
            drop(stream);
            continue;
        };
        let _ = stream.set_nodelay(true);
        let service = ConnService {
            router: router.clone(),
            peer,
            body_timeout: limits.body_timeout,
        };
        let conn = http.serve_connection(TokioIo::new(stream), service);
        let conn = graceful.watch(conn);
        tokio::spawn(async move {
            if let Err(e) = conn.await {
                tracing::debug!(error = %e, "connection ended");
            }
            drop((permit, peer_slot));
        });
    }
    drop(listener);
    // Requests in progress may finish; a connection that does not within
    // the header timeout is given up.
    let _ = tokio::time::timeout(limits.header_timeout, graceful.shutdown()).await;
    Ok(())
}

fn out_of_resources(e: &io::Error) -> bool {
    // EMFILE, ENFILE, ENOBUFS, ENOMEM.
    matches!(e.raw_os_error(), Some(24 | 23 | 105 | 12))
}

/// The connections the process's file-descriptor limit leaves room for,
/// after raising the soft limit to the hard one.
#[cfg(unix)]
fn descriptor_budget() -> Option<usize> {
    use rustix::process::{Resource, getrlimit, setrlimit};
    let mut limit = getrlimit(Resource::Nofile);
    if let Some(hard) = limit.maximum
        && limit.current != Some(hard)
    {
        limit.current = Some(hard);
        if setrlimit(Resource::Nofile, limit).is_err() {
            limit = getrlimit(Resource::Nofile);
        }
    }
    let soft = usize::try_from(limit.current?).ok()?;
    Some(soft.saturating_sub(RESERVED_DESCRIPTORS).max(1))
}

#[cfg(not(unix))]
fn descriptor_budget() -> Option<usize> {
    None
}

/// The router, for one connection: each request carries the peer's
/// address, and a body that must arrive within the body timeout.
#[derive(Clone)]
struct ConnService {
    router: Router,
    peer: SocketAddr,
    body_timeout: Duration,
}

impl hyper::service::Service<hyper::Request<Incoming>> for ConnService {
    type Response = axum::response::Response;
    type Error = std::convert::Infallible;
    type Future = axum::routing::future::RouteFuture<std::convert::Infallible>;

    fn call(&self, request: hyper::Request<Incoming>) -> Self::Future {
        let (mut parts, body) = request.into_parts();
        parts.extensions.insert(ConnectInfo(self.peer));
        let body = Body::new(Deadline::new(body, self.body_timeout));
        let request = axum::http::Request::from_parts(parts, body);
        // A router is always ready: no `poll_ready` needed.
        tower_service::Service::call(&mut self.router.clone(), request)
    }
}

/// A request body that fails once its deadline passes.
struct Deadline {
    body: Incoming,
    timer: Pin<Box<tokio::time::Sleep>>,
}

/// The error of a body that did not arrive in time.
#[derive(Debug, thiserror::Error)]
#[error("the request body did not arrive within the body timeout")]
pub(super) struct BodyDeadline;

impl Deadline {
    fn new(body: Incoming, timeout: Duration) -> Self {
        Self {
            body,
            timer: Box::pin(tokio::time::sleep(timeout)),
        }
    }
}

impl HttpBody for Deadline {
    type Data = Bytes;
    type Error = Box<dyn std::error::Error + Send + Sync>;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, Self::Error>>> {
        match Pin::new(&mut self.body).poll_frame(cx) {
            Poll::Ready(frame) => Poll::Ready(frame.map(|f| f.map_err(Into::into))),
            Poll::Pending => match self.timer.as_mut().poll(cx) {
                Poll::Ready(()) => Poll::Ready(Some(Err(Box::new(BodyDeadline)))),
                Poll::Pending => Poll::Pending,
            },
        }
    }

    fn is_end_stream(&self) -> bool {
        self.body.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        self.body.size_hint()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_peer_gets_its_share_and_its_places_back() {
        let peers = Arc::new(Peers::default());
        let ip: IpAddr = "127.0.0.1".parse().unwrap();
        let other: IpAddr = "127.0.0.2".parse().unwrap();
        let held: Vec<PeerSlot> = (0..3).map(|_| peers.enter(ip, 3).unwrap()).collect();
        assert!(peers.enter(ip, 3).is_none(), "the fourth is refused");
        assert!(peers.enter(other, 3).is_some(), "another peer is not");
        drop(held);
        let again = peers.enter(ip, 3);
        assert!(again.is_some(), "closed connections free places");
        assert_eq!(
            peers.0.lock().unwrap().get(&ip),
            Some(&1),
            "counts are exact"
        );
        drop(again);
        assert!(
            peers.0.lock().unwrap().is_empty(),
            "a peer with none open is forgotten"
        );
    }
}
