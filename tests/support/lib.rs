//! Fixtures for the workspace tests in `tests/`. This package has no code
//! of its own beyond them.

/// A server whose schemas MCP cannot serve: its registry must be refused.
/// Compiled without `cfg(test)`, so its generated test (which would fail,
/// correctly) does not run.
#[allow(missing_docs)]
pub mod schemas {
    use mcpgen::{ReadCx, ToolResult};
    use schemars::JsonSchema;
    use serde::{Deserialize, Serialize};

    #[derive(Deserialize, JsonSchema)]
    pub enum Color {
        Red,
        Green,
    }

    #[derive(Deserialize, JsonSchema)]
    #[serde(deny_unknown_fields)]
    pub struct Polygon {
        pub sides: u32,
    }

    #[derive(Serialize, JsonSchema)]
    pub struct Count {
        pub n: u32,
    }

    /// Three tools whose inputs or outputs are not object schemas.
    pub struct Strings;

    #[mcpgen::tools(manifest = "tests/manifests/shapes.toml")]
    impl Strings {
        #[tool]
        async fn echo_text(&self, _cx: ReadCx<'_>, text: String) -> ToolResult<Count> {
            Ok(Count {
                n: text.len() as u32,
            })
        }
        #[tool]
        async fn pick_color(&self, _cx: ReadCx<'_>, _c: Color) -> ToolResult<Count> {
            Ok(Count { n: 1 })
        }
        #[tool]
        async fn count_sides(&self, _cx: ReadCx<'_>, p: Polygon) -> ToolResult<u32> {
            Ok(p.sides)
        }
    }
}

/// A scratch copy of this workspace, built by a real `cargo`: for tests
/// that edit the manifest or the app and check what the compiler says.
pub mod workspace {
    use std::path::{Path, PathBuf};
    use std::process::Command;

    const COPIED: &[&str] = &[
        "Cargo.toml",
        "Cargo.lock",
        "mcp-manifest.toml",
        "macros",
        "codegen",
        "runtime",
        "app",
        "tests/support",
    ];

    /// A copy of the workspace under `target/<name>/workspace`, with its own
    /// target directory beside it (kept between runs so only the app
    /// rebuilds).
    pub struct Scratch {
        /// The copied workspace root.
        pub root: PathBuf,
        target: PathBuf,
    }

    impl Scratch {
        /// Copy the workspace afresh.
        pub fn new(name: &str) -> Self {
            let source = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
            let base = source.join("target").join(name);
            let root = base.join("workspace");
            let _ = std::fs::remove_dir_all(&root);
            for item in COPIED {
                copy_tree(&source.join(item), &root.join(item));
            }
            Self {
                root,
                target: base.join("target"),
            }
        }

        /// A file of the copy.
        pub fn path(&self, relative: &str) -> PathBuf {
            self.root.join(relative)
        }

        /// Read a file of the copy.
        pub fn read(&self, relative: &str) -> String {
            std::fs::read_to_string(self.path(relative)).expect("readable")
        }

        /// Replace a file of the copy.
        pub fn write(&self, relative: &str, text: &str) {
            std::fs::write(self.path(relative), text).expect("writable");
        }

        /// `cargo <args>` in the copy: success, and stderr.
        pub fn cargo(&self, args: &[&str]) -> (bool, String) {
            let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
            let out = Command::new(cargo)
                .args(args)
                .arg("--offline")
                .current_dir(&self.root)
                .env("CARGO_TARGET_DIR", &self.target)
                .env_remove("RUSTFLAGS")
                .output()
                .expect("cargo runs");
            (
                out.status.success(),
                String::from_utf8_lossy(&out.stderr).into_owned(),
            )
        }
    }

    fn copy_tree(from: &Path, to: &Path) {
        if from.is_dir() {
            std::fs::create_dir_all(to).expect("mkdir");
            for entry in std::fs::read_dir(from).expect("readdir") {
                let entry = entry.expect("entry");
                copy_tree(&entry.path(), &to.join(entry.file_name()));
            }
        } else {
            std::fs::create_dir_all(to.parent().expect("parent")).expect("mkdir");
            std::fs::copy(from, to).expect("copy");
        }
    }
}
