//! The built-in authorization server against the example app's real
//! binary, over real HTTP: discovery, the consent pages, codes with PKCE,
//! rotating refresh families, Dynamic Client Registration, Client ID
//! Metadata Documents served on loopback, and every refusal on the way.
//! The Python SDK's OAuth client and a real browser drive it in
//! `real_clients.rs` and `consent_browser.rs`.

use std::time::Duration;

use mcpgen_tests::databases::open_for;
use mcpgen_tests::notes::{call, cli, create_key, post};
use mcpgen_tests::oauth::{
    AuthServer, REDIRECT, challenge, document_server, free_port, http, param, verifier,
};
use serde_json::{Value, json};
use sqlx::Row as _;

fn key_of(k: &Value) -> String {
    k["key"].as_str().unwrap().to_owned()
}

async fn tools_list(url: &str, token: &str) -> Vec<String> {
    let list = post(
        url,
        Some(token),
        &json!({"jsonrpc": "2.0", "id": 1, "method": "tools/list"}),
    )
    .await;
    assert_eq!(list.status, 200, "{}", list.raw);
    list.body["result"]["tools"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t["name"].as_str().unwrap().to_owned())
        .collect()
}

#[test]
fn pkce_challenges_are_s256_as_rfc_7636_says() {
    assert_eq!(
        challenge("dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk"),
        "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM"
    );
}

#[tokio::test]
async fn discovery_names_the_built_in_server_and_the_handshake_starts_the_flow() {
    let s = AuthServer::start(&[]);
    let prm: Value = http()
        .get(format!(
            "{}/.well-known/oauth-protected-resource/mcp",
            s.origin
        ))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(prm["resource"], s.resource);
    assert_eq!(prm["authorization_servers"], json!([s.issuer]));
    // RFC 8414 §3.1: the well-known segment goes before the issuer's path.
    let meta_url = format!("{}/.well-known/oauth-authorization-server/oauth", s.origin);
    let meta: Value = http()
        .get(&meta_url)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(
        meta["issuer"], s.issuer,
        "issuer is exactly the discovery URL's"
    );
    assert_eq!(meta["code_challenge_methods_supported"], json!(["S256"]));
    assert_eq!(meta["client_id_metadata_document_supported"], true);
    assert_eq!(meta["authorization_response_iss_parameter_supported"], true);
    assert!(
        meta["token_endpoint_auth_methods_supported"]
            .as_array()
            .unwrap()
            .contains(&json!("none"))
    );
    assert_eq!(meta["response_types_supported"], json!(["code"]));
    assert_eq!(
        meta["grant_types_supported"],
        json!(["authorization_code", "refresh_token"])
    );
    assert_eq!(
        meta["authorization_endpoint"],
        format!("{}/authorize", s.issuer)
    );
    for alias in [
        "/.well-known/openid-configuration/oauth",
        "/oauth/.well-known/openid-configuration",
    ] {
        let doc: Value = http()
            .get(format!("{}{alias}", s.origin))
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        assert_eq!(doc, meta, "{alias}");
    }
    let jwks: Value = http()
        .get(s.endpoint("jwks"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(jwks["keys"][0]["kty"], "OKP");
    assert_eq!(jwks["keys"][0]["crv"], "Ed25519");
    assert!(jwks["keys"][0].get("d").is_none(), "never the private part");

    // Nothing on the notes server is public: the handshake is the 401
    // that starts OAuth, for both protocol eras.
    let init = post(
        &s.resource,
        None,
        &json!({"jsonrpc": "2.0", "id": 1, "method": "initialize", "params": {
            "protocolVersion": "2025-11-25", "capabilities": {}, "clientInfo": {"name": "t", "version": "1"}}}),
    )
    .await;
    assert_eq!(init.status, 401, "{}", init.raw);
    let challenge = init.challenge.unwrap();
    assert!(
        challenge.contains(&format!(
            "resource_metadata=\"{}/.well-known/oauth-protected-resource/mcp\"",
            s.origin
        )),
        "{challenge}"
    );
    let discover = http()
        .post(&s.resource)
        .header("content-type", "application/json")
        .header("accept", "application/json, text/event-stream")
        .header("mcp-protocol-version", "2026-07-28")
        .header("mcp-method", "server/discover")
        .body(
            json!({"jsonrpc": "2.0", "id": 1, "method": "server/discover", "params": {"_meta": {
            "io.modelcontextprotocol/protocolVersion": "2026-07-28",
            "io.modelcontextprotocol/clientInfo": {"name": "t", "version": "1"},
            "io.modelcontextprotocol/clientCapabilities": {}}}})
            .to_string(),
        )
        .send()
        .await
        .unwrap();
    assert_eq!(discover.status(), 401);
    assert!(discover.headers().get("www-authenticate").is_some());
}

#[tokio::test]
async fn a_person_signs_in_with_an_access_key_and_the_client_gets_tokens_that_work() {
    let s = AuthServer::start(&[]);
    let key = create_key(&s.data, "alice", "notes:read", &[]);
    let client = s.public_client().await;
    let v = verifier("a");
    // The client asks for both scopes; the key holds only notes:read.
    let page = s
        .open(&s.request(&client, &v, Some("notes:read notes:write")))
        .await;
    assert_eq!(page.status, 200);
    let text = page.text();
    assert!(text.contains("Test client wants to use Notes"), "{text}");
    assert!(
        text.contains("127.0.0.1"),
        "the redirect host is shown: {text}"
    );
    assert!(text.contains("notes:read — Read your notes"), "{text}");
    assert!(
        text.contains("Opens: get_owned_note , search_owned_notes"),
        "{text}"
    );
    assert!(
        text.contains("notes:write — Create notes") && text.contains("create_text_note"),
        "{text}"
    );
    let csp = page.headers["content-security-policy"].to_str().unwrap();
    assert!(
        csp.contains("frame-ancestors 'none'") && !csp.contains("script-src"),
        "{csp}"
    );
    assert!(!page.html.contains("<script"), "no JavaScript");
    let set_cookie = page.headers["set-cookie"].to_str().unwrap();
    assert!(
        set_cookie.contains("SameSite=Lax") && set_cookie.contains("HttpOnly"),
        "{set_cookie}"
    );

    let wrong = s
        .submit(
            &page,
            &[
                ("access_key", "mcpk_0123456789abcdef_nope"),
                ("action", "sign_in"),
            ],
        )
        .await;
    assert_eq!(wrong.status, 401);
    assert!(wrong.text().contains("That access key was not accepted"));

    let consent = s
        .submit(
            &page,
            &[("access_key", &key_of(&key)), ("action", "sign_in")],
        )
        .await;
    assert_eq!(consent.status, 200, "{}", consent.html);
    let text = consent.text();
    assert!(text.contains("Signed in as alice"), "{text}");
    assert!(
        text.contains("Not available to this sign-in, so not granted: notes:write"),
        "{text}"
    );
    assert_eq!(
        consent.checkboxes,
        vec!["grant:notes:read"],
        "the key cannot grant more than it has"
    );
    // Ticking a scope the key lacks changes nothing: the signed session
    // holds what was offered.
    let done = s
        .submit(
            &consent,
            &[
                ("grant:notes:read", "on"),
                ("grant:notes:write", "on"),
                ("action", "approve"),
            ],
        )
        .await;
    assert_eq!(done.status, 303);
    let to = done.location.unwrap();
    assert!(to.starts_with(REDIRECT), "{to}");
    assert_eq!(param(&to, "state").as_deref(), Some("st-123"));
    assert_eq!(
        param(&to, "iss").as_deref(),
        Some(s.issuer.as_str()),
        "RFC 9207"
    );
    let code = param(&to, "code").unwrap();

    let (status, tokens) = s.exchange(&client, &code, &v).await;
    assert_eq!(status, 200, "{tokens}");
    assert_eq!(tokens["token_type"], "Bearer");
    assert_eq!(tokens["scope"], "notes:read");
    assert_eq!(tokens["expires_in"], 600);
    let access = tokens["access_token"].as_str().unwrap();
    let header: Value = serde_json::from_slice(
        &base64::Engine::decode(
            &base64::engine::general_purpose::URL_SAFE_NO_PAD,
            access.split('.').next().unwrap(),
        )
        .unwrap(),
    )
    .unwrap();
    assert_eq!(header["typ"], "at+jwt");
    assert_eq!(header["alg"], "EdDSA");
    let mut listed = tools_list(&s.resource, access).await;
    listed.sort();
    assert_eq!(
        listed,
        [
            "get_environment_status",
            "get_owned_note",
            "search_owned_notes",
            "verify_access"
        ]
    );
    let who = post(&s.resource, Some(access), &call("verify_access")).await;
    let who = &who.body["result"]["structuredContent"];
    assert_eq!(who["subject"], "alice", "{who}");
    assert_eq!(who["client_id"], client.as_str(), "{who}");
    let write = post(&s.resource, Some(access), &call("create_text_note")).await;
    assert_eq!(write.status, 403, "{}", write.raw);
    assert!(
        write
            .challenge
            .unwrap()
            .contains("error=\"insufficient_scope\", scope=\"notes:write\"")
    );

    // Refresh rotates; the old one presented again revokes the family.
    let first = tokens["refresh_token"].as_str().unwrap().to_owned();
    let (status, next) = s.refresh(&client, &first).await;
    assert_eq!(status, 200, "{next}");
    let second = next["refresh_token"].as_str().unwrap().to_owned();
    assert_ne!(first, second);
    assert_eq!(
        tools_list(&s.resource, next["access_token"].as_str().unwrap())
            .await
            .len(),
        4
    );
    let (status, reused) = s.refresh(&client, &first).await;
    assert_eq!(
        (status, reused["error"].as_str()),
        (400, Some("invalid_grant")),
        "{reused}"
    );
    assert!(
        reused["error_description"]
            .as_str()
            .unwrap()
            .contains("family is revoked")
    );
    let (status, after) = s.refresh(&client, &second).await;
    assert_eq!(
        (status, after["error"].as_str()),
        (400, Some("invalid_grant")),
        "the newest went with the family"
    );

    // What was stored is hashed; what was logged holds no secret.
    let db = open_for(&s.data).await;
    let stored: Vec<String> = sqlx::query("SELECT token_hash FROM mcpgen_oauth_refresh")
        .fetch_all(db.pool())
        .await
        .unwrap()
        .iter()
        .map(|r| r.get("token_hash"))
        .collect();
    assert_eq!(stored.len(), 2);
    assert!(
        stored
            .iter()
            .all(|h| h.len() == 64 && *h != first && *h != second)
    );
    let codes: Vec<String> = sqlx::query("SELECT code_hash FROM mcpgen_oauth_codes")
        .fetch_all(db.pool())
        .await
        .unwrap()
        .iter()
        .map(|r| r.get("code_hash"))
        .collect();
    assert!(!codes.contains(&code) && codes.len() == 1);
    // The audit trail is written in batches: stop the server to read it whole.
    let (_, log) = s.server.stop();
    let audit: Vec<(String, String, String, String)> = sqlx::query(
        "SELECT tool, decision, reason, subject FROM mcpgen_audit WHERE tool LIKE 'oauth:%' ORDER BY request_id",
    )
    .fetch_all(db.pool())
    .await
    .unwrap()
    .iter()
    .map(|r| (r.get("tool"), r.get("decision"), r.get("reason"), r.get("subject")))
    .collect();
    let has = |tool: &str, reason: &str| audit.iter().any(|a| a.0 == tool && a.2 == reason);
    assert!(has("oauth:register", "registered"), "{audit:?}");
    assert!(has("oauth:sign_in", "invalid_access_key"), "{audit:?}");
    assert!(has("oauth:authorize", "approved"), "{audit:?}");
    assert!(
        has("oauth:token", "issued") && has("oauth:refresh", "issued"),
        "{audit:?}"
    );
    assert!(has("oauth:refresh", "invalid_grant"), "{audit:?}");
    for secret in [key_of(&key), code, first, second, access.to_owned()] {
        assert!(!log.contains(&secret), "a secret reached the log");
    }
    let rows: Vec<String> =
        sqlx::query("SELECT subject || client || tool || scopes || reason AS r FROM mcpgen_audit")
            .fetch_all(db.pool())
            .await
            .unwrap()
            .iter()
            .map(|r| r.get("r"))
            .collect();
    assert!(
        rows.iter()
            .all(|r| !r.contains("mcpk_") && !r.contains("mcpr_"))
    );
}

#[tokio::test]
async fn codes_are_spent_once_bound_to_their_client_verifier_redirect_and_lifetime() {
    let s = AuthServer::start(&[]);
    let key = key_of(&create_key(&s.data, "alice", "notes:read,notes:write", &[]));
    let client = s.public_client().await;
    let other = s.public_client().await;
    let v = verifier("c");

    // Reuse: the second redemption fails and revokes what the first got.
    let code = s.authorize(&client, &key, &v, None).await;
    let (status, first) = s.exchange(&client, &code, &v).await;
    assert_eq!(status, 200, "{first}");
    let (status, again) = s.exchange(&client, &code, &v).await;
    assert_eq!(
        (status, again["error"].as_str()),
        (400, Some("invalid_grant"))
    );
    assert!(
        again["error_description"]
            .as_str()
            .unwrap()
            .contains("already used")
    );
    let (_, refreshed) = s
        .refresh(&client, first["refresh_token"].as_str().unwrap())
        .await;
    assert_eq!(
        refreshed["error"], "invalid_grant",
        "the reused code's family is revoked"
    );

    // A code presented by another client.
    let code = s.authorize(&client, &key, &v, None).await;
    let (status, e) = s.exchange(&other, &code, &v).await;
    assert_eq!(
        (status, e["error"].as_str()),
        (400, Some("invalid_grant")),
        "{e}"
    );
    assert!(
        e["error_description"]
            .as_str()
            .unwrap()
            .contains("another client")
    );

    // The wrong verifier.
    let code = s.authorize(&client, &key, &v, None).await;
    let (status, e) = s.exchange(&client, &code, &verifier("wrong")).await;
    assert_eq!((status, e["error"].as_str()), (400, Some("invalid_grant")));
    assert!(
        e["error_description"]
            .as_str()
            .unwrap()
            .contains("code_verifier")
    );

    // Another redirect URI at the token endpoint.
    let code = s.authorize(&client, &key, &v, None).await;
    let (status, e) = s
        .token(&[
            ("grant_type", "authorization_code"),
            ("client_id", &client),
            ("code", &code),
            ("code_verifier", &v),
            ("redirect_uri", "http://127.0.0.1:9/other"),
        ])
        .await;
    assert_eq!(
        (status, e["error"].as_str()),
        (400, Some("invalid_grant")),
        "{e}"
    );

    // Another resource.
    let code = s.authorize(&client, &key, &v, None).await;
    let (status, e) = s
        .token(&[
            ("grant_type", "authorization_code"),
            ("client_id", &client),
            ("code", &code),
            ("code_verifier", &v),
            ("redirect_uri", REDIRECT),
            ("resource", "https://elsewhere.example/mcp"),
        ])
        .await;
    assert_eq!(
        (status, e["error"].as_str()),
        (400, Some("invalid_target")),
        "{e}"
    );

    // An expired code.
    let code = s.authorize(&client, &key, &v, None).await;
    let db = open_for(&s.data).await;
    sqlx::query("UPDATE mcpgen_oauth_codes SET expires_at = 0 WHERE used_at IS NULL")
        .execute(db.pool())
        .await
        .unwrap();
    let (status, e) = s.exchange(&client, &code, &v).await;
    assert_eq!((status, e["error"].as_str()), (400, Some("invalid_grant")));
    assert!(e["error_description"].as_str().unwrap().contains("expired"));

    // Grants other than the code grant, and no client at all.
    let (status, e) = s
        .token(&[("grant_type", "password"), ("client_id", &client)])
        .await;
    assert_eq!(
        (status, e["error"].as_str()),
        (400, Some("unsupported_grant_type"))
    );
    let (status, e) = s
        .token(&[("grant_type", "authorization_code"), ("code", "x")])
        .await;
    assert_eq!((status, e["error"].as_str()), (401, Some("invalid_client")));
    let (status, e) = s
        .token(&[
            ("grant_type", "client_credentials"),
            ("client_id", "mcpc_nobody"),
        ])
        .await;
    assert_eq!((status, e["error"].as_str()), (401, Some("invalid_client")));
}

#[tokio::test]
async fn requests_that_cannot_go_on_are_explained_to_the_person_and_never_redirected() {
    let s = AuthServer::start(&[]);
    let client = s.public_client().await;
    let v = verifier("e");
    let good = s.request(&client, &v, None);
    let with = |name: &str, value: Option<&str>| -> Vec<(String, String)> {
        let mut q: Vec<(String, String)> =
            good.iter().filter(|(k, _)| k != name).cloned().collect();
        if let Some(v) = value {
            q.push((name.to_owned(), v.to_owned()));
        }
        q
    };
    let cases = [
        (
            with("client_id", Some("mcpc_unknown")),
            "Unknown application",
        ),
        (with("client_id", None), "sent no client_id"),
        (
            with("redirect_uri", Some("https://attacker.example/cb")),
            "not one of the redirect URIs registered",
        ),
        (
            with("redirect_uri", Some("http://127.0.0.1:9/callback/x")),
            "not one of the redirect URIs registered",
        ),
        (with("code_challenge", None), "requires PKCE with S256"),
        (with("code_challenge_method", Some("plain")), "must be S256"),
        (with("code_challenge_method", None), "must be S256"),
        (
            with("resource", Some("https://elsewhere.example/mcp")),
            "issues tokens only for",
        ),
        (with("resource", None), "sent no resource parameter"),
        (
            with("response_type", Some("token")),
            "Only response_type=code",
        ),
        (
            with("scope", Some("notes:read admin")),
            "scope `admin`, which this server does not have",
        ),
    ];
    for (query, expected) in cases {
        let page = s.open(&query).await;
        assert_eq!(page.status, 400, "{expected}: {}", page.html);
        assert!(page.location.is_none(), "{expected}: never redirected");
        assert!(
            page.text().contains(expected),
            "{expected}: {}",
            page.text()
        );
        assert!(
            page.headers["content-type"]
                .to_str()
                .unwrap()
                .starts_with("text/html")
        );
    }
    let mut repeated = good.clone();
    repeated.push(("resource".into(), s.resource.clone()));
    let page = s.open(&repeated).await;
    assert_eq!(page.status, 400);
    assert!(page.text().contains("`resource` is repeated"));
    // A loopback redirect may come back on another port (RFC 8252 §7.3).
    let page = s
        .open(&with(
            "redirect_uri",
            Some("http://127.0.0.1:50123/callback"),
        ))
        .await;
    assert_eq!(page.status, 200, "{}", page.text());
    // Every refusal is an audit record, with its reason and the client.
    let AuthServer { server, data, .. } = s;
    let _ = server.stop();
    let db = open_for(&data).await;
    let refused: Vec<(String, String)> = sqlx::query(
        "SELECT reason, client FROM mcpgen_audit WHERE tool = 'oauth:authorize' AND decision = 'denied'",
    )
    .fetch_all(db.pool())
    .await
    .unwrap()
    .iter()
    .map(|r| (r.get("reason"), r.get("client")))
    .collect();
    assert_eq!(refused.len(), 12, "{refused:?}");
    for reason in [
        "invalid_client",
        "invalid_redirect_uri",
        "invalid_request",
        "invalid_target",
        "invalid_scope",
        "unsupported_response_type",
    ] {
        assert!(
            refused.iter().any(|(r, _)| r == reason),
            "{reason}: {refused:?}"
        );
    }
    assert!(
        refused
            .iter()
            .any(|(r, c)| r == "invalid_client" && c == "mcpc_unknown")
    );
}

#[tokio::test]
async fn deny_a_forged_form_and_an_old_consent_page_fail_safely() {
    let s = AuthServer::start(&[]);
    let key = key_of(&create_key(&s.data, "alice", "notes:read", &[]));
    let client = s.public_client().await;
    let page = s.open(&s.request(&client, &verifier("d"), None)).await;

    let denied = s.submit(&page, &[("action", "deny")]).await;
    assert_eq!(denied.status, 303);
    let to = denied.location.unwrap();
    assert!(to.starts_with(REDIRECT));
    assert_eq!(param(&to, "error").as_deref(), Some("access_denied"));
    assert_eq!(param(&to, "state").as_deref(), Some("st-123"));
    assert_eq!(param(&to, "iss").as_deref(), Some(s.issuer.as_str()));
    assert!(param(&to, "code").is_none());

    // The form sent without the page's cookie (another site posting it).
    let mut forged = page.clone();
    forged.cookie = None;
    let refused = s
        .submit(&forged, &[("access_key", &key), ("action", "sign_in")])
        .await;
    assert_eq!(refused.status, 403);
    assert!(refused.location.is_none() && refused.text().contains("This form has expired"));
    let mut forged = page.clone();
    forged.cookie = Some("x".repeat(43));
    assert_eq!(s.submit(&forged, &[("action", "deny")]).await.status, 403);

    // A consent page's session is bound to its request.
    let consent = s
        .submit(&page, &[("access_key", &key), ("action", "sign_in")])
        .await;
    let session = consent
        .hidden
        .iter()
        .find(|(k, _)| k == "session")
        .unwrap()
        .1
        .clone();
    let other = s.open(&s.request(&client, &verifier("other"), None)).await;
    let mut swapped = other.clone();
    swapped.hidden.push(("session".into(), session.clone()));
    let refused = s
        .submit(
            &swapped,
            &[("grant:notes:read", "on"), ("action", "approve")],
        )
        .await;
    assert_eq!(refused.status, 403, "{}", refused.text());
    assert!(refused.text().contains("consent page has expired"));
    let mut tampered = consent.clone();
    for (k, v) in &mut tampered.hidden {
        if k == "session" {
            v.insert(5, 'A');
        }
    }
    assert_eq!(
        s.submit(&tampered, &[("action", "approve")]).await.status,
        403
    );
}

#[tokio::test]
async fn revoking_the_access_key_or_the_refresh_token_ends_the_grant() {
    let s = AuthServer::start(&[]);
    let key = create_key(&s.data, "alice", "notes:read", &[]);
    let client = s.public_client().await;
    let v = verifier("r");
    let code = s.authorize(&client, &key_of(&key), &v, None).await;
    let (_, tokens) = s.exchange(&client, &code, &v).await;
    let refresh = tokens["refresh_token"].as_str().unwrap();
    let (ok, _, err) = cli(&s.data, &["keys", "revoke", key["id"].as_str().unwrap()]);
    assert!(ok, "{err}");
    let (status, e) = s.refresh(&client, refresh).await;
    assert_eq!(
        (status, e["error"].as_str()),
        (400, Some("invalid_grant")),
        "{e}"
    );

    // RFC 7009: revoking a refresh token ends its family.
    let key = key_of(&create_key(&s.data, "bob", "notes:read", &[]));
    let code = s.authorize(&client, &key, &v, None).await;
    let (_, tokens) = s.exchange(&client, &code, &v).await;
    let refresh = tokens["refresh_token"].as_str().unwrap();
    let res = http()
        .post(s.endpoint("revoke"))
        .form(&[
            ("token", refresh),
            ("client_id", &client),
            ("token_type_hint", "refresh_token"),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    let (status, _) = s.refresh(&client, refresh).await;
    assert_eq!(status, 400);
    // Unknown tokens are answered 200 too (RFC 7009 §2.2).
    let res = http()
        .post(s.endpoint("revoke"))
        .form(&[("token", "mcpr_nothing"), ("client_id", client.as_str())])
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
}

#[tokio::test]
async fn registration_is_checked_capped_and_confidential_clients_prove_their_secret() {
    let s = AuthServer::start(&["--oauth-max-clients", "3"]);
    for (metadata, error) in [
        (
            json!({"redirect_uris": ["http://example.com/cb"]}),
            "invalid_redirect_uri",
        ),
        (
            json!({"redirect_uris": ["javascript:alert(1)"]}),
            "invalid_redirect_uri",
        ),
        (json!({"redirect_uris": []}), "invalid_redirect_uri"),
        (
            json!({"redirect_uris": [REDIRECT], "grant_types": ["implicit"]}),
            "invalid_client_metadata",
        ),
        (
            json!({"redirect_uris": [REDIRECT], "token_endpoint_auth_method": "private_key_jwt"}),
            "invalid_client_metadata",
        ),
        (json!(["not", "an", "object"]), "invalid_client_metadata"),
    ] {
        let (status, body) = s.register(metadata.clone()).await;
        assert_eq!(
            (status, body["error"].as_str()),
            (400, Some(error)),
            "{metadata}: {body}"
        );
    }
    // A confidential client: its secret is shown once, stored hashed,
    // and required at the token endpoint.
    let (status, conf) = s
        .register(json!({"client_name": "Server app", "redirect_uris": [REDIRECT]}))
        .await;
    assert_eq!(status, 201);
    assert_eq!(conf["token_endpoint_auth_method"], "client_secret_basic");
    let id = conf["client_id"].as_str().unwrap();
    let secret = conf["client_secret"].as_str().unwrap();
    let db = open_for(&s.data).await;
    let hash: String =
        sqlx::query("SELECT secret_hash FROM mcpgen_oauth_clients WHERE client_id = $1")
            .bind(id)
            .fetch_one(db.pool())
            .await
            .unwrap()
            .get("secret_hash");
    assert_ne!(hash, secret);
    let key = key_of(&create_key(&s.data, "alice", "notes:read", &[]));
    let v = verifier("s");
    let code = s.authorize(id, &key, &v, None).await;
    let (status, e) = s.exchange(id, &code, &v).await;
    assert_eq!(
        (status, e["error"].as_str()),
        (401, Some("invalid_client")),
        "no secret: {e}"
    );
    let code = s.authorize(id, &key, &v, None).await;
    let res = http()
        .post(s.endpoint("token"))
        .basic_auth(id, Some("mcps_wrong"))
        .form(&[
            ("grant_type", "authorization_code"),
            ("code", &code),
            ("code_verifier", &v),
            ("redirect_uri", REDIRECT),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 401);
    assert!(res.headers().get("www-authenticate").is_some());
    let code = s.authorize(id, &key, &v, None).await;
    let res = http()
        .post(s.endpoint("token"))
        .basic_auth(id, Some(secret))
        .form(&[
            ("grant_type", "authorization_code"),
            ("code", &code),
            ("code_verifier", &v),
            ("redirect_uri", REDIRECT),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);

    // The cap: registering over it removes the clients nobody authorized
    // first (least recently used first), before any client in use: the
    // confidential client, authorized above and the oldest, stays.
    tokio::time::sleep(Duration::from_millis(1100)).await;
    let a = s.public_client().await;
    tokio::time::sleep(Duration::from_millis(1100)).await;
    let b = s.public_client().await;
    let c = s.public_client().await;
    let count: i64 = sqlx::query("SELECT COUNT(*) AS n FROM mcpgen_oauth_clients")
        .fetch_one(db.pool())
        .await
        .unwrap()
        .get("n");
    assert_eq!(count, 3);
    let page = s.open(&s.request(&a, &v, None)).await;
    assert_eq!(
        page.status, 400,
        "the oldest client never authorized was removed"
    );
    for kept in [id, &b, &c] {
        assert_eq!(s.open(&s.request(kept, &v, None)).await.status, 200);
    }
}

#[tokio::test]
async fn registrations_from_one_peer_are_rate_limited() {
    let s = AuthServer::start(&[]);
    let mut statuses = Vec::new();
    for _ in 0..22 {
        statuses.push(
            s.register(json!({"redirect_uris": [REDIRECT], "token_endpoint_auth_method": "none"}))
                .await,
        );
    }
    assert!(statuses[..20].iter().all(|(s, _)| *s == 201));
    let (status, body) = &statuses[21];
    assert_eq!(
        (*status, body["error"].as_str()),
        (429, Some("slow_down")),
        "{body}"
    );
}

#[tokio::test]
async fn client_metadata_documents_are_fetched_with_limits_and_their_redirects_enforced() {
    let origin_cell = std::sync::Arc::new(std::sync::OnceLock::<String>::new());
    let cell = std::sync::Arc::clone(&origin_cell);
    let origin = document_server(move |path| {
        let me = format!("{}{path}", cell.get().unwrap());
        match path {
            "/good.json" => (
                200,
                json!({"client_id": me, "client_name": "Doc Client", "redirect_uris": [REDIRECT]})
                    .to_string(),
                Duration::ZERO,
            ),
            "/other-redirects.json" => (
                200,
                json!({"client_id": me, "redirect_uris": ["http://127.0.0.1:9/elsewhere"]})
                    .to_string(),
                Duration::ZERO,
            ),
            "/large.json" => (
                200,
                format!("{{\"pad\": \"{}\"}}", "x".repeat(70 * 1024)),
                Duration::ZERO,
            ),
            "/slow.json" => (200, "{}".into(), Duration::from_secs(7)),
            "/wrong-id.json" => (
                200,
                json!({"client_id": "https://someone.else/doc.json", "redirect_uris": [REDIRECT]})
                    .to_string(),
                Duration::ZERO,
            ),
            "/moved.json" => (302, String::new(), Duration::ZERO),
            _ => (404, String::new(), Duration::ZERO),
        }
    });
    origin_cell.set(origin.clone()).unwrap();
    let s = AuthServer::start(&["--oauth-allow-loopback-client-documents"]);
    let key = key_of(&create_key(&s.data, "alice", "notes:read", &[]));
    let v = verifier("m");

    let good = format!("{origin}/good.json");
    let page = s.open(&s.request(&good, &v, None)).await;
    assert_eq!(page.status, 200, "{}", page.text());
    assert!(
        page.text().contains("Doc Client wants to use Notes"),
        "{}",
        page.text()
    );
    assert!(page.text().contains("its metadata document"));
    let code = s.authorize(&good, &key, &v, None).await;
    let (status, tokens) = s.exchange(&good, &code, &v).await;
    assert_eq!(status, 200, "{tokens}");
    assert_eq!(
        tools_list(&s.resource, tokens["access_token"].as_str().unwrap())
            .await
            .len(),
        4
    );

    for (path, expected) in [
        (
            "/other-redirects.json",
            "not one of the redirect URIs registered",
        ),
        ("/large.json", "larger than 65536 bytes"),
        ("/slow.json", "no complete answer within 5 s"),
        ("/wrong-id.json", "not the URL it was fetched from"),
        ("/moved.json", "HTTP 302 (redirects are not followed)"),
        ("/missing.json", "HTTP 404"),
    ] {
        let page = s
            .open(&s.request(&format!("{origin}{path}"), &v, None))
            .await;
        assert_eq!(page.status, 400, "{path}");
        assert!(page.location.is_none());
        assert!(page.text().contains(expected), "{path}: {}", page.text());
    }

    // Without the test allowance, a document on a private or loopback
    // address is never fetched, nor an http one.
    let strict = AuthServer::start(&[]);
    for (client_id, expected) in [
        (
            format!("https://127.0.0.1:{}/doc.json", free_port()),
            "private, loopback or link-local address (127.0.0.1)",
        ),
        (
            "https://10.0.0.1/doc.json".to_owned(),
            "private, loopback or link-local address (10.0.0.1)",
        ),
        (
            "https://169.254.169.254/latest/meta-data".to_owned(),
            "(169.254.169.254)",
        ),
        ("https://[::1]/doc.json".to_owned(), "(::1)"),
        (good.clone(), "Unknown application"),
    ] {
        let page = strict.open(&strict.request(&client_id, &v, None)).await;
        assert_eq!(page.status, 400, "{client_id}");
        assert!(
            page.text().contains(expected),
            "{client_id}: {}",
            page.text()
        );
    }
}

#[tokio::test]
async fn step_up_asks_only_for_the_new_scope_and_yields_a_token_that_works() {
    let s = AuthServer::start(&[]);
    let key = key_of(&create_key(&s.data, "alice", "notes:read,notes:write", &[]));
    let client = s.public_client().await;
    let v = verifier("u");
    // First, the person allows reading only (unticks notes:write).
    let page = s
        .open(&s.request(&client, &v, Some("notes:read notes:write")))
        .await;
    let consent = s
        .submit(&page, &[("access_key", &key), ("action", "sign_in")])
        .await;
    assert_eq!(
        consent.checkboxes,
        vec!["grant:notes:read", "grant:notes:write"]
    );
    let code = s.allow(&consent, &["notes:read"]).await;
    let (_, tokens) = s.exchange(&client, &code, &v).await;
    assert_eq!(tokens["scope"], "notes:read");
    let write = post(
        &s.resource,
        tokens["access_token"].as_str(),
        &call("create_text_note"),
    )
    .await;
    assert_eq!(write.status, 403);
    let challenge = write.challenge.unwrap();
    assert!(challenge.contains("scope=\"notes:write\""), "{challenge}");

    // The client re-authorizes with the union; only the new scope is asked.
    let page = s
        .open(&s.request(&client, &v, Some("notes:read notes:write")))
        .await;
    let consent = s
        .submit(&page, &[("access_key", &key), ("action", "sign_in")])
        .await;
    assert_eq!(
        consent.checkboxes,
        vec!["grant:notes:write"],
        "only the new scope"
    );
    let text = consent.text();
    let already = text
        .split("Already allowed")
        .nth(1)
        .expect("an Already allowed section");
    assert!(already.contains("notes:read"), "{text}");
    let code = s.allow(&consent, &["notes:write"]).await;
    let (_, tokens) = s.exchange(&client, &code, &v).await;
    assert_eq!(tokens["scope"], "notes:read notes:write");
    // The write runs once the person confirms it.
    let write = mcpgen_tests::notes::post_confirmed(
        &s.resource,
        tokens["access_token"].as_str(),
        &call("create_text_note"),
    )
    .await;
    assert_eq!(write.status, 200, "{}", write.raw);
    assert_eq!(write.body["result"]["isError"], false, "{}", write.raw);
}

#[tokio::test]
async fn two_instances_on_one_database_issue_and_accept_each_others_tokens() {
    let data = mcpgen_tests::process::scratch_dir("oauth-pair");
    let key = key_of(&create_key(&data, "alice", "notes:read", &[]));
    let a = AuthServer::start_in(&data, &[]);
    let b = AuthServer::beside(&a);
    let jwks_a: Value = http()
        .get(a.endpoint("jwks"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let jwks_b: Value = http()
        .get(b.endpoint("jwks"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(jwks_a, jwks_b, "one signing key, from the database");
    let meta_b: Value = http()
        .get(format!(
            "{}/.well-known/oauth-authorization-server/oauth",
            b.origin
        ))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(meta_b["issuer"], a.issuer, "one public URL, one issuer");
    // A issues (registration, consent and code on A) ...
    let client = a.public_client().await;
    let v = verifier("p");
    let code = a.authorize(&client, &key, &v, None).await;
    let (_, tokens) = a.exchange(&client, &code, &v).await;
    // ... B accepts the token ...
    let access = tokens["access_token"].as_str().unwrap();
    assert_eq!(tools_list(&b.resource, access).await.len(), 4);
    // ... and rotates the refresh token; the old one is then spent on A too.
    let first = tokens["refresh_token"].as_str().unwrap();
    let (status, next) = b.refresh(&client, first).await;
    assert_eq!(status, 200, "{next}");
    assert_eq!(
        tools_list(&a.resource, next["access_token"].as_str().unwrap())
            .await
            .len(),
        4
    );
    let (status, e) = a.refresh(&client, first).await;
    assert_eq!(
        (status, e["error"].as_str()),
        (400, Some("invalid_grant")),
        "reuse is seen by every instance"
    );
}

/// `authorization = "built-in"` turns the built-in server on outside
/// `local` (the conformance fixture's `staging`): it starts without an
/// external issuer's keys, names itself in the metadata, and offers no
/// development sign-in; only access keys. Its public tools keep the
/// handshake open to anonymous clients, as before.
#[tokio::test]
async fn the_manifest_turns_the_built_in_server_on_outside_local_without_development_sign_in() {
    let fixture = env!("CARGO_BIN_EXE_mcpgen-conformance-fixture");
    let data = mcpgen_tests::process::scratch_dir("oauth-staging");
    let out = std::process::Command::new(fixture)
        .args(mcpgen_tests::databases::data_args(&data))
        .args([
            "--env",
            "staging",
            "keys",
            "create",
            "--owner",
            "alice",
            "--scopes",
            "fixture:echo",
            "--json",
        ])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let key: Value = serde_json::from_slice(&out.stdout).unwrap();
    let s = AuthServer::start_bin(fixture, &data, &["--env", "staging"]);
    assert!(
        s.server
            .log_with("oauth:")
            .contains("built-in authorization server")
    );
    let prm: Value = http()
        .get(format!(
            "{}/.well-known/oauth-protected-resource/mcp",
            s.origin
        ))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(prm["authorization_servers"], json!([s.issuer]));
    let init = post(
        &s.resource,
        None,
        &json!({"jsonrpc": "2.0", "id": 1, "method": "initialize", "params": {
            "protocolVersion": "2025-11-25", "capabilities": {}, "clientInfo": {"name": "t", "version": "1"}}}),
    )
    .await;
    assert_eq!(
        init.status, 200,
        "public tools: the handshake stays open: {}",
        init.raw
    );

    let client = s.public_client().await;
    let v = verifier("st");
    let page = s.open(&s.request(&client, &v, None)).await;
    assert_eq!(page.status, 200, "{}", page.text());
    assert!(
        !page.html.contains("name=\"subject\""),
        "no development sign-in outside local"
    );
    let refused = s
        .submit(&page, &[("subject", "mallory"), ("action", "sign_in")])
        .await;
    assert_eq!(refused.status, 400);
    assert!(refused.text().contains("Type your access key"));
    let code = s.authorize(&client, &key_of(&key), &v, None).await;
    let (status, tokens) = s.exchange(&client, &code, &v).await;
    assert_eq!(status, 200, "{tokens}");
    assert_eq!(tokens["scope"], "fixture:echo");
    let echo = post(
        &s.resource,
        tokens["access_token"].as_str(),
        &json!({"jsonrpc": "2.0", "id": 2, "method": "tools/call",
                "params": {"name": "echo_scoped", "arguments": {"text": "hi"}}}),
    )
    .await;
    assert_eq!(echo.status, 200, "{}", echo.raw);
    assert_eq!(echo.body["result"]["isError"], false, "{}", echo.raw);
}

/// In `local`, a person may sign in as a development subject (as
/// `token mint` does): the token's subject is the one typed, with every
/// scope the client asked for.
#[tokio::test]
async fn local_offers_a_development_sign_in() {
    let s = AuthServer::start(&[]);
    let client = s.public_client().await;
    let v = verifier("dev");
    let page = s
        .open(&s.request(&client, &v, Some("notes:read notes:write")))
        .await;
    assert!(page.html.contains("name=\"subject\""));
    for bad in ["two words", &"x".repeat(201)] {
        let refused = s
            .submit(&page, &[("subject", bad), ("action", "sign_in")])
            .await;
        assert_eq!(refused.status, 400, "{bad}");
    }
    let consent = s
        .submit(&page, &[("subject", "bob"), ("action", "sign_in")])
        .await;
    assert!(
        consent
            .text()
            .contains("Signed in as bob (development sign-in)"),
        "{}",
        consent.text()
    );
    let done = s
        .submit(
            &consent,
            &[
                ("grant:notes:read", "on"),
                ("grant:notes:write", "on"),
                ("action", "approve"),
            ],
        )
        .await;
    let (_, tokens) = s
        .exchange(
            &client,
            &param(&done.location.unwrap(), "code").unwrap(),
            &v,
        )
        .await;
    assert_eq!(tokens["scope"], "notes:read notes:write");
    let who = post(
        &s.resource,
        tokens["access_token"].as_str(),
        &call("verify_access"),
    )
    .await;
    assert_eq!(who.body["result"]["structuredContent"]["subject"], "bob");
    // A refresh token from a development sign-in has no key to outlive.
    let (status, _) = s
        .refresh(&client, tokens["refresh_token"].as_str().unwrap())
        .await;
    assert_eq!(status, 200);
}

/// Fixes from review, each shown: a key bound to a `[clients]` entry cannot
/// sign in another application (its token would escape the entry); a code
/// is refused once the key behind it is revoked; a narrower `scope` at
/// refresh narrows that access token only; the test-only loopback
/// allowance is refused outside `local`; key ids are public-key
/// thumbprints.
#[tokio::test]
async fn grants_stay_within_the_key_that_made_them() {
    let s = AuthServer::start(&[]);
    let client = s.public_client().await;
    let v = verifier("k");
    let bound = create_key(
        &s.data,
        "alice",
        "notes:read",
        &["--client", "read-only-dashboard"],
    );
    let page = s.open(&s.request(&client, &v, None)).await;
    let refused = s
        .submit(
            &page,
            &[("access_key", &key_of(&bound)), ("action", "sign_in")],
        )
        .await;
    assert_eq!(refused.status, 403);
    assert!(
        refused
            .text()
            .contains("belongs to the client `read-only-dashboard`"),
        "{}",
        refused.text()
    );

    let key = create_key(&s.data, "alice", "notes:read,notes:write", &[]);
    let code = s.authorize(&client, &key_of(&key), &v, None).await;
    let (ok, _, err) = cli(&s.data, &["keys", "revoke", key["id"].as_str().unwrap()]);
    assert!(ok, "{err}");
    let (status, e) = s.exchange(&client, &code, &v).await;
    assert_eq!(
        (status, e["error"].as_str()),
        (400, Some("invalid_grant")),
        "{e}"
    );
    assert!(
        e["error_description"]
            .as_str()
            .unwrap()
            .contains("revoked or expired")
    );

    let key = key_of(&create_key(&s.data, "alice", "notes:read,notes:write", &[]));
    let code = s.authorize(&client, &key, &v, None).await;
    let (_, tokens) = s.exchange(&client, &code, &v).await;
    assert_eq!(tokens["scope"], "notes:read notes:write");
    let (_, narrow) = s
        .token(&[
            ("grant_type", "refresh_token"),
            ("client_id", &client),
            ("refresh_token", tokens["refresh_token"].as_str().unwrap()),
            ("scope", "notes:read"),
        ])
        .await;
    assert_eq!(narrow["scope"], "notes:read", "{narrow}");
    let (_, wide) = s
        .refresh(&client, narrow["refresh_token"].as_str().unwrap())
        .await;
    assert_eq!(
        wide["scope"], "notes:read notes:write",
        "the grant itself was kept: {wide}"
    );

    let jwks: Value = http()
        .get(s.endpoint("jwks"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let kid = jwks["keys"][0]["kid"].as_str().unwrap();
    assert_eq!(kid.len(), 43, "an RFC 7638 SHA-256 thumbprint: {kid}");

    let out = std::process::Command::new(mcpgen_tests::process::notes_bin())
        .args(mcpgen_tests::databases::data_args(
            &mcpgen_tests::process::scratch_dir("oauth-loopback-flag"),
        ))
        .args([
            "--env",
            "preview",
            "serve",
            "--listen",
            "127.0.0.1:0",
            "--oauth-allow-loopback-client-documents",
        ])
        .args(["--jwt-public-key", &mcpgen_tests::tokens::trust_arg()])
        .output()
        .unwrap();
    assert!(!out.status.success());
    let said = String::from_utf8_lossy(&out.stderr);
    assert!(
        said.contains("it is for tests, and refused in environment `preview`"),
        "{said}"
    );
}

/// Revoking a grant (RFC 7009 on its refresh token) ends its access
/// tokens too, though they are JWTs that would verify until they expire:
/// at once on the instance that revoked it, within a second on another
/// instance of one PostgreSQL (through `NOTIFY`; both trust cached tokens
/// for five minutes), and on an instance started afterwards.
#[tokio::test]
async fn a_revoked_grant_ends_its_access_tokens_on_every_instance() {
    let data = mcpgen_tests::process::scratch_dir("oauth-grant-revoke");
    let key = key_of(&create_key(&data, "alice", "notes:read", &[]));
    let a = AuthServer::start_in(&data, &[]);
    let b = AuthServer::beside(&a);
    let client = a.public_client().await;
    let v = verifier("g");
    let code = a.authorize(&client, &key, &v, None).await;
    let (_, tokens) = a.exchange(&client, &code, &v).await;
    let access = tokens["access_token"].as_str().unwrap();
    let other = {
        // Another grant of the same person and client lives on.
        let v = verifier("h");
        let code = a.authorize(&client, &key, &v, None).await;
        a.exchange(&client, &code, &v).await.1["access_token"]
            .as_str()
            .unwrap()
            .to_owned()
    };
    for s in [&a, &b] {
        assert_eq!(tools_list(&s.resource, access).await.len(), 4);
    }
    let res = http()
        .post(a.endpoint("revoke"))
        .form(&[
            ("token", tokens["refresh_token"].as_str().unwrap()),
            ("client_id", client.as_str()),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    let revoked_at = std::time::Instant::now();
    let status = |url: String, token: String| async move {
        post(&url, Some(&token), &call("search_owned_notes"))
            .await
            .status
    };
    assert_eq!(status(a.resource.clone(), access.to_owned()).await, 401);
    if mcpgen_tests::databases::Backend::of_this_run() == mcpgen_tests::databases::Backend::Postgres
    {
        while status(b.resource.clone(), access.to_owned()).await != 401 {
            assert!(
                revoked_at.elapsed() < Duration::from_secs(1),
                "the other instance still accepts the token after {:?}",
                revoked_at.elapsed()
            );
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }
    let c = AuthServer::beside(&a);
    assert_eq!(status(c.resource.clone(), access.to_owned()).await, 401);
    for s in [&a, &c] {
        assert_eq!(status(s.resource.clone(), other.clone()).await, 200);
    }
}
