//! Build-time rejection: every mistake the macro refuses, with the exact
//! message and caret, and the shapes it accepts.
//!
//! Regenerate expectations with `TRYBUILD=overwrite cargo test --test ui`,
//! then read the diff.

#[test]
fn ui() {
    let t = trybuild::TestCases::new();
    for topic in [
        "access",
        "confirm",
        "handlers",
        "manifest",
        "many",
        "names",
        "prompts",
        "records",
        "resources",
        "scopes",
    ] {
        t.compile_fail(format!("tests/ui/{topic}/*.rs"));
    }
    t.pass("tests/ui/pass/*.rs");
}
