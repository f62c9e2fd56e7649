//! The notes server binary: `notes serve`, `notes stdio`.

use std::process::ExitCode;

#[tokio::main]
async fn main() -> ExitCode {
    match mcpgen::cli::run(notes_app::Notes, env!("CARGO_PKG_VERSION")).await {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e}");
            ExitCode::FAILURE
        }
    }
}
