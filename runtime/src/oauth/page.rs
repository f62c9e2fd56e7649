//! The pages a person sees: sign in, consent, and errors. Server-rendered
//! HTML (maud escapes every value), no JavaScript, one inline style sheet.

use maud::{Markup, html};

use super::clients::{Client, redirect_host};
use super::types::ScopeInfo;

const STYLE: &str = "body{font:16px/1.5 system-ui,sans-serif;max-width:36rem;margin:2rem auto;padding:0 1rem;color:#1b1b1b}\
h1{font-size:1.4rem}.host{font:600 1.1rem ui-monospace,monospace;background:#fff4d6;padding:.1rem .3rem;border-radius:.2rem}\
.scope{border:1px solid #ccc;border-radius:.4rem;padding:.6rem .8rem;margin:.5rem 0}.scope code{font-weight:600}\
.tools{color:#444;font-size:.9rem}.error{background:#fde8e8;border:1px solid #d33;padding:.6rem .8rem;border-radius:.4rem}\
.muted{color:#555;font-size:.9rem}label{display:block;margin:.8rem 0 .2rem}input[type=password],input[type=text]{width:100%;padding:.4rem;font:inherit}\
button{font:inherit;padding:.5rem 1.2rem;margin:1rem .5rem 0 0;border-radius:.3rem;border:1px solid #888;cursor:pointer}\
button.primary{background:#1f5fbf;color:#fff;border-color:#1f5fbf}";

/// What every page of one authorization request shows and carries.
pub(super) struct Context<'a> {
    pub(super) server: &'a str,
    pub(super) client: &'a Client,
    pub(super) redirect_uri: &'a str,
    pub(super) request: &'a str,
    pub(super) csrf: &'a str,
}

fn layout(title: &str, body: Markup) -> String {
    crate::html::document(title, STYLE, body)
}

fn who_asks(cx: &Context<'_>) -> Markup {
    html! {
        p {
            strong { (cx.client.name) }
            " wants to use " strong { (cx.server) } " on your behalf."
        }
        p {
            "After you decide, you will be sent to "
            span.host { (redirect_host(cx.redirect_uri)) }
            ". Continue only if you trust that site or application."
        }
        p.muted {
            @if cx.client.from_document {
                "Client id (its metadata document): " code { (cx.client.id) }
            } @else {
                "Client id: " code { (cx.client.id) } " (the application registered itself; its name is its own claim)"
            }
        }
    }
}

fn scope_box(scope: &ScopeInfo, checkbox: bool) -> Markup {
    html! {
        div.scope {
            @if checkbox {
                label style="margin:0" {
                    input type="checkbox" name=(format!("grant:{}", scope.name)) value="on" checked;
                    " " code { (scope.name) } " — " (scope.description)
                }
            } @else {
                code { (scope.name) } " — " (scope.description)
            }
            div.tools {
                @if scope.tools.is_empty() {
                    "Opens no tools."
                } @else {
                    "Opens: "
                    @for (i, t) in scope.tools.iter().enumerate() {
                        @if i > 0 { ", " }
                        code { (t) }
                    }
                }
            }
        }
    }
}

fn hidden(cx: &Context<'_>) -> Markup {
    html! {
        input type="hidden" name="request" value=(cx.request);
        input type="hidden" name="csrf" value=(cx.csrf);
    }
}

/// Step one: who asks, for what, and a sign-in form.
pub(super) fn sign_in(
    cx: &Context<'_>,
    asked: &[&ScopeInfo],
    development: bool,
    error: Option<&str>,
) -> String {
    let body = html! {
        h1 { "Sign in to " (cx.server) }
        (who_asks(cx))
        h2 { "It asks for" }
        @for s in asked { (scope_box(s, false)) }
        @if let Some(e) = error { p.error role="alert" { (e) } }
        form method="post" action="authorize" {
            (hidden(cx))
            label for="access_key" { "Your access key" }
            input #access_key type="password" name="access_key" autocomplete="off" placeholder="mcpk_…";
            p.muted { "Ask the server's operator for a key: it decides whose data the application sees and the most it may do." }
            @if development {
                label for="subject" { "Or, in this local environment only: sign in as" }
                input #subject type="text" name="subject" autocomplete="off" placeholder="a subject, e.g. alice";
            }
            button.primary type="submit" name="action" value="sign_in" { "Continue" }
            button type="submit" name="action" value="deny" { "Deny" }
        }
    };
    layout(&format!("Sign in to {}", cx.server), body)
}

/// Step two: who is signed in, and what to allow: the new scopes with a
/// box each, the ones allowed before listed.
pub(super) fn consent(
    cx: &Context<'_>,
    subject: &str,
    how: &str,
    new: &[&ScopeInfo],
    before: &[&ScopeInfo],
    withheld: &[&str],
    session: &str,
) -> String {
    let body = html! {
        h1 { "Allow " (cx.client.name) "?" }
        p { "Signed in as " strong { (subject) } " (" (how) ")." }
        (who_asks(cx))
        form method="post" action="authorize" {
            (hidden(cx))
            input type="hidden" name="session" value=(session);
            @if !new.is_empty() {
                h2 { "New permissions" }
                @for s in new { (scope_box(s, true)) }
            }
            @if !before.is_empty() {
                h2 { "Already allowed" }
                @for s in before { (scope_box(s, false)) }
            }
            @if !withheld.is_empty() {
                p.muted {
                    "Not available to this sign-in, so not granted: "
                    @for (i, w) in withheld.iter().enumerate() {
                        @if i > 0 { ", " }
                        code { (w) }
                    }
                }
            }
            button.primary type="submit" name="action" value="approve" { "Allow" }
            button type="submit" name="action" value="deny" { "Deny" }
        }
    };
    layout(&format!("Allow {}?", cx.client.name), body)
}

/// A request that cannot go on: said to the person, never redirected.
pub(super) fn error(title: &str, message: &str) -> String {
    let body = html! {
        h1 { (title) }
        p.error role="alert" { (message) }
        p.muted { "Nothing was shared. Close this page and start again from the application." }
    };
    layout(title, body)
}
