//! The admin listener of the example app's real binary, over real HTTP on
//! loopback, on this run's database: off unless asked and never the MCP
//! port; health and readiness (503 naming an unreachable JWKS); Prometheus
//! metrics that count real calls; the key API behind the reserved admin
//! scope, whose revocation is refused on the MCP endpoint at once.

use std::time::Duration;

use mcpgen_tests::notes::{call, cli, create_key, post};
use mcpgen_tests::process::{HttpServer, notes_bin, scratch_dir};
use serde_json::{Value, json};

/// A server with the admin listener on a free loopback port; its admin
/// origin and its data directory.
fn with_admin(extra: &[&str]) -> (HttpServer, String, std::path::PathBuf) {
    let data = scratch_dir("admin");
    let s = HttpServer::start_in(
        notes_bin(),
        &data,
        &[&["--admin-listen", "127.0.0.1:0"], extra].concat(),
    );
    let admin = s.admin_origin();
    (s, admin, data)
}

/// The status of a search by the holder of `key`.
async fn searched(url: &str, key: &str) -> u16 {
    post(url, Some(key), &call("search_owned_notes"))
        .await
        .status
}

async fn get(url: &str, bearer: Option<&str>) -> (u16, String) {
    let mut r = reqwest::Client::new().get(url);
    if let Some(b) = bearer {
        r = r.bearer_auth(b);
    }
    let res = r.send().await.expect("answered");
    (res.status().as_u16(), res.text().await.unwrap())
}

#[tokio::test]
async fn the_admin_listener_is_off_unless_asked_and_never_the_mcp_port() {
    let plain = HttpServer::start(notes_bin(), &[]);
    let log = plain.log_with("resource:");
    assert!(!log.contains("admin:"), "{log}");
    // Nothing of it on the MCP port.
    for path in ["/healthz", "/metrics", "/api/keys", "/"] {
        let (status, _) = get(&format!("{}{path}", plain.origin()), None).await;
        assert_eq!(status, 404, "{path} on the MCP port");
    }

    let port = mcpgen_tests::oauth::free_port();
    let at = format!("127.0.0.1:{port}");
    let (ok, _, err) = cli(
        &scratch_dir("admin-same-port"),
        &["serve", "--listen", &at, "--admin-listen", &at],
    );
    assert!(!ok);
    assert!(
        err.contains("the admin listener needs a port of its own"),
        "{err}"
    );
}

#[tokio::test]
async fn health_readiness_and_metrics_of_real_calls() {
    let (s, admin, data) = with_admin(&[]);
    let (status, body) = get(&format!("{admin}/healthz"), None).await;
    assert_eq!((status, body.as_str()), (200, r#"{"status":"ok"}"#));
    let (status, body) = get(&format!("{admin}/readyz"), None).await;
    assert_eq!(status, 200, "{body}");
    let ready: Value = serde_json::from_str(&body).unwrap();
    assert_eq!(
        ready,
        json!({"status": "ready", "checks": {"database": "ok"}})
    );
    // The MCP endpoint is not on the admin port.
    let (status, _) = get(&format!("{admin}/mcp"), None).await;
    assert_eq!(status, 404);

    let key = create_key(&data, "alice", "notes:read", &[]);
    let key = key["key"].as_str().unwrap();
    for _ in 0..3 {
        assert_eq!(searched(&s.url, key).await, 200);
    }
    let refused = post(&s.url, Some(key), &call("create_text_note")).await;
    assert_eq!(refused.status, 403);
    let (status, text) = get(&format!("{admin}/metrics"), None).await;
    assert_eq!(status, 200);
    let has = |needle: &str| {
        text.lines()
            .any(|l| l.starts_with(needle.split('{').next().unwrap()) && l.contains(needle))
    };
    // Three calls of one tool, counted with their method, tool and outcome.
    let count = text
        .lines()
        .find(|l| {
            l.starts_with("mcp_server_operation_duration_seconds_count")
                && l.contains(r#"mcp_method_name="tools/call""#)
                && l.contains(r#"gen_ai_tool_name="search_owned_notes""#)
                && l.contains(r#"outcome="allowed""#)
        })
        .unwrap_or_else(|| panic!("no histogram count for the calls:\n{text}"));
    assert!(count.ends_with(" 3"), "{count}");
    assert!(
        has(r#"mcp_server_operation_duration_seconds_bucket{"#),
        "a histogram, with buckets:\n{text}"
    );
    assert!(
        has(r#"mcpgen_decisions_total{decision="allowed",reason="ok"} 3"#),
        "{text}"
    );
    assert!(
        has(r#"mcpgen_decisions_total{decision="denied",reason="insufficient scope"} 1"#),
        "{text}"
    );
    // The first use of the key verified it; the rest came from the cache.
    assert!(
        has(r#"mcpgen_credential_cache_total{result="miss"} 1"#),
        "{text}"
    );
    assert!(
        has(r#"mcpgen_credential_cache_total{result="hit"} 3"#),
        "{text}"
    );
    for gauge in [
        "mcpgen_audit_queue_depth",
        "mcpgen_db_pool_connections{state=\"idle\"}",
        "mcpgen_db_pool_connections{state=\"in_use\"}",
        "mcpgen_db_pool_max_connections",
    ] {
        assert!(has(gauge), "{gauge}:\n{text}");
    }
    assert!(
        !text.contains(key) && !text.contains("alice"),
        "no credential or subject in metrics"
    );
}

#[tokio::test]
async fn readiness_names_an_unreachable_jwks() {
    // A port with nothing listening.
    let port = mcpgen_tests::oauth::free_port();
    let jwks = format!("http://127.0.0.1:{port}/jwks");
    let (_s, admin, _) = with_admin(&["--jwks-url", &jwks, "--issuer", "https://auth.example.com"]);
    let (status, body) = get(&format!("{admin}/readyz"), None).await;
    assert_eq!(status, 503, "{body}");
    let ready: Value = serde_json::from_str(&body).unwrap();
    assert_eq!(ready["status"], "not ready");
    assert_eq!(ready["checks"]["database"], "ok");
    let why = ready["checks"]["jwks"].as_str().unwrap();
    assert!(
        why.starts_with("the authorization server's JWKS cannot be had"),
        "{why}"
    );
}

#[tokio::test]
async fn the_key_api_needs_the_admin_scope_and_a_revoked_key_fails_at_once() {
    let (s, admin, data) = with_admin(&["--key-cache-ttl", "1h"]);
    let ops = create_key(&data, "ops", "mcpgen:admin", &[]);
    let ops = ops["key"].as_str().unwrap();
    let reader = create_key(&data, "alice", "notes:read", &[]);
    let reader = reader["key"].as_str().unwrap();
    let http = reqwest::Client::new();
    let api = format!("{admin}/api/keys");

    let res = http.get(&api).send().await.unwrap();
    assert_eq!(res.status(), 401);
    assert_eq!(
        res.headers()["www-authenticate"],
        r#"Bearer scope="mcpgen:admin""#
    );
    let res = http.get(&api).bearer_auth(reader).send().await.unwrap();
    assert_eq!(res.status(), 403);
    assert!(res.text().await.unwrap().contains("mcpgen:admin"));
    // A forged Host is refused before anything else (DNS rebinding).
    let res = http
        .get(&api)
        .bearer_auth(ops)
        .header("host", "attacker.example")
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 403);

    // Create a key through the API; its secret is in this answer only.
    let res = http
        .post(&api)
        .bearer_auth(ops)
        .json(&json!({"owner": "bob", "scopes": ["notes:read"], "client": "scripts"}))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 201);
    let made: Value = res.json().await.unwrap();
    let bob = made["key"].as_str().unwrap();
    let id = made["id"].as_str().unwrap();
    let listed: Value = http
        .get(&api)
        .bearer_auth(ops)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let entry = listed["keys"]
        .as_array()
        .unwrap()
        .iter()
        .find(|k| k["id"] == id)
        .expect("listed");
    assert_eq!(entry["owner"], "bob");
    assert!(!listed.to_string().contains(bob), "never the secret");

    // Bad requests say what is wrong and create nothing.
    let res = http
        .post(&api)
        .bearer_auth(ops)
        .json(&json!({"owner": "bob", "scopes": ["notes:everything"]}))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 400);
    assert!(
        res.text()
            .await
            .unwrap()
            .contains("unknown scope `notes:everything`")
    );
    let res = http
        .post(&api)
        .bearer_auth(ops)
        .json(&json!({"owner": "bob", "scope": "notes:read"}))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 400);

    // The key works, and is cached for an hour...
    assert_eq!(searched(&s.url, bob).await, 200);
    assert_eq!(searched(&s.url, bob).await, 200);
    // ...and revoking it through the API stops it at once, cache or not.
    let res = http
        .delete(format!("{api}/{id}"))
        .bearer_auth(ops)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    let after = post(&s.url, Some(bob), &call("search_owned_notes")).await;
    assert_eq!(after.status, 401, "{}", after.raw);
    let res = http
        .delete(format!("{api}/{id}"))
        .bearer_auth(ops)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 404, "already revoked");

    // Each step is in the audit trail, with who did it.
    tokio::time::sleep(Duration::from_millis(100)).await;
    let db = mcpgen_tests::databases::open_for(&data).await;
    let rows: Vec<(String, String, String)> = sqlx::query_as(
        "SELECT tool, subject, client FROM mcpgen_audit WHERE tool LIKE 'admin:%' ORDER BY request_id",
    )
    .fetch_all(db.pool())
    .await
    .unwrap();
    assert_eq!(
        rows,
        [
            (
                "admin:key_create".to_owned(),
                "ops".to_owned(),
                format!("key:{id}")
            ),
            (
                "admin:key_revoke".to_owned(),
                "ops".to_owned(),
                format!("key:{id}")
            ),
        ]
    );
}

/// The operator page's forms: a session opened by signing in, and every
/// POST that changes something refused without the session's CSRF token
/// (the key stays active), done with it.
#[tokio::test]
async fn operator_forms_need_the_session_and_its_csrf_token() {
    let (s, admin, data) = with_admin(&[]);
    let ops = create_key(&data, "ops", "mcpgen:admin", &[]);
    let bob = create_key(&data, "bob", "notes:read", &[]);
    let bob_id = bob["id"].as_str().unwrap();
    let http = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    let cookie_of = |res: &reqwest::Response, name: &str| -> String {
        res.headers()
            .get_all("set-cookie")
            .iter()
            .filter_map(|v| v.to_str().ok())
            .find(|c| c.starts_with(&format!("{name}=")))
            .and_then(|c| c.split(';').next())
            .unwrap_or_else(|| panic!("no {name} cookie"))
            .to_owned()
    };
    let hidden = |html: &str| -> String {
        let at = html.find("name=\"csrf\" value=\"").expect("a csrf field") + 19;
        html[at..].split('"').next().unwrap().to_owned()
    };
    // Signed out, the page is the sign-in form; a revoke is refused.
    let res = http.get(format!("{admin}/")).send().await.unwrap();
    let sign_in_cookie = cookie_of(&res, "mcpgen_admin_sign_in");
    let form = res.text().await.unwrap();
    assert!(form.contains("Admin credential"), "{form}");
    let res = http
        .post(format!("{admin}/keys/{bob_id}/revoke"))
        .form(&[("csrf", "x")])
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 401);
    // Signing in without the form's token is refused too.
    let res = http
        .post(format!("{admin}/sign-in"))
        .header("cookie", &sign_in_cookie)
        .form(&[
            ("credential", ops["key"].as_str().unwrap()),
            ("csrf", "forged"),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 403);
    let res = http
        .post(format!("{admin}/sign-in"))
        .header("cookie", &sign_in_cookie)
        .form(&[
            ("credential", ops["key"].as_str().unwrap()),
            ("csrf", &hidden(&form)),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 303);
    let session = cookie_of(&res, "mcpgen_admin");
    assert!(
        res.headers()["set-cookie"]
            .to_str()
            .unwrap()
            .contains("HttpOnly; SameSite=Strict")
    );
    let page = http
        .get(format!("{admin}/"))
        .header("cookie", &session)
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(page.contains("Signed in as"), "{page}");
    let csrf = hidden(&page);
    // A forged or missing token: refused, and nothing changes.
    for token in ["", "forged"] {
        let res = http
            .post(format!("{admin}/keys/{bob_id}/revoke"))
            .header("cookie", &session)
            .form(&[("csrf", token)])
            .send()
            .await
            .unwrap();
        assert_eq!(res.status(), 403, "token {token:?}");
    }
    let bob_key = bob["key"].as_str().unwrap();
    assert_eq!(searched(&s.url, bob_key).await, 200);
    // The session's own token: revoked.
    let res = http
        .post(format!("{admin}/keys/{bob_id}/revoke"))
        .header("cookie", &session)
        .form(&[("csrf", csrf.as_str())])
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 303);
    assert_eq!(searched(&s.url, bob_key).await, 401);
    // Revoking the operator's own key ends the session.
    let res = http
        .delete(format!("{admin}/api/keys/{}", ops["id"].as_str().unwrap()))
        .bearer_auth(ops["key"].as_str().unwrap())
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    let page = http
        .get(format!("{admin}/"))
        .header("cookie", &session)
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(
        page.contains("Admin credential") && !page.contains("Signed in as"),
        "{page}"
    );
}
