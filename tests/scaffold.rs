//! `mcpgen new` as a new user runs it: a product created outside this
//! workspace, depending on this checkout by path, built by a real `cargo`,
//! its own tests run, its binary served and called over HTTP; then the
//! ways it can go wrong (a migration added without a rebuild, an example
//! that no longer passes validation, a manifest with several mistakes).

use std::path::{Path, PathBuf};
use std::process::Command;

use mcpgen_tests::databases::data_args;
use mcpgen_tests::notes::post;
use mcpgen_tests::process::{HttpServer, scratch_dir};
use serde_json::{Value, json};

/// The repository root.
fn repo() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

fn cargo() -> String {
    std::env::var("CARGO").unwrap_or_else(|_| "cargo".into())
}

/// Builds share the scratch target directory of the other build tests,
/// so the dependencies compiled there are reused.
fn target_dir() -> PathBuf {
    repo().join("target/scratch-target")
}

/// The `mcpgen` command, built from this checkout.
fn mcpgen_bin() -> PathBuf {
    let out = Command::new(cargo())
        .args([
            "build",
            "--quiet",
            "-p",
            "mcpgen-codegen",
            "--bin",
            "mcpgen",
        ])
        .current_dir(repo())
        .output()
        .expect("cargo runs");
    assert!(
        out.status.success(),
        "building mcpgen: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    std::env::var("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|_| repo().join("target"))
        .join("debug/mcpgen")
}

/// A product made by `mcpgen new` in a directory outside this workspace.
struct Product {
    dir: PathBuf,
    name: &'static str,
}

impl Product {
    fn new(name: &'static str) -> Self {
        let base = std::env::temp_dir().join(format!("mcpgen-scaffold-{}", std::process::id()));
        let dir = base.join(name);
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&base).unwrap();
        let out = Command::new(mcpgen_bin())
            .args(["new", name, "--path"])
            .arg(&dir)
            .arg("--mcpgen-path")
            .arg(repo())
            .output()
            .expect("mcpgen runs");
        let stdout = String::from_utf8_lossy(&out.stdout);
        assert!(
            out.status.success(),
            "mcpgen new: {stdout}{}",
            String::from_utf8_lossy(&out.stderr)
        );
        assert!(stdout.contains("cargo run -- serve") && stdout.contains("cargo test"));
        // The versions this checkout is tested with, and no network.
        std::fs::copy(repo().join("Cargo.lock"), dir.join("Cargo.lock")).unwrap();
        Self { dir, name }
    }

    fn read(&self, file: &str) -> String {
        std::fs::read_to_string(self.dir.join(file)).unwrap()
    }

    fn write(&self, file: &str, text: &str) {
        std::fs::write(self.dir.join(file), text).unwrap();
    }

    /// `cargo ARGS` in the product, without `CI` in the environment unless
    /// `ci`; success and everything it printed.
    fn cargo(&self, args: &[&str], ci: bool) -> (bool, String) {
        let mut cmd = Command::new(cargo());
        cmd.args(args)
            .arg("--offline")
            .current_dir(&self.dir)
            .env("CARGO_TARGET_DIR", target_dir())
            .env_remove("RUSTFLAGS")
            .env_remove("MCPGEN_ACCEPT")
            .env_remove("CI");
        if ci {
            cmd.env("CI", "true");
        }
        let out = cmd.output().expect("cargo runs");
        (
            out.status.success(),
            format!(
                "{}{}",
                String::from_utf8_lossy(&out.stdout),
                String::from_utf8_lossy(&out.stderr)
            ),
        )
    }

    fn bin(&self) -> PathBuf {
        target_dir().join("debug").join(self.name)
    }

    /// Run the product's binary with the storage of `data`.
    fn cli(&self, data: &Path, args: &[&str]) -> (bool, String, String) {
        let out = Command::new(self.bin())
            .args(data_args(data))
            .args(args)
            .output()
            .expect("the product runs");
        (
            out.status.success(),
            String::from_utf8_lossy(&out.stdout).into_owned(),
            String::from_utf8_lossy(&out.stderr).into_owned(),
        )
    }
}

fn call(tool: &str, arguments: Value) -> Value {
    json!({"jsonrpc": "2.0", "id": 1, "method": "tools/call",
           "params": {"name": tool, "arguments": arguments}})
}

#[tokio::test(flavor = "multi_thread")]
async fn a_new_product_builds_passes_its_tests_and_serves_outside_the_workspace() {
    let product = Product::new("tasks-mcp");
    assert!(
        product.read("Cargo.toml").contains(&format!(
            "path = {:?}",
            repo().join("runtime").to_string_lossy()
        )),
        "the product depends on this checkout's runtime"
    );
    // One dependency: the product names mcpgen and nothing else.
    let cargo_toml = product.read("Cargo.toml");
    let deps = cargo_toml
        .split("[dependencies]")
        .nth(1)
        .unwrap()
        .split("\n[")
        .next()
        .unwrap();
    let named: Vec<&str> = deps
        .lines()
        .filter(|l| !l.trim().is_empty() && !l.trim_start().starts_with('#'))
        .collect();
    assert_eq!(named.len(), 1, "{named:?}");
    assert!(named[0].starts_with("mcpgen = "));

    // Written as rustfmt would.
    let fmt = Command::new(cargo())
        .args(["fmt", "--check"])
        .current_dir(&product.dir)
        .output()
        .unwrap();
    assert!(
        fmt.status.success(),
        "{}",
        String::from_utf8_lossy(&fmt.stdout)
    );

    // Its tests: the generated policy tests (add_task's validation needs
    // the manifest's example), the migrations, and the artifact review,
    // which writes the snapshots on the first run...
    let (ok, out) = product.cargo(&["test"], false);
    assert!(ok, "cargo test in the new product:\n{out}");
    for test in [
        "mcpgen_policy_add_task",
        "mcpgen_policy_get_owned_task",
        "mcpgen_migrations_are_current",
        "artifacts_are_reviewed",
        "dates_are_checked",
    ] {
        assert!(out.contains(test), "{test} did not run:\n{out}");
    }
    for snapshot in [
        "schema_add_task.json",
        "scope_matrix.md",
        "protected_resource_metadata.json",
        "tools_list_anonymous.json",
        "tools_list_scope_tasks_read.json",
    ] {
        assert!(
            product.dir.join("snapshots").join(snapshot).exists(),
            "{snapshot} was not written"
        );
    }
    assert_eq!(
        serde_json::from_str::<Value>(&product.read("snapshots/tools_list_anonymous.json"))
            .unwrap(),
        json!(["task_limits"]),
    );
    // ...and holds to them after, as CI runs it.
    let (ok, out) = product.cargo(&["test"], true);
    assert!(ok, "second cargo test, with CI set:\n{out}");

    // A reviewer sees a change: an input field's documentation moves, the
    // review fails showing the difference, and accepting takes it.
    let lib = product.read("src/lib.rs");
    product.write(
        "src/lib.rs",
        &lib.replace(
            "/// What to do, 1 to 200 characters.",
            "/// The task itself.",
        ),
    );
    let (ok, out) = product.cargo(&["test", "--test", "artifacts"], false);
    assert!(!ok, "a changed artifact must fail the review");
    assert!(
        out.contains("schema_add_task.json changed")
            && out.contains("- ")
            && out.contains("+ ")
            && out.contains("The task itself."),
        "{out}"
    );
    assert!(
        product
            .dir
            .join("snapshots/schema_add_task.json.new")
            .exists()
    );
    let mut accept = Command::new(cargo());
    let accepted = accept
        .args(["test", "--offline", "--test", "artifacts"])
        .current_dir(&product.dir)
        .env("CARGO_TARGET_DIR", target_dir())
        .env("MCPGEN_ACCEPT", "1")
        .env_remove("CI")
        .output()
        .unwrap();
    assert!(accepted.status.success());
    assert!(
        product
            .read("snapshots/schema_add_task.json")
            .contains("The task itself.")
    );
    assert!(
        !product
            .dir
            .join("snapshots/schema_add_task.json.new")
            .exists()
    );

    // The binary serves at once, and names itself as it is.
    let (ok, out) = product.cargo(&["build"], false);
    assert!(ok, "{out}");
    let data = scratch_dir("scaffold");
    let mut cmd = Command::new(product.bin());
    cmd.args(["serve", "--listen", "127.0.0.1:0"])
        .args(data_args(&data));
    let server = HttpServer::from_command(cmd);
    let banner = server.log_with("credentials:");
    assert!(
        banner.contains("`tasks-mcp token mint --sub you"),
        "the banner's instructions name the command:\n{banner}"
    );
    let mint = |sub: &str| {
        let (ok, token, err) = product.cli(
            &data,
            &[
                "token",
                "mint",
                "--sub",
                sub,
                "--scopes",
                "tasks:read,tasks:write",
            ],
        );
        assert!(ok, "{err}");
        token.trim().to_owned()
    };
    let (alice, bob) = (mint("alice"), mint("bob"));

    // Anonymous: the public tool only, and a challenge for the rest.
    let list = json!({"jsonrpc": "2.0", "id": 1, "method": "tools/list"});
    let anonymous = post(&server.url, None, &list).await;
    let names: Vec<&str> = anonymous.body["result"]["tools"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|t| t["name"].as_str())
        .collect();
    assert_eq!(names, ["task_limits"], "{}", anonymous.raw);
    let limits = post(&server.url, None, &call("task_limits", json!({}))).await;
    assert_eq!(
        limits.body["result"]["structuredContent"]["max_title"], 200,
        "{}",
        limits.raw
    );
    let refused = post(&server.url, None, &call("list_owned_tasks", json!({}))).await;
    assert_eq!(refused.status, 401);

    // Alice adds a task and reads it back; bob cannot see it.
    let added = post(
        &server.url,
        Some(&alice),
        &call(
            "add_task",
            json!({"title": "Water the plants", "due": "2026-12-31"}),
        ),
    )
    .await;
    let task = added.body["result"]["structuredContent"].clone();
    let id = task["id"]
        .as_str()
        .unwrap_or_else(|| panic!("{}", added.raw));
    let got = post(
        &server.url,
        Some(&alice),
        &call("get_owned_task", json!({"id": id})),
    )
    .await;
    assert_eq!(got.body["result"]["structuredContent"], task);
    let listed = post(
        &server.url,
        Some(&alice),
        &call("list_owned_tasks", json!({})),
    )
    .await;
    assert_eq!(
        listed.body["result"]["structuredContent"]["tasks"],
        json!([task])
    );
    let foreign = post(
        &server.url,
        Some(&bob),
        &call("get_owned_task", json!({"id": id})),
    )
    .await;
    let missing = post(
        &server.url,
        Some(&bob),
        &call("get_owned_task", json!({"id": "task_missing"})),
    )
    .await;
    assert_eq!(
        foreign.body, missing.body,
        "another subject's task is not found"
    );
    assert_eq!(foreign.body["result"]["isError"], true);
    let empty = post(
        &server.url,
        Some(&bob),
        &call("list_owned_tasks", json!({})),
    )
    .await;
    assert_eq!(
        empty.body["result"]["structuredContent"]["tasks"],
        json!([])
    );
    // The handler's own validation, as a tool error.
    let bad = post(
        &server.url,
        Some(&alice),
        &call("add_task", json!({"title": "x", "due": "2026-13-45"})),
    )
    .await;
    assert_eq!(bad.body["result"]["isError"], true, "{}", bad.raw);
    assert!(bad.raw.contains("due must be a date"), "{}", bad.raw);
    let _ = server.stop();
}

#[test]
fn a_migration_added_rebuilds_the_product_or_its_test_says_rebuild() {
    let product = Product::new("tracked-mcp");
    let (ok, out) = product.cargo(&["build"], false);
    assert!(ok, "{out}");
    // With build.rs (as scaffolded): a new file rebuilds the product.
    product.write(
        "migrations/0002_add_notes.sql",
        "ALTER TABLE tasks ADD COLUMN notes TEXT;\n",
    );
    let (ok, out) = product.cargo(&["build", "-v"], false);
    assert!(ok, "{out}");
    assert!(
        out.contains("Running `") && out.contains("--crate-name tracked_mcp"),
        "adding a migration did not rebuild the product:\n{out}"
    );
    let (ok, out) = product.cargo(&["test", "--lib", "mcpgen_migrations_are_current"], false);
    assert!(ok, "{out}");

    // Without it, the generated test catches what cargo did not rebuild.
    std::fs::remove_file(product.dir.join("build.rs")).unwrap();
    let (ok, out) = product.cargo(&["test", "--lib", "mcpgen_migrations_are_current"], false);
    assert!(ok, "{out}");
    product.write(
        "migrations/0003_add_done.sql",
        "ALTER TABLE tasks ADD COLUMN done BIGINT;\n",
    );
    let (ok, out) = product.cargo(&["test", "--lib", "mcpgen_migrations_are_current"], false);
    assert!(!ok, "a migration the binary does not embed must fail");
    assert!(
        out.contains("rebuild: migrations changed") && out.contains("0003 add done"),
        "{out}"
    );
}

#[test]
fn generated_tests_take_the_example_and_a_test_app_and_say_what_is_missing() {
    let product = Product::new("example-mcp");
    let manifest = product.read("mcp-manifest.toml");
    // Without an example, the "smallest valid" due date is not a date: the
    // ownership test cannot make a task, and says how to fix it.
    product.write(
        "mcp-manifest.toml",
        &manifest
            .lines()
            .filter(|l| !l.starts_with("example = "))
            .collect::<Vec<_>>()
            .join("\n"),
    );
    let (ok, out) = product.cargo(&["test", "--lib", "mcpgen_policy_get_owned_task"], false);
    assert!(!ok, "the ownership test cannot run without a task");
    assert!(
        out.contains("example = { ... }` under [tools.add_task]"),
        "{out}"
    );
    // An example that breaks the input schema is named with its line.
    product.write(
        "mcp-manifest.toml",
        &manifest.replace(
            "example = { title = \"Water the plants\", due = \"2026-12-31\" }",
            "example = { title = \"Water the plants\", due = \"soon\", priority = 1 }",
        ),
    );
    let (ok, out) = product.cargo(&["test", "--lib", "mcpgen_policy_get_owned_task"], false);
    assert!(!ok);
    assert!(
        out.contains("its manifest `example`") && out.contains("mcp-manifest.toml:"),
        "{out}"
    );

    // No `Default`: the generated tests say how to make the app...
    product.write("mcp-manifest.toml", &manifest);
    let lib = product.read("src/lib.rs");
    let no_default = lib.replace(
        "#[derive(Debug, Clone, Default)]\npub struct Tasks;",
        "#[derive(Debug, Clone)]\npub struct Tasks;",
    );
    assert_ne!(no_default, lib);
    product.write("src/lib.rs", &no_default);
    let (ok, out) = product.cargo(&["test", "--lib", "--no-run"], false);
    assert!(
        !ok,
        "without Default or test_app the generated tests cannot build"
    );
    assert!(
        out.contains("the generated tests cannot make a `Tasks`") && out.contains("test_app = "),
        "{out}"
    );
    // ...and with a constructor named, they run.
    product.write(
        "src/lib.rs",
        &no_default.replace(
            r#"#[mcpgen::tools(manifest = "mcp-manifest.toml", migrations = "migrations")]"#,
            r#"#[mcpgen::tools(manifest = "mcp-manifest.toml", migrations = "migrations", test_app = "Tasks")]"#,
        ),
    );
    let (ok, out) = product.cargo(&["test", "--lib"], false);
    assert!(ok, "{out}");
    assert!(out.contains("mcpgen_policy_add_task ... ok"), "{out}");
}

#[test]
fn mcpgen_check_reports_every_manifest_mistake_without_building() {
    let product = Product::new("check-mcp");
    let check = |file: &str| {
        let out = Command::new(mcpgen_bin())
            .arg("check")
            .arg(product.dir.join(file))
            .output()
            .unwrap();
        (
            out.status.success(),
            format!(
                "{}{}",
                String::from_utf8_lossy(&out.stdout),
                String::from_utf8_lossy(&out.stderr)
            ),
        )
    };
    let (ok, out) = check("mcp-manifest.toml");
    assert!(ok, "{out}");
    assert!(out.contains("no mistakes"));

    // An unknown key, a tool with no scope, an undeclared record kind:
    // all three, with their lines.
    let manifest = product.read("mcp-manifest.toml");
    let broken = manifest
        .replace("title = \"List tasks\"", "titel = \"List tasks\"")
        .replace(
            "description = \"One of the caller's tasks, by id.\"\naccess = \"read\"\nscopes = [\"tasks:read\"]",
            "description = \"One of the caller's tasks, by id.\"\naccess = \"read\"",
        )
        .replace(
            "scopes = [\"tasks:write\"]\nrecords = \"task\"",
            "scopes = [\"tasks:write\"]\nrecords = \"tsak\"",
        );
    product.write("broken.toml", &broken);
    let (ok, out) = check("broken.toml");
    assert!(!ok);
    let line_of = |needle: &str| {
        broken
            .lines()
            .position(|l| l.contains(needle))
            .map(|i| i + 1)
            .unwrap()
    };
    for (needle, says) in [
        ("titel = ", "unknown field `titel`"),
        (
            "[tools.get_owned_task]",
            "tool `get_owned_task` has no scope",
        ),
        ("records = \"tsak\"", "record kind `tsak`"),
    ] {
        let at = format!("broken.toml:{}:", line_of(needle));
        assert!(
            out.lines().any(|l| l.contains(&at) && l.contains(says)),
            "expected `{says}` at {at} in:\n{out}"
        );
    }
    assert!(out.contains("3 mistakes"), "{out}");
}
