//! The headline rule, end to end: remove the scopes of any tool in the real
//! `mcp-manifest.toml` and `cargo build` of the example app fails, naming
//! the tool and the manifest line; put them back and it builds again.
//!
//! The workspace is copied to a scratch directory under `target/` and built
//! by a real `cargo` (sharing a target directory so only the app rebuilds).

use std::path::{Path, PathBuf};
use std::process::Command;

const COPIED: &[&str] = &[
    "Cargo.toml",
    "Cargo.lock",
    "mcp-manifest.toml",
    "macros",
    "codegen",
    "runtime",
    "app",
    "tests/support",
];

fn copy_tree(from: &Path, to: &Path) {
    if from.is_dir() {
        std::fs::create_dir_all(to).unwrap();
        for entry in std::fs::read_dir(from).unwrap() {
            let entry = entry.unwrap();
            copy_tree(&entry.path(), &to.join(entry.file_name()));
        }
    } else {
        std::fs::create_dir_all(to.parent().unwrap()).unwrap();
        std::fs::copy(from, to).unwrap();
    }
}

fn build_app(workspace: &Path, target: &Path) -> (bool, String) {
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
    let out = Command::new(cargo)
        .args(["build", "--offline", "--quiet", "-p", "notes-app"])
        .current_dir(workspace)
        .env("CARGO_TARGET_DIR", target)
        .env_remove("RUSTFLAGS")
        .output()
        .expect("cargo runs");
    (
        out.status.success(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

/// `(tool name, 1-based line of its table header, line of its scopes key)`.
fn tools_with_scopes(manifest: &str) -> Vec<(String, usize, usize)> {
    let mut out = Vec::new();
    let mut current: Option<(String, usize)> = None;
    for (i, line) in manifest.lines().enumerate() {
        if let Some(name) = line
            .strip_prefix("[tools.")
            .and_then(|r| r.strip_suffix(']'))
        {
            current = Some((name.to_owned(), i + 1));
        } else if line.starts_with('[') {
            current = None;
        } else if line.starts_with("scopes = ")
            && let Some((name, header)) = &current
        {
            out.push((name.clone(), *header, i + 1));
        }
    }
    out
}

#[test]
fn removing_any_tools_scopes_fails_the_build_and_restoring_them_fixes_it() {
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
    let scratch = root.join("target/scope-drill");
    let workspace = scratch.join("workspace");
    let _ = std::fs::remove_dir_all(&workspace);
    for item in COPIED {
        copy_tree(&root.join(item), &workspace.join(item));
    }
    let target = scratch.join("target");
    let manifest_path = workspace.join("mcp-manifest.toml");
    let original = std::fs::read_to_string(&manifest_path).unwrap();
    let tools = tools_with_scopes(&original);
    assert_eq!(tools.len(), 3, "every example tool has scopes: {tools:?}");

    for (tool, header, scopes_line) in &tools {
        let stripped: String = original
            .lines()
            .enumerate()
            .filter(|(i, _)| i + 1 != *scopes_line)
            .map(|(_, l)| format!("{l}\n"))
            .collect();
        std::fs::write(&manifest_path, stripped).unwrap();
        let (ok, stderr) = build_app(&workspace, &target);
        assert!(!ok, "the app built with `{tool}` unscoped");
        let expected = format!("mcp-manifest.toml:{header}:8: tool `{tool}` has no scope");
        assert!(
            stderr.contains(&expected),
            "expected {expected:?} in:\n{stderr}"
        );
    }

    std::fs::write(&manifest_path, &original).unwrap();
    let (ok, stderr) = build_app(&workspace, &target);
    assert!(ok, "restoring the scopes builds again:\n{stderr}");
}
