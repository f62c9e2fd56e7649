//! What keeps a deployment safe beyond a single call: environments fail
//! closed (disabled, credential-less, unknown; preview hides writes),
//! access keys live and die through the CLI, the token `typ` check is
//! configurable, and no secret appears in any answer, header, log line or
//! audit row.

use std::process::Command;

use mcpgen::Tools;

use mcpgen_tests::databases::data_args;
use mcpgen_tests::notes::{call, cli, create_key, post};
use mcpgen_tests::process::{HttpServer, notes_bin, scratch_dir};
use mcpgen_tests::tokens::{claims, sign_with, token, trust_arg};
use serde_json::{Value, json};

#[tokio::test]
async fn environments_fail_closed_and_preview_refuses_writes() {
    let data = scratch_dir("auth-env");
    let run = |args: &[&str]| {
        let out = Command::new(notes_bin())
            .args(data_args(&data))
            .args(args)
            .output()
            .unwrap();
        (
            out.status.code(),
            String::from_utf8_lossy(&out.stderr).into_owned(),
        )
    };
    let (code, err) = run(&["--env", "production", "serve", "--listen", "127.0.0.1:0"]);
    assert_eq!(code, Some(1));
    assert!(
        err.contains("environment `production` is disabled in the manifest (enabled = false)"),
        "{err}"
    );
    let (code, err) = run(&["--env", "preview", "serve", "--listen", "127.0.0.1:0"]);
    assert_eq!(code, Some(1));
    assert!(err.contains("needs a real credential source"), "{err}");
    let (code, err) = run(&[
        "--env",
        "preview",
        "token",
        "mint",
        "--sub",
        "a",
        "--scopes",
        "notes:read",
    ]);
    assert_eq!(code, Some(1));
    assert!(
        err.contains("development tokens are trusted only in a local environment"),
        "{err}"
    );
    let (code, err) = run(&["--env", "staging", "stdio"]);
    assert_eq!(code, Some(1));
    assert!(
        err.contains(
            "unknown environment `staging`: the manifest declares local, preview, production"
        ),
        "{err}"
    );

    // A development token minted locally...
    let (ok, dev_token, err) = cli(
        &data,
        &[
            "token",
            "mint",
            "--sub",
            "alice",
            "--scopes",
            "notes:read,notes:write",
        ],
    );
    assert!(ok, "{err}");
    let dev_token = dev_token.trim().to_owned();
    let local = HttpServer::start_in(notes_bin(), &data, &[]);
    assert_eq!(
        post(&local.url, Some(&dev_token), &call("search_owned_notes"))
            .await
            .status,
        200
    );
    drop(local);
    // ...is worthless in preview, which trusts only the authorization server
    // (and runs on a database of production data: not the local one, which
    // it would refuse).
    let preview_data = scratch_dir("auth-env-preview");
    let preview = HttpServer::start_in(
        notes_bin(),
        &preview_data,
        &["--env", "preview", "--jwt-public-key", &trust_arg()],
    );
    assert_eq!(
        post(&preview.url, Some(&dev_token), &call("search_owned_notes"))
            .await
            .status,
        401
    );

    let writer = token("alice", &["notes:read", "notes:write"]);
    let list = post(
        &preview.url,
        Some(&writer),
        &json!({"jsonrpc":"2.0","id":1,"method":"tools/list"}),
    )
    .await;
    let names: Vec<&str> = list.body["result"]["tools"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t["name"].as_str().unwrap())
        .collect();
    assert_eq!(
        names,
        [
            "get_environment_status",
            "get_owned_note",
            "search_owned_notes",
            "verify_access"
        ]
    );
    let refused = post(&preview.url, Some(&writer), &call("create_text_note")).await;
    assert_eq!(refused.status, 200);
    assert_eq!(refused.body["result"]["isError"], true);
    assert_eq!(
        refused.body["result"]["content"][0]["text"],
        "tool `create_text_note` writes, and environment `preview` does not allow writes (it runs on production data); nothing was changed"
    );
    let status = post(&preview.url, Some(&writer), &call("get_environment_status")).await;
    let s = &status.body["result"]["structuredContent"];
    assert_eq!(s["shares_production_data"], true);
    assert_eq!(s["writes_enabled"], false);
    assert_eq!(s["safe_for_tests"], false);
    assert_eq!(
        s["summary"],
        "Preview runtime on PRODUCTION data. Writes are disabled: write tools are hidden and refused."
    );
    assert!(
        preview.log().contains("Preview runtime on PRODUCTION data"),
        "the startup log says so"
    );
}

#[test]
fn access_key_lifecycle_through_the_cli() {
    let data = scratch_dir("keys-cli");
    let key = create_key(
        &data,
        "bob",
        "notes:read",
        &["--client", "laptop", "--expires", "30d"],
    );
    assert_eq!(key["owner"], "bob");
    assert_eq!(key["client"], "laptop");
    let secret = key["key"].as_str().unwrap();
    assert_eq!(secret.len(), "mcpk_".len() + 16 + 1 + 43);

    let (ok, out, _) = cli(&data, &["keys", "verify", secret]);
    assert!(ok);
    let who: Value = serde_json::from_str(&out).unwrap();
    assert_eq!(
        (who["subject"].as_str(), who["key_id"].as_str()),
        (Some("bob"), key["id"].as_str())
    );

    let (ok, out, _) = cli(&data, &["keys", "list", "--json"]);
    assert!(ok);
    assert!(!out.contains(&secret[22..]), "list never shows the secret");
    let list: Value = serde_json::from_str(&out).unwrap();
    assert_eq!(list[0]["id"], key["id"]);
    assert_eq!(list[0]["revoked_at"], Value::Null);
    assert!(
        list[0]["last_used_at"].as_i64().is_some(),
        "verify recorded a use"
    );
    assert!(
        list[0]["expires_at"].as_i64().unwrap()
            > list[0]["created_at"].as_i64().unwrap() + 29 * 86_400
    );

    let (ok, _, err) = cli(
        &data,
        &[
            "keys",
            "create",
            "--owner",
            "bob",
            "--scopes",
            "notes:admin",
        ],
    );
    assert!(!ok);
    assert!(err.contains("unknown scope `notes:admin`"), "{err}");

    let (ok, _, _) = cli(&data, &["keys", "revoke", key["id"].as_str().unwrap()]);
    assert!(ok);
    let (ok, _, err) = cli(&data, &["keys", "verify", secret]);
    assert!(!ok, "a revoked key fails like an invalid one");
    assert!(
        err.contains("key refused: the access token is invalid"),
        "{err}"
    );
    let (ok, _, err) = cli(&data, &["keys", "revoke", key["id"].as_str().unwrap()]);
    assert!(!ok && err.contains("no active key"), "{err}");
}

#[tokio::test]
async fn the_typ_check_is_configurable_for_providers_that_emit_jwt() {
    let data = scratch_dir("auth-typ");
    let server = HttpServer::start_in(
        notes_bin(),
        &data,
        &["--jwt-public-key", &trust_arg(), "--jwt-typ", "JWT"],
    );
    let jwt_typed = sign_with("as-key.pem", &claims("alice", &["notes:read"]), |h| {
        h.typ = Some("JWT".into())
    });
    assert_eq!(
        post(&server.url, Some(&jwt_typed), &call("search_owned_notes"))
            .await
            .status,
        200
    );
    // The list replaces the default, it does not add to it.
    let at_jwt = token("alice", &["notes:read"]);
    assert_eq!(
        post(&server.url, Some(&at_jwt), &call("search_owned_notes"))
            .await
            .status,
        401
    );
    // azp stands in for client_id.
    let mut c = claims("alice", &[]);
    c.as_object_mut().unwrap().remove("client_id");
    c["azp"] = json!("azp-client");
    let azp = sign_with("as-key.pem", &c, |h| h.typ = Some("JWT".into()));
    let who = post(&server.url, Some(&azp), &call("verify_access")).await;
    assert_eq!(
        who.body["result"]["structuredContent"]["client_id"],
        "azp-client"
    );
}

/// Every tool in every role, on PostgreSQL reached through a URL with a
/// password: no access key, bearer token, signing key or database URL in
/// any answer, header, log line or audit row.
#[tokio::test]
async fn no_secrets_anywhere() {
    // Trust auth ignores the password, which is exactly what must not leak.
    let password = "Pw-never-shown-7731";
    let url = mcpgen_tests::databases::create_postgres_database("secrets")
        .await
        .replacen("://postgres@", &format!("://postgres:{password}@"), 1);
    assert!(url.contains(password), "{url}");
    let data = scratch_dir("secrets");
    let with_db = |args: &[&str]| {
        let out = Command::new(notes_bin())
            .arg("--data-dir")
            .arg(&data)
            .args(args)
            .env("DATABASE_URL", &url)
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8(out.stdout).unwrap()
    };
    let key = |scopes: &str| -> String {
        let v: Value = serde_json::from_str(&with_db(&[
            "keys", "create", "--owner", "alice", "--scopes", scopes, "--json",
        ]))
        .unwrap();
        v["key"].as_str().unwrap().to_owned()
    };
    let credentials = vec![
        key(""),
        key("notes:read"),
        key("notes:read,notes:write"),
        token("alice", &["notes:read"]),
        token("alice", &["notes:read", "notes:write"]),
        with_db(&[
            "token",
            "mint",
            "--sub",
            "alice",
            "--scopes",
            "notes:read,notes:write",
        ])
        .trim()
        .to_owned(),
    ];
    let signing_key = std::fs::read(data.join("dev-signing-key.p8")).unwrap();
    // Debug logging: the most the server ever says.
    let mut serve = Command::new(notes_bin());
    serve
        .args(["serve", "--listen", "127.0.0.1:0", "--data-dir"])
        .arg(&data)
        .args(["--jwt-public-key", &trust_arg()])
        .env("DATABASE_URL", &url)
        .env("RUST_LOG", "debug");
    let server = HttpServer::from_command(serve);
    let registry = notes_app::Notes::registry().unwrap();
    let mut seen = String::new();
    for credential in credentials.iter().map(Some).chain([None]) {
        for tool in registry.tools() {
            let a = post(
                &server.url,
                credential.map(String::as_str),
                &call(&tool.spec().name),
            )
            .await;
            seen.push_str(&a.raw);
        }
    }
    // A graceful stop writes every record, the refusals still being
    // counted (in groups per peer, reason and credential) included.
    let (status, log) = server.stop();
    assert!(status.success(), "{status}");
    seen.push_str(&log);
    let db = mcpgen::store::Db::connect(&url).await.unwrap();
    let rows = sqlx::query("SELECT * FROM mcpgen_audit")
        .fetch_all(db.pool())
        .await
        .unwrap();
    let calls: i64 = rows
        .iter()
        .map(|r| sqlx::Row::get::<i64, _>(r, "count"))
        .sum();
    assert!(calls >= 30, "every call audited: {calls}");
    for r in &rows {
        for i in 0..sqlx::Row::len(r) {
            if let Ok(v) = sqlx::Row::try_get::<String, _>(r, i) {
                seen.push_str(&v);
                seen.push('\n');
            }
        }
    }
    assert!(!seen.contains(password), "the database password leaked");
    assert!(!seen.contains("postgres://"), "a database URL leaked");
    assert!(!seen.contains("mcpk_"), "access-key material leaked");
    for c in &credentials {
        assert!(!seen.contains(&c[c.len() - 20..]), "a credential leaked");
    }
    let b64 = base64::Engine::encode(&base64::engine::general_purpose::STANDARD, &signing_key);
    assert!(!seen.contains(&b64[..24]), "the signing key leaked");
    assert!(!seen.contains("dev-signing-key"), "a key file path leaked");
}
