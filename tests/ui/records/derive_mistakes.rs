//! What `#[derive(mcpgen::Record)]` refuses, each with what to write.

/// The manifest's id column is `item_id`; this struct has none.
#[derive(mcpgen::Record)]
#[record(manifest = "derive_mistakes.toml")]
pub struct Item {
    pub id: i64,
    pub text: String,
}

/// No `[records.task]` in the manifest.
#[derive(mcpgen::Record)]
#[record(manifest = "derive_mistakes.toml")]
pub struct Task {
    pub id: i64,
}

/// A record is a struct with named fields.
#[derive(mcpgen::Record)]
#[record(manifest = "derive_mistakes.toml", kind = "item")]
pub struct Pair(i64, String);

/// An option the derive does not have.
#[derive(mcpgen::Record)]
#[record(manifest = "derive_mistakes.toml", table = "items")]
pub struct Other {
    pub item_id: i64,
}

fn main() {}
