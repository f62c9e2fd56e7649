//! Which protocol revision a request is served under, and that era's rules
//! for headers and `_meta`. No state: each request says which era it is.

use serde_json::Value;

use crate::policy::{HeaderMismatch, Rejection};
use crate::protocol::{self, Message, meta};

/// Which revision a request is served under.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Era {
    /// 2026-07-28: stateless, version and capabilities in every `_meta`.
    Modern,
    /// 2025-11-25 and 2025-06-18: the `initialize` handshake.
    Legacy,
}

/// One protocol header of an HTTP request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Header<'a> {
    /// Not sent.
    Absent,
    /// Sent, as visible ASCII.
    Text(&'a str),
    /// Sent, with bytes that are not visible ASCII.
    NotText,
}

impl<'a> Header<'a> {
    pub(crate) fn text(self) -> Option<&'a str> {
        match self {
            Header::Text(t) => Some(t),
            Header::Absent | Header::NotText => None,
        }
    }
}

/// The protocol headers of an HTTP request (stdio has none).
#[derive(Debug, Clone, Copy)]
pub(crate) struct ProtocolHeaders<'a> {
    /// `MCP-Protocol-Version`.
    pub(crate) version: Header<'a>,
    /// `Mcp-Method`.
    pub(crate) method: Header<'a>,
    /// `Mcp-Name`.
    pub(crate) name: Header<'a>,
    /// `Mcp-Session-Id` (2025-11-25; see `session.rs`).
    pub(crate) session: Header<'a>,
}

/// Pick the era of `msg` and enforce its header and `_meta` rules.
pub(crate) fn negotiate(
    msg: &Message,
    headers: Option<&ProtocolHeaders<'_>>,
) -> Result<Era, Rejection> {
    let version_header = headers.map_or(Header::Absent, |h| h.version);
    let modern = msg.meta_version().is_some()
        || version_header.text() == Some(protocol::MODERN)
        || msg.method == "server/discover";
    if !modern {
        legacy_version(msg, version_header)?;
        if let Some(headers) = headers {
            // Optional before 2026-07-28, but never ambiguous: a header that
            // is sent must match the body.
            named(msg, headers, false).map_err(Rejection::HeaderMismatch)?;
        }
        return Ok(Era::Legacy);
    }
    let requested = match msg.meta_version() {
        Some(Value::String(v)) => v.as_str(),
        _ => {
            return Err(Rejection::MetaIncomplete {
                missing: meta::PROTOCOL_VERSION,
            });
        }
    };
    if requested != protocol::MODERN {
        return Err(Rejection::UnsupportedVersion {
            requested: requested.to_owned(),
        });
    }
    if !msg
        .meta()
        .and_then(|m| m.get(meta::CLIENT_CAPABILITIES))
        .is_some_and(Value::is_object)
    {
        return Err(Rejection::MetaIncomplete {
            missing: meta::CLIENT_CAPABILITIES,
        });
    }
    if let Some(headers) = headers {
        modern_headers(msg, requested, headers).map_err(Rejection::HeaderMismatch)?;
    }
    Ok(Era::Modern)
}

/// A legacy request may name its revision in `MCP-Protocol-Version`
/// (`initialize` itself has none); it must be one this server speaks.
fn legacy_version(msg: &Message, header: Header<'_>) -> Result<(), Rejection> {
    if header == Header::Absent || msg.method == "initialize" {
        return Ok(());
    }
    let v = header.text().unwrap_or("");
    if protocol::LEGACY.contains(&v) || v == protocol::LEGACY_DEFAULT {
        Ok(())
    } else {
        Err(Rejection::UnsupportedVersionHeader {
            requested: v.to_owned(),
        })
    }
}

/// Over HTTP, 2026-07-28 requests repeat their version, method and (for
/// calls, reads and gets) name in headers, which must match the body.
fn modern_headers(
    msg: &Message,
    requested: &str,
    headers: &ProtocolHeaders<'_>,
) -> Result<(), HeaderMismatch> {
    match headers.version.text() {
        Some(v) if v == requested => {}
        Some(v) => {
            return Err(HeaderMismatch::Version {
                header: v.to_owned(),
                body: requested.to_owned(),
            });
        }
        None => return Err(HeaderMismatch::Missing("MCP-Protocol-Version")),
    }
    named(msg, headers, true)
}

/// `Mcp-Method` and `Mcp-Name` against the body; `required`: missing ones
/// are mismatches too (2026-07-28), else only ones that disagree.
fn named(
    msg: &Message,
    headers: &ProtocolHeaders<'_>,
    required: bool,
) -> Result<(), HeaderMismatch> {
    match headers.method {
        Header::Text(v) if v == msg.method => {}
        Header::Text(v) => {
            return Err(HeaderMismatch::Method {
                header: v.to_owned(),
                body: msg.method.clone(),
            });
        }
        Header::NotText => return Err(HeaderMismatch::Missing("Mcp-Method")),
        Header::Absent if required => return Err(HeaderMismatch::Missing("Mcp-Method")),
        Header::Absent => {}
    }
    let name_key = match msg.method.as_str() {
        "tools/call" | "prompts/get" => "name",
        "resources/read" => "uri",
        _ => return Ok(()),
    };
    let body = msg
        .params
        .get(name_key)
        .and_then(Value::as_str)
        .unwrap_or_default();
    let raw = match headers.name {
        Header::Text(raw) => raw,
        Header::NotText => return Err(HeaderMismatch::Missing("Mcp-Name")),
        Header::Absent if required => return Err(HeaderMismatch::Missing("Mcp-Name")),
        Header::Absent => return Ok(()),
    };
    match protocol::decode_header_value(raw) {
        Some(v) if v == body => Ok(()),
        Some(v) => Err(HeaderMismatch::Name {
            header: v,
            body: body.to_owned(),
        }),
        None => Err(HeaderMismatch::NameNotBase64),
    }
}
