//! The model built in code, without a manifest file: the checks and the
//! runtime's view of it work on it as on a parsed one.

use mcpgen_codegen::check::check;
use mcpgen_codegen::model::{Access, DataKind, Model, RuntimeKind, Tool};

fn notes() -> Model {
    Model::new("notes", "https://mcp.example.com/mcp")
        .with_scope("notes:write", "Create notes", Access::Write)
        .with_scope("notes:read", "Read your notes", Access::Read)
        .with_record("note", "notes", "id", "owner_id")
        .with_environment(
            "preview",
            RuntimeKind::Preview,
            DataKind::Production,
            Some(false),
        )
        .with_tool(
            Tool::new("search", "Search your notes.", Access::Read)
                .scopes(&["notes:read"])
                .records("note"),
        )
        .with_tool(Tool::new("create", "Create a note.", Access::Write).scopes(&["notes:write"]))
}

#[test]
fn a_model_built_in_code_passes_the_checks_and_becomes_the_runtime_spec() {
    let model = notes();
    assert_eq!(check(&model), vec![]);
    let spec = model.spec();
    let scopes: Vec<&str> = spec.scopes.iter().map(|s| &*s.name).collect();
    assert_eq!(scopes, ["notes:read", "notes:write"], "sorted by name");
    assert!(!spec.environments[0].writes);
    assert_eq!(spec.record("note").map(|r| &*r.owner), Some("owner_id"));
    let create = model.tool("create").unwrap().spec("m.toml");
    assert_eq!(
        create.annotations.destructive_hint,
        Some(true),
        "cautious by default"
    );
    assert_eq!(create.annotations.idempotent_hint, Some(false));
    assert_eq!(&*create.declared_at, "m.toml:0:0");
}

#[test]
fn the_checks_find_a_tool_with_no_scope_in_a_model_built_in_code() {
    let model = notes().with_tool(Tool::new("export", "Export everything.", Access::Read));
    let problems: Vec<String> = check(&model).iter().map(|d| d.message.clone()).collect();
    assert_eq!(
        problems,
        [
            "tool `export` has no scope, so any caller could use it: add `scopes = [\"notes:read\"]` \
          to [tools.export], or `public = true` if it must be callable without a credential"
        ]
    );
    let model = notes().with_tool(Tool::new("leak", "Public write.", Access::Write).public());
    assert!(
        check(&model).iter().any(|d| d
            .message
            .contains("is `public = true` and `access = \"write\"`")),
        "a public write tool is refused"
    );
}
