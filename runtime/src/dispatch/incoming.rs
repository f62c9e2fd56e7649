//! One message as a transport hands it to dispatch.

use std::net::IpAddr;

use crate::caller::Caller;
use crate::dispatch::era::ProtocolHeaders;

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
}
