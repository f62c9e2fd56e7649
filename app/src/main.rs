//! The notes server binary: `notes serve`, `notes stdio`.

use std::process::ExitCode;

// mimalloc: a fifth less CPU per request than glibc's allocator under the
// load benchmark, at about the same peak RSS (README, "Performance").
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() -> ExitCode {
    mcpgen::cli::main(notes_app::Notes, env!("CARGO_PKG_VERSION"))
}
