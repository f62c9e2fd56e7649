//! Driving the built-in authorization server as a client and a person
//! would, over real HTTP: register, open the consent page, sign in with
//! an access key, allow or deny, exchange the code, refresh.

use std::io::{Read as _, Write as _};
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::time::Duration;

use base64::Engine as _;
use serde_json::{Value, json};

use crate::process::{HttpServer, notes_bin, scratch_dir};

/// A redirect URI nothing listens on: the tests read the `Location`.
pub const REDIRECT: &str = "http://127.0.0.1:9/callback";

/// The notes server on a port of its own with the built-in authorization
/// server on, its public URL that port's.
pub struct AuthServer {
    /// The running server.
    pub server: HttpServer,
    /// Its data directory (and database).
    pub data: PathBuf,
    /// `http://127.0.0.1:PORT`.
    pub origin: String,
    /// The MCP endpoint on this instance's port.
    pub resource: String,
    /// The public URL: the token audience, the `resource` clients send.
    pub audience: String,
    /// `{origin}/oauth`.
    pub issuer: String,
}

/// `BIN serve ARGS` on the data of `data`.
fn serve(bin: &str, data: &Path, args: &[&str]) -> HttpServer {
    let mut cmd = std::process::Command::new(bin);
    cmd.arg("serve")
        .args(crate::databases::data_args(data))
        .args(args);
    HttpServer::from_command(cmd)
}

/// A free loopback port (bound, then released).
pub fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("a free port")
        .port()
}

impl AuthServer {
    /// Start the notes server in `data` with `extra` arguments.
    pub fn start_in(data: &Path, extra: &[&str]) -> Self {
        Self::start_bin(notes_bin(), data, extra)
    }

    /// Start the server binary `bin` in `data` with `extra` arguments.
    pub fn start_bin(bin: &str, data: &Path, extra: &[&str]) -> Self {
        let port = free_port();
        let origin = format!("http://127.0.0.1:{port}");
        let resource = format!("{origin}/mcp");
        let listen = format!("127.0.0.1:{port}");
        let server = serve(
            bin,
            data,
            &[&["--listen", &listen, "--public-url", &resource], extra].concat(),
        );
        Self {
            server,
            data: data.to_owned(),
            issuer: format!("{origin}/oauth"),
            origin,
            audience: resource.clone(),
            resource,
        }
    }

    /// Another instance in `data`, listening on a port of its own behind
    /// the same public URL as `first` (as instances behind one load
    /// balancer are).
    pub fn beside(first: &AuthServer) -> Self {
        let port = free_port();
        let listen = format!("127.0.0.1:{port}");
        let server = serve(
            notes_bin(),
            &first.data,
            &["--listen", &listen, "--public-url", &first.resource],
        );
        let origin = format!("http://127.0.0.1:{port}");
        Self {
            server,
            data: first.data.clone(),
            issuer: format!("{origin}/oauth"),
            resource: format!("{origin}/mcp"),
            audience: first.audience.clone(),
            origin,
        }
    }

    /// Start it in a fresh data directory.
    pub fn start(extra: &[&str]) -> Self {
        Self::start_in(&scratch_dir("oauth"), extra)
    }

    /// An endpoint of the authorization server, e.g. `token`.
    pub fn endpoint(&self, name: &str) -> String {
        format!("{}/{name}", self.issuer)
    }

    /// Register a public client (DCR) with `redirect_uris`; its answer.
    pub async fn register(&self, metadata: Value) -> (u16, Value) {
        let res = http()
            .post(self.endpoint("register"))
            .json(&metadata)
            .send()
            .await
            .expect("answered");
        let status = res.status().as_u16();
        (status, res.json().await.unwrap_or(Value::Null))
    }

    /// A public client registered with [`REDIRECT`].
    pub async fn public_client(&self) -> String {
        let (status, body) = self
            .register(
                json!({"client_name": "Test client", "redirect_uris": [REDIRECT],
                              "token_endpoint_auth_method": "none"}),
            )
            .await;
        assert_eq!(status, 201, "{body}");
        body["client_id"].as_str().expect("client_id").to_owned()
    }

    /// The query of an authorization request for `client` with PKCE for
    /// `verifier`, asking for `scope` (all scopes when `None`).
    pub fn request(
        &self,
        client: &str,
        verifier: &str,
        scope: Option<&str>,
    ) -> Vec<(String, String)> {
        let mut q = vec![
            ("response_type", "code".to_owned()),
            ("client_id", client.to_owned()),
            ("redirect_uri", REDIRECT.to_owned()),
            ("code_challenge", challenge(verifier)),
            ("code_challenge_method", "S256".to_owned()),
            ("resource", self.audience.clone()),
            ("state", "st-123".to_owned()),
        ];
        if let Some(s) = scope {
            q.push(("scope", s.to_owned()));
        }
        q.into_iter().map(|(k, v)| (k.to_owned(), v)).collect()
    }

    /// GET the authorization endpoint with `query`.
    pub async fn open(&self, query: &[(String, String)]) -> Page {
        let url = reqwest::Url::parse_with_params(&self.endpoint("authorize"), query).unwrap();
        Page::from(http().get(url).send().await.expect("answered"), None).await
    }

    /// GET an authorization URL a client produced, as a browser would.
    pub async fn open_url(&self, url: &str) -> Page {
        Page::from(http().get(url).send().await.expect("answered"), None).await
    }

    /// POST the form of `page` with `fields` added (as its buttons and
    /// inputs would send them), keeping its cookie.
    pub async fn submit(&self, page: &Page, fields: &[(&str, &str)]) -> Page {
        let mut form: Vec<(String, String)> = page.hidden.clone();
        form.extend(
            fields
                .iter()
                .map(|(k, v)| ((*k).to_owned(), (*v).to_owned())),
        );
        let mut req = http().post(self.endpoint("authorize")).form(&form);
        if let Some(c) = &page.cookie {
            req = req.header("cookie", format!("mcpgen_oauth_csrf={c}"));
        }
        Page::from(req.send().await.expect("answered"), page.cookie.clone()).await
    }

    /// Tick `scopes` on `consent` and allow; the code the client receives.
    pub async fn allow(&self, consent: &Page, scopes: &[&str]) -> String {
        let boxes: Vec<String> = scopes.iter().map(|s| format!("grant:{s}")).collect();
        let mut fields: Vec<(&str, &str)> = boxes.iter().map(|b| (b.as_str(), "on")).collect();
        fields.push(("action", "approve"));
        let done = self.submit(consent, &fields).await;
        let to = done
            .location
            .unwrap_or_else(|| panic!("no redirect: {}", done.html));
        param(&to, "code").expect("a code")
    }

    /// The whole flow for a person holding `key`: open, sign in, allow
    /// every offered scope; the code the client receives.
    pub async fn authorize(
        &self,
        client: &str,
        key: &str,
        verifier: &str,
        scope: Option<&str>,
    ) -> String {
        let page = self.open(&self.request(client, verifier, scope)).await;
        assert_eq!(page.status, 200, "{}", page.html);
        let consent = self
            .submit(&page, &[("access_key", key), ("action", "sign_in")])
            .await;
        assert_eq!(consent.status, 200, "{}", consent.html);
        let offered: Vec<&str> = consent
            .checkboxes
            .iter()
            .map(|c| c.trim_start_matches("grant:"))
            .collect();
        self.allow(&consent, &offered).await
    }

    /// POST the token endpoint with `form`.
    pub async fn token(&self, form: &[(&str, &str)]) -> (u16, Value) {
        let res = http()
            .post(self.endpoint("token"))
            .form(form)
            .send()
            .await
            .expect("answered");
        let status = res.status().as_u16();
        (status, res.json().await.unwrap_or(Value::Null))
    }

    /// Exchange `code` for tokens as public `client`.
    pub async fn exchange(&self, client: &str, code: &str, verifier: &str) -> (u16, Value) {
        self.token(&[
            ("grant_type", "authorization_code"),
            ("client_id", client),
            ("code", code),
            ("code_verifier", verifier),
            ("redirect_uri", REDIRECT),
            ("resource", &self.audience),
        ])
        .await
    }

    /// Refresh with `refresh` as public `client`.
    pub async fn refresh(&self, client: &str, refresh: &str) -> (u16, Value) {
        self.token(&[
            ("grant_type", "refresh_token"),
            ("client_id", client),
            ("refresh_token", refresh),
            ("resource", &self.audience),
        ])
        .await
    }
}

/// An HTTP client that follows no redirects.
pub fn http() -> reqwest::Client {
    reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .expect("client")
}

/// The S256 challenge of `verifier`.
pub fn challenge(verifier: &str) -> String {
    let digest = aws_lc_rs::digest::digest(&aws_lc_rs::digest::SHA256, verifier.as_bytes());
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(digest.as_ref())
}

/// A PKCE verifier (43+ characters).
pub fn verifier(tag: &str) -> String {
    format!("{tag}-verifier-{}", "x".repeat(43))
}

/// The value of query parameter `name` in `url`.
pub fn param(url: &str, name: &str) -> Option<String> {
    reqwest::Url::parse(url)
        .ok()?
        .query_pairs()
        .find(|(k, _)| k == name)
        .map(|(_, v)| v.into_owned())
}

/// A page of the authorization endpoint.
#[derive(Debug, Clone)]
pub struct Page {
    /// HTTP status.
    pub status: u16,
    /// `Location`, for a redirect.
    pub location: Option<String>,
    /// The HTML.
    pub html: String,
    /// Hidden form fields.
    pub hidden: Vec<(String, String)>,
    /// Names of the checkboxes.
    pub checkboxes: Vec<String>,
    /// The CSRF cookie (set by this page, or carried from before).
    pub cookie: Option<String>,
    /// Response headers.
    pub headers: reqwest::header::HeaderMap,
}

impl Page {
    async fn from(res: reqwest::Response, cookie: Option<String>) -> Self {
        let status = res.status().as_u16();
        let headers = res.headers().clone();
        let location = headers
            .get("location")
            .map(|v| v.to_str().unwrap().to_owned());
        let set = headers
            .get("set-cookie")
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.split(';').next())
            .and_then(|kv| kv.strip_prefix("mcpgen_oauth_csrf="))
            .map(str::to_owned);
        let html = res.text().await.unwrap_or_default();
        let hidden = inputs(&html, "hidden");
        let checkboxes = inputs(&html, "checkbox")
            .into_iter()
            .map(|(n, _)| n)
            .collect();
        Self {
            status,
            location,
            html,
            hidden,
            checkboxes,
            cookie: set.or(cookie),
            headers,
        }
    }

    /// The page's text without tags (for reading what a person reads).
    pub fn text(&self) -> String {
        let mut out = String::new();
        let mut in_tag = false;
        for c in self.html.chars() {
            match c {
                '<' => in_tag = true,
                '>' => {
                    in_tag = false;
                    out.push(' ');
                }
                c if !in_tag => out.push(c),
                _ => {}
            }
        }
        unescape(&out)
            .split_whitespace()
            .collect::<Vec<_>>()
            .join(" ")
    }
}

/// `(name, value)` of every `<input type="KIND" …>` in `html`.
fn inputs(html: &str, kind: &str) -> Vec<(String, String)> {
    html.split("<input")
        .skip(1)
        .filter_map(|rest| {
            let tag = &rest[..rest.find('>')?];
            if attr(tag, "type")? != kind {
                return None;
            }
            Some((attr(tag, "name")?, attr(tag, "value").unwrap_or_default()))
        })
        .collect()
}

fn attr(tag: &str, name: &str) -> Option<String> {
    let start = tag.find(&format!(" {name}=\""))? + name.len() + 3;
    let end = start + tag[start..].find('"')?;
    Some(unescape(&tag[start..end]))
}

fn unescape(s: &str) -> String {
    s.replace("&quot;", "\"")
        .replace("&lt;", "<")
        .replace("&gt;", ">")
        .replace("&#39;", "'")
        .replace("&amp;", "&")
}

/// A loopback HTTP server answering every request with `respond(path)`
/// (status, body, delay), on a thread; its origin.
pub fn document_server(
    respond: impl Fn(&str) -> (u16, String, Duration) + Send + 'static,
) -> String {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let origin = format!("http://{}", listener.local_addr().unwrap());
    std::thread::spawn(move || {
        for stream in listener.incoming() {
            let Ok(mut stream) = stream else { continue };
            let mut buf = [0u8; 4096];
            let n = stream.read(&mut buf).unwrap_or(0);
            let head = String::from_utf8_lossy(&buf[..n]).into_owned();
            let path = head.split_whitespace().nth(1).unwrap_or("/").to_owned();
            let (status, body, delay) = respond(&path);
            std::thread::sleep(delay);
            let _ = write!(
                stream,
                "HTTP/1.1 {status} X\r\ncontent-type: application/json\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{body}",
                body.len()
            );
        }
    });
    origin
}
