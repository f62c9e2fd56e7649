//! Snapshots as review gates, end to end on a copy of the workspace: add a
//! field to one input type and exactly the snapshots that show it change;
//! accept them and the suite passes again.

use mcpgen_tests::workspace::{Scratch, pending_snapshots};

#[test]
fn adding_an_input_field_changes_exactly_the_affected_snapshots() {
    let ws = Scratch::new("snapshot-drill");
    let lib = ws.read("app/src/lib.rs");
    let field = "    /// Body, up to 20000 characters.\n";
    assert!(
        lib.contains(field),
        "NewNote's body field moved; update the drill"
    );
    let changed = lib.replacen(
        field,
        &format!("    /// Labels for the note.\n    #[serde(default)]\n    pub tags: Vec<String>,\n{field}"),
        1,
    );
    ws.write("app/src/lib.rs", &changed);
    let tests = [
        "test",
        "--test",
        "artifacts",
        "--test",
        "tools_list_by_role",
    ];

    // Record every mismatch instead of stopping at the first.
    let (_, output) = ws.cargo_env(
        &tests,
        &[
            ("INSTA_UPDATE", "new"),
            ("INSTA_FORCE_PASS", "1"),
            ("CI", ""),
        ],
    );
    assert_eq!(
        pending_snapshots(&ws.root),
        ["schema_create_text_note_input", "tools_list_read_write"],
        "{output}"
    );

    // Unreviewed, the suite fails.
    let (ok, output) = ws.cargo_env(&tests, &[("INSTA_UPDATE", "no"), ("CI", "true")]);
    assert!(!ok, "the changed schema must fail the tests:\n{output}");

    // Accepted, it passes.
    let (ok, output) = ws.cargo_env(&tests, &[("INSTA_UPDATE", "always"), ("CI", "")]);
    assert!(ok, "{output}");
    let (ok, output) = ws.cargo_env(&tests, &[("INSTA_UPDATE", "no"), ("CI", "true")]);
    assert!(ok, "after review the suite passes:\n{output}");
    assert!(
        ws.read("snapshots/schema_create_text_note_input.snap")
            .contains("\"tags\"")
    );
}
