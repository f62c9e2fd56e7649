//! Who a `client_id` is: a client registered here (RFC 7591 Dynamic Client
//! Registration, `mcpc_…`), or an https URL whose Client ID Metadata
//! Document says so. Redirect URIs are matched exactly, except that a
//! loopback redirect may use any port (RFC 8252 §7.3).

use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;
use std::time::{Duration, Instant};

use serde::Deserialize;
use url::Url;

/// How a client proves itself at the token endpoint.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum ClientAuth {
    /// A public client: PKCE is its proof.
    None,
    /// `client_secret_post` or `client_secret_basic`, with the secret's hash.
    Secret {
        /// `client_secret_post` or `client_secret_basic`.
        method: String,
        /// SHA-256 of the secret, hex.
        hash: String,
    },
}

/// A client the server knows.
#[derive(Debug, Clone)]
pub(crate) struct Client {
    pub(crate) id: String,
    pub(crate) name: String,
    pub(crate) redirect_uris: Vec<String>,
    pub(crate) auth: ClientAuth,
    /// Whether its metadata came from a Client ID Metadata Document.
    pub(crate) from_document: bool,
}

impl Client {
    /// The registered redirect URI `presented` matches, if any.
    pub(crate) fn redirect(&self, presented: &str) -> Option<&str> {
        self.redirect_uris
            .iter()
            .find(|r| redirect_matches(r, presented))
            .map(String::as_str)
    }
}

/// Whether `presented` is `registered`: the same string, or both loopback
/// `http` URIs that differ only in the port (RFC 8252 §7.3: native apps
/// listen on whatever port is free).
pub(crate) fn redirect_matches(registered: &str, presented: &str) -> bool {
    if registered == presented {
        return true;
    }
    let (Ok(r), Ok(p)) = (Url::parse(registered), Url::parse(presented)) else {
        return false;
    };
    r.scheme() == "http"
        && p.scheme() == "http"
        && is_loopback_host(&r)
        && r.host_str() == p.host_str()
        && r.path() == p.path()
        && r.query() == p.query()
        && r.fragment().is_none()
        && p.fragment().is_none()
        && r.username().is_empty()
        && p.username().is_empty()
        && r.password().is_none()
        && p.password().is_none()
}

fn is_loopback_host(u: &Url) -> bool {
    match u.host() {
        Some(url::Host::Domain(d)) => d.eq_ignore_ascii_case("localhost"),
        Some(url::Host::Ipv4(ip)) => ip.is_loopback(),
        Some(url::Host::Ipv6(ip)) => ip.is_loopback(),
        None => false,
    }
}

/// Why a redirect URI cannot be registered, or `None` if it can: https,
/// http on loopback, or a private-use scheme of a native app (never
/// `javascript:`, `data:`, `file:` and the like); no fragment, no user
/// name or password.
pub(crate) fn redirect_uri_problem(uri: &str) -> Option<String> {
    if uri.len() > 2000 {
        return Some("a redirect URI longer than 2000 characters".into());
    }
    let Ok(u) = Url::parse(uri) else {
        return Some(format!("`{uri}` is not an absolute URI"));
    };
    if u.fragment().is_some() {
        return Some(format!(
            "`{uri}` has a fragment (RFC 6749 §3.1.2 forbids one)"
        ));
    }
    if !u.username().is_empty() || u.password().is_some() {
        return Some(format!("`{uri}` carries a user name or password"));
    }
    match u.scheme() {
        "https" => None,
        "http" if is_loopback_host(&u) => None,
        "http" => Some(format!(
            "`{uri}` is plain http on a non-loopback host: use https, or a loopback address for a native app"
        )),
        "javascript" | "data" | "file" | "vbscript" | "blob" | "about" | "ws" | "wss" | "ftp" => {
            Some(format!(
                "`{uri}` uses a scheme that cannot be a redirect URI"
            ))
        }
        _ => None,
    }
}

/// The host part of a redirect URI, as the consent page shows it.
pub(crate) fn redirect_host(uri: &str) -> String {
    match Url::parse(uri) {
        Ok(u) => match u.host_str() {
            Some(h) => h.to_owned(),
            None => format!("{}:", u.scheme()),
        },
        Err(_) => uri.to_owned(),
    }
}

/// Why a Client ID Metadata Document could not be used.
#[derive(Debug, Clone, thiserror::Error)]
pub(crate) enum DocumentError {
    #[error("the client_id is not a URL this server fetches: {0}")]
    Url(String),
    #[error(
        "the client's metadata document is on a private, loopback or link-local address ({0}): refused"
    )]
    PrivateAddress(IpAddr),
    #[error("the client's metadata document could not be fetched: {0}")]
    Fetch(String),
    #[error("the client's metadata document is larger than {0} bytes")]
    TooLarge(usize),
    #[error("the client's metadata document is not valid: {0}")]
    Invalid(String),
}

#[derive(Deserialize)]
struct Document {
    client_id: String,
    #[serde(default)]
    client_name: Option<String>,
    redirect_uris: Vec<String>,
    #[serde(default)]
    token_endpoint_auth_method: Option<String>,
}

type Cached = (Instant, Result<Client, DocumentError>);

/// Fetches Client ID Metadata Documents: https only; never from a private,
/// loopback or link-local address (unless allowed, for tests), resolved
/// once and the connection pinned to the address checked; no redirects; at
/// most [`Self::MAX_BYTES`] in [`Self::TIMEOUT`]; answers and failures
/// cached for a while.
pub(crate) struct DocumentFetcher {
    allow_loopback: bool,
    cache: quick_cache::sync::Cache<String, Arc<Cached>>,
    /// Fetches in flight at once, at most: anyone can make the server
    /// fetch a URL (by naming it as a client), so the work is bounded.
    in_flight: tokio::sync::Semaphore,
    /// Fetches per peer network and minute.
    per_peer: governor::DefaultKeyedRateLimiter<IpAddr>,
}

impl DocumentFetcher {
    pub(crate) const MAX_BYTES: usize = 64 * 1024;
    pub(crate) const TIMEOUT: Duration = Duration::from_secs(5);
    const FRESH: Duration = Duration::from_secs(300);
    const FAILED: Duration = Duration::from_secs(30);
    const MAX_IN_FLIGHT: usize = 16;
    pub(crate) const PER_PEER_PER_MINUTE: u32 = 30;

    pub(crate) fn new(allow_loopback: bool) -> Self {
        Self {
            allow_loopback,
            cache: quick_cache::sync::Cache::new(1024),
            in_flight: tokio::sync::Semaphore::new(Self::MAX_IN_FLIGHT),
            per_peer: governor::RateLimiter::keyed(governor::Quota::per_minute(
                std::num::NonZeroU32::new(Self::PER_PEER_PER_MINUTE)
                    .unwrap_or(std::num::NonZeroU32::MIN),
            )),
        }
    }

    /// Whether `client_id` names a metadata document (an https URL, or an
    /// http loopback URL when loopback documents are allowed).
    pub(crate) fn is_document_url(&self, client_id: &str) -> bool {
        client_id.starts_with("https://")
            || (self.allow_loopback && client_id.starts_with("http://"))
    }

    /// The client `url` describes, fetched on behalf of `peer` (each
    /// network may make the server fetch [`Self::PER_PEER_PER_MINUTE`]
    /// documents a minute). When no fetch can run now, the last good copy
    /// is used, however old.
    pub(crate) async fn client(
        &self,
        url: &str,
        peer: Option<IpAddr>,
    ) -> Result<Client, DocumentError> {
        let cached = self.cache.get(url);
        if let Some(hit) = &cached {
            let ttl = if hit.1.is_ok() {
                Self::FRESH
            } else {
                Self::FAILED
            };
            if hit.0.elapsed() < ttl {
                return hit.1.clone();
            }
        }
        let stale = || cached.as_ref().and_then(|hit| hit.1.clone().ok());
        if let Some(ip) = peer {
            if self.per_peer.len() > 10_000 {
                self.per_peer.retain_recent();
            }
            if self.per_peer.check_key(&network_of(ip)).is_err() {
                return stale().ok_or_else(|| {
                    DocumentError::Fetch(
                        "this address asked for too many client metadata documents; retry in a minute".into(),
                    )
                });
            }
        }
        let Ok(_permit) = self.in_flight.try_acquire() else {
            return stale().ok_or_else(|| {
                DocumentError::Fetch(
                    "too many client metadata documents are being fetched right now; retry shortly"
                        .into(),
                )
            });
        };
        let result = self.fetch(url).await;
        if let Err(e) = &result {
            tracing::info!(client_id = %url, error = %e, "client metadata document refused");
        }
        self.cache
            .insert(url.to_owned(), Arc::new((Instant::now(), result.clone())));
        result
    }

    async fn fetch(&self, url: &str) -> Result<Client, DocumentError> {
        let u = Url::parse(url).map_err(|_| DocumentError::Url("not a URL".into()))?;
        let loopback_http = u.scheme() == "http" && self.allow_loopback;
        if u.scheme() != "https" && !loopback_http {
            return Err(DocumentError::Url("only https URLs are fetched".into()));
        }
        if u.fragment().is_some() || !u.username().is_empty() || u.password().is_some() {
            return Err(DocumentError::Url(
                "a fragment, user name or password is not allowed".into(),
            ));
        }
        if u.path() == "/" || u.path().is_empty() {
            return Err(DocumentError::Url("the URL must have a path".into()));
        }
        let host = u
            .host_str()
            .ok_or_else(|| DocumentError::Url("no host".into()))?
            .trim_start_matches('[')
            .trim_end_matches(']')
            .to_owned();
        let port = u.port_or_known_default().unwrap_or(443);
        let addrs: Vec<SocketAddr> = tokio::time::timeout(
            Self::TIMEOUT,
            tokio::net::lookup_host((host.as_str(), port)),
        )
        .await
        .map_err(|_| DocumentError::Fetch("name resolution timed out".into()))?
        .map_err(|e| DocumentError::Fetch(format!("cannot resolve the host: {}", e.kind())))?
        .collect();
        let addr = *addrs
            .first()
            .ok_or_else(|| DocumentError::Fetch("the host has no address".into()))?;
        for a in &addrs {
            let ip = a.ip();
            let allowed = self.allow_loopback && ip.is_loopback();
            if !allowed && !is_public(ip) {
                return Err(DocumentError::PrivateAddress(ip));
            }
        }
        if loopback_http && !addr.ip().is_loopback() {
            return Err(DocumentError::Url(
                "plain http is allowed for loopback addresses only".into(),
            ));
        }
        // No proxy: a proxy would resolve the name itself, and the address
        // checked above would not be the one connected to.
        let http = reqwest::Client::builder()
            .no_proxy()
            .timeout(Self::TIMEOUT)
            .connect_timeout(Self::TIMEOUT)
            .redirect(reqwest::redirect::Policy::none())
            .resolve(&host, addr)
            .build()
            .map_err(|e| DocumentError::Fetch(e.without_url().to_string()))?;
        let late = || {
            DocumentError::Fetch(format!(
                "no complete answer within {} s",
                Self::TIMEOUT.as_secs()
            ))
        };
        let failed = |e: reqwest::Error| {
            if e.is_timeout() {
                late()
            } else {
                DocumentError::Fetch(e.without_url().to_string())
            }
        };
        let body = tokio::time::timeout(Self::TIMEOUT, async {
            let mut response = http
                .get(url)
                .header("accept", "application/json")
                .send()
                .await
                .map_err(failed)?;
            if response.status() != reqwest::StatusCode::OK {
                return Err(DocumentError::Fetch(format!(
                    "HTTP {} (redirects are not followed)",
                    response.status().as_u16()
                )));
            }
            if response
                .content_length()
                .is_some_and(|n| n > Self::MAX_BYTES as u64)
            {
                return Err(DocumentError::TooLarge(Self::MAX_BYTES));
            }
            let mut body = Vec::new();
            while let Some(chunk) = response.chunk().await.map_err(failed)? {
                if body.len() + chunk.len() > Self::MAX_BYTES {
                    return Err(DocumentError::TooLarge(Self::MAX_BYTES));
                }
                body.extend_from_slice(&chunk);
            }
            Ok(body)
        })
        .await
        .map_err(|_| {
            DocumentError::Fetch(format!(
                "no complete answer within {} s",
                Self::TIMEOUT.as_secs()
            ))
        })??;
        let doc: Document = serde_json::from_slice(&body).map_err(|e| {
            DocumentError::Invalid(format!("not a client metadata JSON object ({e})"))
        })?;
        if doc.client_id != url {
            return Err(DocumentError::Invalid(
                "its client_id is not the URL it was fetched from".into(),
            ));
        }
        if doc.redirect_uris.is_empty() || doc.redirect_uris.len() > 20 {
            return Err(DocumentError::Invalid(
                "it must list 1 to 20 redirect_uris".into(),
            ));
        }
        if let Some(problem) = doc
            .redirect_uris
            .iter()
            .find_map(|r| redirect_uri_problem(r))
        {
            return Err(DocumentError::Invalid(problem));
        }
        match doc.token_endpoint_auth_method.as_deref() {
            None | Some("none") => {}
            Some(other) => {
                return Err(DocumentError::Invalid(format!(
                    "token_endpoint_auth_method `{other}` is not supported for a metadata document: use `none`"
                )));
            }
        }
        Ok(Client {
            id: doc.client_id,
            name: clean_name(doc.client_name.as_deref()).unwrap_or_else(|| host.clone()),
            redirect_uris: doc.redirect_uris,
            auth: ClientAuth::None,
            from_document: true,
        })
    }
}

/// A client's self-chosen name as the consent page may show it: at most
/// 100 characters, no control or format characters.
pub(crate) fn clean_name(name: Option<&str>) -> Option<String> {
    let cleaned: String = name?
        .chars()
        .filter(|c| !c.is_control() && !is_format(*c))
        .take(100)
        .collect();
    let cleaned = cleaned.trim().to_owned();
    (!cleaned.is_empty()).then_some(cleaned)
}

fn is_format(c: char) -> bool {
    matches!(c, '\u{200B}'..='\u{200F}' | '\u{202A}'..='\u{202E}' | '\u{2060}'..='\u{2069}' | '\u{FEFF}')
}

/// The network an address is counted in: itself for IPv4, its /64 for
/// IPv6 (one host commonly holds a whole /64).
pub(crate) fn network_of(ip: IpAddr) -> IpAddr {
    match ip {
        IpAddr::V6(v6) => {
            let mut s = v6.segments();
            s[4..].fill(0);
            IpAddr::V6(std::net::Ipv6Addr::from(s))
        }
        v4 => v4,
    }
}

/// Whether `ip` is a public unicast address (not loopback, private,
/// link-local, shared, documentation, multicast or unspecified).
pub(crate) fn is_public(ip: IpAddr) -> bool {
    match ip {
        IpAddr::V4(v4) => {
            let o = v4.octets();
            !(v4.is_loopback()
                || v4.is_private()
                || v4.is_link_local()
                || v4.is_unspecified()
                || v4.is_broadcast()
                || v4.is_multicast()
                || v4.is_documentation()
                || o[0] == 0
                || (o[0] == 100 && (64..128).contains(&o[1]))
                || (o[0] == 192 && o[1] == 0 && o[2] == 0)
                || (o[0] == 198 && (18..20).contains(&o[1]))
                || o[0] >= 240)
        }
        IpAddr::V6(v6) => {
            if let Some(v4) = v6.to_ipv4_mapped() {
                return is_public(IpAddr::V4(v4));
            }
            let s = v6.segments();
            // Global unicast only (2000::/3), less documentation, 6to4 and
            // Teredo (which tunnel to IPv4 addresses of any kind) and NAT64.
            (s[0] & 0xe000) == 0x2000
                && !(s[0] == 0x2001 && s[1] == 0x0db8)
                && s[0] != 0x2002
                && !(s[0] == 0x2001 && s[1] == 0x0000)
                && !(s[0] == 0x0064 && s[1] == 0xff9b)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn loopback_redirects_may_change_port_and_nothing_else() {
        let r = "http://127.0.0.1:6276/oauth/callback";
        assert!(redirect_matches(r, r));
        assert!(redirect_matches(r, "http://127.0.0.1:50123/oauth/callback"));
        assert!(!redirect_matches(r, "http://127.0.0.1:50123/oauth/other"));
        assert!(!redirect_matches(r, "http://localhost:6276/oauth/callback"));
        assert!(!redirect_matches(
            r,
            "http://127.0.0.1:6276/oauth/callback?x=1"
        ));
        let web = "https://claude.ai/api/mcp/auth_callback";
        assert!(redirect_matches(web, web));
        assert!(!redirect_matches(
            web,
            "https://claude.ai:444/api/mcp/auth_callback"
        ));
        assert!(!redirect_matches(
            web,
            "https://claude.ai/api/mcp/auth_callback/"
        ));
    }

    #[test]
    fn only_safe_redirect_uris_can_be_registered() {
        for ok in [
            "https://claude.ai/api/mcp/auth_callback",
            "http://localhost:6274/oauth/callback",
            "http://[::1]:8000/cb",
            "cursor://anysphere.cursor-mcp/oauth/callback",
        ] {
            assert_eq!(redirect_uri_problem(ok), None, "{ok}");
        }
        for bad in [
            "http://example.com/cb",
            "javascript:alert(1)",
            "data:text/html,x",
            "https://x.example/cb#frag",
            "https://user:pw@x.example/cb",
            "/relative",
        ] {
            assert!(redirect_uri_problem(bad).is_some(), "{bad}");
        }
    }

    #[test]
    fn private_addresses_are_not_public() {
        for ip in [
            "127.0.0.1",
            "10.1.2.3",
            "172.16.0.1",
            "192.168.1.1",
            "169.254.169.254",
            "100.64.0.1",
            "0.0.0.0",
            "::1",
            "fe80::1",
            "fd00::1",
            "::ffff:10.0.0.1",
            "::ffff:127.0.0.1",
        ] {
            assert!(!is_public(ip.parse().unwrap()), "{ip}");
        }
        for ip in ["1.1.1.1", "160.79.104.10", "2606:4700::1111"] {
            assert!(is_public(ip.parse().unwrap()), "{ip}");
        }
    }

    #[test]
    fn names_lose_control_and_direction_characters() {
        assert_eq!(
            clean_name(Some("Evil\u{202E}gnp.exe\n")).as_deref(),
            Some("Evilgnp.exe")
        );
        assert_eq!(clean_name(Some("   ")), None);
        assert_eq!(
            clean_name(Some(&"x".repeat(500))).map(|n| n.len()),
            Some(100)
        );
    }
}
