//! Reading manifests: positions, every mistake in one pass, and the model.

use mcpgen_codegen::check::{check, is_valid_tool_name};
use mcpgen_codegen::manifest::parse;
use mcpgen_codegen::model::{Access, DataKind, Loc, Model};

const BASE: &str = r#"[server]
name = "t"

[resource]
uri = "https://mcp.example.com/mcp"
authorization_servers = ["https://auth.example.com"]

[scopes]
"a:read" = { description = "Read", access = "read" }
"a:write" = { description = "Write", access = "write" }
"#;

fn model(extra: &str) -> Model {
    parse(&format!("{BASE}{extra}")).unwrap_or_else(|e| panic!("{e:?}"))
}

fn problems(extra: &str) -> Vec<String> {
    let text = format!("{BASE}{extra}");
    match parse(&text) {
        Err(diags) => diags.iter().map(|d| d.render("m.toml")).collect(),
        Ok(m) => check(&m).iter().map(|d| d.render("m.toml")).collect(),
    }
}

#[test]
fn the_example_manifest_is_valid() {
    let text = include_str!("../../mcp-manifest.toml");
    let m = parse(text).expect("the example manifest parses");
    assert_eq!(check(&m), vec![], "the example manifest passes every check");
    let names: Vec<&str> = m.tools.iter().map(|t| t.name.value.as_str()).collect();
    assert_eq!(
        names,
        ["create_text_note", "get_owned_note", "search_owned_notes"]
    );
    let preview = m
        .environments
        .iter()
        .find(|e| e.name.value == "preview")
        .expect("a preview environment");
    assert_eq!(preview.data.value, DataKind::Production);
    assert!(!preview.writes());
}

#[test]
fn positions_are_lines_and_character_columns() {
    let m = model(
        "\n[tools.\"résumé\"]\ndescription = \"é\"\naccess = \"read\"\nscopes = [\"a:read\"]\n",
    );
    let tool = &m.tools[0];
    assert_eq!(tool.name.loc, Loc { line: 12, col: 8 });
    assert_eq!(tool.description.loc, Loc { line: 13, col: 15 });
    assert_eq!(tool.access.value, Access::Read);
    // The scope string's column is counted in characters, after `scopes = [`.
    assert_eq!(
        tool.scopes.as_ref().unwrap().value[0].loc,
        Loc { line: 15, col: 11 }
    );
}

/// An unknown key is reported and left out, and the entry read without
/// it: its other unknown keys (nested ones too) and the policy errors the
/// entry itself has come in the same pass.
#[test]
fn unknown_keys_do_not_hide_the_entry() {
    let text = format!(
        "{BASE}{}",
        r#"
[tools.one]
description = "One"
access = "read"
scope = ["a:read"]
annotations = { open_wrld = false }
limit = 3
"#
    );
    let reading = mcpgen_codegen::manifest::read(&text);
    let errors: Vec<String> = reading.errors.iter().map(|d| d.render("m.toml")).collect();
    assert_eq!(errors.len(), 3, "{errors:?}");
    assert!(
        errors[0].starts_with("m.toml:15:1: in [tools.one]: unknown field `scope`"),
        "{errors:?}"
    );
    assert!(
        errors[1].starts_with("m.toml:16:17: in [tools.one]: unknown field `open_wrld`"),
        "{errors:?}"
    );
    assert!(
        errors[2].starts_with("m.toml:17:1: in [tools.one]: unknown field `limit`"),
        "{errors:?}"
    );
    let model = reading.model.expect("the rest of the manifest is read");
    assert!(
        model.tool("one").is_some(),
        "the entry survives its unknown keys"
    );
    assert!(reading.left_out.is_empty());
    // ...so the policy sees it, and `mcpgen check` says all four.
    let all: Vec<String> = mcpgen_codegen::check_manifest(&text)
        .iter()
        .map(|d| d.render("m.toml"))
        .collect();
    assert_eq!(all.len(), 4, "{all:?}");
    assert!(
        all.iter().any(|e| e.contains("tool `one` has no scope")),
        "{all:?}"
    );
}

/// An entry that cannot be read at all is left out, and named as such.
#[test]
fn unreadable_entries_are_left_out_by_name() {
    let reading = mcpgen_codegen::manifest::read(&format!(
        "{BASE}{}",
        "\n[tools.one]\ndescription = 1\naccess = \"read\"\n"
    ));
    assert!(reading.left_out("tools", "one"));
    assert!(reading.model.is_some_and(|m| m.tool("one").is_none()));
}

#[test]
fn every_structural_mistake_is_reported_in_one_pass() {
    let got = problems(
        r#"
[tools.one]
description = "One"
access = "read"
scop = ["a:read"]

[tools.two]
description = "Two"
access = "sometimes"
scopes = ["a:read"]

[records.note]
table = "notes"
id = "id"

[environments.local]
runtime = "laptop"
data = "local"
"#,
    );
    assert_eq!(
        got,
        [
            "m.toml:15:1: in [tools.one]: unknown field `scop`, expected one of `title`, `description`, `access`, `scopes`, `public`, `records`, `annotations`, `calls_per_minute`, `timeout_ms`, `example`, `confirm`, `without_elicitation`",
            "m.toml:19:10: in [tools.two]: unknown variant `sometimes`, expected `read` or `write`",
            "m.toml:22:1: in [records.note]: missing field `owner`",
            "m.toml:27:11: in [environments.local]: unknown variant `laptop`, expected one of `local`, `test`, `preview`, `staging`, `production`",
        ]
    );
}

#[test]
fn every_policy_mistake_is_reported_in_manifest_order() {
    let got = problems(
        r#"
[clients]
"c" = { tools = ["nope"] }

[tools.open]
description = "Open"
access = "read"

[tools.write_with_read]
description = "W"
access = "write"
scopes = ["a:read", "a:read"]

[tools.reader]
description = " "
access = "read"
scopes = ["a:read"]
annotations = { destructive = false }
"#,
    );
    assert_eq!(
        got,
        [
            "m.toml:13:18: client \"c\" allows tool `nope`, which the manifest does not declare (did you mean `open`?)",
            "m.toml:15:8: tool `open` has no scope, so any caller could use it: add `scopes = [\"a:read\"]` to [tools.open], or `public = true` if it must be callable without a credential",
            "m.toml:21:10: tool `write_with_read` writes, but every scope it requires only grants reading: add a write scope, e.g. `scopes = [\"a:write\"]`, or declare it `access = \"read\"` if it does not write",
            "m.toml:22:21: tool `write_with_read` lists scope `a:read` twice",
            "m.toml:25:15: tool `reader` has an empty description: say what it does, for the model that will call it",
            "m.toml:28:31: tool `reader` is `access = \"read\"`, so it is read-only by definition: remove `destructive` from its annotations (it applies to write tools only)",
        ]
    );
}

#[test]
fn the_admin_scope_is_the_runtime_s_and_no_manifest_declares_it() {
    let text = BASE.replace(
        "\"a:write\" = ",
        "\"mcpgen:admin\" = { description = \"Operate\", access = \"write\" }\n\"mcpgen:x\" = ",
    );
    let m = parse(&text).expect("parses");
    let got: Vec<String> = check(&m).iter().map(|d| d.render("m.toml")).collect();
    assert_eq!(
        got,
        [
            "m.toml:10:1: scope `mcpgen:admin` is reserved: scopes starting with `mcpgen:` belong to the mcpgen runtime (`mcpgen:admin` opens the admin listener). Name the product's scope after the product, e.g. \"notes:read\"",
            "m.toml:11:1: scope `mcpgen:x` is reserved: scopes starting with `mcpgen:` belong to the mcpgen runtime (`mcpgen:admin` opens the admin listener). Name the product's scope after the product, e.g. \"notes:read\"",
        ]
    );
}

#[test]
fn resource_and_server_rules() {
    let text = r#"[server]
name = "has space"

[resource]
uri = "/mcp"
authorization_servers = []
"#;
    let m = parse(text).expect("parses");
    let got: Vec<String> = check(&m).iter().map(|d| d.render("m.toml")).collect();
    assert_eq!(got.len(), 3, "{got:#?}");
    assert!(got[0].starts_with("m.toml:2:8: server name \"has space\""));
    assert!(got[1].starts_with("m.toml:5:7: resource uri \"/mcp\""));
    assert!(got[2].starts_with("m.toml:6:25: `authorization_servers` is empty"));
}

#[test]
fn missing_sections_and_syntax_errors_are_reported() {
    let got: Vec<String> = parse("[tools.x\n")
        .unwrap_err()
        .iter()
        .map(|d| d.render("m.toml"))
        .collect();
    assert_eq!(
        got,
        ["m.toml:1:9: invalid TOML: unclosed table, expected `]`"]
    );

    let got: Vec<String> = parse("")
        .unwrap_err()
        .iter()
        .map(|d| d.render("m.toml"))
        .collect();
    assert_eq!(got.len(), 2);
    assert!(got[0].starts_with("m.toml:1:1: missing [server]"));
    assert!(got[1].starts_with("m.toml:1:1: missing [resource]"));
}

#[test]
fn production_data_needs_an_explicit_write_decision() {
    let undecided =
        problems("\n[environments.preview]\nruntime = \"preview\"\ndata = \"production\"\n");
    assert_eq!(undecided.len(), 1);
    assert!(undecided[0].starts_with("m.toml:12:15: environment `preview` uses production data"));
    let decided = model(
        "\n[environments.preview]\nruntime = \"preview\"\ndata = \"production\"\nwrites = false\n",
    );
    assert!(check(&decided).is_empty());
    assert!(!decided.environments[0].writes());
    let local = model("\n[environments.dev]\nruntime = \"local\"\ndata = \"local\"\n");
    assert!(
        local.environments[0].writes(),
        "local data may write by default"
    );
    assert!(local.environments[0].enabled);
}

#[test]
fn tool_names_follow_the_mcp_rule() {
    for ok in ["getUser", "DATA_EXPORT_v2", "admin.tools.list", "a-b", "x"] {
        assert!(is_valid_tool_name(ok), "{ok}");
    }
    let long = "a".repeat(129);
    for bad in ["", "has space", "comma,", "é", "slash/", long.as_str()] {
        assert!(!is_valid_tool_name(bad), "{bad:?}");
    }
    assert!(is_valid_tool_name(&"a".repeat(128)));
}

#[test]
fn who_issues_tokens_is_chosen_per_environment() {
    use mcpgen_codegen::model::Authorization;
    let m = model(
        "\n[environments.local]\nruntime = \"local\"\ndata = \"local\"\n\
         \n[environments.staging]\nruntime = \"staging\"\ndata = \"test\"\n\
         \n[environments.team]\nruntime = \"production\"\ndata = \"test\"\nauthorization = \"built-in\"\n\
         \n[environments.laptop]\nruntime = \"local\"\ndata = \"local\"\nauthorization = \"external\"\n",
    );
    assert!(check(&m).is_empty());
    let by_name = |n: &str| {
        m.spec()
            .environments
            .iter()
            .find(|e| e.name == n)
            .map(|e| e.authorization)
            .unwrap()
    };
    assert_eq!(
        by_name("local"),
        Authorization::BuiltIn,
        "on by default for local"
    );
    assert_eq!(
        by_name("staging"),
        Authorization::External,
        "off elsewhere by default"
    );
    assert_eq!(
        by_name("team"),
        Authorization::BuiltIn,
        "unless the manifest says so"
    );
    assert_eq!(by_name("laptop"), Authorization::External);
    let wrong = problems(
        "\n[environments.local]\nruntime = \"local\"\ndata = \"local\"\nauthorization = \"builtin\"\n",
    );
    assert_eq!(
        wrong,
        [
            "m.toml:15:17: in [environments.local]: unknown variant `builtin`, expected `built-in` or `external`"
        ]
    );
}

#[test]
fn resources_and_prompts_follow_the_tools_rules_and_their_own() {
    let text = format!(
        "{BASE}{}",
        r#"
[records.note]
table = "notes"
id = "id"
owner = "owner_id"

[clients]
"c" = { resources = ["nope"], prompts = ["missing"] }

[resources.both]
description = "Both kinds of URI."
uri = "notes://x"
uri_template = "notes://{id}"
scopes = ["a:read"]

[resources.fixed_owned]
description = "A record rule on a fixed URI."
uri = "notes://recent"
scopes = ["a:read"]
records = "note"

[resources.same_uri]
description = "The same URI as fixed_owned."
uri = "notes://recent"
scopes = ["a:read"]

[resources.bad_mime]
description = "A MIME type that is not one."
uri = "notes://mime"
mime_type = "markdown"
public = true

[resources.typo]
description = "A misspelt key."
uri_tempalte = "notes://{id}"
scopes = ["a:read"]

[prompts.open]
description = "Public and scoped."
public = true
scopes = ["a:read"]
"#
    );
    // Every mistake in one pass: the misspelt key, and the rules of every
    // entry that could be read.
    let got: Vec<String> = mcpgen_codegen::check_manifest(&text)
        .iter()
        .map(|d| d.render("m.toml"))
        .collect();
    let expected = [
        "m.toml:18:22: client \"c\" allows resource `nope`, which the manifest does not declare",
        "m.toml:18:42: client \"c\" allows prompt `missing`, which the manifest does not declare",
        "m.toml:22:7: resource `both` has both `uri` and `uri_template`: keep one",
        "m.toml:30:11: resource `fixed_owned` names record kind `note` but has a fixed `uri`",
        "m.toml:34:7: resources `fixed_owned` and `same_uri` have the same URI \"notes://recent\"",
        "m.toml:40:13: resource `bad_mime`: mime_type \"markdown\" is not a MIME type",
        "m.toml:43:12: resource `typo` has no URI",
        "m.toml:45:1: in [resources.typo]: unknown field `uri_tempalte`",
        "m.toml:50:10: prompt `open` is `public = true` and also lists scopes",
    ];
    assert_eq!(got.len(), expected.len(), "{}", got.join("\n"));
    for e in expected {
        assert!(
            got.iter().any(|g| g.starts_with(e)),
            "missing {e:?} in\n{}",
            got.join("\n")
        );
    }
}
