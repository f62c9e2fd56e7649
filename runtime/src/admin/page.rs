//! The operator page, server-rendered (maud escapes every value), no
//! JavaScript: the environment, the scope matrix, access keys, recent
//! audit decisions, OAuth clients.

use maud::{Markup, html};
use serde_json::Value;

use crate::audit::query::{AuditFilter, AuditRow};
use crate::auth::{KeyInfo, NewKey};
use crate::environment::EnvironmentReport;
use crate::oauth::ClientRow;
use crate::store::now;

const STYLE: &str = "body{font:15px/1.45 system-ui,sans-serif;margin:1.5rem auto;max-width:72rem;padding:0 1rem;color:#1b1b1b}\
h1{font-size:1.4rem;margin-bottom:.2rem}h2{font-size:1.1rem;margin-top:2rem;border-bottom:1px solid #ddd}\
table{border-collapse:collapse;width:100%;font-size:.9rem}th,td{text-align:left;padding:.25rem .5rem;border-bottom:1px solid #eee;vertical-align:top}\
th{background:#f5f5f5}code{font:.85rem ui-monospace,monospace}.muted{color:#555}.warn{background:#fff4d6;padding:.5rem .8rem;border-radius:.3rem}\
.error{background:#fde8e8;border:1px solid #d33;padding:.6rem .8rem;border-radius:.4rem}.secret{font:1rem ui-monospace,monospace;background:#eef6ee;padding:.6rem;word-break:break-all}\
form.inline{display:inline}button{font:inherit;padding:.2rem .7rem;border-radius:.3rem;border:1px solid #888;cursor:pointer}\
button.danger{border-color:#b22;color:#b22}input[type=text],input[type=password],select{font:inherit;padding:.2rem .3rem}\
label{margin-right:.8rem}.denied{color:#a11}.failed{color:#a60}.allowed{color:#161}nav a{margin-right:1rem}";

fn layout(title: &str, body: Markup) -> String {
    crate::html::document(title, STYLE, body)
}

/// A Unix time, as an HTTP date (UTC).
fn when(secs: i64) -> String {
    let t = std::time::UNIX_EPOCH + std::time::Duration::from_secs(secs.max(0) as u64);
    httpdate::fmt_http_date(t)
}

fn maybe_when(secs: Option<i64>) -> String {
    secs.map_or_else(|| "—".to_owned(), when)
}

/// The sign-in form.
pub(super) fn sign_in(csrf: &str, error: Option<&str>) -> String {
    layout(
        "Sign in — operator page",
        html! {
            h1 { "Operator page" }
            p.muted { "Sign in with an admin credential: an access key (or token) carrying the "
                code { "mcpgen:admin" } " scope. Create one with "
                code { "keys create --owner you --scopes mcpgen:admin" } "." }
            @if let Some(e) = error { p.error role="alert" { (e) } }
            form method="post" action="/sign-in" {
                input type="hidden" name="csrf" value=(csrf);
                label for="credential" { "Admin credential" }
                input #credential type="password" name="credential" autocomplete="off" size="60" required;
                " "
                button type="submit" { "Sign in" }
            }
        },
    )
}

/// A page that says one thing.
pub(super) fn message(title: &str, text: &str) -> String {
    layout(
        title,
        html! {
            h1 { (title) }
            p role="alert" { (text) }
            p { a href="/" { "Back to the operator page" } }
        },
    )
}

/// A key just created: its secret, this once.
pub(super) fn new_key(key: &NewKey) -> String {
    layout(
        "Key created",
        html! {
            h1 { "Key created" }
            p { "Key " code { (key.id) } " for " strong { (key.owner) } " with "
                @if key.scopes.is_empty() { "no scopes" } @else { code { (key.scopes.join(" ")) } } "." }
            p.warn { "This is the only time the secret is shown. Copy it now and hand it to the client." }
            p.secret #secret { (key.key) }
            p { a href="/#keys" { "Back to the operator page" } }
        },
    )
}

/// One page of audit records and where it is.
pub(super) struct AuditPage {
    pub(super) filter: AuditFilter,
    pub(super) number: i64,
    pub(super) has_next: bool,
    pub(super) rows: Vec<AuditRow>,
}

/// What the operator page shows.
pub(super) struct View<'a> {
    pub(super) server: EnvironmentReport,
    pub(super) operator: &'a str,
    pub(super) csrf: &'a str,
    pub(super) matrix: Value,
    pub(super) scopes: Vec<&'a str>,
    pub(super) keys: Vec<KeyInfo>,
    pub(super) audit: AuditPage,
    pub(super) clients: Option<Vec<ClientRow>>,
}

/// The operator page.
pub(super) fn operator(v: &View<'_>) -> String {
    let s = &v.server;
    layout(
        &format!("{} — operator page", s.server),
        html! {
            form.inline method="post" action="/sign-out" style="float:right" {
                span.muted { "Signed in as " strong { (v.operator) } " " }
                input type="hidden" name="csrf" value=(v.csrf);
                button type="submit" { "Sign out" }
            }
            h1 { (s.server) " " span.muted { (s.version) } }
            nav { a href="#environment" { "Environment" } a href="#matrix" { "Scope matrix" }
                  a href="#keys" { "Access keys" } a href="#audit" { "Audit" }
                  @if v.clients.is_some() { a href="#clients" { "OAuth clients" } } }
            h2 #environment { "Environment" }
            p.warn { (s.summary) }
            table {
                tr { th { "environment" } td { (s.environment) } }
                tr { th { "runtime" } td { (s.runtime) } }
                tr { th { "data" } td { (s.data) } }
                tr { th { "shares production data" } td { (yes(s.shares_production_data)) } }
                tr { th { "writes enabled" } td { (yes(s.writes_enabled)) } }
                tr { th { "database" } td { (s.database.as_deref().unwrap_or("none")) } }
                tr { th { "data the database holds" } td { (s.database_data.as_deref().unwrap_or("unknown")) } }
            }
            h2 #matrix { "Scope matrix" }
            (matrix(&v.matrix))
            h2 #keys { "Access keys" }
            (keys(v))
            h2 #audit { "Recent decisions" }
            (audit(&v.audit))
            @if let Some(clients) = &v.clients {
                h2 #clients { "OAuth clients" }
                (oauth_clients(clients))
            }
        },
    )
}

fn yes(b: bool) -> &'static str {
    if b { "yes" } else { "no" }
}

fn matrix(m: &Value) -> Markup {
    let scopes: Vec<&str> = m["scopes"]
        .as_array()
        .map(|a| a.iter().filter_map(Value::as_str).collect())
        .unwrap_or_default();
    let rows = [
        ("tools", "tool"),
        ("resources", "resource"),
        ("prompts", "prompt"),
    ];
    html! {
        table #scope-matrix {
            tr { th { "kind" } th { "name" } th { "access" } th { "requires" }
                 @for s in &scopes { th { code { (s) } } } }
            @for (list, kind) in rows {
                @for e in m[list].as_array().into_iter().flatten() {
                    tr {
                        td { (kind) }
                        td { code { (e[kind].as_str().unwrap_or_default()) }
                             @if let Some(uri) = e["uri"].as_str() { " " span.muted { code { (uri) } } } }
                        td { (e["access"].as_str().unwrap_or("read")) }
                        td { (e["requirement"].as_str().unwrap_or_default()) }
                        @for s in &scopes { td { @if e["scopes"][s] == true { "✓" } } }
                    }
                }
            }
        }
    }
}

fn keys(v: &View<'_>) -> Markup {
    let t = now();
    html! {
        table #key-list {
            tr { th { "id" } th { "owner" } th { "scopes" } th { "client" } th { "created" }
                 th { "last used" } th { "expires" } th { "state" } th {} }
            @for k in &v.keys {
                @let state = if k.revoked_at.is_some() { "revoked" }
                    else if k.expires_at.is_some_and(|e| e <= t) { "expired" } else { "active" };
                tr data-key=(k.id) {
                    td { code { (k.id) } }
                    td { (k.owner) }
                    td { code { (k.scopes.join(" ")) } }
                    td { (k.client.as_deref().unwrap_or("—")) }
                    td { (when(k.created_at)) }
                    td { (maybe_when(k.last_used_at)) }
                    td { (maybe_when(k.expires_at)) }
                    td.state { (state) }
                    td { @if state == "active" {
                        form.inline method="post" action={ "/keys/" (k.id) "/revoke" } {
                            input type="hidden" name="csrf" value=(v.csrf);
                            button.danger type="submit" { "Revoke" }
                        }
                    } }
                }
            }
        }
        @if v.keys.is_empty() { p.muted { "No access keys yet." } }
        h3 { "Create a key" }
        form #create-key method="post" action="/keys" {
            input type="hidden" name="csrf" value=(v.csrf);
            label { "Owner " input type="text" name="owner" required; }
            label { "Client label " input type="text" name="client"; }
            label { "Expires in days " input type="text" name="expires_days" size="5"; }
            br;
            @for s in v.scopes.iter().copied().chain([mcpgen_spec::ADMIN_SCOPE]) {
                label { input type="checkbox" name={ "scope:" (s) }; " " code { (s) } }
            }
            button type="submit" { "Create key" }
        }
    }
}

fn audit(a: &AuditPage) -> Markup {
    let f = &a.filter;
    let link = |page: i64| {
        let mut q = url::form_urlencoded::Serializer::new(String::new());
        for (k, v) in [
            ("subject", &f.subject),
            ("tool", &f.tool),
            ("decision", &f.decision),
        ] {
            if !v.is_empty() {
                q.append_pair(k, v);
            }
        }
        q.append_pair("page", &page.to_string());
        format!("/?{}#audit", q.finish())
    };
    html! {
        form #audit-filter method="get" action="/#audit" {
            label { "Subject " input type="text" name="subject" value=(f.subject); }
            label { "Tool " input type="text" name="tool" value=(f.tool); }
            label { "Decision "
                select name="decision" {
                    @for d in ["", "allowed", "denied", "failed", "asked", "accepted", "declined", "unconfirmed"] {
                        option value=(d) selected[f.decision == d] { @if d.is_empty() { "any" } @else { (d) } }
                    }
                }
            }
            button type="submit" { "Filter" }
        }
        table #audit-list {
            tr { th { "when" } th { "subject" } th { "client" } th { "tool" } th { "decision" }
                 th { "reason" } th { "count" } th { "µs" } th { "transport" } th { "peer" } th { "credential" } }
            @for r in &a.rows {
                tr {
                    td { (when(r.at)) }
                    td { (r.subject) }
                    td { (r.client) }
                    td { code { (r.tool) } }
                    td class=(r.decision) { (r.decision) }
                    td { (r.reason) }
                    td { (r.count) }
                    td { (r.duration_us) }
                    td { (r.transport) }
                    td { (r.peer) }
                    td { code { (r.credential) } }
                }
            }
        }
        @if a.rows.is_empty() { p.muted { "No decisions match." } }
        p {
            @if a.number > 1 { a href=(link(a.number - 1)) { "← newer" } " " }
            span.muted { "page " (a.number) }
            @if a.has_next { " " a href=(link(a.number + 1)) { "older →" } }
        }
    }
}

fn oauth_clients(clients: &[ClientRow]) -> Markup {
    html! {
        table #client-list {
            tr { th { "client id" } th { "name" } th { "redirect URIs" } th { "auth" }
                 th { "first seen" } th { "last used" } }
            @for c in clients {
                tr {
                    td { code { (c.client_id) } }
                    td { (c.name) }
                    td { @for u in &c.redirect_uris { code { (u) } br; } }
                    td { (c.auth_method) }
                    td { (when(c.created_at)) }
                    td { (when(c.last_used_at)) }
                }
            }
        }
        @if clients.is_empty() { p.muted { "No client has connected yet." } }
    }
}
