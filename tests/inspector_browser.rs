//! What the person sees: MCP Inspector's web UI (v2, from npm, as a person
//! would run it) in a real browser (Debian's chromium driven by
//! playwright-core, `tests/clients/inspector_browser.mjs`), connected to
//! the example app. Calling `create_text_note` opens Inspector's
//! elicitation form with the manifest's question, the title filled in;
//! ticking "Confirm" and submitting writes the note, declining writes
//! nothing and the tool says so. Screenshots go to
//! `target/inspector-screenshots/` (the reviewed copies are in
//! `snapshots/inspector/`).

use std::io::{BufRead as _, BufReader};
use std::process::{Command, Stdio};
use std::time::Duration;

use mcpgen_tests::databases::open_for;
use mcpgen_tests::notes::create_key;
use mcpgen_tests::oauth::free_port;
use mcpgen_tests::process::{HttpServer, clients, notes_bin, run_browser_script, scratch_dir};
use sqlx::Row as _;

/// Inspector's web UI, stopped when dropped.
struct Inspector(std::process::Child);

impl Drop for Inspector {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn a_person_confirms_and_declines_a_note_in_mcp_inspector() {
    let data = scratch_dir("inspector-ui");
    let key = create_key(&data, "alice", "notes:read,notes:write", &[]);
    let key = key["key"].as_str().unwrap();
    let server = HttpServer::start_in(notes_bin(), &data, &[]);
    let c = clients();
    let mut child = Command::new(&c.node)
        .arg(&c.inspector)
        .args(["--web", "--transport", "http", "--server-url", &server.url])
        .arg("--header")
        .arg(format!("Authorization: Bearer {key}"))
        .env("CLIENT_PORT", free_port().to_string())
        .env("MCP_SANDBOX_PORT", free_port().to_string())
        .env("MCP_AUTO_OPEN_ENABLED", "false")
        .env("MCP_INSPECTOR_SECRET_STORE", "memory")
        .env("HOME", &c.home)
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("Inspector's web UI starts");
    // The UI's address, with its session token, is on its first lines.
    let stdout = child.stdout.take().unwrap();
    let inspector = Inspector(child);
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines().map_while(Result::ok) {
            if let Some(at) = line.find("http://127.0.0.1:")
                && line.contains("MCP_INSPECTOR_API_TOKEN=")
            {
                let _ = tx.send(line[at..].trim().to_owned());
            }
        }
    });
    let url = rx
        .recv_timeout(Duration::from_secs(60))
        .expect("Inspector prints its address");

    let (seen, shots) =
        run_browser_script("inspector_browser.mjs", &[&url], "inspector-screenshots");
    drop(inspector);
    assert_eq!(seen["protocol"], "MCP 2025-11-25", "{seen}");
    let dialog = seen["dialog"].as_str().unwrap();
    for shown in [
        "Elicitation Request",
        "Create the note “Groceries”?",
        "Confirm",
        "Check to let the tool run",
        "Decline",
        "Submit",
    ] {
        assert!(
            dialog.contains(shown),
            "{shown:?} not in the form:\n{dialog}"
        );
    }
    let accepted = seen["accepted"].as_str().unwrap();
    assert!(
        accepted.contains("Groceries") && accepted.contains("note_"),
        "{accepted}"
    );
    assert!(
        seen["declined"].as_str().unwrap().contains(
            "the person declined: `create_text_note` did not run, and nothing was changed"
        ),
        "{seen}"
    );
    let db = open_for(&data).await;
    let titles: Vec<String> = sqlx::query("SELECT title FROM notes WHERE owner_id = 'alice'")
        .fetch_all(db.pool())
        .await
        .unwrap()
        .iter()
        .map(|r| r.get("title"))
        .collect();
    assert_eq!(titles, ["Groceries"]);
    for shot in [
        "1-confirmation-asked.png",
        "2-note-created.png",
        "3-declined.png",
    ] {
        assert!(
            std::fs::metadata(shots.join(shot)).unwrap().len() > 1000,
            "{shot}"
        );
    }
}
