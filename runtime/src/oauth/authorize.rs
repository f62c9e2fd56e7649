//! The authorization endpoint: a request is checked before anything is
//! shown (client, exact redirect URI, PKCE S256, `resource`, scopes); the
//! person signs in (access key, or a development subject where allowed),
//! sees what the client asks for and what it opens, and allows or denies.
//! Only then is the client's redirect URI used: with a code, `state` and
//! `iss` (RFC 9207), or `error=access_denied`. Every form carries a CSRF
//! value that must equal the cookie set with the first page
//! (`SameSite=Lax`, so no other site can post with it), and the signed-in identity travels in a value
//! signed with the server's session key, bound to the request and the CSRF
//! value, for ten minutes.

use std::net::IpAddr;

use aws_lc_rs::constant_time;
use serde_json::json;

use super::clients::Client;
use super::page::{self, Context};
use super::params::Params;
use super::server::AuthorizationServer;
use super::store::Code;
use super::types::{ScopeInfo, truncate};
use crate::auth::keys::sha256_hex;
use crate::auth::signer::random_token;
use crate::store::now;

/// How long a signed-in consent page stays valid.
const SESSION_SECS: i64 = 600;
/// How long an authorization code lives.
const CODE_SECS: i64 = 60;
/// The CSRF cookie.
pub const CSRF_COOKIE: &str = "mcpgen_oauth_csrf";

/// What the authorization endpoint answers.
#[derive(Debug)]
pub enum Answer {
    /// A page for the person.
    Page {
        /// HTTP status.
        status: u16,
        /// The HTML.
        html: String,
        /// A CSRF value to set as the cookie, when a new one was made.
        set_csrf: Option<String>,
    },
    /// Send the browser to the client's redirect URI.
    Redirect(String),
}

/// An authorization request that passed every check.
struct Request {
    client: Client,
    redirect_uri: String,
    state: Option<String>,
    challenge: String,
    scopes: Vec<String>,
    raw: String,
}

fn error_page(status: u16, title: &str, message: impl AsRef<str>) -> Answer {
    Answer::Page {
        status,
        html: page::error(title, message.as_ref()),
        set_csrf: None,
    }
}

impl AuthorizationServer {
    async fn validate(
        &self,
        raw: &str,
        peer: Option<IpAddr>,
    ) -> Result<Request, (&'static str, Answer)> {
        let bad = |reason: &'static str, m: String| {
            (
                reason,
                error_page(400, "This sign-in request is not valid", m),
            )
        };
        let p = Params::parse(raw.as_bytes())
            .map_err(|e| bad("invalid_request", format!("The request is malformed: {e}.")))?;
        let client_id = p.get("client_id").ok_or_else(|| {
            bad(
                "invalid_request",
                "The application sent no client_id.".into(),
            )
        })?;
        let client = self.client(client_id, peer).await.map_err(|why| {
            (
                "invalid_client",
                error_page(400, "Unknown application", format!("{why}.")),
            )
        })?;
        let presented = p.get("redirect_uri").ok_or_else(|| {
            bad(
                "invalid_request",
                "The application sent no redirect_uri.".into(),
            )
        })?;
        if client.redirect(presented).is_none() {
            return Err((
                "invalid_redirect_uri",
                error_page(
                    400,
                    "Redirect address not registered",
                    format!(
                        "The application asked to be sent to {}, which is not one of the redirect URIs registered for {}. \
                     Nothing was sent there.",
                        truncate(presented, 200),
                        truncate(&client.name, 100)
                    ),
                ),
            ));
        }
        if p.get("response_type") != Some("code") {
            return Err(bad(
                "unsupported_response_type",
                "Only response_type=code is supported (no implicit or hybrid flows).".into(),
            ));
        }
        let challenge = p.get("code_challenge").ok_or_else(|| {
            bad(
                "invalid_request",
                "The application sent no PKCE code_challenge: this server requires PKCE with S256."
                    .into(),
            )
        })?;
        if p.get("code_challenge_method") != Some("S256") {
            return Err(bad(
                "invalid_request",
                "code_challenge_method must be S256 (plain is not accepted).".into(),
            ));
        }
        if challenge.len() != 43
            || !challenge
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
        {
            return Err(bad(
                "invalid_request",
                "code_challenge is not a base64url SHA-256 value (43 characters).".into(),
            ));
        }
        match p.get("resource") {
            Some(r) if r == self.resource => {}
            Some(r) => {
                return Err(bad(
                    "invalid_target",
                    format!(
                        "The application asked for a token for {}, but this server issues tokens only for {}.",
                        truncate(r, 200),
                        self.resource
                    ),
                ));
            }
            None => {
                return Err(bad(
                    "invalid_target",
                    format!(
                        "The application sent no resource parameter (RFC 8707): it must name {}.",
                        self.resource
                    ),
                ));
            }
        }
        let scopes: Vec<String> = match p.get("scope") {
            None => self.scopes.iter().map(|s| s.name.clone()).collect(),
            Some(asked) => {
                let mut list = Vec::new();
                for s in asked.split_whitespace() {
                    if !self.scopes.iter().any(|d| d.name == s) {
                        return Err(bad(
                            "invalid_scope",
                            format!(
                                "The application asked for the scope `{}`, which this server does not have. It has: {}.",
                                truncate(s, 60),
                                self.scopes
                                    .iter()
                                    .map(|d| d.name.as_str())
                                    .collect::<Vec<_>>()
                                    .join(", ")
                            ),
                        ));
                    }
                    if !list.iter().any(|l| l == s) {
                        list.push(s.to_owned());
                    }
                }
                list
            }
        };
        let state = p.get("state").map(str::to_owned);
        if state.as_ref().is_some_and(|s| s.len() > 1024) {
            return Err(bad(
                "invalid_request",
                "state is longer than 1024 characters.".into(),
            ));
        }
        Ok(Request {
            redirect_uri: presented.to_owned(),
            client,
            state,
            challenge: challenge.to_owned(),
            scopes,
            raw: raw.to_owned(),
        })
    }

    fn infos<'a>(&'a self, names: &[String]) -> Vec<&'a ScopeInfo> {
        self.scopes
            .iter()
            .filter(|s| names.contains(&s.name))
            .collect()
    }

    fn context<'a>(&'a self, r: &'a Request, csrf: &'a str) -> Context<'a> {
        Context {
            server: &self.server_title,
            client: &r.client,
            redirect_uri: &r.redirect_uri,
            request: &r.raw,
            csrf,
        }
    }

    /// Record a refused authorization request (with the client it named,
    /// never anything else of it) and answer with its error page.
    fn refused(&self, reason: &'static str, raw: &str, peer: Option<&str>, page: Answer) -> Answer {
        let client = Params::parse(raw.as_bytes())
            .ok()
            .and_then(|p| p.get("client_id").map(|c| truncate(c, 200)))
            .unwrap_or_default();
        self.audit.authorization(
            "oauth:authorize",
            Err(reason),
            peer.unwrap_or_default(),
            "",
            &client,
            "",
        );
        page
    }

    /// `GET /oauth/authorize?…`: check the request, then ask the person to
    /// sign in. `csrf_cookie` is the browser's CSRF cookie, if it has one.
    pub async fn authorize(
        &self,
        raw_query: &str,
        csrf_cookie: Option<&str>,
        peer: Option<IpAddr>,
    ) -> Answer {
        let request = match self.validate(raw_query, peer).await {
            Ok(r) => r,
            Err((reason, page)) => {
                let peer = peer.map(|p| p.to_string());
                return self.refused(reason, raw_query, peer.as_deref(), page);
            }
        };
        let (csrf, set) = match csrf_cookie.filter(|c| c.len() == 43) {
            Some(c) => (c.to_owned(), None),
            None => {
                let c = random_token(32);
                (c.clone(), Some(c))
            }
        };
        let html = page::sign_in(
            &self.context(&request, &csrf),
            &self.infos(&request.scopes),
            self.settings.development_sign_in,
            None,
        );
        Answer::Page {
            status: 200,
            html,
            set_csrf: set,
        }
    }

    /// `POST /oauth/authorize`: sign in, allow, or deny.
    pub async fn decide(
        &self,
        body: &[u8],
        csrf_cookie: Option<&str>,
        peer: Option<IpAddr>,
    ) -> Answer {
        let peer_ip = peer;
        let peer = peer.map(|p| p.to_string()).unwrap_or_default();
        let form = match Params::parse(body) {
            Ok(f) => f,
            Err(e) => return error_page(400, "This form is not valid", format!("{e}.")),
        };
        let csrf = form.get("csrf").unwrap_or_default();
        let same = csrf_cookie.is_some_and(|c| {
            !c.is_empty()
                && constant_time::verify_slices_are_equal(c.as_bytes(), csrf.as_bytes()).is_ok()
        });
        if !same {
            self.audit
                .authorization("oauth:authorize", Err("csrf_mismatch"), &peer, "", "", "");
            return error_page(
                403,
                "This form has expired",
                "The form was not sent from this server's own page in this browser (or its cookie is gone). \
                 Start again from the application.",
            );
        }
        let raw = form.get("request").unwrap_or_default();
        let request = match self.validate(raw, peer_ip).await {
            Ok(r) => r,
            Err((reason, page)) => return self.refused(reason, raw, Some(&peer), page),
        };
        match form.get("action") {
            Some("deny") => {
                self.audit.authorization(
                    "oauth:authorize",
                    Err("access_denied"),
                    &peer,
                    "",
                    &request.client.id,
                    &request.scopes.join(" "),
                );
                Answer::Redirect(self.redirect(
                    &request,
                    &[
                        ("error", "access_denied"),
                        ("error_description", "the person denied the request"),
                    ],
                ))
            }
            Some("sign_in") => self.sign_in(&request, &form, csrf, &peer).await,
            Some("approve") => self.approve(&request, &form, csrf, &peer).await,
            _ => error_page(
                400,
                "This form is not valid",
                "Choose Continue, Allow or Deny.",
            ),
        }
    }

    async fn sign_in(&self, request: &Request, form: &Params, csrf: &str, peer: &str) -> Answer {
        let again = |status: u16, message: &str| Answer::Page {
            status,
            html: page::sign_in(
                &self.context(request, csrf),
                &self.infos(&request.scopes),
                self.settings.development_sign_in,
                Some(message),
            ),
            set_csrf: None,
        };
        let (subject, key, allowed, how) = if let Some(key) = form.get("access_key") {
            match self.keys.verify(key.trim()).await {
                Ok(caller)
                    if caller.client_id().is_some_and(|label| {
                        self.settings
                            .restricted_key_labels
                            .iter()
                            .any(|r| r == label)
                    }) =>
                {
                    self.audit.authorization(
                        "oauth:sign_in",
                        Err("key_bound_to_client"),
                        peer,
                        caller.subject(),
                        &request.client.id,
                        "",
                    );
                    return again(
                        403,
                        &format!(
                            "This access key belongs to the client `{}`, which the server limits to some tools: \
                             it cannot sign in another application. Use a key without that client label.",
                            caller.client_id().unwrap_or_default()
                        ),
                    );
                }
                Ok(caller) => (
                    caller.subject().to_owned(),
                    caller.credential_id().map(str::to_owned),
                    caller.scopes().to_vec(),
                    format!("access key {}", caller.credential_id().unwrap_or_default()),
                ),
                Err(crate::auth::AuthError::Unavailable) => {
                    return again(
                        503,
                        "Access keys cannot be checked right now. Try again shortly.",
                    );
                }
                Err(_) => {
                    self.audit.authorization(
                        "oauth:sign_in",
                        Err("invalid_access_key"),
                        peer,
                        "",
                        &request.client.id,
                        "",
                    );
                    return again(
                        401,
                        "That access key was not accepted (unknown, revoked or expired).",
                    );
                }
            }
        } else if let Some(subject) = form
            .get("subject")
            .filter(|_| self.settings.development_sign_in)
        {
            let subject = subject.trim();
            if subject.is_empty()
                || subject.len() > 200
                || subject.chars().any(|c| c.is_control() || c.is_whitespace())
            {
                return again(
                    400,
                    "A subject is one word without spaces, at most 200 characters.",
                );
            }
            let all = self.scopes.iter().map(|s| s.name.clone()).collect();
            (
                subject.to_owned(),
                None,
                all,
                "development sign-in".to_owned(),
            )
        } else {
            return again(400, "Type your access key to continue.");
        };
        let offered: Vec<String> = request
            .scopes
            .iter()
            .filter(|s| allowed.contains(s))
            .cloned()
            .collect();
        let withheld: Vec<&str> = request
            .scopes
            .iter()
            .filter(|s| !allowed.contains(s))
            .map(String::as_str)
            .collect();
        if offered.is_empty() {
            self.audit.authorization(
                "oauth:sign_in",
                Err("invalid_scope"),
                peer,
                &subject,
                &request.client.id,
                "",
            );
            return again(
                403,
                &format!(
                    "Signed in as {subject}, but this sign-in grants none of what the application asks for ({}).",
                    request.scopes.join(", ")
                ),
            );
        }
        let before = match self.store.granted(&subject, &request.client.id).await {
            Ok(g) => g,
            Err(e) => {
                tracing::error!(error = %e, "cannot read grants");
                return again(
                    503,
                    "The server cannot reach its storage right now. Try again shortly.",
                );
            }
        };
        let (old, new): (Vec<String>, Vec<String>) =
            offered.iter().cloned().partition(|s| before.contains(s));
        let session = self.seal(&json!({
            "sub": subject,
            "key": key,
            "offered": offered,
            "req": sha256_hex(&request.raw),
            "csrf": sha256_hex(csrf),
            "exp": now() + SESSION_SECS,
        }));
        Answer::Page {
            status: 200,
            html: page::consent(
                &self.context(request, csrf),
                &subject,
                &how,
                &self.infos(&new),
                &self.infos(&old),
                &withheld,
                &session,
            ),
            set_csrf: None,
        }
    }

    async fn approve(&self, request: &Request, form: &Params, csrf: &str, peer: &str) -> Answer {
        let expired = || {
            error_page(
                403,
                "This consent page has expired",
                "The sign-in behind it is older than ten minutes or belongs to another request. Start again from the application.",
            )
        };
        let Some(session) = form.get("session").and_then(|s| self.unseal(s)) else {
            return expired();
        };
        let fresh = session["exp"].as_i64().is_some_and(|e| e > now())
            && session["req"] == sha256_hex(&request.raw).as_str()
            && session["csrf"] == sha256_hex(csrf).as_str();
        if !fresh {
            return expired();
        }
        let subject = session["sub"].as_str().unwrap_or_default().to_owned();
        let key_id = session["key"].as_str().map(str::to_owned);
        let offered: Vec<String> = session["offered"]
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(|s| s.as_str().map(str::to_owned))
            .collect();
        let before = match self.store.granted(&subject, &request.client.id).await {
            Ok(g) => g,
            Err(_) => {
                return error_page(
                    503,
                    "Try again shortly",
                    "The server cannot reach its storage right now.",
                );
            }
        };
        let chosen: Vec<String> = offered
            .into_iter()
            .filter(|s| before.contains(s) || form.get(&format!("grant:{s}")) == Some("on"))
            .collect();
        if chosen.is_empty() {
            return error_page(
                400,
                "Nothing was allowed",
                "No permission was chosen. Start again from the application, and tick at least one, or deny.",
            );
        }
        let code = random_token(32);
        let stored = Code {
            family: random_token(16),
            client_id: request.client.id.clone(),
            redirect_uri: request.redirect_uri.clone(),
            subject: subject.clone(),
            key_id,
            scopes: chosen.join(" "),
            challenge: request.challenge.clone(),
            resource: self.resource.clone(),
            expires_at: now() + CODE_SECS,
        };
        let saved = async {
            self.store
                .grant(&subject, &request.client.id, &chosen)
                .await?;
            self.store.insert_code(&code, &stored).await
        };
        if let Err(e) = saved.await {
            tracing::error!(error = %e, "cannot store the authorization code");
            return error_page(
                503,
                "Try again shortly",
                "The server cannot reach its storage right now.",
            );
        }
        self.audit.authorization(
            "oauth:authorize",
            Ok("approved"),
            peer,
            &subject,
            &request.client.id,
            &stored.scopes,
        );
        Answer::Redirect(self.redirect(request, &[("code", &code)]))
    }

    /// The client's redirect URI with `pairs`, `state` and `iss` added.
    fn redirect(&self, request: &Request, pairs: &[(&str, &str)]) -> String {
        let Ok(mut url) = url::Url::parse(&request.redirect_uri) else {
            return request.redirect_uri.clone();
        };
        {
            let mut q = url.query_pairs_mut();
            for (k, v) in pairs {
                q.append_pair(k, v);
            }
            if let Some(s) = &request.state {
                q.append_pair("state", s);
            }
            q.append_pair("iss", &self.issuer);
        }
        url.into()
    }
}
