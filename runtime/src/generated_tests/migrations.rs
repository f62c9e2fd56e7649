//! The migrations test `#[mcpgen::tools(migrations = "...")]` generates:
//! the binary embeds the migrations the directory holds. A compiler cannot
//! watch a directory for new files (existing files rebuild the crate when
//! they change; a new `0002_*.sql` does not), so a migration added,
//! removed or renamed since the last build would silently be missing from
//! the server. This test says so instead; a `build.rs` with
//! `println!("cargo:rerun-if-changed=migrations")` makes cargo rebuild by
//! itself.

use std::path::Path;

use crate::registry::Tools;

/// `(version, description, SQL)` of each `NNNN_description.sql` in `dir`,
/// in order, read as the macro reads them.
fn on_disk(dir: &Path) -> Vec<(i64, String, String)> {
    let mut out: Vec<(i64, String, String)> = std::fs::read_dir(dir)
        .unwrap_or_else(|e| {
            panic!(
                "cannot read the migrations directory {}: {e}",
                dir.display()
            )
        })
        .flatten()
        .filter_map(|entry| {
            let name = entry.file_name().to_string_lossy().into_owned();
            let stem = name.strip_suffix(".sql")?;
            let (version, description) = stem.split_once('_').unwrap_or((stem, ""));
            let sql = std::fs::read_to_string(entry.path()).ok()?;
            Some((version.parse().ok()?, description.replace('_', " "), sql))
        })
        .collect();
    out.sort();
    out
}

/// Fail, saying what differs, when the migrations `S` embeds are not the
/// ones in `dir`.
pub fn check_migrations<S: Tools>(dir: &str) {
    let embedded: Vec<(i64, String, String)> = S::migrations()
        .iter()
        .map(|(v, d, s)| (*v, (*d).to_owned(), (*s).to_owned()))
        .collect();
    let disk = on_disk(Path::new(dir));
    if embedded == disk {
        return;
    }
    let names = |list: &[(i64, String, String)]| {
        list.iter()
            .map(|(v, d, _)| format!("{v:04} {d}"))
            .collect::<Vec<_>>()
            .join(", ")
    };
    panic!(
        "rebuild: migrations changed. The binary embeds [{}] but {dir} holds [{}]: run `cargo build` again \
         (a build.rs with `println!(\"cargo:rerun-if-changed=migrations\");` makes cargo do it by itself)",
        names(&embedded),
        names(&disk)
    );
}
