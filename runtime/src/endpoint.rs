//! The MCP endpoint this server is: facts read off the manifest's
//! `[resource] uri`, and the host names requests may address.

use std::borrow::Cow;

use url::{Host, Url};

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

/// Parse a configured URL (a JWKS URL, an issuer, the resource) and refuse
/// what would let keys or tokens travel where they should not: anything
/// but `https`, except `http` to a loopback address or exactly
/// `localhost`; a user name or password in the URL. The message names
/// `what` and never repeats a password.
pub(crate) fn check_url(what: &str, raw: &str) -> Result<Url, String> {
    let url = Url::parse(raw).map_err(|e| format!("the {what} is not an absolute URL ({e})"))?;
    let mut shown = url.clone();
    let _ = shown.set_username("");
    let _ = shown.set_password(None);
    if !url.username().is_empty() || url.password().is_some() {
        return Err(format!(
            "the {what} {shown} carries a user name or password: remove it (credentials do not go in URLs)"
        ));
    }
    let loopback = match url.host() {
        Some(Host::Ipv4(a)) => a.is_loopback(),
        Some(Host::Ipv6(a)) => a.is_loopback(),
        Some(Host::Domain(d)) => d.eq_ignore_ascii_case("localhost"),
        None => return Err(format!("the {what} {shown} names no host")),
    };
    match url.scheme() {
        "https" => Ok(url),
        "http" if loopback => Ok(url),
        "http" => Err(format!(
            "the {what} {shown} must use https (http only to 127.0.0.1, ::1 or localhost)"
        )),
        other => Err(format!(
            "the {what} {shown} must be an https URL, not {other}:"
        )),
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

    #[test]
    fn configured_urls_are_parsed_not_prefix_matched() {
        for ok in [
            "https://auth.example.com/.well-known/jwks.json",
            "http://127.0.0.1:9000/jwks",
            "http://127.8.9.10/jwks",
            "http://[::1]:9000/jwks",
            "http://localhost:9000/jwks",
            "http://LOCALHOST/jwks",
        ] {
            assert!(check_url("JWKS URL", ok).is_ok(), "{ok}");
        }
        for (bad, says) in [
            (
                "http://127.0.0.1@evil.example/jwks.json",
                "user name or password",
            ),
            ("http://localhost.evil.example/jwks.json", "https"),
            ("http://127.0.0.1.evil.example/jwks", "https"),
            ("http://evil.example/jwks", "https"),
            (
                "https://user:hunter2@auth.example.com/jwks",
                "user name or password",
            ),
            (
                "https://token@auth.example.com/jwks",
                "user name or password",
            ),
            ("ftp://auth.example.com/jwks", "https URL"),
            ("auth.example.com/jwks", "absolute URL"),
            ("file:///etc/passwd", "no host"),
        ] {
            let e = check_url("JWKS URL", bad).unwrap_err();
            assert!(e.contains(says), "{bad}: {e}");
            assert!(!e.contains("hunter2"), "never repeats a password: {e}");
        }
    }
}
