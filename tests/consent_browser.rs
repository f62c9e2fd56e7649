//! The consent pages in a real browser: Debian's chromium driven by
//! playwright-core (`tests/clients/consent_browser.mjs`). A person signs
//! in with an access key, sees the scopes and the tools they open, allows
//! and lands on the client's redirect URI with a code; denies and lands
//! there with `access_denied`; and sees an error page, not a redirect, for
//! a redirect URI that was not registered. Screenshots go to
//! `target/consent-screenshots/` (the reviewed copies are in
//! `snapshots/consent/`).

use std::path::Path;
use std::process::Command;

use mcpgen_tests::notes::create_key;
use mcpgen_tests::oauth::{AuthServer, param, verifier};
use mcpgen_tests::process::clients;
use serde_json::Value;

#[tokio::test]
async fn a_person_allows_and_denies_in_a_real_browser() {
    let chromium = std::env::var("CHROMIUM").unwrap_or_else(|_| "/usr/bin/chromium".into());
    assert!(
        Path::new(&chromium).exists(),
        "{chromium} is missing: install Debian's chromium (apt-get install chromium), as .ci/run does"
    );
    let c = clients();
    let s = AuthServer::start(&[]);
    let key = create_key(&s.data, "alice", "notes:read,notes:write", &[]);
    let client = s.public_client().await;
    let url = |q: Vec<(String, String)>| {
        reqwest::Url::parse_with_params(&s.endpoint("authorize"), &q)
            .unwrap()
            .to_string()
    };
    let allow = url(s.request(&client, &verifier("b"), None));
    let deny = url(s.request(&client, &verifier("d"), None));
    let mismatch = url(s
        .request(&client, &verifier("m"), None)
        .into_iter()
        .map(|(k, v)| {
            if k == "redirect_uri" {
                (k, "https://attacker.example/cb".into())
            } else {
                (k, v)
            }
        })
        .collect());
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let script = root.join("target/clients/consent_browser.mjs");
    std::fs::copy(root.join("tests/clients/consent_browser.mjs"), &script).unwrap();
    let shots = root.join("target/consent-screenshots");
    std::fs::create_dir_all(&shots).unwrap();
    let out = Command::new(&c.node)
        .arg(&script)
        .args([&allow, &deny, &mismatch, key["key"].as_str().unwrap()])
        .arg(&shots)
        .env("CHROMIUM", &chromium)
        .env("HOME", &c.home)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}\n{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    let r: Value = serde_json::from_slice(&out.stdout).expect("one JSON object");
    let sign_in = r["signInText"].as_str().unwrap();
    assert!(
        sign_in.contains("Test client wants to use Notes"),
        "{sign_in}"
    );
    assert!(sign_in.contains("create_text_note"), "{sign_in}");
    assert_eq!(r["scriptCount"], 0);
    let consent = r["consentText"].as_str().unwrap();
    assert!(consent.contains("Signed in as alice"), "{consent}");
    assert!(
        consent.contains("Read your notes") && consent.contains("Create notes"),
        "{consent}"
    );
    assert_eq!(
        r["checkboxes"],
        serde_json::json!(["grant:notes:read", "grant:notes:write"])
    );
    let allowed = r["allowed"].as_str().unwrap();
    assert!(param(allowed, "code").is_some(), "{allowed}");
    assert_eq!(param(allowed, "iss").as_deref(), Some(s.issuer.as_str()));
    let denied = r["denied"].as_str().unwrap();
    assert_eq!(
        param(denied, "error").as_deref(),
        Some("access_denied"),
        "{denied}"
    );
    assert_eq!(r["mismatchStatus"], 400);
    assert!(
        r["mismatchText"]
            .as_str()
            .unwrap()
            .contains("Redirect address not registered")
    );
    assert!(
        r["mismatchUrl"].as_str().unwrap().starts_with(&s.issuer),
        "the browser stayed here"
    );
    for shot in ["1-sign-in.png", "2-consent.png", "3-redirect-mismatch.png"] {
        assert!(
            std::fs::metadata(shots.join(shot)).unwrap().len() > 1000,
            "{shot}"
        );
    }
}
