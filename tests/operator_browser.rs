//! The operator page in a real browser: Debian's chromium driven by
//! playwright-core (`tests/clients/operator_browser.mjs`) against the
//! example app's admin listener. An operator signs in with an admin key
//! (a key without the admin scope is turned away), sees the environment,
//! the scope matrix and the keys; an audit row appears after a call and
//! the filters narrow the list; a key created on the page works on the
//! MCP endpoint, and a key revoked on the page fails there at once.
//! Screenshots go to `target/operator-screenshots/` (the reviewed copies
//! are in `snapshots/operator/`).

use mcpgen_tests::notes::{call, create_key, post};
use mcpgen_tests::process::{HttpServer, notes_bin, run_browser_script, scratch_dir};

#[tokio::test]
async fn an_operator_reads_filters_creates_and_revokes_in_a_real_browser() {
    let data = scratch_dir("operator");
    // Keys trusted from the cache for an hour: a revocation on the page
    // must end the key by itself, not by the cache's expiry.
    let s = HttpServer::start_in(
        notes_bin(),
        &data,
        &["--admin-listen", "127.0.0.1:0", "--key-cache-ttl", "1h"],
    );
    let admin = s.admin_origin();
    let ops = create_key(&data, "ops", "mcpgen:admin", &[]);
    let alice = create_key(&data, "alice", "notes:read", &[]);
    let alice_key = alice["key"].as_str().unwrap();
    assert_eq!(
        post(&s.url, Some(alice_key), &call("search_owned_notes"))
            .await
            .status,
        200
    );
    assert_eq!(
        post(&s.url, Some(alice_key), &call("create_text_note"))
            .await
            .status,
        403
    );
    // More decisions than one page of the audit list holds (25).
    for _ in 0..30 {
        let answer = post(&s.url, Some(alice_key), &call("search_owned_notes")).await;
        assert_eq!(answer.status, 200);
    }
    // A client registers with the built-in authorization server.
    let registered = reqwest::Client::new()
        .post(format!("{}/oauth/register", s.origin()))
        .json(&serde_json::json!({"client_name": "Registered test client",
                                  "redirect_uris": ["http://127.0.0.1:9/cb"]}))
        .send()
        .await
        .unwrap();
    assert_eq!(registered.status(), 201);
    tokio::time::sleep(std::time::Duration::from_millis(300)).await;

    let (r, shots) = run_browser_script(
        "operator_browser.mjs",
        &[
            admin.as_str(),
            ops["key"].as_str().unwrap(),
            alice["id"].as_str().unwrap(),
        ],
        "operator-screenshots",
    );
    let text = |k: &str| r[k].as_str().unwrap_or_default().to_owned();
    assert!(
        text("signInText").contains("mcpgen:admin"),
        "{}",
        text("signInText")
    );
    assert!(
        text("badSignInText").contains("an admin credential is needed"),
        "{}",
        text("badSignInText")
    );
    assert_eq!(r["scriptCount"], 0);
    let page = text("pageText");
    assert!(page.contains("Signed in as ops"), "{page}");
    assert!(page.contains("local"), "the environment: {page}");
    assert!(
        page.contains("OAuth clients") && page.contains("Registered test client"),
        "the built-in authorization server's clients: {page}"
    );
    let matrix = text("matrixText");
    for entry in [
        "search_owned_notes",
        "create_text_note",
        "note://{id}",
        "review_my_notes",
    ] {
        assert!(matrix.contains(entry), "{entry} in the matrix: {matrix}");
    }
    let row = text("keyRow");
    assert!(
        row.contains("alice") && row.contains("notes:read") && row.contains("active"),
        "{row}"
    );
    assert!(!page.contains(alice_key) && !page.contains(ops["key"].as_str().unwrap()));
    // The call made above is on the page, and the filters narrow it.
    assert!(
        r["auditRows"].as_u64().unwrap() >= 3,
        "a header and two calls"
    );
    let denied: Vec<String> = serde_json::from_value(r["deniedDecisions"].clone()).unwrap();
    assert!(
        !denied.is_empty() && denied.iter().all(|d| d == "denied"),
        "{denied:?}"
    );
    let tools: Vec<String> = serde_json::from_value(r["toolFiltered"].clone()).unwrap();
    assert!(
        !tools.is_empty() && tools.iter().all(|t| t == "search_owned_notes"),
        "{tools:?}"
    );
    // Paginated: 25 rows a page, the rest on the next.
    assert_eq!(r["firstPageRows"], 26, "a header and 25 rows");
    let second = r["secondPageRows"].as_u64().unwrap();
    assert!((2..26).contains(&second), "{second} rows on page 2");
    assert!(text("secondPageText").contains("← newer"));
    // Created on the page: shown once, and it works.
    let new_key = text("newKey");
    assert!(new_key.starts_with("mcpk_"), "{new_key}");
    assert!(text("newKeyText").contains("only time the secret is shown"));
    assert!(!text("pageAfterCreate").contains(&new_key));
    assert_eq!(
        post(&s.url, Some(&new_key), &call("search_owned_notes"))
            .await
            .status,
        200
    );
    // Revoked on the page: refused on the MCP endpoint at once.
    assert!(
        text("revokedRow").contains("revoked"),
        "{}",
        text("revokedRow")
    );
    assert_eq!(
        post(&s.url, Some(alice_key), &call("search_owned_notes"))
            .await
            .status,
        401
    );
    for shot in [
        "1-sign-in.png",
        "2-operator-page.png",
        "3-audit-denied.png",
        "4-key-created.png",
    ] {
        assert!(
            std::fs::metadata(shots.join(shot)).unwrap().len() > 1000,
            "{shot}"
        );
    }
}
