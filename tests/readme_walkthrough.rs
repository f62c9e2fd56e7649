//! The README's "Add a tool" walkthrough, followed literally on a copy of
//! the workspace: the snippets must build, the new tool must be in the
//! registry, and the errors the README shows must be the ones the compiler
//! prints.

use mcpgen_tests::workspace::Scratch;

const README: &str = include_str!("../README.md");

/// The fenced block after `<!-- add-a-tool:NAME -->`.
fn snippet(name: &str) -> String {
    snippet_of("add-a-tool", name)
}

/// The fenced block after `<!-- WALKTHROUGH:NAME -->`.
fn snippet_of(walkthrough: &str, name: &str) -> String {
    let marker = format!("<!-- {walkthrough}:{name} -->");
    let after = README
        .split_once(&marker)
        .unwrap_or_else(|| panic!("README has no {marker}"))
        .1;
    let body = after
        .split_once("```")
        .and_then(|(_, rest)| rest.split_once('\n'))
        .map(|(_, rest)| rest)
        .expect("a fenced block follows the marker");
    body.split_once("```")
        .expect("the block closes")
        .0
        .to_owned()
}

/// `lib` with `handler` inserted at the top of the `#[mcpgen::tools]` block.
fn insert_handler(lib: &str, handler: &str) -> String {
    let block = "#[mcpgen::tools(manifest = \"../mcp-manifest.toml\", migrations = \"migrations\")]\nimpl Notes {\n";
    let open = lib.find(block).expect("the app has its tools impl block") + block.len();
    format!("{}{handler}\n{}", &lib[..open], &lib[open..])
}

/// The walkthroughs build in one shared target directory: one at a time.
static ONE_AT_A_TIME: std::sync::Mutex<()> = std::sync::Mutex::new(());

#[test]
fn the_add_a_tool_walkthrough_builds_and_its_errors_are_real() {
    let _one = ONE_AT_A_TIME
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner);
    let ws = Scratch::new("readme-walkthrough");
    let manifest = ws.read("mcp-manifest.toml");
    let lib = ws.read("app/src/lib.rs");
    let entry = snippet("manifest");
    let types = snippet("types");
    let handler = snippet("handler");
    let new_lib = format!("{}\n{types}", insert_handler(&lib, &handler));

    // Step 3 without step 1: the error names the handler and the entry to add.
    ws.write("app/src/lib.rs", &new_lib);
    let (ok, stderr) = ws.cargo(&["build", "--quiet", "-p", "notes-app"]);
    assert!(!ok);
    assert!(
        stderr.contains(
            "error: handler `count_owned_notes` has no entry in mcp-manifest.toml: declare it there, e.g."
        ),
        "{stderr}"
    );

    // Step 1 without `scopes`: the error line the README quotes.
    let with_entry = format!("{manifest}\n{entry}");
    let entry_unscoped: String = entry
        .lines()
        .filter(|l| !l.starts_with("scopes = "))
        .map(|l| format!("{l}\n"))
        .collect();
    let unscoped = format!("{manifest}\n{entry_unscoped}");
    let header = with_entry
        .lines()
        .position(|l| l == "[tools.count_owned_notes]")
        .expect("the entry is appended")
        + 1;
    ws.write("mcp-manifest.toml", &unscoped);
    let (ok, stderr) = ws.cargo(&["build", "--quiet", "-p", "notes-app"]);
    assert!(!ok);
    let expected = format!(
        "mcp-manifest.toml:{header}:8: tool `count_owned_notes` has no scope, so any caller could use it"
    );
    assert!(stderr.contains(&expected), "{stderr}");
    assert!(
        README.contains(&expected),
        "the README quotes the line as it is: {expected}"
    );

    // All three steps: it builds, and the tests the macro generates for the
    // new tool run and pass, with no test code written.
    ws.write("mcp-manifest.toml", &with_entry);
    let (ok, output) = ws.cargo(&["test", "-p", "notes-app", "--lib"]);
    assert!(ok, "{output}");
    assert!(
        output.contains("mcpgen_policy_count_owned_notes ... ok"),
        "the new tool got its policy test:\n{output}"
    );
}

#[test]
fn the_add_a_resource_walkthrough_builds_and_its_error_is_real() {
    let _one = ONE_AT_A_TIME
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner);
    let ws = Scratch::new("readme-resource-walkthrough");
    let manifest = ws.read("mcp-manifest.toml");
    let lib = ws.read("app/src/lib.rs");
    let entry = snippet_of("add-a-resource", "manifest");
    let handler = snippet_of("add-a-resource", "handler");
    ws.write("app/src/lib.rs", &insert_handler(&lib, &handler));

    // The handler without its entry: the error says what to declare.
    let (ok, stderr) = ws.cargo(&["build", "--quiet", "-p", "notes-app"]);
    assert!(!ok);
    assert!(
        stderr.contains(
            "error: handler `note_count` has no entry in mcp-manifest.toml: declare it there, e.g."
        ),
        "{stderr}"
    );

    // The entry without `scopes`: the line the README quotes.
    let with_entry = format!("{manifest}\n{entry}");
    let unscoped: String = entry
        .lines()
        .filter(|l| !l.starts_with("scopes = "))
        .map(|l| format!("{l}\n"))
        .collect();
    let header = with_entry
        .lines()
        .position(|l| l == "[resources.note_count]")
        .expect("the entry is appended")
        + 1;
    ws.write("mcp-manifest.toml", &format!("{manifest}\n{unscoped}"));
    let (ok, stderr) = ws.cargo(&["build", "--quiet", "-p", "notes-app"]);
    assert!(!ok);
    let expected = format!(
        "mcp-manifest.toml:{header}:12: resource `note_count` has no scope, so any caller could use it"
    );
    assert!(stderr.contains(&expected), "{stderr}");
    assert!(
        README.contains(&expected),
        "the README quotes the line as it is: {expected}"
    );

    // Both: it builds, and its generated policy test runs and passes.
    ws.write("mcp-manifest.toml", &with_entry);
    let (ok, output) = ws.cargo(&["test", "-p", "notes-app", "--lib"]);
    assert!(ok, "{output}");
    assert!(
        output.contains("mcpgen_policy_resource_note_count ... ok"),
        "the new resource got its policy test:\n{output}"
    );
}
