//! Any text as `mcp-manifest.toml`: the reader and the checks report
//! mistakes, never panic.

#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|text: &str| {
    if let Ok(model) = mcpgen_codegen::manifest::parse(text) {
        let _ = mcpgen_codegen::check::check(&model);
        let _ = model.spec();
    }
});
