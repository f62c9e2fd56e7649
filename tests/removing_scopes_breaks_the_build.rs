//! The headline rule, end to end: remove the scopes of any tool in the real
//! `mcp-manifest.toml` and `cargo build` of the example app fails, naming
//! the tool and the manifest line; put them back and it builds again.

use mcpgen_tests::workspace::Scratch;

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
    let ws = Scratch::new("scope-drill");
    let original = ws.read("mcp-manifest.toml");
    let tools = tools_with_scopes(&original);
    assert_eq!(tools.len(), 3, "every example tool has scopes: {tools:?}");

    for (tool, header, scopes_line) in &tools {
        let stripped: String = original
            .lines()
            .enumerate()
            .filter(|(i, _)| i + 1 != *scopes_line)
            .map(|(_, l)| format!("{l}\n"))
            .collect();
        ws.write("mcp-manifest.toml", &stripped);
        let (ok, stderr) = ws.cargo(&["build", "--quiet", "-p", "notes-app"]);
        assert!(!ok, "the app built with `{tool}` unscoped");
        let expected = format!("mcp-manifest.toml:{header}:8: tool `{tool}` has no scope");
        assert!(
            stderr.contains(&expected),
            "expected {expected:?} in:\n{stderr}"
        );
    }

    ws.write("mcp-manifest.toml", &original);
    let (ok, stderr) = ws.cargo(&["build", "--quiet", "-p", "notes-app"]);
    assert!(ok, "restoring the scopes builds again:\n{stderr}");
}
