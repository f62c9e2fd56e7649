//! The operator page's requests: what each reads and changes; `page.rs`
//! renders.

use std::net::SocketAddr;
use std::sync::Arc;

use axum::body::Bytes;
use axum::extract::{ConnectInfo, Path, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, Uri, header};
use axum::response::{IntoResponse, Response};

use super::access::{Refusal, SIGN_IN_COOKIE, same_token, session_cookie, sign_in_cookie};
use super::page::{self, AuditPage, View};
use super::state::{Admin, cookie, peer};
use crate::audit::query::{AuditFilter, recent};
use crate::auth::signer::random_token;
use crate::oauth::Params;
use crate::registry::Tools;

/// Audit rows per page.
const AUDIT_PAGE: i64 = 25;

/// An HTML page: no caching, no framing, no scripts, forms to itself only.
fn html(status: StatusCode, body: String) -> Response {
    let mut r = (status, body).into_response();
    let h = r.headers_mut();
    h.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/html; charset=utf-8"),
    );
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    h.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static(
            "default-src 'none'; style-src 'unsafe-inline'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'",
        ),
    );
    h.insert(
        header::REFERRER_POLICY,
        HeaderValue::from_static("same-origin"),
    );
    r
}

fn see_other(to: &str, cookie: Option<String>) -> Response {
    let mut r = StatusCode::SEE_OTHER.into_response();
    if let Ok(v) = HeaderValue::from_str(to) {
        r.headers_mut().insert(header::LOCATION, v);
    }
    if let Some(c) = cookie.and_then(|c| HeaderValue::from_str(&c).ok()) {
        r.headers_mut().insert(header::SET_COOKIE, c);
    }
    r
}

/// The sign-in page, with its CSRF cookie (kept if the browser has one).
fn sign_in_page(headers: &HeaderMap, status: StatusCode, error: Option<&str>) -> Response {
    let token = cookie(headers, SIGN_IN_COOKIE)
        .filter(|c| c.len() == 32)
        .map_or_else(|| random_token(24), str::to_owned);
    let mut r = html(status, page::sign_in(&token, error));
    if let Ok(c) = HeaderValue::from_str(&sign_in_cookie(&token)) {
        r.headers_mut().append(header::SET_COOKIE, c);
    }
    r
}

fn unavailable() -> Response {
    html(
        StatusCode::SERVICE_UNAVAILABLE,
        page::message(
            "Not available",
            "The database cannot be reached right now. Reload the page shortly.",
        ),
    )
}

/// `GET /`: the operator page, or the sign-in page.
pub(super) async fn home<S: Tools>(
    State(admin): State<Arc<Admin<S>>>,
    headers: HeaderMap,
    uri: Uri,
) -> Response {
    let operator = match admin.session(&headers).await {
        Ok(o) => o,
        Err(Refusal::Unavailable) => return unavailable(),
        Err(_) => return sign_in_page(&headers, StatusCode::OK, None),
    };
    let query = Params::parse(uri.query().unwrap_or_default().as_bytes()).unwrap_or_default();
    let field = |name: &str| query.get(name).unwrap_or_default().trim().to_owned();
    let filter = AuditFilter {
        subject: field("subject"),
        tool: field("tool"),
        decision: field("decision"),
    };
    let number: i64 = field("page").parse().unwrap_or(1).clamp(1, 100_000);
    let Ok(keys) = admin.keys.list(None).await else {
        return unavailable();
    };
    // One row more than a page tells whether there is a next one.
    let Ok(mut rows) = recent(
        &admin.db,
        &filter,
        (number - 1) * AUDIT_PAGE,
        AUDIT_PAGE + 1,
    )
    .await
    else {
        return unavailable();
    };
    let has_next = rows.len() as i64 > AUDIT_PAGE;
    rows.truncate(AUDIT_PAGE as usize);
    let clients = match admin.server.authorization_server() {
        Some(a) => match a.clients(100).await {
            Ok(c) => Some(c),
            Err(_) => return unavailable(),
        },
        None => None,
    };
    let registry = admin.server.registry();
    let view = View {
        server: admin.server.facts.report(),
        operator: &operator.subject,
        csrf: &operator.csrf,
        matrix: crate::artifacts::scope_matrix(registry),
        scopes: S::manifest().scopes.iter().map(|s| &*s.name).collect(),
        keys,
        audit: AuditPage {
            filter,
            number,
            has_next,
            rows,
        },
        clients,
    };
    html(StatusCode::OK, page::operator(&view))
}

/// `POST /sign-in`: a credential with the admin scope opens a session.
pub(super) async fn sign_in<S: Tools>(
    State(admin): State<Arc<Admin<S>>>,
    ConnectInfo(address): ConnectInfo<SocketAddr>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let form = Params::parse(&body).unwrap_or_default();
    let expected = cookie(&headers, SIGN_IN_COOKIE).unwrap_or_default();
    if !same_token(expected, form.get("csrf").unwrap_or_default()) {
        return sign_in_page(
            &headers,
            StatusCode::FORBIDDEN,
            Some("This form has expired. Sign in again."),
        );
    }
    let credential = form.get("credential").unwrap_or_default().trim();
    let peer = peer(address);
    match admin.operator(credential).await {
        Ok(caller) => {
            admin.server.audit().authorization(
                "admin:sign_in",
                Ok("signed in"),
                &peer,
                caller.subject(),
                "",
                mcpgen_spec::ADMIN_SCOPE,
            );
            see_other(
                "/",
                Some(session_cookie(Some(&admin.open_session(&caller)))),
            )
        }
        Err(r) => {
            admin.server.audit().authorization(
                "admin:sign_in",
                Err(match r {
                    Refusal::NotAnAdmin => "insufficient scope",
                    Refusal::Unavailable => "credential unverifiable",
                    Refusal::Unauthenticated => "invalid credential",
                }),
                &peer,
                "",
                "",
                "",
            );
            let status = match r {
                Refusal::NotAnAdmin => StatusCode::FORBIDDEN,
                Refusal::Unavailable => StatusCode::SERVICE_UNAVAILABLE,
                Refusal::Unauthenticated => StatusCode::UNAUTHORIZED,
            };
            sign_in_page(&headers, status, Some(r.message()))
        }
    }
}

/// `POST /sign-out`.
pub(super) async fn sign_out<S: Tools>(
    State(admin): State<Arc<Admin<S>>>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let form = Params::parse(&body).unwrap_or_default();
    match admin.session(&headers).await {
        Ok(o) if same_token(&o.csrf, form.get("csrf").unwrap_or_default()) => {
            see_other("/", Some(session_cookie(None)))
        }
        _ => see_other("/", None),
    }
}

/// The session of a form that changes something, with its CSRF token
/// checked; else the page to answer with.
async fn operator_of_form<S: Tools>(
    admin: &Admin<S>,
    headers: &HeaderMap,
    form: &Params,
) -> Result<super::access::Operator, Response> {
    match admin.session(headers).await {
        Ok(o) if same_token(&o.csrf, form.get("csrf").unwrap_or_default()) => Ok(o),
        Ok(_) => Err(html(
            StatusCode::FORBIDDEN,
            page::message(
                "Refused",
                "This form did not come from this page (its CSRF token does not match). Reload the page and try again.",
            ),
        )),
        Err(Refusal::Unavailable) => Err(unavailable()),
        Err(_) => Err(sign_in_page(
            headers,
            StatusCode::UNAUTHORIZED,
            Some("Your session has ended. Sign in again."),
        )),
    }
}

/// `POST /keys`: create a key; the page shows its secret this once.
pub(super) async fn create_key<S: Tools>(
    State(admin): State<Arc<Admin<S>>>,
    ConnectInfo(address): ConnectInfo<SocketAddr>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let Ok(form) = Params::parse(&body) else {
        return html(
            StatusCode::BAD_REQUEST,
            page::message("Refused", "The form was not readable."),
        );
    };
    let operator = match operator_of_form(&admin, &headers, &form).await {
        Ok(o) => o,
        Err(r) => return r,
    };
    let mut scopes: Vec<String> = S::manifest()
        .scopes
        .iter()
        .map(|s| s.name.to_string())
        .chain([mcpgen_spec::ADMIN_SCOPE.to_owned()])
        .filter(|s| form.get(&format!("scope:{s}")).is_some())
        .collect();
    scopes.sort();
    let client = form.get("client").map(str::trim).filter(|c| !c.is_empty());
    let days = form.get("expires_days").map(str::trim).unwrap_or_default();
    let ttl = match days {
        "" => None,
        d => match d.parse::<u16>() {
            Ok(n) if n > 0 => Some(i64::from(n) * 86_400),
            _ => {
                return html(
                    StatusCode::BAD_REQUEST,
                    page::message(
                        "Refused",
                        "“Expires in days” must be a whole number from 1 to 65535, or empty for no expiry.",
                    ),
                );
            }
        },
    };
    let owner = form.get("owner").unwrap_or_default().trim();
    match admin
        .create(
            &operator.subject,
            &peer(address),
            owner,
            &scopes,
            client,
            ttl,
        )
        .await
    {
        Ok(key) => html(StatusCode::CREATED, page::new_key(&key)),
        Err((status, why)) => html(status, page::message("Key not created", &why)),
    }
}

/// `POST /keys/{id}/revoke`.
pub(super) async fn revoke_key<S: Tools>(
    State(admin): State<Arc<Admin<S>>>,
    ConnectInfo(address): ConnectInfo<SocketAddr>,
    headers: HeaderMap,
    Path(id): Path<String>,
    body: Bytes,
) -> Response {
    let form = Params::parse(&body).unwrap_or_default();
    let operator = match operator_of_form(&admin, &headers, &form).await {
        Ok(o) => o,
        Err(r) => return r,
    };
    match admin.revoke(&operator.subject, &peer(address), &id).await {
        Ok(()) => see_other("/#keys", None),
        Err((status, why)) => html(status, page::message("Key not revoked", &why)),
    }
}
