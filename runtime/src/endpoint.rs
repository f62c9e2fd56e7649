//! The MCP endpoint this server is: facts read off the manifest's
//! `[resource] uri`, and the host names requests may address.

use std::borrow::Cow;

/// Facts derived from the manifest's `[resource] uri`.
#[derive(Debug, Clone)]
pub(crate) struct Endpoint {
    /// `http` or `https`.
    pub(crate) scheme: String,
    /// Host, lowercase, without port or brackets.
    pub(crate) host: String,
    /// `host[:port]` as written.
    pub(crate) authority: String,
    /// The MCP endpoint path, e.g. `/mcp`.
    pub(crate) path: String,
}

impl Endpoint {
    pub(crate) fn parse(uri: &str) -> Self {
        let (scheme, rest) = uri.split_once("://").unwrap_or(("https", uri));
        let (authority, path) = match rest.find('/') {
            Some(i) => (&rest[..i], &rest[i..]),
            None => (rest, "/"),
        };
        let path = path.split(['?', '#']).next().unwrap_or("/");
        Self {
            scheme: scheme.to_ascii_lowercase(),
            host: host_of(authority).into_owned(),
            authority: authority.to_owned(),
            path: if path.is_empty() {
                "/".into()
            } else {
                path.to_owned()
            },
        }
    }

    /// Where the protected-resource metadata lives (RFC 9728 §3: the
    /// well-known path inserted before the endpoint path).
    pub(crate) fn metadata_path(&self) -> String {
        let tail = self.path.trim_end_matches('/');
        format!("/.well-known/oauth-protected-resource{tail}")
    }

    /// The metadata's absolute URL, as challenges name it.
    pub(crate) fn metadata_url(&self) -> String {
        format!(
            "{}://{}{}",
            self.scheme,
            self.authority,
            self.metadata_path()
        )
    }
}

/// The host of `host[:port]` or `[v6]:port`, lowercase, without brackets.
pub(crate) fn host_of(authority: &str) -> Cow<'_, str> {
    let host = if let Some(rest) = authority.strip_prefix('[') {
        rest.split(']').next().unwrap_or("")
    } else {
        authority.rsplit_once(':').map_or(authority, |(h, port)| {
            if port.bytes().all(|b| b.is_ascii_digit()) {
                h
            } else {
                authority
            }
        })
    };
    if host.bytes().any(|b| b.is_ascii_uppercase()) {
        host.to_ascii_lowercase().into()
    } else {
        host.into()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn endpoints_and_metadata_paths() {
        let e = Endpoint::parse("https://mcp.example.com/public/mcp");
        assert_eq!(e.host, "mcp.example.com");
        assert_eq!(e.path, "/public/mcp");
        assert_eq!(
            e.metadata_url(),
            "https://mcp.example.com/.well-known/oauth-protected-resource/public/mcp"
        );
        let e = Endpoint::parse("http://127.0.0.1:8080/mcp");
        assert_eq!(
            (e.host.as_str(), e.authority.as_str()),
            ("127.0.0.1", "127.0.0.1:8080")
        );
        assert_eq!(host_of("[::1]:3000"), "::1");
        assert_eq!(host_of("LocalHost"), "localhost");
    }
}
