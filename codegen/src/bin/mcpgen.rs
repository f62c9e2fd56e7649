//! `mcpgen`: start a product, and check a manifest without building.
//!
//! ```text
//! mcpgen new tasks-mcp                 # ./tasks-mcp, a complete server
//! mcpgen check [mcp-manifest.toml]     # every mistake in the manifest
//! ```

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand};
use mcpgen_codegen::scaffold::{Source, new_project};

/// Generate safe MCP servers from a manifest.
#[derive(Parser)]
#[command(name = "mcpgen", version)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Create a new product: a manifest, handlers, a migration, tests and
    /// a README, ready for `cargo run -- serve` and `cargo test`.
    New {
        /// The package and command name, e.g. `tasks-mcp`.
        name: String,
        /// Where to create it (default: ./NAME).
        #[arg(long)]
        path: Option<PathBuf>,
        /// Depend on the mcpgen checkout at PATH (default: the checkout
        /// this command was installed from, else the published release).
        #[arg(long, value_name = "PATH")]
        mcpgen_path: Option<PathBuf>,
    },
    /// Report every mistake in a manifest without building, as the build
    /// would (the handlers are checked by the build alone).
    Check {
        /// The manifest file.
        #[arg(default_value = "mcp-manifest.toml")]
        manifest: PathBuf,
    },
}

fn main() -> ExitCode {
    match Cli::parse().command {
        Command::New {
            name,
            path,
            mcpgen_path,
        } => new(&name, path, mcpgen_path),
        Command::Check { manifest } => check(&manifest),
    }
}

fn new(name: &str, path: Option<PathBuf>, mcpgen_path: Option<PathBuf>) -> ExitCode {
    let source = match mcpgen_path {
        Some(p) => match Source::at(&p) {
            Ok(s) => s,
            Err(e) => {
                eprintln!("error: {e}");
                return ExitCode::FAILURE;
            }
        },
        None => Source::default_for_this_build(),
    };
    let dir = path.unwrap_or_else(|| PathBuf::from(name));
    match new_project(name, &dir, &source) {
        Ok(files) => {
            println!("created {} ({} files)", dir.display(), files.len());
            match &source {
                Source::Path(p) => println!("  mcpgen:  {}", p.display()),
                Source::Version(v) => println!("  mcpgen:  {v} (crates.io)"),
            }
            println!();
            println!("  cd {}", dir.display());
            println!("  cargo run -- serve     # the server, on http://127.0.0.1:8080/mcp");
            println!("  cargo test             # each tool's policy, and the snapshots to review");
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("error: {e}");
            ExitCode::FAILURE
        }
    }
}

fn check(manifest: &std::path::Path) -> ExitCode {
    let text = match std::fs::read_to_string(manifest) {
        Ok(t) => t,
        Err(e) => {
            eprintln!("error: cannot read {}: {e}", manifest.display());
            return ExitCode::FAILURE;
        }
    };
    let label = manifest.display().to_string();
    let mistakes = mcpgen_codegen::check_manifest(&text);
    for d in &mistakes {
        eprintln!("error: {}", d.render(&label));
    }
    if mistakes.is_empty() {
        println!("{label}: no mistakes");
        ExitCode::SUCCESS
    } else {
        eprintln!(
            "{label}: {} mistake{}",
            mistakes.len(),
            if mistakes.len() == 1 { "" } else { "s" }
        );
        ExitCode::FAILURE
    }
}
