//! A scratch copy of this workspace, built by a real `cargo`: for tests
//! that edit the manifest or the app and check what the compiler says.

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
    "tests",
    "snapshots",
];

/// A copy of the workspace under `target/<name>/workspace`. All copies
/// share one target directory (`target/scratch-target`, kept between
/// runs), so only the edited crates rebuild; cargo's lock on it keeps
/// concurrent builds apart.
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
        // Stray pending snapshots of the original are not part of the copy.
        remove_pending(&root.join("snapshots"));
        Self {
            root,
            target: source.join("target").join("scratch-target"),
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

    /// `cargo <args>` in the copy: success, and stdout then stderr.
    pub fn cargo(&self, args: &[&str]) -> (bool, String) {
        self.cargo_env(args, &[])
    }

    /// `cargo <args>` with extra environment variables.
    pub fn cargo_env(&self, args: &[&str], env: &[(&str, &str)]) -> (bool, String) {
        let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
        let out = Command::new(cargo)
            .envs(env.iter().copied())
            .args(args)
            .arg("--offline")
            .current_dir(&self.root)
            .env("CARGO_TARGET_DIR", &self.target)
            .env_remove("RUSTFLAGS")
            .output()
            .expect("cargo runs");
        (
            out.status.success(),
            format!(
                "{}{}",
                String::from_utf8_lossy(&out.stdout),
                String::from_utf8_lossy(&out.stderr)
            ),
        )
    }
}

fn remove_pending(dir: &Path) {
    for entry in std::fs::read_dir(dir).into_iter().flatten().flatten() {
        if entry.file_name().to_string_lossy().ends_with(".snap.new") {
            let _ = std::fs::remove_file(entry.path());
        }
    }
}

/// The names of the pending (`.snap.new`) snapshots in the copy.
pub fn pending_snapshots(root: &Path) -> Vec<String> {
    let mut names: Vec<String> = std::fs::read_dir(root.join("snapshots"))
        .into_iter()
        .flatten()
        .flatten()
        .filter_map(|e| {
            e.file_name()
                .to_string_lossy()
                .strip_suffix(".snap.new")
                .map(str::to_owned)
        })
        .collect();
    names.sort();
    names
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
