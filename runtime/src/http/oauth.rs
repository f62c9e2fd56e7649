//! The built-in authorization server's routes (see [`crate::oauth`]):
//! metadata at its RFC 8414 location (path-inserted, since the issuer has
//! the path `/oauth`) and the OpenID discovery aliases clients probe; the
//! authorization endpoint's pages; the token, registration and revocation
//! endpoints; the JWKS. The `Host`/`Origin` check in front of every route
//! covers these too.

use std::sync::Arc;

use axum::Router;
use axum::body::Body;
use axum::extract::{Request, State};
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use base64::Engine as _;
use serde_json::Value;

use super::extract::{Peer, Unread, read};
use super::respond::no_store;
use crate::oauth::{Answer, AuthorizationServer, ClientCredentials, OAuthError, PATH, Params};
use crate::registry::Tools;
use crate::server::McpServer;

/// The largest body an OAuth endpoint reads.
const MAX_BODY: usize = 64 * 1024;

type ServerState<S> = Arc<McpServer<S>>;

/// Add the authorization server's routes to `router`.
pub(super) fn routes<S: Tools>(router: Router<ServerState<S>>) -> Router<ServerState<S>> {
    let metadata_paths = [
        format!("/.well-known/oauth-authorization-server{PATH}"),
        format!("/.well-known/openid-configuration{PATH}"),
        format!("{PATH}/.well-known/openid-configuration"),
    ];
    let mut router = router;
    for p in metadata_paths {
        router = router.route(&p, get(metadata::<S>).options(preflight));
    }
    router
        .route(&format!("{PATH}/jwks"), get(jwks::<S>).options(preflight))
        .route(
            &format!("{PATH}/authorize"),
            get(authorize_page::<S>).post(authorize_form::<S>),
        )
        .route(
            &format!("{PATH}/token"),
            axum::routing::post(token::<S>).options(preflight),
        )
        .route(
            &format!("{PATH}/register"),
            axum::routing::post(register::<S>).options(preflight),
        )
        .route(
            &format!("{PATH}/revoke"),
            axum::routing::post(revoke::<S>).options(preflight),
        )
}

fn authorization<S: Tools>(server: &McpServer<S>) -> Option<&Arc<AuthorizationServer>> {
    server.authorization.as_ref()
}

/// The endpoints a browser-based client calls from its own page (no
/// cookies are involved there, so any origin may read the answer).
fn cors(mut r: Response) -> Response {
    let h = r.headers_mut();
    h.insert(
        header::ACCESS_CONTROL_ALLOW_ORIGIN,
        HeaderValue::from_static("*"),
    );
    h.insert(
        header::ACCESS_CONTROL_ALLOW_HEADERS,
        HeaderValue::from_static("authorization, content-type, mcp-protocol-version"),
    );
    h.insert(
        header::ACCESS_CONTROL_ALLOW_METHODS,
        HeaderValue::from_static("GET, POST, OPTIONS"),
    );
    r
}

async fn preflight() -> Response {
    cors(StatusCode::NO_CONTENT.into_response())
}

fn json(status: StatusCode, body: &Value) -> Response {
    let mut r = (
        status,
        [(
            header::CONTENT_TYPE,
            HeaderValue::from_static("application/json"),
        )],
        body.to_string(),
    )
        .into_response();
    no_store(r.headers_mut());
    r.headers_mut()
        .insert(header::PRAGMA, HeaderValue::from_static("no-cache"));
    cors(r)
}

fn oauth_error(e: &OAuthError, basic_used: bool) -> Response {
    let status = StatusCode::from_u16(e.status).unwrap_or(StatusCode::BAD_REQUEST);
    let mut r = json(status, &e.body());
    if status == StatusCode::UNAUTHORIZED && basic_used {
        r.headers_mut().insert(
            header::WWW_AUTHENTICATE,
            HeaderValue::from_static("Basic realm=\"oauth\""),
        );
    }
    r
}

fn not_enabled() -> Response {
    StatusCode::NOT_FOUND.into_response()
}

async fn metadata<S: Tools>(State(server): State<ServerState<S>>) -> Response {
    match authorization(&server) {
        Some(a) => json(StatusCode::OK, &a.metadata()),
        None => not_enabled(),
    }
}

async fn jwks<S: Tools>(State(server): State<ServerState<S>>) -> Response {
    match authorization(&server) {
        Some(a) => json(StatusCode::OK, &a.jwks()),
        None => not_enabled(),
    }
}

/// The value of the CSRF cookie, if the browser sent one.
fn csrf_cookie(headers: &HeaderMap) -> Option<String> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(k, _)| *k == crate::oauth::CSRF_COOKIE)
        .map(|(_, v)| v.to_owned())
}

fn page_response(answer: Answer, secure: bool) -> Response {
    match answer {
        Answer::Redirect(to) => {
            let mut r = StatusCode::SEE_OTHER.into_response();
            if let Ok(v) = HeaderValue::from_str(&to) {
                r.headers_mut().insert(header::LOCATION, v);
            }
            no_store(r.headers_mut());
            r
        }
        Answer::Page {
            status,
            html,
            set_csrf,
        } => {
            let status = StatusCode::from_u16(status).unwrap_or(StatusCode::BAD_REQUEST);
            let mut r = (
                status,
                [(
                    header::CONTENT_TYPE,
                    HeaderValue::from_static("text/html; charset=utf-8"),
                )],
                html,
            )
                .into_response();
            let h = r.headers_mut();
            no_store(h);
            // No script at all; framing refused (clickjacking); no
            // `form-action`, which browsers apply to the redirect to the
            // client after the form is sent.
            h.insert(
                header::CONTENT_SECURITY_POLICY,
                HeaderValue::from_static(
                    "default-src 'none'; style-src 'unsafe-inline'; frame-ancestors 'none'; base-uri 'none'",
                ),
            );
            h.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
            // `same-origin`: the forms post with their real `Origin` (under
            // `no-referrer` browsers send `Origin: null`, which the Host/Origin
            // check refuses), and nothing of these pages reaches another site.
            h.insert(
                header::REFERRER_POLICY,
                HeaderValue::from_static("same-origin"),
            );
            if let Some(c) = set_csrf {
                let secure = if secure { "; Secure" } else { "" };
                let cookie = format!(
                    "{}={c}; Path={PATH}; HttpOnly; SameSite=Lax; Max-Age=3600{secure}",
                    crate::oauth::CSRF_COOKIE
                );
                if let Ok(v) = HeaderValue::from_str(&cookie) {
                    h.insert(header::SET_COOKIE, v);
                }
            }
            r
        }
    }
}

async fn authorize_page<S: Tools>(
    State(server): State<ServerState<S>>,
    Peer(peer): Peer,
    request: Request,
) -> Response {
    let Some(a) = authorization(&server) else {
        return not_enabled();
    };
    let query = request.uri().query().unwrap_or_default().to_owned();
    let cookie = csrf_cookie(request.headers());
    let answer = a.authorize(&query, cookie.as_deref(), peer).await;
    page_response(answer, a.issuer().starts_with("https://"))
}

async fn authorize_form<S: Tools>(
    State(server): State<ServerState<S>>,
    Peer(peer): Peer,
    request: Request,
) -> Response {
    let Some(a) = authorization(&server) else {
        return not_enabled();
    };
    let cookie = csrf_cookie(request.headers());
    let body = match form_body(request).await {
        Ok(b) => b,
        Err(r) => return r,
    };
    let answer = a.decide(&body, cookie.as_deref(), peer).await;
    page_response(answer, a.issuer().starts_with("https://"))
}

/// A form body of at most [`MAX_BODY`] bytes, or the answer refusing it.
async fn form_body(request: Request) -> Result<axum::body::Bytes, Response> {
    let is_form = request
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| {
            v.split(';').next().is_some_and(|t| {
                t.trim()
                    .eq_ignore_ascii_case("application/x-www-form-urlencoded")
            })
        });
    if !is_form {
        return Err(oauth_error(
            &OAuthError {
                error: "invalid_request",
                description: "send the parameters as application/x-www-form-urlencoded".into(),
                status: 400,
            },
            false,
        ));
    }
    body(request.into_body()).await
}

async fn body(body: Body) -> Result<axum::body::Bytes, Response> {
    match read(body, MAX_BODY).await {
        Ok(b) => Ok(b),
        Err(Unread::TooLarge) => Err(oauth_error(
            &OAuthError {
                error: "invalid_request",
                description: format!("the body is larger than {MAX_BODY} bytes"),
                status: 413,
            },
            false,
        )),
        Err(Unread::TooSlow) => Err(StatusCode::REQUEST_TIMEOUT.into_response()),
    }
}

/// Client credentials from `Authorization: Basic` (RFC 6749 §2.3.1: both
/// parts form-urlencoded).
fn basic(headers: &HeaderMap) -> Result<ClientCredentials, OAuthError> {
    let Some(value) = headers.get(header::AUTHORIZATION) else {
        return Ok(ClientCredentials::default());
    };
    let bad = || OAuthError {
        error: "invalid_client",
        description: "the Authorization header is not valid HTTP Basic client credentials".into(),
        status: 401,
    };
    let text = value.to_str().map_err(|_| bad())?;
    let Some(encoded) = text
        .split_once(' ')
        .filter(|(scheme, _)| scheme.eq_ignore_ascii_case("basic"))
        .map(|(_, rest)| rest.trim())
    else {
        return Err(bad());
    };
    let decoded = base64::engine::general_purpose::STANDARD
        .decode(encoded)
        .map_err(|_| bad())?;
    let decoded = String::from_utf8(decoded).map_err(|_| bad())?;
    let (id, secret) = decoded.split_once(':').ok_or_else(bad)?;
    let unescape = |s: &str| {
        url::form_urlencoded::parse(format!("x={s}").as_bytes())
            .next()
            .map(|(_, v)| v.into_owned())
            .unwrap_or_default()
    };
    Ok(ClientCredentials {
        basic: Some((unescape(id), unescape(secret))),
    })
}

async fn token_like<S: Tools>(
    server: &McpServer<S>,
    peer: Option<std::net::IpAddr>,
    request: Request,
    revoke: bool,
) -> Response {
    let Some(a) = authorization(server) else {
        return not_enabled();
    };
    let creds = match basic(request.headers()) {
        Ok(c) => c,
        Err(e) => return oauth_error(&e, true),
    };
    let basic_used = creds.basic.is_some();
    let body = match form_body(request).await {
        Ok(b) => b,
        Err(r) => return r,
    };
    let form = match Params::parse(&body) {
        Ok(f) => f,
        Err(e) => {
            return oauth_error(
                &OAuthError {
                    error: "invalid_request",
                    description: e,
                    status: 400,
                },
                false,
            );
        }
    };
    if revoke {
        match a.revoke(&form, &creds, peer).await {
            Ok(()) => cors(StatusCode::OK.into_response()),
            Err(e) => oauth_error(&e, basic_used),
        }
    } else {
        match a.token(&form, &creds, peer).await {
            Ok(v) => json(StatusCode::OK, &v),
            Err(e) => oauth_error(&e, basic_used),
        }
    }
}

async fn token<S: Tools>(
    State(server): State<ServerState<S>>,
    Peer(peer): Peer,
    request: Request,
) -> Response {
    token_like(&server, peer, request, false).await
}

async fn revoke<S: Tools>(
    State(server): State<ServerState<S>>,
    Peer(peer): Peer,
    request: Request,
) -> Response {
    token_like(&server, peer, request, true).await
}

async fn register<S: Tools>(
    State(server): State<ServerState<S>>,
    Peer(peer): Peer,
    request: Request,
) -> Response {
    let Some(a) = authorization(&server) else {
        return not_enabled();
    };
    if request.method() != Method::POST {
        return StatusCode::METHOD_NOT_ALLOWED.into_response();
    }
    let body = match body(request.into_body()).await {
        Ok(b) => b,
        Err(r) => return r,
    };
    match a.register(&body, peer).await {
        Ok(v) => json(StatusCode::CREATED, &v),
        Err(e) => oauth_error(&e, false),
    }
}
