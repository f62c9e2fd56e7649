//! Every Rust snippet in the README is code that compiles: each is an
//! excerpt of a file the suite builds (the example app, or the product
//! `mcpgen new` writes, which `tests/scaffold.rs` builds and tests), or one
//! of the "Add a tool" snippets `tests/readme_walkthrough.rs` builds. The
//! build settings it tells products to copy are the ones `mcpgen new`
//! writes.

const README: &str = include_str!("../README.md");

/// The files the snippets may come from, as the suite builds them.
fn compiled_sources() -> Vec<(&'static str, String)> {
    let product = |template: &str| {
        template
            .replace("{{crate}}", "tasks_mcp")
            .replace("{{name}}", "tasks-mcp")
    };
    vec![
        (
            "app/src/lib.rs",
            include_str!("../app/src/lib.rs").to_owned(),
        ),
        (
            "app/src/main.rs",
            include_str!("../app/src/main.rs").to_owned(),
        ),
        (
            "mcpgen new: src/lib.rs",
            product(include_str!("../codegen/templates/new/src/lib.rs.tmpl")),
        ),
        (
            "mcpgen new: src/main.rs",
            product(include_str!("../codegen/templates/new/src/main.rs.tmpl")),
        ),
        (
            "mcpgen new: tests/artifacts.rs",
            product(include_str!(
                "../codegen/templates/new/tests/artifacts.rs.tmpl"
            )),
        ),
    ]
}

/// The fenced blocks of `lang`, each with the line before its fence.
fn blocks(lang: &str) -> Vec<(String, String)> {
    let fence = format!("```{lang}");
    let mut out = Vec::new();
    let mut lines = README.lines().peekable();
    let mut previous = "";
    while let Some(line) = lines.next() {
        if line.trim() == fence {
            let body: Vec<&str> = lines.by_ref().take_while(|l| l.trim() != "```").collect();
            out.push((previous.to_owned(), body.join("\n")));
        }
        previous = line;
    }
    out
}

/// The lines of `text` without indentation, comments-only lines or blanks
/// (`comment` starts a comment).
fn significant(text: &str, comment: &str) -> Vec<String> {
    text.lines()
        .map(|l| l.split(comment).next().unwrap_or("").trim().to_owned())
        .filter(|l| !l.is_empty())
        .collect()
}

fn contains(haystack: &[String], needle: &[String]) -> bool {
    needle.is_empty() || haystack.windows(needle.len()).any(|w| w == needle)
}

#[test]
fn every_rust_snippet_is_compiled_code() {
    let sources: Vec<(&str, Vec<String>)> = compiled_sources()
        .into_iter()
        .map(|(name, text)| (name, significant(&text, "\u{0}")))
        .collect();
    let snippets = blocks("rust");
    assert!(
        snippets.len() >= 7,
        "found {} Rust snippets",
        snippets.len()
    );
    for (before, body) in snippets {
        if before.starts_with("<!-- add-a-tool:") || before.starts_with("<!-- add-a-resource:") {
            continue; // built by tests/readme_walkthrough.rs
        }
        let lines = significant(&body, "\u{0}");
        assert!(
            sources.iter().any(|(_, source)| contains(source, &lines)),
            "this README snippet is not an excerpt of code the suite builds \
             (app/src, or the files `mcpgen new` writes):\n{body}"
        );
    }
}

#[test]
fn the_build_settings_are_the_ones_mcpgen_new_writes() {
    let cargo = significant(
        include_str!("../codegen/templates/new/Cargo.toml.tmpl"),
        "#",
    );
    let config = significant(
        include_str!("../codegen/templates/new/.cargo/config.toml"),
        "#",
    );
    let settings: Vec<String> = blocks("toml")
        .into_iter()
        .map(|(_, body)| body)
        .filter(|b| b.contains("[profile.") || b.contains("LIBSQLITE3_FLAGS"))
        .collect();
    assert_eq!(
        settings.len(),
        2,
        "the README shows the profiles and the SQLite flags"
    );
    for body in settings {
        let lines = significant(&body, "#");
        assert!(
            contains(&cargo, &lines) || contains(&config, &lines),
            "the README's build settings differ from what `mcpgen new` writes:\n{body}"
        );
    }
}

#[test]
fn the_start_commands_are_the_ones_the_scaffold_test_runs() {
    let start = README
        .split_once("<!-- start:commands -->")
        .expect("the README's start commands")
        .1
        .split("```")
        .nth(1)
        .unwrap();
    let scaffold = include_str!("scaffold.rs");
    assert!(start.contains("cargo install --path codegen"));
    assert!(
        start.contains("mcpgen new tasks-mcp") && scaffold.contains("Product::new(\"tasks-mcp\")")
    );
    assert!(start.contains("cargo run -- serve") && scaffold.contains("[\"serve\", \"--listen\""));
    assert!(start.contains("cargo test") && scaffold.contains("product.cargo(&[\"test\"], false)"));
}
