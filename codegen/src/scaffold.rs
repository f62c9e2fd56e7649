//! `mcpgen new`: a complete product in a directory of its own, from the
//! templates in `codegen/templates/new` (embedded in the binary).

use std::path::{Path, PathBuf};

/// `(path in the project, template)`; `{{name}}`, `{{crate}}`, `{{title}}`
/// and `{{mcpgen}}` are filled in.
const FILES: &[(&str, &str)] = &[
    (
        "Cargo.toml",
        include_str!("../templates/new/Cargo.toml.tmpl"),
    ),
    (
        ".cargo/config.toml",
        include_str!("../templates/new/.cargo/config.toml"),
    ),
    (".gitignore", include_str!("../templates/new/gitignore")),
    ("README.md", include_str!("../templates/new/README.md.tmpl")),
    ("build.rs", include_str!("../templates/new/build.rs")),
    (
        "mcp-manifest.toml",
        include_str!("../templates/new/mcp-manifest.toml.tmpl"),
    ),
    (
        "migrations/0001_create_tasks.sql",
        include_str!("../templates/new/migrations/0001_create_tasks.sql"),
    ),
    (
        "src/lib.rs",
        include_str!("../templates/new/src/lib.rs.tmpl"),
    ),
    (
        "src/main.rs",
        include_str!("../templates/new/src/main.rs.tmpl"),
    ),
    (
        "tests/artifacts.rs",
        include_str!("../templates/new/tests/artifacts.rs.tmpl"),
    ),
];

/// Where the product's `mcpgen` dependency comes from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Source {
    /// A checkout's `runtime` crate (`mcpgen = { path = "..." }`).
    Path(PathBuf),
    /// A release from the registry (`mcpgen = "0.1"`).
    Version(String),
}

impl Source {
    /// The dependency as written in `Cargo.toml`.
    fn dependency(&self) -> String {
        match self {
            Self::Path(p) => format!("{{ path = {} }}", toml_string(&p.to_string_lossy())),
            Self::Version(v) => toml_string(v),
        }
    }

    /// `mcpgen` from `path`: a checkout of mcpgen (its `runtime` crate) or
    /// the runtime crate itself.
    pub fn at(path: &Path) -> Result<Self, String> {
        let path = std::fs::canonicalize(path)
            .map_err(|e| format!("--mcpgen-path {}: {e}", path.display()))?;
        for candidate in [path.join("runtime"), path.clone()] {
            let manifest =
                std::fs::read_to_string(candidate.join("Cargo.toml")).unwrap_or_default();
            if manifest.lines().any(|l| l.trim() == "name = \"mcpgen\"") {
                return Ok(Self::Path(candidate));
            }
        }
        Err(format!(
            "--mcpgen-path {}: neither it nor its `runtime` directory is the mcpgen crate; \
             give the root of an mcpgen checkout",
            path.display()
        ))
    }

    /// The default: the checkout this command was built from, if it is
    /// still there (`cargo install --path codegen`), else the release of
    /// the same version.
    pub fn default_for_this_build() -> Self {
        let built_from = Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
        Self::at(&built_from)
            .unwrap_or_else(|_| Self::Version(env!("CARGO_PKG_VERSION").to_owned()))
    }
}

/// Why a project cannot be made.
#[derive(Debug, thiserror::Error)]
pub enum NewError {
    /// The name cannot be a package and command name.
    #[error(
        "`{0}` cannot name a package and its command: use lowercase letters, digits, `-` and `_`, \
         starting with a letter (e.g. `tasks-mcp`)"
    )]
    Name(String),
    /// The directory holds something already.
    #[error("{0} already exists and is not empty: choose another --path")]
    Exists(PathBuf),
    /// Writing failed.
    #[error("cannot write {0}: {1}")]
    Write(PathBuf, std::io::Error),
}

/// Write a new product called `name` into `dir`, depending on mcpgen from
/// `source`; the files written, relative to `dir`.
pub fn new_project(name: &str, dir: &Path, source: &Source) -> Result<Vec<&'static str>, NewError> {
    if !valid_name(name) {
        return Err(NewError::Name(name.to_owned()));
    }
    if std::fs::read_dir(dir).is_ok_and(|mut d| d.next().is_some()) {
        return Err(NewError::Exists(dir.to_owned()));
    }
    let fill = |template: &str| {
        template
            .replace("{{name}}", name)
            .replace("{{crate}}", &name.replace('-', "_"))
            .replace("{{title}}", &title(name))
            .replace("{{mcpgen}}", &source.dependency())
    };
    let mut written = Vec::new();
    for (path, template) in FILES {
        let target = dir.join(path);
        if let Some(parent) = target.parent() {
            std::fs::create_dir_all(parent).map_err(|e| NewError::Write(parent.to_owned(), e))?;
        }
        std::fs::write(&target, fill(template)).map_err(|e| NewError::Write(target.clone(), e))?;
        written.push(*path);
    }
    Ok(written)
}

/// A package name that is also a good command name.
fn valid_name(name: &str) -> bool {
    name.len() <= 64
        && name.starts_with(|c: char| c.is_ascii_lowercase())
        && name
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-' || c == '_')
        && !matches!(name, "test" | "build" | "deps" | "examples" | "mcpgen")
}

/// `tasks-mcp` as `Tasks Mcp`.
fn title(name: &str) -> String {
    name.split(['-', '_'])
        .filter(|w| !w.is_empty())
        .map(|w| {
            let mut c = w.chars();
            c.next()
                .map(|f| f.to_ascii_uppercase().to_string() + c.as_str())
                .unwrap_or_default()
        })
        .collect::<Vec<_>>()
        .join(" ")
}

fn toml_string(s: &str) -> String {
    serde_json::to_string(s).unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_package_and_command_names() {
        assert!(valid_name("tasks-mcp") && valid_name("todo_2"));
        for bad in ["", "Tasks", "2do", "to do", "tasks/..", "mcpgen", "-x"] {
            assert!(!valid_name(bad), "{bad}");
        }
        assert_eq!(title("tasks-mcp"), "Tasks Mcp");
    }

    #[test]
    fn every_placeholder_is_filled() {
        let dir = std::env::temp_dir().join(format!("mcpgen-new-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        let files = new_project("todo-mcp", &dir, &Source::Version("0.1.0".into())).unwrap();
        for f in &files {
            let text = std::fs::read_to_string(dir.join(f)).unwrap();
            assert!(!text.contains("{{"), "{f} has an unfilled placeholder");
        }
        let cargo = std::fs::read_to_string(dir.join("Cargo.toml")).unwrap();
        assert!(cargo.contains("name = \"todo-mcp\"") && cargo.contains("mcpgen = \"0.1.0\""));
        let main = std::fs::read_to_string(dir.join("src/main.rs")).unwrap();
        assert!(main.contains("todo_mcp::Tasks"));
        // Not over a project that exists.
        assert!(matches!(
            new_project("todo-mcp", &dir, &Source::Version("0.1.0".into())),
            Err(NewError::Exists(_))
        ));
        let _ = std::fs::remove_dir_all(&dir);
    }
}
