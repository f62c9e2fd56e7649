//! Who may call what, over real HTTP and stdio against the example app's
//! binary: every tool answers 401 without a credential, 403 naming its
//! scopes with a credential lacking them, 200 with the right one — for
//! OAuth tokens and access keys alike — and a table of token attacks is
//! refused with 401 every time.

use std::io::Write as _;
use std::process::{Command, Stdio};

use mcpgen::Tools;
use mcpgen_tests::databases::data_args;
use mcpgen_tests::notes::{call, cli, create_key, post};
use mcpgen_tests::process::{HttpServer, notes_bin, scratch_dir};
use mcpgen_tests::tokens::{self, claims, sign_with, token, trust_arg, with_payload};
use serde_json::{Value, json};

const METADATA: &str =
    "resource_metadata=\"http://127.0.0.1:8080/.well-known/oauth-protected-resource/mcp\"";

#[tokio::test]
async fn every_tool_401_403_200_with_tokens_and_access_keys() {
    let data = scratch_dir("auth-http");
    let reader_key = create_key(&data, "alice", "notes:read", &[]);
    let writer_key = create_key(&data, "alice", "notes:read,notes:write", &[]);
    let nothing_key = create_key(&data, "alice", "", &[]);
    let server = HttpServer::start_in(notes_bin(), &data, &["--jwt-public-key", &trust_arg()]);
    let registry = notes_app::Notes::registry().unwrap();
    let tools: Vec<_> = registry.tools().iter().map(|t| t.spec()).collect();
    assert_eq!(tools.len(), 5, "three app tools and two built-ins");
    let read_write_token = token("alice", &["notes:read", "notes:write"]);
    let secrets: Vec<String> = [&reader_key, &writer_key, &nothing_key]
        .iter()
        .map(|k| k["key"].as_str().unwrap().to_owned())
        .chain([read_write_token.clone()])
        .collect();
    let mut seen = String::new();

    for def in &tools {
        let name: &str = &def.name;
        // Without a credential: 401 and a challenge that says where to go.
        let a = post(&server.url, None, &call(name)).await;
        assert_eq!(a.status, 401, "{name}: {}", a.body);
        let challenge = a.challenge.expect("challenge");
        assert!(
            challenge.starts_with("Bearer ") && challenge.contains(METADATA),
            "{challenge}"
        );
        // Every scope the server declares, the tool's among them: the same
        // for every tool (an anonymous caller learns nothing of which exist).
        assert!(
            challenge.contains("scope=\"notes:read notes:write\""),
            "{challenge}"
        );
        assert_eq!(a.body["error"]["code"], -31401);

        // Right credential: 200 with a result (OAuth token, then access key).
        let all = ["notes:read", "notes:write"];
        for credential in [
            token("alice", &all),
            writer_key["key"].as_str().unwrap().to_owned(),
        ] {
            let a = post(&server.url, Some(&credential), &call(name)).await;
            assert_eq!(a.status, 200, "{name}: {}", a.body);
            assert!(a.body["result"].is_object(), "{name}: {}", a.body);
        }

        // A credential without the tool's scopes: 403 naming all of them.
        if def.scopes.is_empty() {
            // Built-ins need only authentication.
            let a = post(
                &server.url,
                Some(nothing_key["key"].as_str().unwrap()),
                &call(name),
            )
            .await;
            assert_eq!(a.status, 200, "{name}");
            continue;
        }
        let lacking: Vec<&str> = all
            .iter()
            .copied()
            .filter(|s| !def.scopes.iter().any(|d| d == s))
            .collect();
        let lacking_key = if def.scopes.iter().any(|d| d == "notes:write") {
            &reader_key
        } else {
            &nothing_key
        };
        for credential in [
            token("alice", &lacking),
            lacking_key["key"].as_str().unwrap().to_owned(),
        ] {
            let a = post(&server.url, Some(&credential), &call(name)).await;
            assert_eq!(a.status, 403, "{name}: {}", a.body);
            let challenge = a.challenge.expect("step-up challenge");
            assert!(
                challenge.starts_with("Bearer error=\"insufficient_scope\"")
                    && challenge.contains(&format!("scope=\"{}\"", def.scopes.join(" ")))
                    && challenge.contains(METADATA),
                "{challenge}"
            );
            assert_eq!(a.body["error"]["code"], -31403);
            assert_eq!(a.body["error"]["data"]["requiredScopes"], json!(def.scopes));
            seen.push_str(&a.raw);
        }
    }
    // No credential comes back in any answer, header or log line.
    seen.push_str(&server.log());
    for secret in &secrets {
        let tail = &secret[secret.len() - 24..];
        assert!(!seen.contains(tail), "credential material leaked");
    }
    assert!(
        !seen.contains("mcpk_"),
        "no key material in answers or logs"
    );
}

#[tokio::test]
async fn token_attacks_are_refused_with_401() {
    let data = scratch_dir("auth-attacks");
    let revoked = create_key(&data, "alice", "notes:read", &[]);
    let (ok, _, err) = cli(&data, &["keys", "revoke", revoked["id"].as_str().unwrap()]);
    assert!(ok, "{err}");
    let expiring = create_key(&data, "alice", "notes:read", &["--expires", "1s"]);
    let live = create_key(&data, "alice", "notes:read", &[]);
    let server = HttpServer::start_in(notes_bin(), &data, &["--jwt-public-key", &trust_arg()]);

    let good = token("alice", &["notes:read"]);
    let now = tokens::now();
    let mut c = claims("alice", &["notes:read"]);
    let with = |key: &str, value: Value| {
        let mut c = claims("alice", &["notes:read"]);
        c[key] = value;
        c
    };
    let hs256 = {
        let public = std::fs::read(tokens::fixture("as-key.pub.pem")).unwrap();
        let mut h = jsonwebtoken::Header::new(jsonwebtoken::Algorithm::HS256);
        h.typ = Some("at+jwt".into());
        h.kid = Some(tokens::KID.into());
        jsonwebtoken::encode(&h, &c, &jsonwebtoken::EncodingKey::from_secret(&public)).unwrap()
    };
    let alg_none = format!(
        "{}.{}.",
        tokens::b64(br#"{"alg":"none","typ":"at+jwt"}"#),
        tokens::b64(c.to_string().as_bytes())
    );
    let tampered_signature = {
        let mut t = good.clone().into_bytes();
        let last = t.len() - 5;
        t[last] = if t[last] == b'A' { b'B' } else { b'A' };
        String::from_utf8(t).unwrap()
    };
    c["scope"] = json!("notes:read notes:write");
    let escalated = with_payload(&good, &c);
    let mut smuggled = claims("alice", &[]);
    smuggled["scopes"] = json!("notes:read");
    smuggled["permissions"] = json!(["notes:read"]);
    let smuggled_tampered = with_payload(&token("alice", &[]), &smuggled);
    let live_key = live["key"].as_str().unwrap().to_owned();
    let wrong_secret = format!("{}{}", &live_key[..live_key.len() - 4], "AAAA");
    std::thread::sleep(std::time::Duration::from_millis(1100));

    let cases: Vec<(&str, Option<String>, &str)> = vec![
        ("alg none", Some(alg_none), ""),
        ("HS256 signed with the public key", Some(hs256), ""),
        (
            "wrong audience",
            Some(sign_with(
                "as-key.pem",
                &with("aud", json!("https://other.example.com/mcp")),
                |_| {},
            )),
            "",
        ),
        (
            "wrong issuer",
            Some(sign_with(
                "as-key.pem",
                &with("iss", json!("https://evil.example.com")),
                |_| {},
            )),
            "",
        ),
        (
            "expired",
            Some(sign_with(
                "as-key.pem",
                &with("exp", json!(now - 3600)),
                |_| {},
            )),
            "",
        ),
        (
            "not yet valid",
            Some(sign_with(
                "as-key.pem",
                &with("nbf", json!(now + 3600)),
                |_| {},
            )),
            "",
        ),
        (
            "missing typ",
            Some(sign_with(
                "as-key.pem",
                &claims("alice", &["notes:read"]),
                |h| h.typ = None,
            )),
            "",
        ),
        (
            "wrong typ (an ID token)",
            Some(sign_with(
                "as-key.pem",
                &claims("alice", &["notes:read"]),
                |h| h.typ = Some("JWT".into()),
            )),
            "",
        ),
        (
            "unknown kid",
            Some(sign_with(
                "as-key.pem",
                &claims("alice", &["notes:read"]),
                |h| h.kid = Some("rotated-away".into()),
            )),
            "",
        ),
        (
            "kid with path characters",
            Some(sign_with(
                "as-key.pem",
                &claims("alice", &["notes:read"]),
                |h| h.kid = Some("../../etc/passwd".into()),
            )),
            "",
        ),
        (
            "signed by another key",
            Some(sign_with(
                "other-key.pem",
                &claims("alice", &["notes:read"]),
                |_| {},
            )),
            "",
        ),
        (
            "jku pointing at the attacker's keys",
            Some(sign_with(
                "other-key.pem",
                &claims("alice", &["notes:read"]),
                |h| h.jku = Some("https://evil.example.com/jwks".into()),
            )),
            "",
        ),
        ("tampered payload (scope escalated)", Some(escalated), ""),
        (
            "scope smuggled in another claim",
            Some(smuggled_tampered),
            "",
        ),
        ("tampered signature", Some(tampered_signature), ""),
        (
            "no subject",
            Some(sign_with("as-key.pem", &with("sub", json!("")), |_| {})),
            "",
        ),
        (
            "revoked access key",
            Some(revoked["key"].as_str().unwrap().to_owned()),
            "",
        ),
        (
            "expired access key",
            Some(expiring["key"].as_str().unwrap().to_owned()),
            "",
        ),
        ("access key with a wrong secret", Some(wrong_secret), ""),
        ("garbage", Some("not-a-token".into()), ""),
        ("token in the query string", None, "?access_token=GOOD"),
    ];
    assert!(cases.len() >= 15);
    let mut failures = Vec::new();
    for (name, credential, query) in &cases {
        let url = format!("{}{}", server.url, query.replace("GOOD", &good));
        let a = post(&url, credential.as_deref(), &call("search_owned_notes")).await;
        let challenge = a.challenge.unwrap_or_default();
        if a.status != 401
            || a.body["error"]["code"] != -31401
            || !challenge.contains("error=\"invalid_")
        {
            failures.push(format!("{name}: {} {challenge} {}", a.status, a.body));
        }
    }
    assert!(
        failures.is_empty(),
        "accepted or mis-answered:\n{}",
        failures.join("\n")
    );

    // Controls: the same server accepts the genuine credentials...
    assert_eq!(
        post(&server.url, Some(&good), &call("search_owned_notes"))
            .await
            .status,
        200
    );
    assert_eq!(
        post(&server.url, Some(&live_key), &call("search_owned_notes"))
            .await
            .status,
        200
    );
    // ...and a genuinely signed token whose scope sits in another claim is
    // authenticated with no scope at all: 403, not 200.
    let signed_smuggle = sign_with("as-key.pem", &smuggled, |_| {});
    assert_eq!(
        post(
            &server.url,
            Some(&signed_smuggle),
            &call("search_owned_notes")
        )
        .await
        .status,
        403
    );
    // `scp` (a list) is a standard place for scopes and is honoured.
    let mut scp = claims("alice", &[]);
    scp.as_object_mut().unwrap().remove("scope");
    scp["scp"] = json!(["notes:read"]);
    let scp = sign_with("as-key.pem", &scp, |_| {});
    assert_eq!(
        post(&server.url, Some(&scp), &call("search_owned_notes"))
            .await
            .status,
        200
    );
    let log = server.log();
    assert!(
        !log.contains(&good) && !log.contains(&live_key),
        "credentials never reach the log"
    );
}

/// Over stdio the credential comes from MCPGEN_TOKEN, with the same policy.
fn stdio(data: &std::path::Path, credential: Option<&str>, messages: &[Value]) -> Vec<Value> {
    let mut cmd = Command::new(notes_bin());
    cmd.args(data_args(data))
        .args(["stdio", "--jwt-public-key", &trust_arg()]);
    cmd.env_remove("MCPGEN_TOKEN");
    if let Some(c) = credential {
        cmd.env("MCPGEN_TOKEN", c);
    }
    let mut child = cmd
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let mut stdin = child.stdin.take().unwrap();
    for m in messages {
        writeln!(stdin, "{m}").unwrap();
    }
    drop(stdin);
    let out = child.wait_with_output().unwrap();
    let mut lines: Vec<Value> = String::from_utf8(out.stdout)
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    lines.sort_by_key(|v| v["id"].as_i64().unwrap_or(-1));
    lines
}

#[tokio::test]
async fn stdio_applies_the_same_policy_to_its_environment_credential() {
    let data = scratch_dir("auth-stdio");
    let reader = create_key(&data, "alice", "notes:read", &[]);
    let writer = create_key(&data, "alice", "notes:read,notes:write", &[]);
    let tool_names = [
        "search_owned_notes",
        "create_text_note",
        "verify_access",
        "get_owned_note",
        "get_environment_status",
    ];
    assert_eq!(
        tool_names.len(),
        notes_app::Notes::registry().unwrap().tools().len(),
        "every tool"
    );
    let messages: Vec<Value> = tool_names
        .iter()
        .enumerate()
        .map(|(i, t)| {
            let mut m = call(t);
            m["id"] = json!(i + 1);
            m
        })
        .collect();
    let codes = |answers: &[Value]| -> Vec<Value> {
        answers.iter().map(|a| a["error"]["code"].clone()).collect()
    };
    // No credential: no tools, not all tools.
    let none = stdio(&data, None, &messages);
    assert_eq!(codes(&none), vec![json!(-31401); 5]);
    // Read key: reads, but the write is refused exactly as over HTTP.
    let read = stdio(&data, Some(reader["key"].as_str().unwrap()), &messages);
    assert_eq!(
        codes(&read),
        [
            Value::Null,
            json!(-31403),
            Value::Null,
            Value::Null,
            Value::Null
        ]
    );
    assert_eq!(
        read[1]["error"]["data"]["requiredScopes"],
        json!(["notes:write"])
    );
    assert_eq!(
        read[2]["result"]["structuredContent"]["auth_method"],
        "access_key"
    );
    // Write token.
    let write = stdio(
        &data,
        Some(&token("alice", &["notes:read", "notes:write"])),
        &messages,
    );
    assert_eq!(codes(&write), vec![Value::Null; 5]);
    assert_eq!(
        write[2]["result"]["structuredContent"]["auth_method"],
        "oauth"
    );
    // A bad credential: every request refused as invalid.
    let bad = stdio(&data, Some("mcpk_nope"), &messages);
    assert!(bad.iter().all(|a| a["error"]["code"] == -31401));
    // The same over HTTP, for comparison.
    let server = HttpServer::start_in(notes_bin(), &data, &["--jwt-public-key", &trust_arg()]);
    let over_http = post(
        &server.url,
        Some(reader["key"].as_str().unwrap()),
        &messages[1],
    )
    .await;
    assert_eq!(over_http.body["error"], read[1]["error"]);
    drop(writer);
}

/// The metadata names the built-in authorization server where the
/// environment uses it (`local`), and the manifest's external one where it
/// trusts an external issuer (`preview`), exactly as before there was a
/// built-in one.
#[tokio::test]
async fn protected_resource_metadata_is_served_at_both_locations() {
    let local = HttpServer::start(notes_bin(), &[]);
    let preview = HttpServer::start(
        notes_bin(),
        &["--env", "preview", "--jwt-public-key", &trust_arg()],
    );
    for (server, issuer) in [
        (&local, "http://127.0.0.1:8080/oauth"),
        (&preview, "https://auth.example.com"),
    ] {
        for path in [
            "/.well-known/oauth-protected-resource/mcp",
            "/.well-known/oauth-protected-resource",
        ] {
            let res = reqwest::get(format!("{}{path}", server.origin()))
                .await
                .unwrap();
            assert_eq!(res.status(), 200, "{path}");
            assert_eq!(res.headers()["content-type"], "application/json");
            let doc: Value = res.json().await.unwrap();
            assert_eq!(
                doc,
                json!({
                    "resource": "http://127.0.0.1:8080/mcp",
                    "authorization_servers": [issuer],
                    "scopes_supported": ["notes:read", "notes:write"],
                    "bearer_methods_supported": ["header"],
                    "resource_name": "Notes",
                    "resource_documentation": "https://github.com/mcpgen/mcpgen#readme",
                }),
                "{path}"
            );
        }
    }
    // Without the built-in server there is no authorization endpoint.
    let res = reqwest::get(format!(
        "{}/.well-known/oauth-authorization-server/oauth",
        preview.origin()
    ))
    .await
    .unwrap();
    assert_eq!(res.status(), 404);
    let res = reqwest::get(format!(
        "{}/.well-known/oauth-authorization-server/oauth",
        local.origin()
    ))
    .await
    .unwrap();
    assert_eq!(res.status(), 200);
}

/// `serve --public-url` (or `MCPGEN_PUBLIC_URL`): one build deployed at
/// another URL names that URL in its metadata and challenges, accepts its
/// host, and takes tokens for that audience only; a URL on another path is
/// refused at startup.
#[tokio::test]
async fn the_public_url_is_given_at_run_time() {
    const PUBLIC: &str = "https://mcp.example.test:8443/mcp";
    let data = scratch_dir("public-url");
    let mut cmd = Command::new(notes_bin());
    cmd.args(["serve", "--listen", "127.0.0.1:0"])
        .args(data_args(&data))
        .env("MCPGEN_PUBLIC_URL", PUBLIC);
    let server = HttpServer::from_command(cmd);
    let banner = server.log_with("resource:");
    assert!(
        banner.contains(&format!("resource:    {PUBLIC}")),
        "{banner}"
    );

    let doc: Value = reqwest::get(format!(
        "{}/.well-known/oauth-protected-resource/mcp",
        server.origin()
    ))
    .await
    .unwrap()
    .json()
    .await
    .unwrap();
    assert_eq!(doc["resource"], PUBLIC);

    let anonymous = post(&server.url, None, &call("search_owned_notes")).await;
    assert_eq!(anonymous.status, 401);
    assert!(
        anonymous.challenge.as_deref().unwrap().contains(
            "resource_metadata=\"https://mcp.example.test:8443/.well-known/oauth-protected-resource/mcp\""
        ),
        "{:?}",
        anonymous.challenge
    );

    // A token for the public URL is accepted, also addressed by its host;
    // one minted for the manifest's URI is another audience.
    let (ok, for_public, err) = cli(
        &data,
        &[
            "token",
            "mint",
            "--sub",
            "alice",
            "--scopes",
            "notes:read",
            "--public-url",
            PUBLIC,
        ],
    );
    assert!(ok, "{err}");
    let (ok, for_manifest, err) = cli(
        &data,
        &["token", "mint", "--sub", "alice", "--scopes", "notes:read"],
    );
    assert!(ok, "{err}");
    let accepted = post(
        &server.url,
        Some(for_public.trim()),
        &call("search_owned_notes"),
    )
    .await;
    assert_eq!(accepted.status, 200, "{}", accepted.raw);
    assert_eq!(
        accepted.body["result"]["isError"], false,
        "{}",
        accepted.raw
    );
    let by_host = reqwest::Client::new()
        .post(&server.url)
        .header("host", "mcp.example.test:8443")
        .header("content-type", "application/json")
        .header("accept", "application/json, text/event-stream")
        .header("mcp-protocol-version", "2025-11-25")
        .header("authorization", format!("Bearer {}", for_public.trim()))
        .body(call("search_owned_notes").to_string())
        .send()
        .await
        .unwrap();
    assert_eq!(by_host.status(), 200);
    let other_audience = post(
        &server.url,
        Some(for_manifest.trim()),
        &call("search_owned_notes"),
    )
    .await;
    assert_eq!(other_audience.status, 401, "{}", other_audience.raw);
    let _ = server.stop();

    // Another path: the server answers on the manifest's, so it refuses.
    let out = Command::new(notes_bin())
        .args(["serve", "--listen", "127.0.0.1:0"])
        .args(data_args(&data))
        .args(["--public-url", "https://mcp.example.test/api/mcp"])
        .output()
        .unwrap();
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("the public URL's path /api/mcp is not the manifest's endpoint path /mcp"),
        "{err}"
    );
}
