//! Everything the build generates, as insta snapshots reviewers read as
//! diffs (`cargo insta review`): each tool's input and output schema, the
//! scope matrix (JSON and Markdown), the protected-resource metadata and
//! every environment's status. Each input schema is also compiled and
//! checked against inputs it must accept and inputs it must refuse.

use mcpgen::Tools;
use mcpgen::artifacts::{
    environment_statuses, resource_metadata, schemas, scope_matrix, scope_matrix_markdown,
};
use notes_app::Notes;
use serde_json::{Value, json};

fn settings() -> insta::Settings {
    let mut s = insta::Settings::clone_current();
    s.set_snapshot_path("../snapshots");
    s.set_prepend_module_to_snapshot(false);
    s
}

#[test]
fn every_tool_schema_is_snapshotted() {
    let registry = Notes::registry().unwrap();
    let all = schemas(&registry);
    settings().bind(|| {
        for (tool, pair) in all.as_object().unwrap() {
            insta::assert_json_snapshot!(format!("schema_{tool}_input"), pair["input"]);
            insta::assert_json_snapshot!(format!("schema_{tool}_output"), pair["output"]);
        }
    });
}

#[test]
fn the_scope_matrix_and_metadata_are_snapshotted() {
    let registry = Notes::registry().unwrap();
    let matrix = scope_matrix(&registry);
    assert_eq!(
        matrix["totals"]["unmapped"], 0,
        "the build refuses unmapped tools"
    );
    settings().bind(|| {
        insta::assert_json_snapshot!("scope_matrix", matrix);
        insta::assert_snapshot!("scope_matrix_markdown", scope_matrix_markdown(&registry));
        // Each resource's and prompt's listing, as clients see it.
        for r in registry.resources() {
            insta::assert_json_snapshot!(
                format!("listing_resource_{}", r.spec().name),
                r.to_listing()
            );
        }
        for p in registry.prompts() {
            insta::assert_json_snapshot!(
                format!("listing_prompt_{}", p.spec().name),
                p.to_listing()
            );
        }
        insta::assert_json_snapshot!("protected_resource_metadata", resource_metadata::<Notes>());
        insta::assert_json_snapshot!(
            "environment_status",
            environment_statuses::<Notes>("0.0.0-snapshot")
        );
    });
}

/// Inputs each tool's advertised schema must accept, and must refuse.
fn examples(tool: &str) -> (Vec<Value>, Vec<Value>) {
    match tool {
        "search_owned_notes" => (
            vec![
                json!({"query": ""}),
                json!({"query": "milk", "limit": 50, "order": "oldest_first"}),
            ],
            vec![
                json!({}),
                json!({"query": 1}),
                json!({"query": "", "limit": 0}),
                json!({"query": "", "order": "sideways"}),
                json!({"query": "", "extra": true}),
            ],
        ),
        "get_owned_note" => (
            vec![json!({"id": "note_0123"})],
            vec![
                json!({}),
                json!({"id": 7}),
                json!({"id": "n", "owner_id": "bob"}),
            ],
        ),
        "create_text_note" => (
            vec![json!({"title": "t", "body": ""})],
            vec![
                json!({"title": "", "body": ""}),
                json!({"title": "t"}),
                json!({"title": "t", "body": "b", "owner_id": "bob"}),
                json!({"title": "x".repeat(201), "body": ""}),
            ],
        ),
        "verify_access" | "get_environment_status" => {
            (vec![json!({})], vec![json!({"x": 1}), json!([])])
        }
        other => panic!("add example inputs for the new tool `{other}` here"),
    }
}

#[test]
fn each_input_schema_accepts_and_refuses_what_it_should() {
    let registry = Notes::registry().unwrap();
    for tool in registry.tools() {
        let name: &str = &tool.spec().name;
        let validator = jsonschema::draft202012::new(tool.input_schema()).unwrap();
        let (good, bad) = examples(name);
        for input in good {
            assert!(validator.is_valid(&input), "{name} must accept {input}");
        }
        for input in bad {
            assert!(!validator.is_valid(&input), "{name} must refuse {input}");
        }
        if let Some(output) = tool.output_schema() {
            jsonschema::draft202012::new(output).unwrap();
        }
    }
}

#[test]
fn the_manifest_subcommands_print_the_same_artifacts() {
    let bin = mcpgen_tests::process::notes_bin();
    let run = |args: &[&str]| {
        let out = std::process::Command::new(bin).args(args).output().unwrap();
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8(out.stdout).unwrap()
    };
    let registry = Notes::registry().unwrap();
    assert_eq!(
        run(&["manifest", "matrix"]),
        scope_matrix_markdown(&registry)
    );
    let json: Value = serde_json::from_str(&run(&["manifest", "matrix", "--json"])).unwrap();
    assert_eq!(json, scope_matrix(&registry));
    assert_eq!(
        run(&["manifest", "check"]).trim(),
        "ok: 5 tools (3 scoped, 0 public, 2 built in), 2 scopes, 1 record kinds, 3 environments"
    );
    let doc: Value = serde_json::from_str(&run(&["manifest", "schema"])).unwrap();
    assert_eq!(doc["tools"], schemas(&registry));
    assert_eq!(
        doc["protected_resource_metadata"],
        resource_metadata::<Notes>()
    );
    assert_eq!(
        doc["environments"]["preview"]["shares_production_data"],
        true
    );
}
