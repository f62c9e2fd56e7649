//! The conformance fixture server: `mcpgen-conformance-fixture serve|stdio`.

use std::process::ExitCode;

#[tokio::main]
async fn main() -> ExitCode {
    let app = mcpgen_tests::conformance::Fixture;
    match mcpgen::cli::run(app, env!("CARGO_PKG_VERSION")).await {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e}");
            ExitCode::FAILURE
        }
    }
}
