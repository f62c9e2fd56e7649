//! One message as a transport hands it to dispatch.

use std::net::IpAddr;
use std::time::SystemTime;

use crate::caller::Caller;
use crate::dispatch::era::ProtocolHeaders;
use crate::trace::Timed;

/// One message as a transport received it.
pub(crate) struct Incoming<'a> {
    /// The raw body (HTTP) or line (stdio).
    pub(crate) body: &'a [u8],
    /// The protocol headers (HTTP); `None` on stdio.
    pub(crate) headers: Option<ProtocolHeaders<'a>>,
    /// The authenticated caller; `None` when no credential was presented.
    pub(crate) caller: Option<Caller>,
    /// `http` or `stdio`, for the audit trail.
    pub(crate) transport: &'static str,
    /// The peer's address (HTTP), for the audit trail.
    pub(crate) peer: Option<IpAddr>,
    /// stdio: the client declared elicitation in its `initialize` (over
    /// HTTP its session says so, in `headers`).
    pub(crate) legacy_asks: bool,
    /// When tracing: when the request arrived, and how its credential was
    /// checked (HTTP).
    pub(crate) timing: Timing,
}

/// When tracing, when a request's steps before dispatch ran.
#[derive(Debug, Clone, Copy, Default)]
pub(crate) struct Timing {
    /// When the request arrived.
    pub(crate) started: Option<SystemTime>,
    /// Its credential's check.
    pub(crate) authenticated: Option<Timed>,
}
