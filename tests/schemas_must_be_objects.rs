//! MCP requires every tool's `inputSchema` to be an object schema. Whether a
//! Rust type's schema is an object is known only once schemars runs, so this
//! rule is enforced when the registry is built: at server start, and in the
//! test every `#[mcpgen::tools]` block generates. These tests show the
//! failure names the tool, the type and the fix.

use mcpgen::Tools;
use mcpgen::registry::{Registry, RegistryError};
use mcpgen_tests::schemas::Strings;

#[test]
fn a_string_input_is_refused_with_the_tool_type_and_fix() {
    // Tools are checked in name order: count_sides (bad output) comes first.
    let err = Strings::registry().err().expect("refused");
    assert_eq!(
        err,
        RegistryError::OutputSchemaNotObject {
            tool: "count_sides".into(),
            declared_at: "shapes.toml:21:8".into(),
            found: "`\"type\": \"integer\"`".to_owned(),
        }
    );
    assert_eq!(
        err.to_string(),
        "tool `count_sides` (declared at shapes.toml:21:8): the output type has a JSON Schema whose root is \
         `\"type\": \"integer\"`, but MCP clients before 2026-07-28 require `\"type\": \"object\"`; return a struct with named fields"
    );
}

#[test]
fn each_non_object_input_is_named() {
    let defs = Strings::definitions();
    let by_name = |n: &str| defs.iter().find(|d| d.spec.name == n).expect(n);
    for (tool, ty, found) in [
        ("echo_text", "String", "`\"type\": \"string\"`"),
        ("pick_color", "Color", "`\"type\": \"string\"`"),
    ] {
        let def = by_name(tool);
        let err = Registry::new(Strings::manifest(), std::slice::from_ref(def))
            .err()
            .expect("refused");
        assert_eq!(
            err.to_string(),
            format!(
                "tool `{tool}` (declared at shapes.toml:{}:8): the input type `{ty}` has a JSON Schema whose root is {found}, \
                 but MCP requires `\"type\": \"object\"`; take a struct with named fields (e.g. `struct Input {{ value: String }}`), \
                 or no input at all",
                if tool == "echo_text" { 11 } else { 16 }
            )
        );
    }
}

/// A tool's `confirm` placeholders must name fields of its input: known only
/// once schemars runs, so the registry (server start, the generated tests)
/// refuses a message that names another, saying which fields there are.
#[test]
fn a_confirmation_naming_no_input_field_is_refused() {
    let err = mcpgen_tests::schemas::ConfirmTypo::registry()
        .err()
        .expect("refused");
    assert_eq!(
        err.to_string(),
        "tool `add_polygon` (declared at confirm-typo.toml:11:8): its `confirm` message names `{side}`, \
         but the input type `Polygon` has no field `side`; its fields are {sides}: name one of them, \
         or write `{{` and `}}` for literal braces"
    );
}
