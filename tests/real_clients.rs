//! Real MCP clients nobody here wrote — the official conformance suite, MCP
//! Inspector's CLI and the Python SDK — against the conformance fixture, a
//! server mcpgen generated from its own manifest, over HTTP and stdio.
//!
//! The clients are installed on first use under `target/clients` (npm and
//! PyPI). These tests fail, never skip, when that is impossible.

use std::path::Path;
use std::process::{Command, Output};

use mcpgen_tests::databases::data_args;
use mcpgen_tests::process::{HttpServer, clients};
use serde_json::{Value, json};

const FIXTURE: &str = env!("CARGO_BIN_EXE_mcpgen-conformance-fixture");

fn text(out: &Output) -> String {
    format!(
        "exit: {:?}\n--- stdout\n{}\n--- stderr\n{}",
        out.status.code(),
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    )
}

#[test]
fn the_official_conformance_suite_passes() {
    let c = clients();
    let server = HttpServer::start(FIXTURE, &[]);
    // The suite's DNS-rebinding scenario needs a loopback *name* in the URL.
    let url = server.url.replace("127.0.0.1", "localhost");
    let expected =
        Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/conformance/expected-failures.yml");
    let out = Command::new(&c.node)
        .arg(&c.conformance)
        .args([
            "server",
            "--url",
            &url,
            "--suite",
            "all",
            "--expected-failures",
        ])
        .arg(&expected)
        .env("HOME", &c.home)
        .output()
        .expect("conformance runs");
    let report = text(&out);
    assert!(
        out.status.success(),
        "{report}\n--- server log\n{}",
        server.log()
    );
    assert!(
        report.contains("Baseline check passed: all failures are expected."),
        "{report}"
    );
    for scenario in [
        "server-initialize",
        "ping",
        "tools-list",
        "tools-call-simple-text",
        "tools-call-image",
        "tools-call-audio",
        "tools-call-embedded-resource",
        "tools-call-mixed-content",
        "tools-call-with-logging",
        "tools-call-error",
        "tools-call-with-progress",
        "json-schema-2020-12",
        "dns-rebinding-protection",
        "logging-set-level",
        "resources-list",
        "resources-read-text",
        "resources-read-binary",
        "resources-templates-read",
        "prompts-list",
        "prompts-get-simple",
        "prompts-get-with-args",
        "prompts-get-embedded-resource",
        "prompts-get-with-image",
        "completion-complete",
        "tools-call-elicitation",
        "elicitation-sep1034-defaults",
        "elicitation-sep1330-enums",
    ] {
        let line = report
            .lines()
            .find(|l| l.contains(&format!(" {scenario}: ")))
            .unwrap_or_else(|| panic!("{scenario} did not run:\n{report}"));
        assert!(line.contains(", 0 failed"), "{line}");
        assert!(!line.contains(" 0 passed"), "{line}");
    }
}

fn inspector(args: &[&str]) -> Output {
    let c = clients();
    Command::new(&c.node)
        .arg(&c.inspector)
        .arg("--cli")
        .args(args)
        .env("HOME", &c.home)
        .output()
        .expect("inspector runs")
}

fn json_stdout(out: &Output) -> Value {
    serde_json::from_slice(&out.stdout).unwrap_or_else(|e| panic!("{e}: {}", text(out)))
}

fn tool_names(list: &Value) -> Vec<String> {
    let mut names: Vec<String> = list["tools"]
        .as_array()
        .expect("tools array")
        .iter()
        .map(|t| t["name"].as_str().expect("name").to_owned())
        .collect();
    names.sort();
    names
}

/// Every fixture tool but `echo_scoped`, which needs a scope.
fn public_tools() -> Vec<String> {
    let mut names: Vec<String> = [
        "add_numbers",
        "json_schema_2020_12_tool",
        "test_audio_content",
        "test_elicitation",
        "test_elicitation_sep1034_defaults",
        "test_elicitation_sep1330_enums",
        "test_embedded_resource",
        "test_error_handling",
        "test_image_content",
        "test_multiple_content_types",
        "test_simple_text",
        "test_tool_with_logging",
        "test_tool_with_progress",
    ]
    .map(str::to_owned)
    .to_vec();
    names.sort();
    names
}

fn inspector_session(target: &[&str]) {
    let list = inspector(&[target, &["--method", "tools/list"]].concat());
    assert!(list.status.success(), "{}", text(&list));
    assert_eq!(tool_names(&json_stdout(&list)), public_tools());

    let call = inspector(
        &[
            target,
            &[
                "--method",
                "tools/call",
                "--tool-name",
                "add_numbers",
                "--tool-arg",
                "a=2",
                "b=40",
            ],
        ]
        .concat(),
    );
    assert!(call.status.success(), "{}", text(&call));
    let result = json_stdout(&call);
    assert_eq!(result["structuredContent"], json!({"sum": 42}), "{result}");
    assert_eq!(result["isError"], json!(false));

    // Arguments the advertised schema refuses: a result with isError (exit 5).
    let bad = inspector(
        &[
            target,
            &[
                "--method",
                "tools/call",
                "--tool-name",
                "add_numbers",
                "--tool-args-json",
                r#"{"a":"two","b":1}"#,
            ],
        ]
        .concat(),
    );
    assert_eq!(bad.status.code(), Some(5), "{}", text(&bad));
    let result = json_stdout(&bad);
    assert!(
        result["content"][0]["text"].as_str().is_some_and(|t| t
            .contains("invalid arguments for tool `add_numbers`")
            && t.contains("/a")),
        "{result}"
    );
}

/// Inspector's CLI lists, reads and gets the fixture's resources and
/// prompts over `target`.
fn inspector_entries(target: &[&str]) {
    let run = |args: &[&str]| {
        let out = inspector(&[target, args].concat());
        assert!(out.status.success(), "{args:?}: {}", text(&out));
        json_stdout(&out)
    };
    let listed = run(&["--method", "resources/list"]);
    let uris: Vec<&str> = listed["resources"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["uri"].as_str().unwrap())
        .collect();
    assert_eq!(
        uris,
        ["test://static-binary", "test://static-text"],
        "{listed}"
    );
    let templates = run(&["--method", "resources/templates/list"]);
    assert_eq!(
        templates["resourceTemplates"][0]["uriTemplate"],
        "test://template/{id}/data"
    );
    let read = run(&["--method", "resources/read", "--uri", "test://static-text"]);
    assert_eq!(
        read["contents"][0]["text"],
        "This is the content of the static text resource."
    );
    let got = run(&[
        "--method",
        "prompts/get",
        "--prompt-name",
        "test_prompt_with_arguments",
        "--prompt-args",
        "arg1=a",
        "arg2=b",
    ]);
    assert_eq!(
        got["messages"][0]["content"]["text"],
        "Prompt with arguments: arg1='a', arg2='b'"
    );
}

#[test]
fn inspector_lists_and_calls_tools_over_http() {
    let server = HttpServer::start(FIXTURE, &[]);
    inspector_session(&[&server.url, "--transport", "http"]);
    inspector_entries(&[&server.url, "--transport", "http"]);
    // A tool that needs a scope is not listed for an anonymous caller, so
    // Inspector (which lists before calling) does not find it.
    let hidden = inspector(&[
        &server.url,
        "--transport",
        "http",
        "--method",
        "tools/call",
        "--tool-name",
        "echo_scoped",
        "--tool-arg",
        "text=hi",
    ]);
    assert_eq!(hidden.status.code(), Some(5), "{}", text(&hidden));
    assert!(
        String::from_utf8_lossy(&hidden.stderr).contains("tool_not_found"),
        "{}",
        text(&hidden)
    );
}

#[test]
fn inspector_lists_and_calls_tools_over_stdio() {
    let data = mcpgen_tests::process::scratch_dir("inspector-stdio");
    let mut args = vec![FIXTURE.to_owned(), "stdio".to_owned()];
    args.extend(data_args(&data));
    inspector_session(&args.iter().map(String::as_str).collect::<Vec<_>>());
    inspector_entries(&args.iter().map(String::as_str).collect::<Vec<_>>());
}

fn python(args: &[&str]) -> Value {
    let c = clients();
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/clients/mcp_client.py");
    let out = Command::new(&c.python)
        .arg(script)
        .args(args)
        .env("HOME", &c.home)
        .output()
        .expect("python runs");
    assert!(out.status.success(), "{}", text(&out));
    json_stdout(&out)
}

fn check_python_session(out: &Value, protocol: &str) {
    assert_eq!(out["protocol"], json!(protocol), "{out}");
    let listed: Vec<String> = serde_json::from_value(out["tools"].clone()).expect("names");
    assert_eq!(listed, public_tools());
    assert_eq!(out["add"]["structured"], json!({"sum": 5}));
    assert_eq!(out["add"]["isError"], json!(false));
    assert_eq!(out["add"]["text"], json!(r#"{"sum":5}"#));
    assert_eq!(out["error_tool"]["isError"], json!(true));
    assert_eq!(
        out["error_tool"]["text"],
        json!("This tool intentionally returns an error for testing")
    );
    assert_eq!(out["bad_args"]["isError"], json!(true));
    assert!(
        out["bad_args"]["text"].as_str().unwrap().contains("/a"),
        "{out}"
    );
    assert_eq!(out["progress"], json!([0.0, 50.0, 100.0]), "{out}");
    assert!(
        out["scoped"]["message"]
            .as_str()
            .is_some_and(|m| m.contains("authentication required")),
        "{out}"
    );
    // Resources and prompts: the public ones, listed, read and got.
    assert_eq!(
        out["resources"],
        json!(["test://static-binary", "test://static-text"]),
        "the scoped resource is not listed: {out}"
    );
    assert_eq!(out["templates"], json!(["test://template/{id}/data"]));
    assert_eq!(out["template_read"]["uri"], "test://template/42/data");
    assert!(
        out["template_read"]["text"]
            .as_str()
            .unwrap()
            .contains("Data for ID: 42"),
        "{out}"
    );
    assert!(
        out["scoped_read"]
            .as_str()
            .unwrap()
            .contains("authentication required"),
        "{out}"
    );
    assert_eq!(
        out["prompts"],
        json!([
            "test_prompt_with_arguments",
            "test_prompt_with_embedded_resource",
            "test_prompt_with_image",
            "test_simple_prompt"
        ])
    );
    assert_eq!(
        out["prompt_text"],
        "Prompt with arguments: arg1='x', arg2='y'"
    );
}

#[test]
fn python_sdk_over_http_modern_and_legacy() {
    let server = HttpServer::start(FIXTURE, &[]);
    let modern = python(&["http", &server.url, "auto"]);
    check_python_session(&modern, "2026-07-28");
    let legacy = python(&["http", &server.url, "legacy"]);
    check_python_session(&legacy, "2025-11-25");
}

#[test]
fn python_sdk_over_stdio_modern_and_legacy() {
    let data = data_args(&mcpgen_tests::process::scratch_dir("python-stdio"));
    let data: Vec<&str> = data.iter().map(String::as_str).collect();
    let modern = python(&[&["stdio", "auto", FIXTURE, "stdio"], &data[..]].concat());
    check_python_session(&modern, "2026-07-28");
    let legacy = python(&[&["stdio", "legacy", FIXTURE, "stdio"], &data[..]].concat());
    check_python_session(&legacy, "2025-11-25");
}

/// The README's "Connect real clients" section, followed literally: a key
/// from `keys create`, then Inspector over HTTP and stdio, and the Python
/// SDK, against the example app's own binary.
#[test]
fn clients_use_the_notes_app_with_a_created_key() {
    let bin = mcpgen_tests::process::notes_bin();
    let data = mcpgen_tests::process::scratch_dir("notes-clients");
    let out = Command::new(bin)
        .args(data_args(&data))
        .args([
            "keys",
            "create",
            "--owner",
            "alice",
            "--scopes",
            "notes:read,notes:write",
            "--json",
        ])
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", text(&out));
    let key: Value = serde_json::from_slice(&out.stdout).unwrap();
    let key = key["key"].as_str().unwrap().to_owned();
    let server = HttpServer::start_in(bin, &data, &[]);
    let auth = format!("Authorization: Bearer {key}");
    let all = [
        "create_text_note",
        "get_environment_status",
        "get_owned_note",
        "search_owned_notes",
        "verify_access",
    ];

    let list = inspector(&[
        &server.url,
        "--transport",
        "http",
        "--header",
        &auth,
        "--method",
        "tools/list",
    ]);
    assert!(list.status.success(), "{}", text(&list));
    assert_eq!(tool_names(&json_stdout(&list)), all);
    // The CLI cannot put a question to a person: the tool, which asks for
    // a confirmation, is refused, saying why, and nothing is written.
    let call = inspector(&[
        &server.url,
        "--transport",
        "http",
        "--header",
        &auth,
        "--method",
        "tools/call",
        "--tool-name",
        "create_text_note",
        "--tool-arg",
        "title=Inspector",
        "body=hi",
    ]);
    let refusal = json_stdout(&call);
    assert_eq!(refusal["isError"], true, "{}", text(&call));
    assert!(
        refusal["content"][0]["text"].as_str().unwrap().starts_with(
            "`create_text_note` runs only after a person confirms it, and this client cannot ask"
        ),
        "{}",
        text(&call)
    );

    // The Python SDK asks the person at the terminal (stdin answers yes).
    let c = clients();
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/clients/notes_client.py");
    let mut py = Command::new(&c.python)
        .arg(script)
        .args([&server.url, &key])
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    {
        use std::io::Write as _;
        py.stdin.take().unwrap().write_all(b"y\n").unwrap();
    }
    let py = py.wait_with_output().unwrap();
    assert!(py.status.success(), "{}", text(&py));
    assert!(
        String::from_utf8_lossy(&py.stderr).contains("Create the note “From Python”? [y/N]"),
        "{}",
        text(&py)
    );
    let out = json_stdout(&py);
    assert_eq!(out["protocol"], "2026-07-28");
    assert_eq!(out["tools"], json!(all));
    assert_eq!(out["created"]["note"]["title"], "From Python");
    assert_eq!(out["found"]["notes"][0]["title"], "From Python");
    assert_eq!(out["who"]["auth_method"], "access_key");

    let storage = data_args(&data);
    let storage: Vec<&str> = storage.iter().map(String::as_str).collect();
    let env = format!("MCPGEN_TOKEN={key}");
    let stdio = inspector(
        &[
            &[bin, "stdio"],
            &storage[..],
            &["-e", &env, "--method", "tools/list"],
        ]
        .concat(),
    );
    assert!(stdio.status.success(), "{}", text(&stdio));
    assert_eq!(tool_names(&json_stdout(&stdio)), all);
    // Inspector over stdio searches the notes.
    let search = |query: &str| {
        let arg = format!("query={query}");
        let out = inspector(
            &[
                &[bin, "stdio"],
                &storage[..],
                &[
                    "-e",
                    &env,
                    "--method",
                    "tools/call",
                    "--tool-name",
                    "search_owned_notes",
                    "--tool-arg",
                    &arg,
                ],
            ]
            .concat(),
        );
        assert!(out.status.success(), "{}", text(&out));
        json_stdout(&out)["structuredContent"]["notes"].clone()
    };
    // Only the note a person confirmed exists.
    assert_eq!(search("inspector"), json!([]));
    assert_eq!(search("python")[0]["title"], "From Python");
}

/// The Python SDK drives the example's confirmation end to end: its
/// elicitation callback accepts once (the note is written) and declines
/// once (a result says so, nothing is written); over HTTP as a 2026-07-28
/// client (input_required, then a retry with the answer) and as a
/// 2025-11-25 one (a request on the call's event stream, answered by a
/// POST), and over stdio in both revisions (a 2025-11-25 question is a
/// request on stdout, its answer a line on stdin).
#[test]
fn python_sdk_confirms_and_declines_a_write() {
    let bin = mcpgen_tests::process::notes_bin();
    let c = clients();
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/clients/confirm_client.py");
    let key_for = |data: &Path| {
        let key = mcpgen_tests::notes::create_key(data, "alice", "notes:read,notes:write", &[]);
        key["key"].as_str().unwrap().to_owned()
    };
    let check = |out: &Output, protocol: &str| {
        assert!(out.status.success(), "{}", text(out));
        let got = json_stdout(out);
        assert_eq!(got["protocol"], protocol, "{got}");
        assert_eq!(got["accept"]["isError"], false, "{got}");
        assert_eq!(
            got["accept"]["structured"]["note"]["title"], "Confirmed by Python",
            "{got}"
        );
        assert_eq!(got["decline"]["isError"], true, "{got}");
        assert_eq!(
            got["decline"]["text"],
            "the person declined: `create_text_note` did not run, and nothing was changed"
        );
        assert_eq!(got["found"], json!(["Confirmed by Python"]), "{got}");
        let asked = got["asked"].as_array().unwrap();
        assert_eq!(asked.len(), 2, "{got}");
        assert_eq!(
            asked[0]["message"],
            "Create the note “Confirmed by Python”?"
        );
        assert_eq!(asked[1]["message"], "Create the note “Declined by Python”?");
        assert_eq!(
            asked[0]["schema"]["properties"]["confirm"]["type"],
            "boolean"
        );
        assert_eq!(asked[0]["schema"]["required"], json!(["confirm"]));
    };
    for (mode, protocol) in [("auto", "2026-07-28"), ("legacy", "2025-11-25")] {
        let data = mcpgen_tests::process::scratch_dir(&format!("confirm-http-{mode}"));
        let key = key_for(&data);
        let server = HttpServer::start_in(bin, &data, &[]);
        let out = Command::new(&c.python)
            .arg(&script)
            .args(["http", &server.url, &key, mode])
            .output()
            .unwrap();
        check(&out, protocol);
        let log = server.log();
        for step in [
            "confirmation asked",
            "confirmation accepted",
            "confirmation declined",
        ] {
            assert!(
                log.contains(&format!("reason=\"{step}\"")),
                "{mode}: no `{step}` record:\n{log}"
            );
        }
    }
    for (mode, protocol) in [("auto", "2026-07-28"), ("legacy", "2025-11-25")] {
        let data = mcpgen_tests::process::scratch_dir(&format!("confirm-stdio-{mode}"));
        let key = key_for(&data);
        let storage = data_args(&data);
        let out = Command::new(&c.python)
            .arg(&script)
            .args(["stdio", mode, bin, "stdio"])
            .args(&storage)
            .env("MCPGEN_TOKEN", &key)
            .output()
            .unwrap();
        check(&out, protocol);
    }
}

/// The Python SDK's OAuth client connects to the example app with nothing
/// but its URL: discovery, registration, PKCE, the consent page filled in
/// as a person would (an access key typed in), tokens, a refresh, and a
/// step-up that asks only for the new scope; once by Dynamic Client
/// Registration, once with a Client ID Metadata Document on loopback.
#[test]
fn python_sdk_connects_with_oauth_alone() {
    use mcpgen_tests::oauth::{AuthServer, REDIRECT, document_server};
    let c = clients();
    let cell = std::sync::Arc::new(std::sync::OnceLock::<String>::new());
    let doc_origin = {
        let cell = std::sync::Arc::clone(&cell);
        document_server(move |path| {
            let me = format!("{}{path}", cell.get().expect("origin"));
            let doc = json!({"client_id": me, "client_name": "Python SDK (metadata document)",
                             "redirect_uris": [REDIRECT], "token_endpoint_auth_method": "none"});
            (200, doc.to_string(), std::time::Duration::ZERO)
        })
    };
    cell.set(doc_origin.clone()).unwrap();
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/clients/oauth_client.py");
    for mode in ["dcr", "cimd"] {
        let s = AuthServer::start(&[
            "--oauth-token-ttl",
            "3s",
            "--oauth-allow-loopback-client-documents",
        ]);
        let key = mcpgen_tests::notes::create_key(&s.data, "alice", "notes:read,notes:write", &[]);
        let mut cmd = Command::new(&c.python);
        cmd.arg(&script)
            .args([&s.resource, key["key"].as_str().unwrap(), mode]);
        let document = format!("{doc_origin}/python-client.json");
        if mode == "cimd" {
            cmd.arg(&document);
        }
        let out = cmd.env("HOME", &c.home).output().unwrap();
        assert!(
            out.status.success(),
            "{mode}: {}\n{}",
            text(&out),
            s.server.log()
        );
        let r = json_stdout(&out);
        // The handshake's 401 started the flow; the person allowed reading.
        assert_eq!(
            r["tools"],
            json!([
                "get_environment_status",
                "get_owned_note",
                "search_owned_notes",
                "verify_access"
            ]),
            "{mode}: {r}"
        );
        assert_eq!(r["found_error"], false);
        assert_eq!(
            r["consents"][0]["checkboxes"],
            json!(["grant:notes:read", "grant:notes:write"])
        );
        assert_eq!(r["consents"][0]["already"], json!([]));
        // Step-up: only the new scope is asked for; the note is created.
        assert_eq!(
            r["consents"][1]["checkboxes"],
            json!(["grant:notes:write"]),
            "{mode}: {r}"
        );
        assert_eq!(r["consents"][1]["already"], json!(["notes:read"]));
        assert_eq!(r["created_error"], false, "{mode}: {r}");
        assert_eq!(r["created"]["note"]["title"], "Via OAuth");
        assert_eq!(r["who"]["subject"], "alice");
        assert_eq!(r["who"]["auth_method"], "oauth");
        assert_eq!(
            r["after_refresh"]["notes"][0]["title"], "Via OAuth",
            "{mode}: {r}"
        );
        // Two code exchanges and at least one refresh.
        assert!(r["token_requests"].as_u64().unwrap() >= 3, "{mode}: {r}");
        match mode {
            "dcr" => {
                assert!(r["client_id"].as_str().unwrap().starts_with("mcpc_"));
                assert_eq!(r["registrations"], 1);
            }
            _ => {
                assert_eq!(r["client_id"], document.as_str());
                assert_eq!(r["registrations"], 0);
            }
        }
        let (_, log) = s.server.stop();
        assert!(!log.contains(key["key"].as_str().unwrap()));
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        let refreshed: i64 = rt.block_on(async {
            let db = mcpgen_tests::databases::open_for(&s.data).await;
            sqlx::query_scalar(
                "SELECT COUNT(*) FROM mcpgen_audit WHERE tool = 'oauth:refresh' AND reason = 'issued'",
            )
            .fetch_one(db.pool())
            .await
            .unwrap()
        });
        assert!(refreshed >= 1, "{mode}: the SDK refreshed");
    }
}

/// MCP Inspector's CLI connecting without a credential to a server with
/// nothing public meets the 401 at the handshake (its connect fails with
/// "auth required", exit code 3), not a session that fails later; the
/// server's access log shows the refusal was the handshake's.
#[test]
fn inspector_without_a_credential_is_told_to_authorize_at_the_handshake() {
    use mcpgen_tests::oauth::AuthServer;
    let s = AuthServer::start(&[]);
    let out = inspector(&[&s.resource, "--transport", "http", "--method", "tools/list"]);
    assert_eq!(out.status.code(), Some(3), "{}", text(&out));
    let said = text(&out).to_lowercase();
    assert!(said.contains("auth"), "{said}");
    // With a key, the same command works.
    let key = mcpgen_tests::notes::create_key(&s.data, "alice", "notes:read", &[]);
    let header = format!("Authorization: Bearer {}", key["key"].as_str().unwrap());
    let out = inspector(&[
        &s.resource,
        "--transport",
        "http",
        "--header",
        &header,
        "--method",
        "tools/list",
    ]);
    assert!(out.status.success(), "{}", text(&out));
}

/// MCP Inspector's CLI runs the whole OAuth flow itself (discovery,
/// registration, PKCE, its loopback callback listener): the test plays the
/// person at the URL it prints, signing in with an access key and allowing
/// on the consent page; Inspector receives the code on its callback,
/// exchanges it and lists the tools. No pasted token anywhere.
#[test]
fn inspector_runs_the_oauth_flow_with_a_person_at_the_consent_page() {
    use mcpgen_tests::oauth::{AuthServer, free_port, http};
    use std::io::BufRead as _;
    let c = clients();
    let s = AuthServer::start(&[]);
    let key = mcpgen_tests::notes::create_key(&s.data, "alice", "notes:read", &[]);
    let home = mcpgen_tests::process::scratch_dir("inspector-oauth-home");
    let callback = format!("http://127.0.0.1:{}/oauth/callback", free_port());
    let mut child = Command::new(&c.node)
        .arg(&c.inspector)
        .args([
            "--cli",
            &s.resource,
            "--transport",
            "http",
            "--method",
            "tools/list",
            "--format",
            "json",
        ])
        .args(["--callback-url", &callback])
        .env("HOME", &home)
        // No TTY here: let the CLI start interactive OAuth anyway (opening
        // a browser fails harmlessly; the URL is printed for the person).
        .env("MCP_AUTO_OPEN_ENABLED", "true")
        .env("NO_COLOR", "1")
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let stderr = child.stderr.take().unwrap();
    let (tx, rx) = std::sync::mpsc::channel();
    let log = std::sync::Arc::new(std::sync::Mutex::new(String::new()));
    let sink = std::sync::Arc::clone(&log);
    std::thread::spawn(move || {
        for line in std::io::BufReader::new(stderr)
            .lines()
            .map_while(Result::ok)
        {
            if let Some(url) = line.split("Please navigate to: ").nth(1) {
                let _ = tx.send(url.trim().to_owned());
            }
            sink.lock().unwrap().push_str(&format!("{line}\n"));
        }
    });
    let url = rx
        .recv_timeout(std::time::Duration::from_secs(60))
        .unwrap_or_else(|_| {
            panic!(
                "Inspector printed no authorization URL:\n{}",
                log.lock().unwrap()
            )
        });
    assert!(url.starts_with(&s.endpoint("authorize")), "{url}");
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(async {
        let page = s.open_url(&url).await;
        assert_eq!(page.status, 200, "{}", page.text());
        let consent = s
            .submit(
                &page,
                &[
                    ("access_key", key["key"].as_str().unwrap()),
                    ("action", "sign_in"),
                ],
            )
            .await;
        assert_eq!(consent.status, 200, "{}", consent.text());
        let done = s
            .submit(
                &consent,
                &[("grant:notes:read", "on"), ("action", "approve")],
            )
            .await;
        let back = done.location.expect("sent back to Inspector's callback");
        assert!(back.starts_with(&callback), "{back}");
        let answer = http().get(&back).send().await.unwrap();
        assert!(
            answer.status().is_success(),
            "Inspector's callback answered {}",
            answer.status()
        );
    });
    let out = child.wait_with_output().unwrap();
    assert!(
        out.status.success(),
        "{}\n{}",
        String::from_utf8_lossy(&out.stdout),
        log.lock().unwrap()
    );
    let list = json_stdout(&out);
    let text = list.to_string();
    for tool in ["search_owned_notes", "get_owned_note", "verify_access"] {
        assert!(text.contains(tool), "{tool}: {text}");
    }
    assert!(
        !text.contains("create_text_note"),
        "the grant was notes:read only: {text}"
    );
}
