//! The consent pages in a real browser: Debian's chromium driven by
//! playwright-core (`tests/clients/consent_browser.mjs`). A person signs
//! in with an access key, sees the scopes and the tools they open, allows
//! and lands on the client's redirect URI with a code; denies and lands
//! there with `access_denied`; and sees an error page, not a redirect, for
//! a redirect URI that was not registered. Screenshots go to
//! `target/consent-screenshots/` (the reviewed copies are in
//! `snapshots/consent/`).

use mcpgen_tests::notes::create_key;
use mcpgen_tests::oauth::{AuthServer, param, verifier};
use mcpgen_tests::process::run_browser_script;

#[tokio::test]
async fn a_person_allows_and_denies_in_a_real_browser() {
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
    let (r, shots) = run_browser_script(
        "consent_browser.mjs",
        &[&allow, &deny, &mismatch, key["key"].as_str().unwrap()],
        "consent-screenshots",
    );
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
