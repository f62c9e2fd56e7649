//! The snapshot review a product's test calls
//! ([`crate::testing::review_artifacts`]): every artifact a reviewer reads
//! is kept as a file in the product's own `snapshots/` directory, and the
//! test fails when one changes, showing what changed and where the new
//! version was written.
//!
//! - A missing snapshot is written and the test passes (the first run of a
//!   new product, or a new tool): review it and commit it. In CI (`CI` set)
//!   a missing snapshot fails instead.
//! - A changed one fails and its new version is written beside it as
//!   `<name>.new`; `MCPGEN_ACCEPT=1 cargo test` accepts every change.
//! - A snapshot nothing produces any more fails too (delete it, or accept).

use std::collections::BTreeMap;
use std::path::Path;

use serde_json::{Value, json};

use crate::artifacts;
use crate::caller::Caller;
use crate::policy::Policy;
use crate::registry::{Registry, Tools};

/// What a product's reviewers read, by file name.
fn artifacts<S: Tools>(registry: &Registry<S>) -> BTreeMap<String, String> {
    let pretty = |v: &Value| format!("{}\n", serde_json::to_string_pretty(v).unwrap_or_default());
    let mut out = BTreeMap::new();
    for tool in registry.tools() {
        out.insert(
            format!("schema_{}.json", file_name(&tool.spec().name)),
            pretty(&json!({"input": tool.input_schema(), "output": tool.output_schema()})),
        );
    }
    for r in registry.resources() {
        out.insert(
            format!("resource_{}.json", file_name(&r.spec().name)),
            pretty(r.to_listing()),
        );
    }
    for p in registry.prompts() {
        out.insert(
            format!("prompt_{}.json", file_name(&p.spec().name)),
            pretty(p.to_listing()),
        );
    }
    out.insert(
        "scope_matrix.json".into(),
        pretty(&artifacts::scope_matrix(registry)),
    );
    out.insert(
        "scope_matrix.md".into(),
        artifacts::scope_matrix_markdown(registry),
    );
    out.insert(
        "protected_resource_metadata.json".into(),
        pretty(&artifacts::resource_metadata::<S>()),
    );
    out.insert(
        "environments.json".into(),
        pretty(&artifacts::environment_statuses::<S>("(version)")),
    );
    out
}

/// `tools/list` as each role sees it, in the first environment that
/// allows writes (so write tools show): anonymous, each scope alone, every
/// scope.
fn listings<S: Tools>(registry: &Registry<S>) -> BTreeMap<String, String> {
    let manifest = S::manifest();
    let envs = manifest.environments();
    let env = envs
        .iter()
        .find(|e| e.enabled && e.writes)
        .or_else(|| envs.first())
        .cloned()
        .unwrap_or(mcpgen_spec::EnvironmentSpec::IMPLICIT_LOCAL);
    let policy = Policy::new(manifest, env, registry.tools().iter().map(|t| t.spec()), 0);
    let scopes: Vec<String> = manifest.scopes.iter().map(|s| s.name.to_string()).collect();
    let mut roles: Vec<(String, Option<Caller>)> = vec![("anonymous".into(), None)];
    for s in &scopes {
        roles.push((
            format!("scope_{}", file_name(s)),
            Some(Caller::new("reviewer", [s.clone()], None)),
        ));
    }
    roles.push((
        "all_scopes".into(),
        Some(Caller::new("reviewer", scopes.clone(), None)),
    ));
    roles
        .into_iter()
        .map(|(role, caller)| {
            let names: Vec<&str> = registry
                .tools()
                .iter()
                .filter(|t| policy.permits(t.spec(), caller.as_ref()).is_ok())
                .map(|t| &*t.spec().name)
                .collect();
            (
                format!("tools_list_{role}.json"),
                format!(
                    "{}\n",
                    serde_json::to_string_pretty(&names).unwrap_or_default()
                ),
            )
        })
        .collect()
}

/// A name safe as a file name.
fn file_name(name: &str) -> String {
    name.chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '_' || c == '-' {
                c
            } else {
                '_'
            }
        })
        .collect()
}

fn in_ci() -> bool {
    std::env::var("CI").is_ok_and(|v| !v.is_empty() && v != "false" && v != "0")
}

fn accepting() -> bool {
    std::env::var("MCPGEN_ACCEPT").is_ok_and(|v| !v.is_empty() && v != "0")
}

/// Compare every artifact of `S` with its snapshot in `dir`, an absolute
/// path: each tool's input and output schemas (`schema_<tool>.json`), each
/// resource's and prompt's listing (`resource_<name>.json`,
/// `prompt_<name>.json`), `tools/list` as each role sees it
/// (`tools_list_<role>.json`), the scope
/// matrix (`.json` and `.md`), the protected-resource metadata, and each
/// environment's status.
///
/// A missing snapshot is written and passes (the first run, a new tool;
/// in CI, with `CI` set, it fails); a changed one fails, showing the lines
/// that changed, its new version written beside it as `<name>.new`; one
/// nothing produces any more fails. `MCPGEN_ACCEPT=1 cargo test` accepts
/// every change.
///
/// # Panics
///
/// When a snapshot differs (that is the test failing), or the directory
/// cannot be written.
pub fn review_artifacts<S: Tools>(dir: &str) {
    let registry = S::registry().unwrap_or_else(|e| panic!("{e}"));
    let mut current = artifacts::<S>(&registry);
    current.extend(listings(&registry));
    let problems = compare(Path::new(dir), &current, in_ci(), accepting());
    assert!(problems.is_empty(), "\n{}\n", problems.join("\n\n"));
}

/// Compare `current` (file name -> text) with the files in `dir`; fix the
/// directory as the rules say; the problems to report.
fn compare(dir: &Path, current: &BTreeMap<String, String>, ci: bool, accept: bool) -> Vec<String> {
    let mut problems = Vec::new();
    let _ = std::fs::create_dir_all(dir);
    for (name, text) in current {
        let path = dir.join(name);
        let fresh = path.with_file_name(format!("{name}.new"));
        match std::fs::read_to_string(&path) {
            Ok(old) if old == *text => {
                let _ = std::fs::remove_file(&fresh);
            }
            Ok(_) if accept => {
                write(&path, text);
                let _ = std::fs::remove_file(&fresh);
            }
            Ok(old) => {
                write(&fresh, text);
                problems.push(format!(
                    "snapshot {} changed (new version in {}); review it, then accept with MCPGEN_ACCEPT=1 cargo test:\n{}",
                    path.display(),
                    fresh.display(),
                    diff(&old, text)
                ));
            }
            Err(_) if ci && !accept => problems.push(format!(
                "snapshot {} is missing: run the tests locally, review the new file and commit it",
                path.display()
            )),
            Err(_) => {
                write(&path, text);
                eprintln!("new snapshot {}: review it and commit it", path.display());
            }
        }
    }
    if let Ok(entries) = std::fs::read_dir(dir) {
        for entry in entries.flatten() {
            let name = entry.file_name().to_string_lossy().into_owned();
            if name.ends_with(".new") || current.contains_key(&name) {
                continue;
            }
            if accept {
                let _ = std::fs::remove_file(entry.path());
            } else {
                problems.push(format!(
                    "snapshot {} is no longer produced: delete it (or accept with MCPGEN_ACCEPT=1 cargo test)",
                    entry.path().display()
                ));
            }
        }
    }
    problems
}

fn write(path: &Path, text: &str) {
    std::fs::write(path, text).unwrap_or_else(|e| panic!("cannot write {}: {e}", path.display()));
}

/// The lines that differ, `-` old and `+` new, with the common lines
/// around them elided (a longest-common-subsequence diff).
fn diff(old: &str, new: &str) -> String {
    let a: Vec<&str> = old.lines().collect();
    let b: Vec<&str> = new.lines().collect();
    let mut lcs = vec![vec![0usize; b.len() + 1]; a.len() + 1];
    for i in (0..a.len()).rev() {
        for j in (0..b.len()).rev() {
            lcs[i][j] = if a[i] == b[j] {
                lcs[i + 1][j + 1] + 1
            } else {
                lcs[i + 1][j].max(lcs[i][j + 1])
            };
        }
    }
    let (mut i, mut j) = (0, 0);
    let mut out = Vec::new();
    while i < a.len() || j < b.len() {
        if i < a.len() && j < b.len() && a[i] == b[j] {
            i += 1;
            j += 1;
        } else if i < a.len() && (j == b.len() || lcs[i + 1][j] >= lcs[i][j + 1]) {
            out.push(format!("- {}", a[i]));
            i += 1;
        } else {
            out.push(format!("+ {}", b[j]));
            j += 1;
        }
    }
    out.join("\n")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn new_snapshots_are_written_changed_ones_fail_and_accepting_fixes_both() {
        let dir = std::env::temp_dir().join(format!("mcpgen-review-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        let mut current = BTreeMap::new();
        current.insert("a.json".to_owned(), "1\n2\n3\n".to_owned());
        // First run: written, no problem; in CI: a problem.
        assert!(!compare(&dir, &current, true, false).is_empty());
        assert!(compare(&dir, &current, false, false).is_empty());
        assert_eq!(
            std::fs::read_to_string(dir.join("a.json")).unwrap(),
            "1\n2\n3\n"
        );
        // A change: a problem naming the lines, the new version beside it.
        current.insert("a.json".to_owned(), "1\nTWO\n3\n".to_owned());
        let problems = compare(&dir, &current, false, false);
        assert_eq!(problems.len(), 1);
        assert!(problems[0].contains("- 2\n+ TWO"), "{}", problems[0]);
        assert!(dir.join("a.json.new").exists());
        // A snapshot nothing produces any more.
        std::fs::write(dir.join("stale.json"), "x").unwrap();
        assert_eq!(compare(&dir, &current, false, false).len(), 2);
        // Accepting takes the change and drops the stale file.
        assert!(compare(&dir, &current, false, true).is_empty());
        assert_eq!(
            std::fs::read_to_string(dir.join("a.json")).unwrap(),
            "1\nTWO\n3\n"
        );
        assert!(!dir.join("stale.json").exists() && !dir.join("a.json.new").exists());
        assert!(compare(&dir, &current, true, false).is_empty());
        let _ = std::fs::remove_dir_all(&dir);
    }
}
