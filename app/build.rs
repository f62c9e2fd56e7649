//! A migration added, removed or renamed rebuilds the server: the
//! `#[mcpgen::tools]` expansion embeds each file, but only Cargo can watch
//! the directory for new ones.
fn main() {
    println!("cargo::rerun-if-changed=migrations");
}
